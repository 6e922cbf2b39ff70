//! APOP (RFC 1939 §7): the greeting's timestamp and the MD5 digest of
//! timestamp and shared secret.
//!
//! The session never sees the secret: it hands the digest to the
//! application ([`ServerEvent::Apop`](crate::server::ServerEvent::Apop)),
//! which looks the secret up and calls [`verify_apop`].

use md5::{Digest, Md5};

use crate::error::UsageError;

/// The `<...>` string in the greeting that APOP digests cover. RFC 1939
/// asks for the syntax of an RFC 822 msg-id, unique for every greeting:
/// build it from a process id, a counter and random data the caller draws.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApopTimestamp(String);

impl ApopTimestamp {
    /// Checks `text` is `<local@domain>` made of printable ASCII without
    /// spaces or more angle brackets, at most 255 octets.
    pub fn new(text: impl Into<String>) -> Result<Self, UsageError> {
        let text = text.into();
        let bad = |why: &str| {
            Err(UsageError::InvalidArgument(format!(
                "APOP timestamp: {why}"
            )))
        };
        let Some(inner) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
            return bad("must be enclosed in <>");
        };
        if text.len() > 255 {
            return bad("longer than 255 octets");
        }
        if !inner
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'<' && b != b'>')
        {
            return bad("must be printable ASCII without spaces or <>");
        }
        match inner.split_once('@') {
            Some((l, d)) if !l.is_empty() && !d.is_empty() => Ok(Self(text)),
            _ => bad("must look like <local@domain>"),
        }
    }

    /// `<unique@hostname>`: `unique` should combine something that differs
    /// between connections (a counter, the process id, the time) with
    /// random data.
    pub fn generate(unique: &str, hostname: &str) -> Result<Self, UsageError> {
        Self::new(format!("<{unique}@{hostname}>"))
    }

    /// The timestamp, brackets included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The APOP digest: MD5 of the timestamp (brackets included) followed by the
/// shared secret, as 32 lower-case hex digits.
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_bytes());
    md5.update(secret.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `digest` (hex, any case) is the APOP digest of `timestamp` and
/// `secret`. The comparison takes the same time wherever the digests differ.
pub fn verify_apop(timestamp: &str, secret: &str, digest: &str) -> bool {
    let expected = apop_digest(timestamp, secret);
    let given = digest.to_ascii_lowercase();
    if given.len() != expected.len() {
        return false;
    }
    constant_time_eq(expected.as_bytes(), given.as_bytes())
}

/// Compares equal-length byte strings without an early exit.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_TIMESTAMP: &str = "<1896.697170952@dbc.mtview.ca.us>";

    #[test]
    fn rfc1939_example_digest() {
        assert_eq!(
            apop_digest(RFC_TIMESTAMP, "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
        assert!(verify_apop(
            RFC_TIMESTAMP,
            "tanstaaf",
            "C4C9334BAC560ECC979E58001B3E22FB"
        ));
        assert!(!verify_apop(
            RFC_TIMESTAMP,
            "tanstaaF",
            "c4c9334bac560ecc979e58001b3e22fb"
        ));
        assert!(!verify_apop(RFC_TIMESTAMP, "tanstaaf", "c4c9"));
    }

    #[test]
    fn timestamp_syntax() {
        assert!(ApopTimestamp::new(RFC_TIMESTAMP).is_ok());
        assert!(ApopTimestamp::generate("1.2", "host").is_ok());
        for bad in [
            "1896@x", "<1896@x", "<a b@x>", "<@x>", "<a@>", "<ab>", "<a<b@x>",
        ] {
            assert!(ApopTimestamp::new(bad).is_err(), "{bad}");
        }
    }
}
