//! SPF macro strings (RFC 7208 §7): parsing and expansion.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::SpfSyntaxError;

/// A parsed macro-string: literals and macro-expands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    parts: Vec<MacroPart>,
}

/// One piece of a macro-string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroPart {
    /// Text copied as is (`%%`, `%_` and `%-` already turned into `%`, a
    /// space and `%20`).
    Literal(String),
    /// `%{letter transformers delimiters}`.
    Macro(Macro),
}

/// A macro-expand (RFC 7208 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro {
    /// Which value to put in.
    pub letter: MacroLetter,
    /// Keep only this many right-hand parts (after reversal).
    pub keep: Option<u8>,
    /// `r`: reverse the parts.
    pub reverse: bool,
    /// The delimiters to split on (`.` when empty).
    pub delimiters: String,
    /// Upper-case letter: URL-escape the result.
    pub escape: bool,
}

/// The macro letters of RFC 7208 §7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroLetter {
    /// `s`: the sender, `local-part@domain`.
    Sender,
    /// `l`: the sender's local part.
    Local,
    /// `o`: the sender's domain.
    SenderDomain,
    /// `d`: the current domain.
    Domain,
    /// `i`: the client IP, dotted (IPv6 as dotted nibbles).
    Ip,
    /// `p`: the validated domain name of the client IP.
    ValidatedName,
    /// `v`: `in-addr` or `ip6`.
    Version,
    /// `h`: the HELO/EHLO domain.
    Helo,
    /// `c`: the client IP in its usual text form (exp only).
    ClientIp,
    /// `r`: the receiving host's domain (exp only).
    Receiver,
    /// `t`: the current time in Unix seconds (exp only).
    Timestamp,
}

impl MacroString {
    /// True when the last part is a macro-expand (then the domain-end rule
    /// is met whatever the literal before it).
    pub fn ends_with_macro(&self) -> bool {
        matches!(self.parts.last(), Some(MacroPart::Macro(_)))
    }

    /// The parts.
    pub fn parts(&self) -> &[MacroPart] {
        &self.parts
    }

    /// True when some part is the `p` macro, which needs DNS lookups.
    pub fn needs_validated_name(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(
                p,
                MacroPart::Macro(Macro {
                    letter: MacroLetter::ValidatedName,
                    ..
                })
            )
        })
    }
}

/// Parse a macro-string. `explain` allows spaces and the `c`, `r`, `t`
/// letters (explain-string of RFC 7208 §6.2).
pub fn parse_macro_string(s: &str, explain: bool) -> Result<MacroString, SpfSyntaxError> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            match b.get(i + 1) {
                Some(b'%') => lit.push('%'),
                Some(b'_') => lit.push(' '),
                Some(b'-') => lit.push_str("%20"),
                Some(b'{') => {
                    let close = s[i..]
                        .find('}')
                        .ok_or_else(|| SpfSyntaxError::BadMacro(s.to_string()))?;
                    let body = &s[i + 2..i + close];
                    let m = parse_macro(body, explain)
                        .ok_or_else(|| SpfSyntaxError::BadMacro(s.to_string()))?;
                    if !lit.is_empty() {
                        parts.push(MacroPart::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(MacroPart::Macro(m));
                    i += close + 1;
                    continue;
                }
                _ => return Err(SpfSyntaxError::BadMacro(s.to_string())),
            }
            i += 2;
            continue;
        }
        let ok = (0x21..=0x7e).contains(&c) || (explain && c == b' ');
        if !ok {
            return Err(SpfSyntaxError::BadMacro(s.to_string()));
        }
        lit.push(char::from(c));
        i += 1;
    }
    if !lit.is_empty() {
        parts.push(MacroPart::Literal(lit));
    }
    Ok(MacroString { parts })
}

