//! DKIM (RFC 6376, RFC 8301, RFC 8463): signing, verifying, key records.
//!
//! * Verify: feed a message to a [`DkimVerifier`] in chunks of any size,
//!   then [`DkimVerifier::finish`] gives a [`DkimCheck`]: a
//!   [`Check`](crate::Check) that asks for every key record at once and
//!   ends with one [`DkimResult`] per DKIM-Signature field.
//!   [`verify_message`] does both for a message in memory.
//! * Sign: [`SigningKey::from_pem`], a [`SignerConfig`], then
//!   [`DkimSigner`] (streaming) or [`sign_message`]; the output is the whole
//!   `DKIM-Signature:` field, folded, to prepend.
//! * Keys: [`KeyRecord`] parses what DNS publishes; with the `keygen`
//!   feature, [`keygen`] makes new keys and their zone-file lines.
//!
//! Policy choices: `rsa-sha1` signatures are `permerror` (RFC 8301 §3.1);
//! RSA keys under 1024 bits are `permerror` (RFC 8301 §3.2); an expired
//! `x=` is `fail`; signatures past [`VerifierConfig::max_signatures`] are
//! `neutral` and cost nothing. Bare LF line ends are read as CRLF.

mod algorithm;
mod body_hash;
mod crypto;
mod der;
mod fold;
mod header_canon;
mod key_record;
#[cfg(feature = "keygen")]
pub mod keygen;
mod pem;
mod sign;
mod signature;
mod verify;

pub use algorithm::{Algorithm, Canonicalization, HashAlgorithm, KeyType};
pub use body_hash::{BodyHash, BodyHasher, canonicalize_body};
pub use crypto::MIN_RSA_BITS;
pub use header_canon::{canonicalize_field, select_fields, signed_data, without_b_value};
pub use key_record::{KeyRecord, KeyRecordError};
pub use sign::{
    DEFAULT_OVERSIGNED_HEADERS, DEFAULT_SIGNED_HEADERS, DkimSigner, SignConfigError, SignError,
    SignMessageError, SignerConfig, SigningKey, SigningKeyError, sign_message,
};
pub use signature::{Signature, SignatureError};
// Shared with ARC (RFC 8617), which reuses DKIM's pieces.
pub(crate) use body_hash::BodyHashSet;
pub(crate) use crypto::{KeyProblem, verify as verify_with_key};
pub(crate) use fold::Folder;
pub(crate) use signature::is_domain;
pub use verify::{
    B_PREFIX_LEN, DkimCheck, DkimResult, DkimStatus, DkimVerifier, VerifierConfig, verify_message,
};
