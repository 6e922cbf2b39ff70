//! Signing (RFC 6376 §5): `rsa-sha256` and `ed25519-sha256`.
//!
//! [`DkimSigner`] takes the message in chunks (the header is kept, the body
//! only hashed) and ends with the complete `DKIM-Signature:` field, folded
//! and ending in CRLF, to put in front of the message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use thiserror::Error;

use super::algorithm::{Algorithm, Canonicalization, HashAlgorithm};
use super::body_hash::BodyHasher;
use super::der::{self, Pkcs8Algorithm};
use super::fold::Folder;
use super::header_canon::signed_data;
use super::pem;
use super::signature::{identity_domain, is_domain, is_within};
use crate::message::{HeaderSplitter, parse_header};

/// The fields signed by default, when present (RFC 6376 §5.4.1
/// recommendations and common practice).
pub const DEFAULT_SIGNED_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
    "Feedback-ID",
];

/// The fields over-signed by default: listed once more than present, so
/// that adding one breaks the signature.
pub const DEFAULT_OVERSIGNED_HEADERS: &[&str] = &["From", "Subject", "To", "Date"];

/// A private key could not be loaded: the caller's key is at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SigningKeyError {
    /// No PEM block was found, or its base64 is broken, or it is encrypted.
    #[error("no readable PEM block (encrypted keys are not supported)")]
    Pem,
    /// The PEM label is not `PRIVATE KEY` or `RSA PRIVATE KEY`.
    #[error("unsupported PEM label {0:?}")]
    UnsupportedLabel(String),
    /// The PKCS#8 key is for an algorithm other than RSA and Ed25519.
    #[error("the key is neither RSA nor Ed25519")]
    UnsupportedAlgorithm,
    /// The key was rejected (malformed, or an RSA key under 2048 bits).
    #[error("key rejected: {0}")]
    Rejected(String),
}

/// The signer's configuration is wrong: the caller's fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignConfigError {
    /// `domain` is not a domain name.
    #[error("{0:?} is not a valid signing domain")]
    BadDomain(String),
    /// `selector` is not a valid selector.
    #[error("{0:?} is not a valid selector")]
    BadSelector(String),
    /// `identity` is not `[local]@domain` within the signing domain.
    #[error("identity {0:?} is not an address within the signing domain")]
    BadIdentity(String),
    /// The explicit header list does not include From.
    #[error("the signed header list must include From")]
    FromNotSigned,
    /// A header name is empty or has characters a field name cannot have.
    #[error("{0:?} is not a valid header field name")]
    BadHeaderName(String),
    /// The expiration is before the timestamp.
    #[error("expiration {expiration} is before timestamp {timestamp}")]
    ExpiresBeforeTimestamp {
        /// `t=`.
        timestamp: u64,
        /// `x=`.
        expiration: u64,
    },
}

/// The message cannot be signed: the message's fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignMessageError {
    /// The header is larger than the configured limit.
    #[error("message header is larger than {0} bytes")]
    HeaderTooLarge(usize),
    /// The message has no From field (RFC 5322 requires one and DKIM
    /// must sign it).
    #[error("message has no From field")]
    NoFrom,
}

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] SignConfigError),
    /// The message cannot be signed.
    #[error(transparent)]
    Message(#[from] SignMessageError),
    /// The cryptographic library failed to sign.
    #[error("signing failed in the crypto library")]
    Crypto,
}

enum KeyInner {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key for signing: RSA (2048 bits or more, as ring requires)
/// or Ed25519.
pub struct SigningKey {
    inner: KeyInner,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Load a key from PEM: `PRIVATE KEY` (PKCS#8, RSA or Ed25519) or
    /// `RSA PRIVATE KEY` (PKCS#1).
    pub fn from_pem(text: &str) -> Result<Self, SigningKeyError> {
        let block = pem::decode(text).ok_or(SigningKeyError::Pem)?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => Self::from_rsa_der(&block.der),
            other => Err(SigningKeyError::UnsupportedLabel(other.to_string())),
        }
    }

