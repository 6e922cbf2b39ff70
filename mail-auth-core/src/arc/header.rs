//! The three ARC header fields (RFC 8617 §4.1): ARC-Authentication-Results,
//! ARC-Message-Signature and ARC-Seal.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

use crate::auth_results::{AuthResultsError, AuthenticationResults};
use crate::dkim::{Algorithm, Canonicalization, is_domain};
use crate::tag_list::{self, Tag, TagListError};

/// The name of the ARC-Seal field.
pub const ARC_SEAL: &str = "ARC-Seal";
/// The name of the ARC-Message-Signature field.
pub const ARC_MESSAGE_SIGNATURE: &str = "ARC-Message-Signature";
/// The name of the ARC-Authentication-Results field.
pub const ARC_AUTHENTICATION_RESULTS: &str = "ARC-Authentication-Results";

/// The highest instance number an ARC Set may carry (RFC 8617 §4.2.1).
pub const MAX_INSTANCE: u32 = 50;

/// A Chain Validation Status (RFC 8617 §4.4): the value of an ARC-Seal's
/// `cv=` tag, and the outcome of verifying a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArcResult {
    /// `none`: there was no chain (a first ARC Set says so).
    None,
    /// `pass`: the chain verified.
    Pass,
    /// `fail`: the chain is broken.
    Fail,
}

impl ArcResult {
    /// The keyword, as in `cv=` and in Authentication-Results.
    pub fn as_str(self) -> &'static str {
        match self {
            ArcResult::None => "none",
            ArcResult::Pass => "pass",
            ArcResult::Fail => "fail",
        }
    }

    /// Parse a `cv=` value (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("none") {
            Some(ArcResult::None)
        } else if s.eq_ignore_ascii_case("pass") {
            Some(ArcResult::Pass)
        } else if s.eq_ignore_ascii_case("fail") {
            Some(ArcResult::Fail)
        } else {
            None
        }
    }
}