fn parse_macro(body: &str, explain: bool) -> Option<Macro> {
    let b = body.as_bytes();
    let first = *b.first()?;
    let letter = match first.to_ascii_lowercase() {
        b's' => MacroLetter::Sender,
        b'l' => MacroLetter::Local,
        b'o' => MacroLetter::SenderDomain,
        b'd' => MacroLetter::Domain,
        b'i' => MacroLetter::Ip,
        b'p' => MacroLetter::ValidatedName,
        b'v' => MacroLetter::Version,
        b'h' => MacroLetter::Helo,
        b'c' if explain => MacroLetter::ClientIp,
        b'r' if explain => MacroLetter::Receiver,
        b't' if explain => MacroLetter::Timestamp,
        _ => return None,
    };
    let mut i = 1;
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let keep = if i > digits_start {
        let n: u32 = body[digits_start..i].parse().unwrap_or(u32::MAX);
        if n == 0 {
            return None;
        }
        // At least 128 parts must be supported; more than that is all of them.
        Some(n.min(128) as u8)
    } else {
        None
    };
    let mut reverse = false;
    if i < b.len() && b[i].eq_ignore_ascii_case(&b'r') {
        reverse = true;
        i += 1;
    }
    let delimiters = &body[i..];
    if !delimiters
        .bytes()
        .all(|d| matches!(d, b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'='))
    {
        return None;
    }
    Some(Macro {
        letter,
        keep,
        reverse,
        delimiters: delimiters.to_string(),
        escape: first.is_ascii_uppercase(),
    })
}

/// The values macros expand to. `validated_name` is filled by the
/// evaluator (after its PTR lookups) only when a string needs it.
#[derive(Debug, Clone)]
pub(crate) struct MacroValues<'a> {
    pub sender_local: &'a str,
    pub sender_domain: &'a str,
    pub domain: &'a str,
    pub ip: IpAddr,
    pub helo: &'a str,
    pub validated_name: Option<&'a str>,
    pub receiver: &'a str,
    pub timestamp: Option<u64>,
}

/// The `i` form of an address: dotted quad, or 32 dotted nibbles. Nibbles
/// are written in upper case, as the openspf conformance suite expects in
/// explanations (RFC 7208 §7.4 shows lower case; DNS names compare without
/// case, so lookups are the same either way).
pub(crate) fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(63);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0x0f] {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    let digit = char::from_digit(u32::from(nibble), 16).unwrap_or('0');
                    s.push(digit.to_ascii_uppercase());
                }
            }
            s
        }
    }
}

fn url_escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Expand a macro-string.
pub(crate) fn expand(ms: &MacroString, v: &MacroValues<'_>) -> String {
    let mut out = String::new();
    for part in &ms.parts {
        match part {
            MacroPart::Literal(l) => out.push_str(l),
            MacroPart::Macro(m) => {
                let owned;
                let value: &str = match m.letter {
                    MacroLetter::Sender => {
                        owned = format!("{}@{}", v.sender_local, v.sender_domain);
                        &owned
                    }
                    MacroLetter::Local => v.sender_local,
                    MacroLetter::SenderDomain => v.sender_domain,
                    MacroLetter::Domain => v.domain,
                    MacroLetter::Ip => {
                        owned = dotted_ip(v.ip);
                        &owned
                    }
                    MacroLetter::ValidatedName => v.validated_name.unwrap_or("unknown"),
                    MacroLetter::Version => match v.ip {
                        IpAddr::V4(_) => "in-addr",
                        IpAddr::V6(_) => "ip6",
                    },
                    MacroLetter::Helo => v.helo,
                    MacroLetter::ClientIp => {
                        owned = v.ip.to_string();
                        &owned
                    }
                    MacroLetter::Receiver => v.receiver,
                    MacroLetter::Timestamp => {
                        owned = v.timestamp.unwrap_or(0).to_string();
                        &owned
                    }
                };
                let transformed = transform(value, m);
                if m.escape {
                    url_escape(&transformed, &mut out);
                } else {
                    out.push_str(&transformed);
                }
            }
        }
    }
    out
}

