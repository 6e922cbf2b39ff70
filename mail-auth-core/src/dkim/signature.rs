//! The DKIM-Signature header field (RFC 6376 §3.5).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

use super::algorithm::{Algorithm, Canonicalization};
use crate::tag_list::{self, TagListError};

/// Why a DKIM-Signature field cannot be used. These are faults of the
/// message (or its signer), reported as `permerror`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// The field is not a valid tag list.
    #[error("malformed tag list: {0}")]
    TagList(#[from] TagListError),
    /// A required tag is missing.
    #[error("required tag {0}= is missing")]
    MissingTag(&'static str),
    /// `v=` is not `1`.
    #[error("unsupported version v={0}")]
    BadVersion(String),
    /// `a=` names an algorithm this verifier does not know.
    #[error("unknown signing algorithm a={0}")]
    UnknownAlgorithm(String),
    /// `c=` names an unknown canonicalization.
    #[error("unknown canonicalization c={0}")]
    BadCanonicalization(String),
    /// `b=` or `bh=` is not base64.
    #[error("{0}= is not valid base64")]
    BadBase64(&'static str),
    /// `b=` or `bh=` is empty.
    #[error("{0}= is empty")]
    EmptyValue(&'static str),
    /// `d=` is not a domain name.
    #[error("d={0} is not a valid domain name")]
    BadDomain(String),
    /// `s=` is not a valid selector.
    #[error("s={0} is not a valid selector")]
    BadSelector(String),
    /// `h=` does not list From.
    #[error("h= does not include From")]
    FromNotSigned,
    /// `h=` has an empty or invalid name.
    #[error("h= has an invalid field name {0:?}")]
    BadHeaderName(String),
    /// `i=` has no `@` or a bad domain.
    #[error("i={0} is not a valid identity")]
    BadIdentity(String),
    /// The domain of `i=` is neither `d=` nor a subdomain of it.
    #[error("i= domain {identity} is not within d={domain}")]
    IdentityOutsideDomain {
        /// The `i=` domain.
        identity: String,
        /// The `d=` domain.
        domain: String,
    },
    /// A number (`l=`, `t=`, `x=`) is not 1 to 76 decimal digits.
    #[error("{0}= is not a valid number")]
    BadNumber(&'static str),
    /// `x=` is before `t=`.
    #[error("x= ({expires}) is before t= ({timestamp})")]
    ExpiresBeforeTimestamp {
        /// `t=`.
        timestamp: u64,
        /// `x=`.
        expires: u64,
    },
    /// `q=` lists no method this verifier supports (only `dns/txt`).
    #[error("q={0} has no supported query method (dns/txt)")]
    UnsupportedQuery(String),
}

/// A parsed DKIM-Signature field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `a=`.
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// `b=` as written, folding white space removed (for `header.b`).
    pub signature_b64: String,
    /// `bh=`, decoded.
    pub body_hash: Vec<u8>,
    /// Header canonicalization (first half of `c=`, default simple).
    pub header_canon: Canonicalization,
    /// Body canonicalization (second half of `c=`, default simple).
    pub body_canon: Canonicalization,
    /// `d=`, as written (compare ignoring case).
    pub domain: String,
    /// `h=`: the signed field names, in order, as written.
    pub signed_headers: Vec<String>,
    /// `i=`, or `@` followed by `d=` when absent.
    pub identity: String,
    /// `l=`: how many canonical body bytes are signed.
    pub body_length: Option<u64>,
    /// `s=`.
    pub selector: String,
    /// `t=`: when it was signed (Unix seconds).
    pub timestamp: Option<u64>,
    /// `x=`: when it expires (Unix seconds).
    pub expiration: Option<u64>,
    /// `z=`: the copied header fields, as written (not interpreted).
    pub copied_headers: Option<String>,
}

impl Signature {
    /// Parse the value of a DKIM-Signature field (everything after the
    /// colon; folding allowed).
    pub fn parse(value: &str) -> Result<Self, SignatureError> {
        let tags = tag_list::parse(value)?;
        let get = |name| tag_list::get(&tags, name);
        let require = |name: &'static str| get(name).ok_or(SignatureError::MissingTag(name));

        let version = require("v")?;
        if version != "1" {
            return Err(SignatureError::BadVersion(version.to_string()));
        }
        let a = require("a")?;
        let algorithm =
            Algorithm::parse(a).ok_or_else(|| SignatureError::UnknownAlgorithm(a.to_string()))?;

        let b_text = tag_list::without_fws(require("b")?);
        if b_text.is_empty() {
            return Err(SignatureError::EmptyValue("b"));
        }
        let signature = STANDARD
            .decode(&b_text)
            .map_err(|_| SignatureError::BadBase64("b"))?;
        let bh_text = tag_list::without_fws(require("bh")?);
        if bh_text.is_empty() {
            return Err(SignatureError::EmptyValue("bh"));
        }
        let body_hash = STANDARD
            .decode(&bh_text)
            .map_err(|_| SignatureError::BadBase64("bh"))?;

        let (header_canon, body_canon) = match get("c") {
            None => (Canonicalization::Simple, Canonicalization::Simple),
            Some(c) => parse_canon(c)?,
        };

        let domain = require("d")?.to_string();
        if !is_domain(&domain) {
            return Err(SignatureError::BadDomain(domain));
        }
        let selector = require("s")?.to_string();
        if !is_domain(&selector) {
            return Err(SignatureError::BadSelector(selector));
        }

        let signed_headers = parse_header_list(require("h")?)?;
        if !signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("from"))
        {
            return Err(SignatureError::FromNotSigned);
        }

        let identity = match get("i") {
            None => format!("@{domain}"),
            Some(i) => {
                let id_domain =
                    identity_domain(i).ok_or_else(|| SignatureError::BadIdentity(i.to_string()))?;
                if !is_within(id_domain, &domain) {
                    return Err(SignatureError::IdentityOutsideDomain {
                        identity: id_domain.to_string(),
                        domain,
                    });
                }
                i.to_string()
            }
        };

        let body_length = get("l").map(|v| parse_number(v, "l")).transpose()?;
        let timestamp = get("t").map(|v| parse_number(v, "t")).transpose()?;
        let expiration = get("x").map(|v| parse_number(v, "x")).transpose()?;
        if let (Some(t), Some(x)) = (timestamp, expiration)
            && x < t
        {
            return Err(SignatureError::ExpiresBeforeTimestamp {
                timestamp: t,
                expires: x,
            });
        }

        if let Some(q) = get("q") {
            let supported = q.split(':').any(|m| {
                let m = tag_list::without_fws(m);
                let method = m.split('/').next().unwrap_or("");
                let opts = m.split_once('/').map(|(_, o)| o);
                method.eq_ignore_ascii_case("dns")
                    && opts.is_none_or(|o| o.eq_ignore_ascii_case("txt"))
            });
            if !supported {
                return Err(SignatureError::UnsupportedQuery(q.to_string()));
            }
        }

        Ok(Signature {
            algorithm,
            signature,
            signature_b64: b_text,
            body_hash,
            header_canon,
            body_canon,
            domain,
            signed_headers,
            identity,
            body_length,
            selector,
            timestamp,
            expiration,
            copied_headers: get("z").map(str::to_string),
        })
    }

    /// The domain part of `i=` (after the last `@`).
    pub fn identity_domain(&self) -> &str {
        identity_domain(&self.identity).unwrap_or(&self.domain)
    }

    /// The DNS name of the key: `selector._domainkey.domain`.
    pub fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

/// The tags a verifier reports even when the signature does not parse:
/// `d=`, `s=`, `a=`, `i=` and `b=`, read as far as the tag list allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LooseTags {
    pub domain: String,
    pub selector: String,
    pub algorithm: Option<Algorithm>,
    pub identity: String,
    pub b: String,
}

impl LooseTags {
    pub(crate) fn read(value: &str) -> Self {
        let mut out = LooseTags::default();
        for spec in value.split(';') {
            let Some((name, v)) = spec.split_once('=') else {
                continue;
            };
            let v = v.trim_matches(|c: char| c.is_ascii_whitespace());
            match name.trim_matches(|c: char| c.is_ascii_whitespace()) {
                "d" => out.domain = v.to_string(),
                "s" => out.selector = v.to_string(),
                "a" => out.algorithm = Algorithm::parse(v),
                "i" => out.identity = v.to_string(),
                "b" => out.b = tag_list::without_fws(v),
                _ => {}
            }
        }
        out
    }
}

fn parse_canon(c: &str) -> Result<(Canonicalization, Canonicalization), SignatureError> {
    let bad = || SignatureError::BadCanonicalization(c.to_string());
    let text = tag_list::without_fws(c);
    let (h, b) = match text.split_once('/') {
        Some((h, b)) => (h, Some(b)),
        None => (text.as_str(), None),
    };
    let header = Canonicalization::parse(h).ok_or_else(bad)?;
    let body = match b {
        None => Canonicalization::Simple,
        Some(b) => Canonicalization::parse(b).ok_or_else(bad)?,
    };
    Ok((header, body))
}

fn parse_header_list(h: &str) -> Result<Vec<String>, SignatureError> {
    h.split(':')
        .map(|name| {
            let name = tag_list::without_fws(name);
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                Err(SignatureError::BadHeaderName(name))
            } else {
                Ok(name)
            }
        })
        .collect()
}

fn parse_number(v: &str, tag: &'static str) -> Result<u64, SignatureError> {
    // RFC 6376 allows up to 76 digits for l=, t= and x=; values beyond 64
    // bits are clamped (a far-future x= simply never expires).
    if v.is_empty() || v.len() > 76 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadNumber(tag));
    }
    Ok(v.parse::<u64>().unwrap_or(u64::MAX))
}

