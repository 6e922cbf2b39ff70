//! Adding an ARC Set when forwarding a message (RFC 8617 §5.1).
//!
//! [`ArcSealer`] takes the message in chunks (the header is kept, the body
//! only hashed). [`ArcSealer::finish`] is given the Chain Validation Status
//! of the incoming chain (from [`verify_arc`](super::verify_arc)) and this
//! host's Authentication-Results for the message, and returns the new
//! [`ArcSet`]: ARC-Seal, ARC-Message-Signature and
//! ARC-Authentication-Results of instance N+1, to put in front of the
//! message.
//!
//! **Failed chains are not sealed.** RFC 8617 lets a sealer add a set with
//! `cv=fail` to a broken chain, which ends the chain for good (no later
//! sealer may continue it). Such a set carries no information a receiver
//! can use, so this sealer refuses instead: an incoming `fail` gives
//! [`SealError::ChainFailed`] and the message goes on with its chain as it
//! was.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

use super::header::{
    ARC_AUTHENTICATION_RESULTS, ARC_MESSAGE_SIGNATURE, ARC_SEAL, ArcResult, MAX_INSTANCE,
    is_field_name,
};
use super::verify::{group_sets, seal_input_raw};
use crate::auth_results::{AuthenticationResults, FIELD_NAME};
use crate::dkim::{
    BodyHasher, Canonicalization, DEFAULT_SIGNED_HEADERS, Folder, HashAlgorithm, SignError,
    SigningKey, is_domain, signed_data,
};
use crate::message::{HeaderField, HeaderSplitter, parse_header};

/// Why a message could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    /// The signing domain is not a domain name.
    #[error("{0:?} is not a valid signing domain")]
    BadDomain(String),
    /// The selector is not valid.
    #[error("{0:?} is not a valid selector")]
    BadSelector(String),
    /// A name in the header list cannot be a field name.
    #[error("{0:?} is not a valid header field name")]
    BadHeaderName(String),
    /// The header list names a field an ARC-Message-Signature must not sign
    /// (the ARC fields, Authentication-Results).
    #[error("{0} must not be signed by an ARC-Message-Signature")]
    ForbiddenHeader(String),
    /// The header is larger than the configured limit.
    #[error("message header is larger than {0} bytes")]
    HeaderTooLarge(usize),
    /// The message has no From field.
    #[error("message has no From field")]
    NoFrom,
    /// The incoming chain failed validation; this sealer does not seal
    /// failed chains (see the module documentation).
    #[error("the incoming ARC chain failed validation; not sealing")]
    ChainFailed,
    /// The status given does not fit the message: `none` with ARC fields
    /// present, or `pass` without any.
    #[error("chain status {status} does not fit a message with {instances} ARC Sets")]
    ChainMismatch {
        /// The status given.
        status: ArcResult,
        /// The ARC Sets found in the message.
        instances: u32,
    },
    /// The ARC fields of the message do not form whole sets.
    #[error("the message's ARC chain is malformed: {0}")]
    MalformedChain(String),
    /// The chain already has 50 sets, the most allowed.
    #[error("the ARC chain already has {MAX_INSTANCE} sets")]
    TooManyInstances,
    /// The Authentication-Results value given is not valid.
    #[error("invalid Authentication-Results value: {0}")]
    BadAuthenticationResults(String),
    /// The cryptographic library failed to sign.
    #[error("signing failed in the crypto library")]
    Crypto,
}

/// What to seal with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealerConfig {
    /// `d=` of the ARC-Message-Signature and ARC-Seal.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `t=` (Unix seconds), if wanted.
    pub timestamp: Option<u64>,
    /// The ARC-Message-Signature's `h=` exactly as given (`None`: each of
    /// [`DEFAULT_SIGNED_HEADERS`] as often as it is present). ARC fields
    /// and Authentication-Results are refused.
    pub headers: Option<Vec<String>>,
    /// The largest header accepted (default 1 MiB).
    pub max_header_bytes: usize,
}

impl SealerConfig {
    /// The default header list, no `t=`.
    pub fn new(domain: &str, selector: &str) -> Self {
        SealerConfig {
            domain: domain.to_string(),
            selector: selector.to_string(),
            timestamp: None,
            headers: None,
            max_header_bytes: 1 << 20,
        }
    }