    /// Load a PKCS#8 DER key (RSA, or Ed25519 v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SigningKeyError> {
        let rejected = |e: ring::error::KeyRejected| SigningKeyError::Rejected(e.to_string());
        match der::pkcs8_algorithm(der) {
            Some(Pkcs8Algorithm::Rsa) => Ok(SigningKey {
                inner: KeyInner::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?),
            }),
            Some(Pkcs8Algorithm::Ed25519) => Ok(SigningKey {
                inner: KeyInner::Ed25519(
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(rejected)?,
                ),
            }),
            Some(Pkcs8Algorithm::Other) => Err(SigningKeyError::UnsupportedAlgorithm),
            None => Err(SigningKeyError::Rejected("not a PKCS#8 key".to_string())),
        }
    }

    /// Load a PKCS#1 RSAPrivateKey DER key.
    pub fn from_rsa_der(der: &[u8]) -> Result<Self, SigningKeyError> {
        RsaKeyPair::from_der(der)
            .map(|k| SigningKey {
                inner: KeyInner::Rsa(k),
            })
            .map_err(|e| SigningKeyError::Rejected(e.to_string()))
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            KeyInner::Rsa(_) => Algorithm::RsaSha256,
            KeyInner::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The `p=` value for this key: base64 of the SubjectPublicKeyInfo for
    /// RSA, of the raw 32-byte key for Ed25519 (RFC 8463 §4).
    pub fn public_key_base64(&self) -> String {
        match &self.inner {
            KeyInner::Rsa(k) => STANDARD.encode(der::rsa_spki(k.public().as_ref())),
            KeyInner::Ed25519(k) => STANDARD.encode(k.public_key().as_ref()),
        }
    }

    /// The key record to publish: `v=DKIM1; k=rsa; p=...`.
    pub fn dns_record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm().key_type(),
            self.public_key_base64()
        )
    }

    /// Sign `data` (the signing input of a DKIM or ARC signature).
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.inner {
            KeyInner::Rsa(k) => {
                let mut out = vec![0u8; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    data,
                    &mut out,
                )
                .map_err(|_| SignError::Crypto)?;
                Ok(out)
            }
            KeyInner::Ed25519(k) => {
                let hash = ring::digest::digest(&ring::digest::SHA256, data);
                Ok(k.sign(hash.as_ref()).as_ref().to_vec())
            }
        }
    }
}

/// What to sign and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerConfig {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// Header canonicalization (default relaxed).
    pub header_canon: Canonicalization,
    /// Body canonicalization (default relaxed).
    pub body_canon: Canonicalization,
    /// `h=` exactly as given (`None`: [`DEFAULT_SIGNED_HEADERS`] that are
    /// present, each as often as present, plus [`Self::oversign`]).
    pub headers: Option<Vec<String>>,
    /// With the default header list: names listed once more than they
    /// occur (default [`DEFAULT_OVERSIGNED_HEADERS`]).
    pub oversign: Vec<String>,
    /// `i=` (`None`: omitted, meaning `@` + domain).
    pub identity: Option<String>,
    /// Write `l=` with the body's canonical length (default false).
    pub body_length: bool,
    /// `t=` (Unix seconds), if wanted.
    pub timestamp: Option<u64>,
    /// `x=` (Unix seconds), if wanted.
    pub expiration: Option<u64>,
    /// The largest header accepted (default 1 MiB).
    pub max_header_bytes: usize,
}

impl SignerConfig {
    /// Relaxed/relaxed, the default headers, no `i=`, `l=`, `t=` or `x=`.
    pub fn new(domain: &str, selector: &str) -> Self {
        SignerConfig {
            domain: domain.to_string(),
            selector: selector.to_string(),
            header_canon: Canonicalization::Relaxed,
            body_canon: Canonicalization::Relaxed,
            headers: None,
            oversign: DEFAULT_OVERSIGNED_HEADERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            identity: None,
            body_length: false,
            timestamp: None,
            expiration: None,
            max_header_bytes: 1 << 20,
        }
    }

