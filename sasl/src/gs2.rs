//! The GS2 header (RFC 5801 §4) that SCRAM and OAUTHBEARER messages start
//! with, and the `saslname` escaping (`,` as `=2C`, `=` as `=3D`) used for
//! names inside it and inside SCRAM attributes.

/// Why a GS2 header could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gs2Error {
    /// The header does not follow the syntax.
    Malformed(&'static str),
    /// The client asked for channel binding (`p=`).
    ChannelBinding,
}

/// A parsed GS2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gs2Header {
    /// The authorization identity from `a=`, unescaped.
    pub authzid: Option<String>,
    /// Length of the header in bytes, including its closing `,`.
    pub len: usize,
}

/// Parses the GS2 header at the start of `msg`:
/// `("n" / "y" / "p=" cb-name) "," ["a=" saslname] ","`.
///
/// `n` (client does not support channel binding) and `y` (client supports
/// it but believes the server does not) are accepted; `p=` is refused since
/// this crate implements no channel binding type.
pub(crate) fn parse_header(msg: &[u8]) -> Result<Gs2Header, Gs2Error> {
    let flag_end = msg
        .iter()
        .position(|&b| b == b',')
        .ok_or(Gs2Error::Malformed(
            "gs2 header has no ',' after the channel binding flag",
        ))?;
    match &msg[..flag_end] {
        b"n" | b"y" => {}
        flag if flag.starts_with(b"p=") => return Err(Gs2Error::ChannelBinding),
        _ => {
            return Err(Gs2Error::Malformed(
                "gs2 channel binding flag is not \"n\", \"y\" or \"p=\"",
            ));
        }
    }
    let rest = &msg[flag_end + 1..];
    let authzid_end = rest
        .iter()
        .position(|&b| b == b',')
        .ok_or(Gs2Error::Malformed(
            "gs2 header has no ',' after the authzid",
        ))?;
    let authzid = match &rest[..authzid_end] {
        b"" => None,
        field => match field.strip_prefix(b"a=") {
            Some(name) => Some(unescape_saslname(name).map_err(Gs2Error::Malformed)?),
            None => {
                return Err(Gs2Error::Malformed(
                    "gs2 authzid does not start with \"a=\"",
                ));
            }
        },
    };
    Ok(Gs2Header {
        authzid,
        len: flag_end + 1 + authzid_end + 1,
    })
}

/// Builds the GS2 header a client without channel binding sends:
/// `n,,` or `n,a=<authzid>,`.
pub(crate) fn header(authzid: Option<&str>) -> String {
    match authzid {
        Some(a) => format!("n,a={},", escape_saslname(a)),
        None => "n,,".to_owned(),
    }
}

/// Escapes a name for a `saslname` production: `,` becomes `=2C` and `=`
/// becomes `=3D`.
pub(crate) fn escape_saslname(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ',' => out.push_str("=2C"),
            '=' => out.push_str("=3D"),
            other => out.push(other),
        }
    }
    out
}

/// Reverses [`escape_saslname`]. The name must be non-empty UTF-8 without
/// NUL, and every `=` must start `=2C` or `=3D` (hex digits in either case).
pub(crate) fn unescape_saslname(raw: &[u8]) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("saslname is empty");
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'=' => {
                let code = raw
                    .get(i + 1..i + 3)
                    .ok_or("saslname has a truncated '=' escape")?;
                if code.eq_ignore_ascii_case(b"2C") {
                    out.push(b',');
                } else if code.eq_ignore_ascii_case(b"3D") {
                    out.push(b'=');
                } else {
                    return Err("saslname has an '=' that does not start =2C or =3D");
                }
                i += 3;
            }
            0 => return Err("saslname contains NUL"),
            b',' => return Err("saslname contains an unescaped ','"),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "saslname is not valid UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_comma_and_equals() {
        assert_eq!(escape_saslname("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(escape_saslname("plain"), "plain");
        assert_eq!(unescape_saslname(b"a=2Cb=3Dc").unwrap(), "a,b=c");
        assert_eq!(unescape_saslname(b"a=2cb=3dc").unwrap(), "a,b=c");
        assert_eq!(unescape_saslname(b"=3D=3D").unwrap(), "==");
    }

    #[test]
    fn rejects_bad_saslnames() {
        assert!(unescape_saslname(b"").is_err());
        assert!(unescape_saslname(b"a=").is_err());
        assert!(unescape_saslname(b"a=2").is_err());
        assert!(unescape_saslname(b"a=41").is_err());
        assert!(unescape_saslname(b"a,b").is_err());
        assert!(unescape_saslname(b"a\0b").is_err());
        assert!(unescape_saslname(b"\xff").is_err());
    }

    #[test]
    fn parses_headers() {
        let h = parse_header(b"n,,n=user").unwrap();
        assert_eq!(h.authzid, None);
        assert_eq!(h.len, 3);
        let h = parse_header(b"y,a=us=2Cer,rest").unwrap();
        assert_eq!(h.authzid.as_deref(), Some("us,er"));
        assert_eq!(h.len, 12);
        assert_eq!(
            parse_header(b"p=tls-unique,,n=user"),
            Err(Gs2Error::ChannelBinding)
        );
        assert!(matches!(parse_header(b"x,,"), Err(Gs2Error::Malformed(_))));
        assert!(matches!(parse_header(b"n"), Err(Gs2Error::Malformed(_))));
        assert!(matches!(
            parse_header(b"n,a=x"),
            Err(Gs2Error::Malformed(_))
        ));
        assert!(matches!(
            parse_header(b"n,b=x,"),
            Err(Gs2Error::Malformed(_))
        ));
        assert!(matches!(
            parse_header(b"n,a=,"),
            Err(Gs2Error::Malformed(_))
        ));
    }

    #[test]
    fn builds_headers() {
        assert_eq!(header(None), "n,,");
        assert_eq!(header(Some("a,b")), "n,a=a=2Cb,");
    }
}