fn transform(value: &str, m: &Macro) -> String {
    if m.keep.is_none() && !m.reverse && (m.delimiters.is_empty() || m.delimiters == ".") {
        return value.to_string();
    }
    let delims: &str = if m.delimiters.is_empty() {
        "."
    } else {
        &m.delimiters
    };
    let mut parts: Vec<&str> = value.split(|c| delims.contains(c)).collect();
    if m.reverse {
        parts.reverse();
    }
    if let Some(keep) = m.keep {
        let keep = usize::from(keep);
        if parts.len() > keep {
            parts.drain(..parts.len() - keep);
        }
    }
    parts.join(".")
}

/// Shorten an expanded domain-spec to at most 253 characters by dropping
/// labels from the left (RFC 7208 §7.3).
pub(crate) fn truncate_domain(mut s: String) -> String {
    while s.trim_end_matches('.').len() > 253 {
        match s.find('.') {
            Some(pos) => {
                s.drain(..=pos);
            }
            None => break,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ip: &str) -> MacroValues<'static> {
        MacroValues {
            sender_local: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            validated_name: None,
            receiver: "receiver.example",
            timestamp: Some(1_000),
        }
    }

    fn exp(s: &str, ip: &str) -> String {
        expand(&parse_macro_string(s, true).unwrap(), &values(ip))
    }

    /// The examples of RFC 7208 §7.4.
    #[test]
    fn rfc7208_section_7_4_examples() {
        let v4 = "192.0.2.3";
        assert_eq!(exp("%{s}", v4), "strong-bad@email.example.com");
        assert_eq!(exp("%{o}", v4), "email.example.com");
        assert_eq!(exp("%{d}", v4), "email.example.com");
        assert_eq!(exp("%{d4}", v4), "email.example.com");
        assert_eq!(exp("%{d3}", v4), "email.example.com");
        assert_eq!(exp("%{d2}", v4), "example.com");
        assert_eq!(exp("%{d1}", v4), "com");
        assert_eq!(exp("%{dr}", v4), "com.example.email");
        assert_eq!(exp("%{d2r}", v4), "example.email");
        assert_eq!(exp("%{l}", v4), "strong-bad");
        assert_eq!(exp("%{l-}", v4), "strong.bad");
        assert_eq!(exp("%{lr}", v4), "strong-bad");
        assert_eq!(exp("%{lr-}", v4), "bad.strong");
        assert_eq!(exp("%{l1r-}", v4), "strong");
        assert_eq!(
            exp("%{ir}.%{v}._spf.%{d2}", v4),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            exp("%{lr-}.lp._spf.%{d2}", v4),
            "bad.strong.lp._spf.example.com"
        );
        assert_eq!(
            exp("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", v4),
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            exp("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", v4),
            "3.2.0.192.in-addr.strong.lp._spf.example.com"
        );
        assert_eq!(
            exp("%{d2}.trusted-domains.example.net", v4),
            "example.com.trusted-domains.example.net"
        );
        let v6 = "2001:db8::cb01";
        // Compared without case: DNS names are case-insensitive and the
        // nibbles are written in upper case (see `dotted_ip`).
        assert!(exp("%{ir}.%{v}._spf.%{d2}", v6).eq_ignore_ascii_case(
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        ));
    }

    #[test]
    fn escapes_and_specials() {
        assert_eq!(exp("%%%_%-", "192.0.2.3"), "% %20");
        assert_eq!(exp("%{S}", "192.0.2.3"), "strong-bad%40email.example.com");
        assert_eq!(
            exp("%{c} %{r} %{t}", "2001:db8::1"),
            "2001:db8::1 receiver.example 1000"
        );
        assert!(parse_macro_string("%{c}", false).is_err());
        assert!(parse_macro_string("%{d0}", false).is_err());
        assert!(parse_macro_string("%x", false).is_err());
        assert!(parse_macro_string("%{d", false).is_err());
        assert!(parse_macro_string("a b", false).is_err());
    }

    #[test]
    fn truncation() {
        let long = format!("{}.example.com", "a.".repeat(200));
        let t = truncate_domain(long);
        assert!(t.len() <= 253 && t.ends_with("example.com"));
    }
}
