//! New signing keys and the DNS records that publish them (feature
//! `keygen`).
//!
//! Ed25519 keys come from ring; RSA-2048 keys from the `rsa` crate (only
//! generation: signing uses ring through [`SigningKey`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use thiserror::Error;

use super::algorithm::KeyType;
use super::pem;
use super::sign::SigningKey;

/// Key generation failed (the system random source or the encoder).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeygenError {
    /// The random source or the key generator failed.
    #[error("key generation failed: {0}")]
    Generation(String),
}

/// A freshly generated key.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    /// The key type.
    pub key_type: KeyType,
    /// The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); load it
    /// with [`SigningKey::from_pem`].
    pub private_key_pem: String,
    /// The key record text: `v=DKIM1; k=...; p=...`.
    pub dns_record: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("key_type", &self.key_type)
            .field("dns_record", &self.dns_record)
            .finish_non_exhaustive()
    }
}

impl GeneratedKey {
    /// Load the private key for signing.
    pub fn signing_key(&self) -> Result<SigningKey, super::sign::SigningKeyError> {
        SigningKey::from_pem(&self.private_key_pem)
    }
}

/// A new Ed25519 key (RFC 8463).
pub fn generate_ed25519() -> Result<GeneratedKey, KeygenError> {
    let rng = SystemRandom::new();
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| KeygenError::Generation(e.to_string()))?;
    // ring writes the PKCS#8 v2 form (RFC 8410 OneAsymmetricKey with the
    // public key); OpenSSL 3.0, and so opendkim, reads only the v1 form.
    // Write v1: the fixed 16-byte prefix and the 32-byte seed, which sits
    // at the same offset in ring's v2 document.
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let seed = pkcs8
        .as_ref()
        .get(16..48)
        .ok_or_else(|| KeygenError::Generation("unexpected PKCS#8 layout".into()))?;
    let mut v1 = V1_PREFIX.to_vec();
    v1.extend_from_slice(seed);
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&v1)
        .map_err(|e| KeygenError::Generation(e.to_string()))?;
    let check = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|e| KeygenError::Generation(e.to_string()))?;
    if check.public_key().as_ref() != pair.public_key().as_ref() {
        return Err(KeygenError::Generation(
            "Ed25519 seed extraction mismatch".into(),
        ));
    }
    Ok(GeneratedKey {
        key_type: KeyType::Ed25519,
        private_key_pem: pem::encode("PRIVATE KEY", &v1),
        dns_record: format!(
            "v=DKIM1; k=ed25519; p={}",
            STANDARD.encode(pair.public_key().as_ref())
        ),
    })
}

/// ring's system random source, in the shape the `rsa` crate wants.
struct RingRng(SystemRandom);

impl rsa::rand_core::RngCore for RingRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // The system random source does not fail on supported platforms;
        // if it ever does, key generation must not go on with zeros.
        if self.0.fill(dest).is_err() {
            panic!("system random source failed");
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        const CODE: std::num::NonZeroU32 =
            match std::num::NonZeroU32::new(rsa::rand_core::Error::CUSTOM_START) {
                Some(code) => code,
                None => std::num::NonZeroU32::MIN,
            };
        self.0
            .fill(dest)
            .map_err(|_| rsa::rand_core::Error::from(CODE))
    }
}

impl rsa::rand_core::CryptoRng for RingRng {}

/// A new RSA key of `bits` bits (2048 is what RFC 8301 recommends; ring
/// signs only with 2048 or more).
pub fn generate_rsa(bits: usize) -> Result<GeneratedKey, KeygenError> {
    let mut rng = RingRng(SystemRandom::new());
    let key = rsa::RsaPrivateKey::new(&mut rng, bits)
        .map_err(|e| KeygenError::Generation(e.to_string()))?;
    let private = key
        .to_pkcs8_der()
        .map_err(|e| KeygenError::Generation(e.to_string()))?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| KeygenError::Generation(e.to_string()))?;
    Ok(GeneratedKey {
        key_type: KeyType::Rsa,
        private_key_pem: pem::encode("PRIVATE KEY", private.as_bytes()),
        dns_record: format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(public.as_bytes())),
    })
}

/// A new RSA-2048 key.
pub fn generate_rsa_2048() -> Result<GeneratedKey, KeygenError> {
    generate_rsa(2048)
}

/// The zone-file line that publishes `record` for `selector` and
/// `domain`: `selector._domainkey.domain. IN TXT ( "..." "..." )`, the text
/// split into character-strings of at most 255 bytes (RFC 1035 §3.3.14).
/// `"` and `\` are escaped.
pub fn zone_file_line(selector: &str, domain: &str, record: &str) -> String {
    let domain = domain.trim_end_matches('.');
    let mut out = format!("{selector}._domainkey.{domain}. IN TXT (");
    for chunk in split_txt(record) {
        out.push_str(" \"");
        for c in chunk.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push_str(" )");
    out
}

/// Split `text` into pieces of at most 255 bytes, at character boundaries.
fn split_txt(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > 255 {
        let mut cut = 255;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_line_splits_at_255() {
        let record = format!("v=DKIM1; k=rsa; p={}", "A".repeat(400));
        let line = zone_file_line("sel", "example.com.", &record);
        assert!(line.starts_with("sel._domainkey.example.com. IN TXT ( \""));
        let pieces: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].len(), 255);
        assert_eq!(pieces.concat(), record);
    }

    #[test]
    fn ed25519_key_loads() {
        let key = generate_ed25519().unwrap();
        assert!(key.dns_record.starts_with("v=DKIM1; k=ed25519; p="));
        assert_eq!(key.signing_key().unwrap().dns_record(), key.dns_record);
    }
}
