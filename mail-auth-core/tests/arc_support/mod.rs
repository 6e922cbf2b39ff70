//! Shared by the arc_* test files: forwarding hops that verify and seal.

#![allow(dead_code, unused_imports)]

use postel_auth::arc::{ArcConfig, ArcOutput, ArcResult, SealerConfig, seal_message, verify_arc};
use postel_auth::dkim::SigningKey;

#[path = "../dkim_support/mod.rs"]
pub mod dkim_support;

pub use dkim_support::{NOW, Zone, ed_key, rsa_key};

/// A plain message.
pub const MESSAGE: &[u8] = b"From: Joe <joe@origin.example>\r\nTo: list@lists.example\r\nSubject: hello\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <1@origin.example>\r\n\r\nHi there.\r\n\r\nJoe.\r\n";

/// One forwarding host: its domain, selector and key.
pub struct Hop {
    /// `d=`.
    pub domain: &'static str,
    /// `s=`.
    pub selector: &'static str,
    /// The key.
    pub key: SigningKey,
}

impl Hop {
    /// A hop signing with `key`.
    pub fn new(domain: &'static str, selector: &'static str, key: SigningKey) -> Self {
        Hop {
            domain,
            selector,
            key,
        }
    }

    /// Publish this hop's key in `zone`.
    pub fn publish(&self, zone: Zone) -> Zone {
        zone.txt(
            &format!("{}._domainkey.{}", self.selector, self.domain),
            &self.key.dns_record(),
        )
    }
}

/// Verify `message` against `zone`.
pub fn verify(zone: &Zone, message: &[u8]) -> ArcOutput {
    zone.run(verify_arc(message, NOW, ArcConfig::default()))
}

/// Receive `message` at `hop`: verify its chain, then seal it with the
/// result and return the message with the new set in front.
pub fn forward(zone: &Zone, hop: &Hop, message: &[u8]) -> Vec<u8> {
    let incoming = verify(zone, message);
    assert_ne!(incoming.result, ArcResult::Fail, "{incoming:#?}");
    seal_with(hop, message, incoming.result)
}

/// Seal `message` at `hop` with the chain status `cv`.
pub fn seal_with(hop: &Hop, message: &[u8], cv: ArcResult) -> Vec<u8> {
    let mut config = SealerConfig::new(hop.domain, hop.selector);
    config.timestamp = Some(NOW);
    let ar = format!(
        "mx.{}; arc={cv}; spf=pass smtp.mailfrom=origin.example;\r\n dkim=none (no signature)",
        hop.domain
    );
    let set = seal_message(message, cv, &ar, &hop.key, &config).unwrap();
    let mut out = set.to_prepend().into_bytes();
    out.extend_from_slice(message);
    out
}

/// Replace the first occurrence of `from` with `to`.
pub fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    dkim_support::replace(bytes, from, to)
}

/// Delete the header field (with its continuation lines) whose first line
/// starts with `prefix`.
pub fn delete_field(bytes: &[u8], prefix: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} not found"));
    let mut end = start;
    loop {
        let nl = text[end..].find('\n').map_or(text.len(), |p| end + p + 1);
        end = nl;
        if !text[end..].starts_with([' ', '\t']) {
            break;
        }
    }
    format!("{}{}", &text[..start], &text[end..]).into_bytes()
}