impl fmt::Display for ArcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an ARC header field cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArcHeaderError {
    /// The field is not a valid tag list.
    #[error("malformed tag list: {0}")]
    TagList(#[from] TagListError),
    /// A required tag is missing.
    #[error("required tag {0}= is missing")]
    MissingTag(&'static str),
    /// A tag this field must not carry is present (`h=` in an ARC-Seal).
    #[error("tag {0}= is not allowed in this field")]
    ForbiddenTag(&'static str),
    /// `i=` is not an instance number from 1 to 50.
    #[error("i={0} is not an instance number from 1 to 50")]
    BadInstance(String),
    /// `a=` names an unknown algorithm.
    #[error("unknown signing algorithm a={0}")]
    UnknownAlgorithm(String),
    /// `c=` names an unknown canonicalization.
    #[error("unknown canonicalization c={0}")]
    BadCanonicalization(String),
    /// `cv=` is not `none`, `pass` or `fail`.
    #[error("cv={0} is not none, pass or fail")]
    BadChainValidation(String),
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
    /// `h=` has an empty or invalid field name.
    #[error("h= has an invalid field name {0:?}")]
    BadHeaderName(String),
    /// `h=` lists ARC-Seal, which an ARC-Message-Signature must not sign
    /// (RFC 8617 §4.1.2).
    #[error("h= lists ARC-Seal")]
    SealSigned,
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
    /// An ARC-Authentication-Results value does not start with `i=N;`.
    #[error("ARC-Authentication-Results does not start with i=<instance>;")]
    MissingInstancePrefix,
}

/// A parsed ARC-Seal field (RFC 8617 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSeal {
    /// `i=`: the instance, 1 to 50.
    pub instance: u32,
    /// `a=`.
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// `b=` as written, folding white space removed.
    pub signature_b64: String,
    /// `cv=`: the status of the chain this sealer saw.
    pub cv: ArcResult,
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `t=`: when it was sealed (Unix seconds).
    pub timestamp: Option<u64>,
}

impl ArcSeal {
    /// Parse the value of an ARC-Seal field (everything after the colon).
    /// Unknown tags are ignored; `h=` is an error.
    pub fn parse(value: &str) -> Result<Self, ArcHeaderError> {
        let tags = tag_list::parse(value)?;
        if tag_list::get(&tags, "h").is_some() {
            return Err(ArcHeaderError::ForbiddenTag("h"));
        }
        let instance = instance_tag(&tags)?;
        let algorithm = algorithm_tag(&tags)?;
        let (signature, signature_b64) = base64_tag(&tags, "b")?;
        let cv_text = require(&tags, "cv")?;
        let cv = ArcResult::parse(cv_text)
            .ok_or_else(|| ArcHeaderError::BadChainValidation(cv_text.to_string()))?;
        let (domain, selector) = domain_selector(&tags)?;
        let timestamp = tag_list::get(&tags, "t")
            .map(|v| parse_number(v, "t"))
            .transpose()?;
        Ok(ArcSeal {
            instance,
            algorithm,
            signature,
            signature_b64,
            cv,
            domain,
            selector,
            timestamp,
        })
    }

    /// The DNS name of the key: `selector._domainkey.domain`.
    pub fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

/// A parsed ARC-Message-Signature field (RFC 8617 §4.1.2): the tags of a
/// DKIM-Signature, with `i=` the instance and no `v=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcMessageSignature {
    /// `i=`: the instance, 1 to 50.
    pub instance: u32,
    /// `a=`.
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// `b=` as written, folding white space removed.
    pub signature_b64: String,
    /// `bh=`, decoded.
    pub body_hash: Vec<u8>,
    /// Header canonicalization (first half of `c=`, default simple as in
    /// DKIM).
    pub header_canon: Canonicalization,
    /// Body canonicalization (second half of `c=`, default simple).
    pub body_canon: Canonicalization,
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `h=`: the signed field names, in order.
    pub signed_headers: Vec<String>,
    /// `l=`: how many canonical body bytes are signed.
    pub body_length: Option<u64>,
    /// `t=` (Unix seconds).
    pub timestamp: Option<u64>,
    /// `x=` (Unix seconds).
    pub expiration: Option<u64>,
}

impl ArcMessageSignature {
    /// Parse the value of an ARC-Message-Signature field. Unknown tags
    /// (a stray `v=` included) are ignored.
    pub fn parse(value: &str) -> Result<Self, ArcHeaderError> {
        let tags = tag_list::parse(value)?;
        let instance = instance_tag(&tags)?;
        let algorithm = algorithm_tag(&tags)?;
        let (signature, signature_b64) = base64_tag(&tags, "b")?;
        let (body_hash, _) = base64_tag(&tags, "bh")?;
        let (header_canon, body_canon) = match tag_list::get(&tags, "c") {
            None => (Canonicalization::Simple, Canonicalization::Simple),
            Some(c) => parse_canon(c)?,
        };
        let (domain, selector) = domain_selector(&tags)?;
        let signed_headers = parse_header_list(require(&tags, "h")?)?;
        if signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(ARC_SEAL))
        {
            return Err(ArcHeaderError::SealSigned);
        }
        let number = |name: &'static str| {
            tag_list::get(&tags, name)
                .map(|v| parse_number(v, name))
                .transpose()
        };
        let body_length = number("l")?;
        let timestamp = number("t")?;
        let expiration = number("x")?;
        if let (Some(t), Some(x)) = (timestamp, expiration)
            && x < t
        {
            return Err(ArcHeaderError::ExpiresBeforeTimestamp {
                timestamp: t,
                expires: x,
            });
        }
        Ok(ArcMessageSignature {
            instance,
            algorithm,
            signature,
            signature_b64,
            body_hash,
            header_canon,
            body_canon,
            domain,
            selector,
            signed_headers,
            body_length,
            timestamp,
            expiration,
        })
    }

