//! Checking a signature with a published key (RFC 6376 §6.1.3, RFC 8301,
//! RFC 8463).

use ring::{digest, signature};

use super::algorithm::Algorithm;
use super::der;
use super::key_record::KeyRecord;

/// The smallest RSA key accepted (RFC 8301 §3.2).
pub const MIN_RSA_BITS: usize = 1024;

/// Why a signature did not check out with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyProblem {
    /// The key is unusable: wrong type, too short, malformed (permerror).
    Unusable(String),
    /// The signature does not match (fail).
    Mismatch,
}

/// Verify `signature` over the signed header data `data` with the key in
/// `record`. Returns the RSA key size on success (for reports).
pub(crate) fn verify(
    algorithm: Algorithm,
    record: &KeyRecord,
    data: &[u8],
    sig: &[u8],
) -> Result<Option<usize>, KeyProblem> {
    if record.key_type != algorithm.key_type() {
        return Err(KeyProblem::Unusable(format!(
            "key type {} does not fit algorithm {}",
            record.key_type, algorithm
        )));
    }
    match algorithm {
        Algorithm::RsaSha1 => Err(KeyProblem::Unusable(
            "rsa-sha1 is not accepted (RFC 8301)".to_string(),
        )),
        Algorithm::RsaSha256 => {
            let key = der::rsa_public_key(&record.public_key)
                .ok_or_else(|| KeyProblem::Unusable("p= is not an RSA public key".to_string()))?;
            if key.bits < MIN_RSA_BITS {
                return Err(KeyProblem::Unusable(format!(
                    "RSA key of {} bits is shorter than {MIN_RSA_BITS} (RFC 8301)",
                    key.bits
                )));
            }
            if key.bits > 8192 {
                return Err(KeyProblem::Unusable(format!(
                    "RSA key of {} bits is longer than 8192",
                    key.bits
                )));
            }
            let alg: &dyn signature::VerificationAlgorithm = if key.bits >= 2048 {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            };
            signature::UnparsedPublicKey::new(alg, key.der)
                .verify(data, sig)
                .map(|()| Some(key.bits))
                .map_err(|_| KeyProblem::Mismatch)
        }
        Algorithm::Ed25519Sha256 => {
            let raw: &[u8] = if record.public_key.len() == 32 {
                &record.public_key
            } else {
                der::ed25519_from_spki(&record.public_key).ok_or_else(|| {
                    KeyProblem::Unusable("p= is not a 32-byte Ed25519 key".to_string())
                })?
            };
            // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data.
            let hash = digest::digest(&digest::SHA256, data);
            signature::UnparsedPublicKey::new(&signature::ED25519, raw)
                .verify(hash.as_ref(), sig)
                .map(|()| None)
                .map_err(|_| KeyProblem::Mismatch)
        }
    }
}