    fn validate(&self) -> Result<(), SealError> {
        if !is_domain(&self.domain) {
            return Err(SealError::BadDomain(self.domain.clone()));
        }
        if !is_domain(&self.selector) {
            return Err(SealError::BadSelector(self.selector.clone()));
        }
        for name in self.headers.iter().flatten() {
            if !is_field_name(name) {
                return Err(SealError::BadHeaderName(name.clone()));
            }
            if [
                ARC_SEAL,
                ARC_MESSAGE_SIGNATURE,
                ARC_AUTHENTICATION_RESULTS,
                FIELD_NAME,
            ]
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
            {
                return Err(SealError::ForbiddenHeader(name.clone()));
            }
        }
        Ok(())
    }
}

/// A new ARC Set: three complete header fields, each folded and ending in
/// CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSet {
    /// The instance of the new set.
    pub instance: u32,
    /// The `ARC-Seal:` field.
    pub seal: String,
    /// The `ARC-Message-Signature:` field.
    pub message_signature: String,
    /// The `ARC-Authentication-Results:` field.
    pub authentication_results: String,
}

impl ArcSet {
    /// The three fields in the order to put them in front of the message:
    /// ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results.
    pub fn to_prepend(&self) -> String {
        format!(
            "{}{}{}",
            self.seal, self.message_signature, self.authentication_results
        )
    }
}

/// Seals a message fed in chunks.
#[derive(Debug)]
pub struct ArcSealer<'k> {
    config: SealerConfig,
    key: &'k SigningKey,
    splitter: HeaderSplitter,
    hasher: BodyHasher,
}

impl<'k> ArcSealer<'k> {
    /// A sealer; fails if the configuration is invalid.
    pub fn new(config: SealerConfig, key: &'k SigningKey) -> Result<Self, SealError> {
        config.validate()?;
        Ok(ArcSealer {
            splitter: HeaderSplitter::new(config.max_header_bytes),
            hasher: BodyHasher::new(Canonicalization::Relaxed, HashAlgorithm::Sha256, None),
            config,
            key,
        })
    }

    /// Feed the next chunk of the message.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.splitter.is_complete() {
            self.hasher.update(chunk);
        } else {
            let used = self.splitter.feed(chunk);
            if self.splitter.is_complete() {
                self.hasher.update(&chunk[used..]);
            }
        }
    }

    /// The message is complete: build the new ARC Set.
    ///
    /// `chain` is the Chain Validation Status of the message's ARC chain
    /// as received ([`ArcOutput::result`](super::ArcOutput::result));
    /// `auth_results` is this host's Authentication-Results value for the
    /// message, authserv-id first (folding allowed), such as
    /// [`AuthenticationResults::to_value`].
    pub fn finish(self, chain: ArcResult, auth_results: &str) -> Result<ArcSet, SealError> {
        if chain == ArcResult::Fail {
            return Err(SealError::ChainFailed);
        }
        if self.splitter.overflowed() {
            return Err(SealError::HeaderTooLarge(self.config.max_header_bytes));
        }
        let header = self.splitter.into_header();
        let fields = parse_header(&header);
        if !fields.iter().any(|f| f.is("From")) {
            return Err(SealError::NoFrom);
        }
        let sets = group_sets(&fields).map_err(|(_, why)| SealError::MalformedChain(why))?;
        let existing = sets.len() as u32;
        let fits = match chain {
            ArcResult::None => existing == 0,
            _ => existing > 0,
        };
        if !fits {
            return Err(SealError::ChainMismatch {
                status: chain,
                instances: existing,
            });
        }
        if existing >= MAX_INSTANCE {
            return Err(SealError::TooManyInstances);
        }
        let instance = existing + 1;
        let config = &self.config;
        let algorithm = self.key.algorithm();

        // ARC-Authentication-Results.
        let payload = auth_results_payload(auth_results)?;
        let aar = format!("{ARC_AUTHENTICATION_RESULTS}: i={instance}; {payload}\r\n");

        // ARC-Message-Signature.
        let names: Vec<String> = match &config.headers {
            Some(h) => h.clone(),
            None => default_names(&fields),
        };
        let body = self.hasher.finish();
        let mut f = Folder::new(&format!("{ARC_MESSAGE_SIGNATURE}:"));
        f.word(&format!("i={instance};"));
        f.word(&format!("a={algorithm};"));
        f.word("c=relaxed/relaxed;");
        f.word(&format!("d={};", config.domain));
        f.word(&format!("s={};", config.selector));
        if let Some(t) = config.timestamp {
            f.word(&format!("t={t};"));
        }
        f.signed_names_and_body_hash(&names, &STANDARD.encode(&body.digest));
        let data = signed_data(
            Canonicalization::Relaxed,
            &fields,
            &names,
            f.as_str().as_bytes(),
        );
        f.split(&STANDARD.encode(sign(self.key, &data)?));
        let ams = f.finish();

        // ARC-Seal.
        let mut f = Folder::new(&format!("{ARC_SEAL}:"));
        f.word(&format!("i={instance};"));
        f.word(&format!("a={algorithm};"));
        if let Some(t) = config.timestamp {
            f.word(&format!("t={t};"));
        }
        f.word(&format!("cv={chain};"));
        f.word(&format!("d={};", config.domain));
        f.word(&format!("s={};", config.selector));
        f.word("b=");
        let raw = |index: Option<usize>| -> &[u8] {
            index.map_or(&[][..], |i| HeaderField::raw(&fields[i]))
        };
        let mut all: Vec<[&[u8]; 3]> = sets
            .iter()
            .map(|s| [raw(s.aar), raw(s.ams), raw(s.seal)])
            .collect();
        all.push([aar.as_bytes(), ams.as_bytes(), f.as_str().as_bytes()]);
        let data = seal_input_raw(&all);
        f.split(&STANDARD.encode(sign(self.key, &data)?));
        let seal = f.finish();

        Ok(ArcSet {
            instance,
            seal,
            message_signature: ams,
            authentication_results: aar,
        })
    }
}