    /// The DNS name of the key: `selector._domainkey.domain`.
    pub fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

/// A parsed ARC-Authentication-Results field (RFC 8617 §4.1.1):
/// `i=N;` followed by an Authentication-Results payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcAuthenticationResults {
    /// The instance, 1 to 50.
    pub instance: u32,
    /// The payload after `i=N;` (authserv-id and results), unfolded and
    /// trimmed, not checked against the Authentication-Results grammar.
    pub payload: String,
}

impl ArcAuthenticationResults {
    /// Parse the value of an ARC-Authentication-Results field. Only the
    /// `i=N;` prefix is checked; [`Self::results`] parses the payload.
    pub fn parse(value: &str) -> Result<Self, ArcHeaderError> {
        let (instance, rest) = aar_instance(value)?;
        let payload: String = rest.chars().filter(|&c| c != '\r' && c != '\n').collect();
        Ok(ArcAuthenticationResults {
            instance,
            payload: payload.trim().to_string(),
        })
    }

    /// The payload parsed as an Authentication-Results value.
    pub fn results(&self) -> Result<AuthenticationResults, AuthResultsError> {
        AuthenticationResults::parse(&self.payload)
    }
}

/// Split `i=N;` off an ARC-Authentication-Results value.
fn aar_instance(value: &str) -> Result<(u32, &str), ArcHeaderError> {
    let ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let rest = value.trim_start_matches(ws);
    let rest = rest
        .strip_prefix('i')
        .ok_or(ArcHeaderError::MissingInstancePrefix)?;
    let rest = rest.trim_start_matches(ws);
    let rest = rest
        .strip_prefix('=')
        .ok_or(ArcHeaderError::MissingInstancePrefix)?;
    let rest = rest.trim_start_matches(ws);
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let instance = parse_instance(&rest[..digits_end])?;
    let rest = rest[digits_end..].trim_start_matches(ws);
    let rest = rest
        .strip_prefix(';')
        .ok_or(ArcHeaderError::MissingInstancePrefix)?;
    Ok((instance, rest))
}

/// The instance of an ARC field of any of the three kinds, read as far as
/// needed (for grouping fields into sets before they are fully parsed).
pub(crate) fn instance_of(name: &str, value: &str) -> Result<u32, ArcHeaderError> {
    if name.eq_ignore_ascii_case(ARC_AUTHENTICATION_RESULTS) {
        aar_instance(value).map(|(i, _)| i)
    } else {
        let tags = tag_list::parse(value)?;
        instance_tag(&tags)
    }
}

fn parse_instance(v: &str) -> Result<u32, ArcHeaderError> {
    let bad = || ArcHeaderError::BadInstance(v.to_string());
    if v.is_empty() || v.len() > 2 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u32 = v.parse().map_err(|_| bad())?;
    if (1..=MAX_INSTANCE).contains(&n) {
        Ok(n)
    } else {
        Err(bad())
    }
}

fn require<'a>(tags: &[Tag<'a>], name: &'static str) -> Result<&'a str, ArcHeaderError> {
    tag_list::get(tags, name).ok_or(ArcHeaderError::MissingTag(name))
}

