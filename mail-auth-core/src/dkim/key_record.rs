//! The DKIM key record published in DNS (RFC 6376 §3.6.1, RFC 8463 §4).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

use super::algorithm::{HashAlgorithm, KeyType};
use crate::tag_list::{self, TagListError};

/// Why a key record cannot be used: the publishing domain's fault,
/// reported as `permerror`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyRecordError {
    /// The record is not UTF-8.
    #[error("key record is not UTF-8")]
    NotUtf8,
    /// The record is not a valid tag list.
    #[error("malformed key record: {0}")]
    TagList(#[from] TagListError),
    /// `v=` is present but not `DKIM1`, or not the first tag.
    #[error("key record version is not DKIM1")]
    BadVersion,
    /// `p=` is missing.
    #[error("key record has no p=")]
    MissingKey,
    /// `p=` is not base64.
    #[error("key record p= is not valid base64")]
    BadBase64,
    /// `k=` names a key type this verifier does not know.
    #[error("unknown key type k={0}")]
    UnknownKeyType(String),
}

/// A parsed key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `k=` (default `rsa`).
    pub key_type: KeyType,
    /// `p=`, decoded. Empty means the key was revoked.
    pub public_key: Vec<u8>,
    /// `h=`: the hashes the key may be used with (`None`: any).
    pub hashes: Option<Vec<String>>,
    /// `s=`: the service types (default `*`).
    pub services: Vec<String>,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// `t=s`: the `i=` domain must be exactly `d=`.
    pub strict: bool,
    /// `n=`: notes for humans.
    pub notes: Option<String>,
}

impl KeyRecord {
    /// Parse a key record (the TXT record's strings joined).
    pub fn parse(record: &str) -> Result<Self, KeyRecordError> {
        let tags = tag_list::parse(record)?;
        if let Some(pos) = tags.iter().position(|t| t.name == "v")
            && (pos != 0 || tags[pos].value != "DKIM1")
        {
            return Err(KeyRecordError::BadVersion);
        }
        let get = |name| tag_list::get(&tags, name);
        let key_type = match get("k") {
            None => KeyType::Rsa,
            Some(k) if k.eq_ignore_ascii_case("rsa") => KeyType::Rsa,
            Some(k) if k.eq_ignore_ascii_case("ed25519") => KeyType::Ed25519,
            Some(k) => return Err(KeyRecordError::UnknownKeyType(k.to_string())),
        };
        let p = tag_list::without_fws(get("p").ok_or(KeyRecordError::MissingKey)?);
        let public_key = STANDARD.decode(p).map_err(|_| KeyRecordError::BadBase64)?;
        let list = |v: &str| -> Vec<String> {
            v.split(':')
                .map(tag_list::without_fws)
                .filter(|s| !s.is_empty())
                .collect()
        };
        let hashes = get("h").map(list);
        let services = get("s").map_or_else(|| vec!["*".to_string()], list);
        let flags = get("t").map(list).unwrap_or_default();
        Ok(KeyRecord {
            key_type,
            public_key,
            hashes,
            services,
            testing: flags.iter().any(|f| f == "y"),
            strict: flags.iter().any(|f| f == "s"),
            notes: get("n").map(str::to_string),
        })
    }

    /// Parse the raw bytes of a TXT record.
    pub fn parse_bytes(record: &[u8]) -> Result<Self, KeyRecordError> {
        let text = std::str::from_utf8(record).map_err(|_| KeyRecordError::NotUtf8)?;
        Self::parse(text)
    }

    /// True if `p=` is empty: the key was revoked.
    pub fn is_revoked(&self) -> bool {
        self.public_key.is_empty()
    }

    /// True if `h=` allows `hash` (or is absent).
    pub fn allows_hash(&self, hash: HashAlgorithm) -> bool {
        self.hashes
            .as_ref()
            .is_none_or(|h| h.iter().any(|x| x.eq_ignore_ascii_case(hash.as_str())))
    }

    /// True if `s=` allows email (`*` or `email`).
    pub fn allows_email(&self) -> bool {
        self.services
            .iter()
            .any(|s| s == "*" || s.eq_ignore_ascii_case("email"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags() {
        let k =
            KeyRecord::parse("v=DKIM1; k=ed25519; h=sha256; s=email; t=y:s; n=hi; p=AQAB; zz=1")
                .unwrap();
        assert_eq!(k.key_type, KeyType::Ed25519);
        assert_eq!(k.public_key, vec![1, 0, 1]);
        assert!(k.testing && k.strict && k.allows_email());
        assert!(k.allows_hash(HashAlgorithm::Sha256));
        assert!(!k.allows_hash(HashAlgorithm::Sha1));
        let k = KeyRecord::parse("p=").unwrap();
        assert!(k.is_revoked());
        assert_eq!(k.key_type, KeyType::Rsa);
        assert!(!KeyRecord::parse("s=tlsrpt; p=AQAB").unwrap().allows_email());
    }

    #[test]
    fn errors() {
        assert_eq!(
            KeyRecord::parse("p=AQAB; v=DKIM1"),
            Err(KeyRecordError::BadVersion)
        );
        assert_eq!(
            KeyRecord::parse("v=DKIM2; p=AQAB"),
            Err(KeyRecordError::BadVersion)
        );
        assert_eq!(KeyRecord::parse("v=DKIM1"), Err(KeyRecordError::MissingKey));
        assert_eq!(KeyRecord::parse("p=!!"), Err(KeyRecordError::BadBase64));
        assert!(matches!(
            KeyRecord::parse("k=dsa; p=AQAB"),
            Err(KeyRecordError::UnknownKeyType(_))
        ));
        assert_eq!(
            KeyRecord::parse_bytes(b"p=\xff"),
            Err(KeyRecordError::NotUtf8)
        );
    }
}