fn sign(key: &SigningKey, data: &[u8]) -> Result<Vec<u8>, SealError> {
    key.sign(data).map_err(|e: SignError| match e {
        SignError::Crypto => SealError::Crypto,
        other => SealError::MalformedChain(other.to_string()),
    })
}

/// Each default field as often as it is present.
fn default_names(fields: &[HeaderField<'_>]) -> Vec<String> {
    let mut names = Vec::new();
    for &name in DEFAULT_SIGNED_HEADERS {
        let present = fields.iter().filter(|f| f.is(name)).count();
        names.extend(std::iter::repeat_n(name.to_string(), present));
    }
    names
}

/// Check an Authentication-Results value and fold it after each top-level
/// `;` (outside comments and quoted strings).
fn auth_results_payload(value: &str) -> Result<String, SealError> {
    let flat: String = value.chars().filter(|&c| c != '\r' && c != '\n').collect();
    let flat = flat.trim();
    let mut flat = flat;
    if let Some(colon) = flat.find(':')
        && flat[..colon].trim().eq_ignore_ascii_case(FIELD_NAME)
    {
        flat = flat[colon + 1..].trim();
    }
    if flat.chars().any(|c| c.is_control() && c != '\t') {
        return Err(SealError::BadAuthenticationResults(
            "control character".to_string(),
        ));
    }
    AuthenticationResults::parse(flat)
        .map_err(|e| SealError::BadAuthenticationResults(e.to_string()))?;
    let mut out = String::with_capacity(flat.len() + 16);
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    let mut chars = flat.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            ';' if !quoted
                && depth == 0
                && chars.peek().is_some_and(|&n| n == ' ' || n == '\t') =>
            {
                while chars.peek().is_some_and(|&n| n == ' ' || n == '\t') {
                    chars.next();
                }
                out.push_str("\r\n\t");
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Seal a whole message in memory: [`ArcSealer`] fed at once.
pub fn seal_message(
    message: &[u8],
    chain: ArcResult,
    auth_results: &str,
    key: &SigningKey,
    config: &SealerConfig,
) -> Result<ArcSet, SealError> {
    let mut sealer = ArcSealer::new(config.clone(), key)?;
    sealer.feed(message);
    sealer.finish(chain, auth_results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_folding() {
        let p = auth_results_payload(
            "mx.example.org; spf=pass (a; b) smtp.mailfrom=x.example; dkim=pass reason=\"x; y\"",
        )
        .unwrap();
        assert_eq!(
            p,
            "mx.example.org;\r\n\tspf=pass (a; b) smtp.mailfrom=x.example;\r\n\tdkim=pass reason=\"x; y\""
        );
        assert!(auth_results_payload("").is_err());
        assert!(auth_results_payload("Authentication-Results: mx.example.org; none").is_ok());
    }
}