/// The domain part of an identity `[local-part] "@" domain`.
pub(crate) fn identity_domain(i: &str) -> Option<&str> {
    let (_, domain) = i.rsplit_once('@')?;
    is_domain(domain).then_some(domain)
}

/// True if `sub` is `domain` or a subdomain of it (ASCII case ignored).
pub(crate) fn is_within(sub: &str, domain: &str) -> bool {
    let sub = sub.trim_end_matches('.');
    let domain = domain.trim_end_matches('.');
    if sub.eq_ignore_ascii_case(domain) {
        return true;
    }
    sub.len() > domain.len() + 1
        && sub.as_bytes()[sub.len() - domain.len() - 1] == b'.'
        && sub[sub.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

/// A DNS name of ASCII labels (letters, digits, `-`, `_`), at most 253
/// bytes, labels of 1 to 63 bytes.
pub(crate) fn is_domain(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=sel;\r\n h=From : To; bh=AAAA; b=AA\r\n BB; i=joe@sub.example.com; l=10; t=5; x=6; z=From:x";

    #[test]
    fn parses_every_tag() {
        let s = Signature::parse(GOOD).unwrap();
        assert_eq!(s.algorithm, Algorithm::RsaSha256);
        assert_eq!(s.header_canon, Canonicalization::Relaxed);
        assert_eq!(s.body_canon, Canonicalization::Simple);
        assert_eq!(s.signed_headers, vec!["From", "To"]);
        assert_eq!(s.signature_b64, "AABB");
        assert_eq!(s.body_length, Some(10));
        assert_eq!(s.identity_domain(), "sub.example.com");
        assert_eq!(s.key_name(), "sel._domainkey.example.com");
        assert_eq!(s.copied_headers.as_deref(), Some("From:x"));
    }

    #[test]
    fn errors() {
        let with = |from: &str, to: &str| Signature::parse(&GOOD.replace(from, to));
        assert_eq!(
            with("v=1", "v=2"),
            Err(SignatureError::BadVersion("2".into()))
        );
        assert!(matches!(
            with("a=rsa-sha256", "a=foo"),
            Err(SignatureError::UnknownAlgorithm(_))
        ));
        assert_eq!(with(" s=sel;", ""), Err(SignatureError::MissingTag("s")));
        assert_eq!(with("From : To", "To"), Err(SignatureError::FromNotSigned));
        assert!(matches!(
            with("joe@sub.example.com", "joe@example.net"),
            Err(SignatureError::IdentityOutsideDomain { .. })
        ));
        assert!(matches!(
            with("joe@sub.example.com", "joe"),
            Err(SignatureError::BadIdentity(_))
        ));
        assert!(matches!(
            with("x=6", "x=4"),
            Err(SignatureError::ExpiresBeforeTimestamp { .. })
        ));
        assert!(matches!(
            with("c=relaxed/simple", "c=nowsp"),
            Err(SignatureError::BadCanonicalization(_))
        ));
        assert!(matches!(
            with("bh=AAAA", "bh=!!"),
            Err(SignatureError::BadBase64("bh"))
        ));
        assert!(matches!(
            with("l=10", "l=-1"),
            Err(SignatureError::BadNumber("l"))
        ));
        assert!(Signature::parse(&format!("{GOOD}; q=dns/txt")).is_ok());
        assert!(Signature::parse(&format!("{GOOD}; q=http")).is_err());
        assert!(Signature::parse(&format!("{GOOD}; unknown=zzz")).is_ok());
    }

    #[test]
    fn within() {
        assert!(is_within("a.example.com", "example.com"));
        assert!(is_within("EXAMPLE.com", "example.COM"));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("com", "example.com"));
    }
}