fn instance_tag(tags: &[Tag<'_>]) -> Result<u32, ArcHeaderError> {
    parse_instance(require(tags, "i")?)
}

fn algorithm_tag(tags: &[Tag<'_>]) -> Result<Algorithm, ArcHeaderError> {
    let a = require(tags, "a")?;
    Algorithm::parse(a).ok_or_else(|| ArcHeaderError::UnknownAlgorithm(a.to_string()))
}

fn base64_tag(tags: &[Tag<'_>], name: &'static str) -> Result<(Vec<u8>, String), ArcHeaderError> {
    let text = tag_list::without_fws(require(tags, name)?);
    if text.is_empty() {
        return Err(ArcHeaderError::EmptyValue(name));
    }
    let bytes = STANDARD
        .decode(&text)
        .map_err(|_| ArcHeaderError::BadBase64(name))?;
    Ok((bytes, text))
}

fn domain_selector(tags: &[Tag<'_>]) -> Result<(String, String), ArcHeaderError> {
    let domain = require(tags, "d")?.to_string();
    if !is_domain(&domain) {
        return Err(ArcHeaderError::BadDomain(domain));
    }
    let selector = require(tags, "s")?.to_string();
    if !is_domain(&selector) {
        return Err(ArcHeaderError::BadSelector(selector));
    }
    Ok((domain, selector))
}

fn parse_canon(c: &str) -> Result<(Canonicalization, Canonicalization), ArcHeaderError> {
    let bad = || ArcHeaderError::BadCanonicalization(c.to_string());
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

/// True if `name` can be a header field name.
pub(crate) fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

fn parse_header_list(h: &str) -> Result<Vec<String>, ArcHeaderError> {
    h.split(':')
        .map(|name| {
            let name = tag_list::without_fws(name);
            if is_field_name(&name) {
                Ok(name)
            } else {
                Err(ArcHeaderError::BadHeaderName(name))
            }
        })
        .collect()
}

fn parse_number(v: &str, tag: &'static str) -> Result<u64, ArcHeaderError> {
    if v.is_empty() || v.len() > 76 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ArcHeaderError::BadNumber(tag));
    }
    Ok(v.parse::<u64>().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal() {
        let s = ArcSeal::parse(
            "i=2; a=rsa-sha256; cv=pass; d=example.org; s=sel; t=12;\r\n b=AA\r\n BB",
        )
        .unwrap();
        assert_eq!(s.instance, 2);
        assert_eq!(s.cv, ArcResult::Pass);
        assert_eq!(s.signature_b64, "AABB");
        assert_eq!(s.key_name(), "sel._domainkey.example.org");
        assert_eq!(
            ArcSeal::parse("i=1; a=rsa-sha256; cv=none; d=e.org; s=s; h=from; b=AA"),
            Err(ArcHeaderError::ForbiddenTag("h"))
        );
        assert!(matches!(
            ArcSeal::parse("i=51; a=rsa-sha256; cv=none; d=e.org; s=s; b=AAAA"),
            Err(ArcHeaderError::BadInstance(_))
        ));
        assert!(matches!(
            ArcSeal::parse("i=1; a=rsa-sha256; cv=maybe; d=e.org; s=s; b=AAAA"),
            Err(ArcHeaderError::BadChainValidation(_))
        ));
    }

    #[test]
    fn message_signature() {
        let v = "i=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=sel; h=From:To; bh=AAAA; b=AAAA";
        let m = ArcMessageSignature::parse(v).unwrap();
        assert_eq!(m.instance, 1);
        assert_eq!(m.signed_headers, vec!["From", "To"]);
        assert_eq!(
            ArcMessageSignature::parse(&v.replace("From:To", "From:ARC-Seal")),
            Err(ArcHeaderError::SealSigned)
        );
        assert_eq!(
            ArcMessageSignature::parse(&v.replace("i=1", "i=x")),
            Err(ArcHeaderError::BadInstance("x".into()))
        );
    }

    #[test]
    fn authentication_results() {
        let a = ArcAuthenticationResults::parse(
            " i = 3 ;\r\n mx.example.org; spf=pass smtp.mailfrom=a.example",
        )
        .unwrap();
        assert_eq!(a.instance, 3);
        assert_eq!(
            a.payload,
            "mx.example.org; spf=pass smtp.mailfrom=a.example"
        );
        assert_eq!(a.results().unwrap().authserv_id, "mx.example.org");
        assert_eq!(
            ArcAuthenticationResults::parse("mx.example.org; none"),
            Err(ArcHeaderError::MissingInstancePrefix)
        );
        assert_eq!(instance_of("arc-authentication-results", "i=7; x"), Ok(7));
        assert_eq!(instance_of("ARC-Seal", "a=1; i=9"), Ok(9));
    }
}
