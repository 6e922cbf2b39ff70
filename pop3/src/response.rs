//! Status lines (`+OK ...` and `-ERR ...`) with the extended response codes
//! of RFC 2449 §8 (`[IN-USE]`, `[LOGIN-DELAY]`) and RFC 3206 (`[SYS/TEMP]`,
//! `[SYS/PERM]`, `[AUTH]`): built and written on the server, parsed on the
//! client.

use std::fmt;

use crate::error::{ResponseError, excerpt};

/// An extended response code: the bracketed word at the start of a
/// response's text (RFC 2449 §8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session (RFC 2449 §8.1.1).
    InUse,
    /// `[LOGIN-DELAY]`: the user logged in too soon after the last login
    /// (RFC 2449 §8.1.2).
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary problem on the server (RFC 3206 §4).
    SysTemp,
    /// `[SYS/PERM]`: a permanent problem on the server (RFC 3206 §4).
    SysPerm,
    /// `[AUTH]`: the credentials are the problem (RFC 3206 §5).
    Auth,
    /// Any other code, as sent (without brackets).
    Other(String),
}

impl ResponseCode {
    /// The code as it appears between the brackets.
    pub fn as_str(&self) -> &str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
            ResponseCode::Other(s) => s,
        }
    }

    /// Reads a code from the text between the brackets (case-insensitive for
    /// the known ones).
    pub fn from_text(text: &str) -> Self {
        let known = [
            ResponseCode::InUse,
            ResponseCode::LoginDelay,
            ResponseCode::SysTemp,
            ResponseCode::SysPerm,
            ResponseCode::Auth,
        ];
        known
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
            .unwrap_or_else(|| ResponseCode::Other(text.to_owned()))
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.as_str())
    }
}

/// One status line: `+OK` or `-ERR`, an optional response code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    ok: bool,
    code: Option<ResponseCode>,
    text: String,
}

impl Response {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR [code] text`.
    pub fn err_with(code: ResponseCode, text: impl Into<String>) -> Self {
        Self {
            ok: false,
            code: Some(code),
            text: text.into(),
        }
    }

    /// Whether this is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.ok
    }

    /// The response code, if the text started with one.
    pub fn code(&self) -> Option<&ResponseCode> {
        self.code.as_ref()
    }

    /// The text after the status indicator and code (may be empty).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Parses one status line, without its CRLF. A `[...]` at the start of
    /// the text is read as a response code (RFC 2449 §8: no spaces inside).
    pub fn parse(line: &[u8]) -> Result<Self, ResponseError> {
        let (ok, rest) = if let Some(rest) = strip_status(line, b"+OK") {
            (true, rest)
        } else if let Some(rest) = strip_status(line, b"-ERR") {
            (false, rest)
        } else {
            return Err(ResponseError::BadStatus {
                line: excerpt(line),
            });
        };
        // A CR or LF inside the text (never a line end here) reads as a
        // space, as `write_to` writes it.
        let text: String = String::from_utf8_lossy(rest)
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        let (code, text) = split_code(&text);
        Ok(Self {
            ok,
            code,
            text: text.to_owned(),
        })
    }

    /// Appends the line, CRLF included, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if let Some(code) = &self.code {
            out.push(b' ');
            out.extend_from_slice(code.to_string().as_bytes());
        }
        if !self.text.is_empty() {
            out.push(b' ');
            // Keep the line a line whatever the text holds.
            out.extend(
                self.text
                    .bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The line as bytes, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 16);
        self.write_to(&mut out);
        out
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.ok { "+OK" } else { "-ERR" })?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// `line` without the status indicator and the space after it, if it starts
/// with `status` (case-insensitive) followed by a space or the end.
fn strip_status<'a>(line: &'a [u8], status: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..status.len())?;
    if !head.eq_ignore_ascii_case(status) {
        return None;
    }
    match line.get(status.len()) {
        None => Some(&[]),
        Some(b' ') => Some(&line[status.len() + 1..]),
        Some(_) => None,
    }
}

fn split_code(text: &str) -> (Option<ResponseCode>, &str) {
    let Some(inner) = text.strip_prefix('[') else {
        return (None, text);
    };
    let Some(end) = inner.find(']') else {
        return (None, text);
    };
    let code = &inner[..end];
    if code.is_empty() || code.contains([' ', '[']) {
        return (None, text);
    }
    let rest = &inner[end + 1..];
    (
        Some(ResponseCode::from_text(code)),
        rest.strip_prefix(' ').unwrap_or(rest),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_codes_and_text() {
        let r = Response::parse(b"+OK 2 320").unwrap();
        assert!(r.is_ok());
        assert_eq!(r.text(), "2 320");
        let r = Response::parse(b"-ERR [IN-USE] locked").unwrap();
        assert!(!r.is_ok());
        assert_eq!(r.code(), Some(&ResponseCode::InUse));
        assert_eq!(r.text(), "locked");
        let r = Response::parse(b"+OK").unwrap();
        assert_eq!(r.text(), "");
        let r = Response::parse(b"-ERR [SYS/TEMP]").unwrap();
        assert_eq!(r.code(), Some(&ResponseCode::SysTemp));
        let r = Response::parse(b"-ERR [X-FOO/BAR] x").unwrap();
        assert_eq!(r.code(), Some(&ResponseCode::Other("X-FOO/BAR".into())));
        let r = Response::parse(b"-ERR [not a code] x").unwrap();
        assert_eq!(r.code(), None);
        assert_eq!(r.text(), "[not a code] x");
        assert_eq!(Response::parse(b"+OK a\rb").unwrap().text(), "a b");
        assert!(Response::parse(b"+OKAY").is_err());
        assert!(Response::parse(b"OK").is_err());
        assert!(Response::parse(b"").is_err());
    }

    #[test]
    fn writes_what_it_parses() {
        for r in [
            Response::ok("hello"),
            Response::ok(""),
            Response::err_with(ResponseCode::Auth, "bad password"),
            Response::err_with(ResponseCode::Other("A/B".into()), ""),
        ] {
            let bytes = r.to_bytes();
            assert!(bytes.ends_with(b"\r\n"));
            assert_eq!(Response::parse(&bytes[..bytes.len() - 2]).unwrap(), r);
        }
        assert_eq!(
            Response::err("a\r\nb").to_bytes(),
            b"-ERR a  b\r\n".to_vec()
        );
    }
}