    fn validate(&self) -> Result<(), SignConfigError> {
        if !is_domain(&self.domain) {
            return Err(SignConfigError::BadDomain(self.domain.clone()));
        }
        if !is_domain(&self.selector) {
            return Err(SignConfigError::BadSelector(self.selector.clone()));
        }
        if let Some(i) = &self.identity {
            let ok = identity_domain(i).is_some_and(|d| is_within(d, &self.domain))
                && i.bytes().all(|b| b.is_ascii_graphic() && b != b';');
            if !ok {
                return Err(SignConfigError::BadIdentity(i.clone()));
            }
        }
        let names = self.headers.iter().flatten().chain(&self.oversign);
        for name in names {
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                return Err(SignConfigError::BadHeaderName(name.clone()));
            }
        }
        if let Some(h) = &self.headers
            && !h.iter().any(|n| n.eq_ignore_ascii_case("from"))
        {
            return Err(SignConfigError::FromNotSigned);
        }
        if let (Some(t), Some(x)) = (self.timestamp, self.expiration)
            && x < t
        {
            return Err(SignConfigError::ExpiresBeforeTimestamp {
                timestamp: t,
                expiration: x,
            });
        }
        Ok(())
    }
}

/// Signs a message fed in chunks.
#[derive(Debug)]
pub struct DkimSigner<'k> {
    config: SignerConfig,
    key: &'k SigningKey,
    splitter: HeaderSplitter,
    hasher: BodyHasher,
}

impl<'k> DkimSigner<'k> {
    /// A signer; fails if the configuration is invalid.
    pub fn new(config: SignerConfig, key: &'k SigningKey) -> Result<Self, SignConfigError> {
        config.validate()?;
        Ok(DkimSigner {
            splitter: HeaderSplitter::new(config.max_header_bytes),
            hasher: BodyHasher::new(config.body_canon, HashAlgorithm::Sha256, None),
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

    /// The message is complete: return the `DKIM-Signature:` field, folded,
    /// ending in CRLF, to put in front of the message.
    pub fn finish(self) -> Result<String, SignError> {
        if self.splitter.overflowed() {
            return Err(SignMessageError::HeaderTooLarge(self.config.max_header_bytes).into());
        }
        let header = self.splitter.into_header();
        let fields = parse_header(&header);
        if !fields.iter().any(|f| f.is("From")) {
            return Err(SignMessageError::NoFrom.into());
        }
        let names: Vec<String> = match &self.config.headers {
            Some(h) => h.clone(),
            None => default_names(&fields, &self.config.oversign),
        };
        let body = self.hasher.finish();
        let config = &self.config;

        let mut f = Folder::new("DKIM-Signature:");
        f.word("v=1;");
        f.word(&format!("a={};", self.key.algorithm()));
        f.word(&format!("c={}/{};", config.header_canon, config.body_canon));
        f.word(&format!("d={};", config.domain));
        f.word(&format!("s={};", config.selector));
        if let Some(i) = &config.identity {
            f.word(&format!("i={i};"));
        }
        if config.body_length {
            f.word(&format!("l={};", body.canonical_len));
        }
        if let Some(t) = config.timestamp {
            f.word(&format!("t={t};"));
        }
        if let Some(x) = config.expiration {
            f.word(&format!("x={x};"));
        }
        f.signed_names_and_body_hash(&names, &STANDARD.encode(&body.digest));

        let data = signed_data(config.header_canon, &fields, &names, f.as_str().as_bytes());
        let sig = self.key.sign(&data)?;
        f.split(&STANDARD.encode(sig));
        Ok(f.finish())
    }
}

/// The default `h=`: each default field as often as present, then the
/// over-signed names once more than present.
fn default_names(fields: &[crate::message::HeaderField<'_>], oversign: &[String]) -> Vec<String> {
    let count = |name: &str| fields.iter().filter(|f| f.is(name)).count();
    let mut names = Vec::new();
    for &name in DEFAULT_SIGNED_HEADERS {
        let present = count(name);
        let extra = usize::from(oversign.iter().any(|o| o.eq_ignore_ascii_case(name)));
        names.extend(std::iter::repeat_n(name.to_string(), present + extra));
    }
    for name in oversign {
        if !DEFAULT_SIGNED_HEADERS
            .iter()
            .any(|d| d.eq_ignore_ascii_case(name))
        {
            names.extend(std::iter::repeat_n(name.clone(), count(name) + 1));
        }
    }
    names
}

/// Sign a whole message in memory: [`DkimSigner`] fed at once.
pub fn sign_message(
    message: &[u8],
    config: &SignerConfig,
    key: &SigningKey,
) -> Result<String, SignError> {
    let mut signer = DkimSigner::new(config.clone(), key)?;
    signer.feed(message);
    signer.finish()
}
