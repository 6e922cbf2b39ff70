//! Shared by the dkim_* test files: a table-driven DNS and the test keys.
//! The keys were generated for these tests with OpenSSL and guard nothing.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Instant;

use postel_auth::dkim::{DkimResult, DkimStatus, SigningKey};
use postel_auth::{Answer, Check, Progress, Record};

/// RSA-2048, PKCS#8.
pub const RSA_PKCS8_PEM: &str = include_str!("rsa2048_pkcs8.pem");
/// The same RSA key, PKCS#1.
pub const RSA_PKCS1_PEM: &str = include_str!("rsa2048_pkcs1.pem");
/// Ed25519, PKCS#8.
pub const ED25519_PEM: &str = include_str!("ed25519_pkcs8.pem");

/// A 512-bit RSA public key (SubjectPublicKeyInfo), too short for DKIM.
pub const RSA_512_SPKI: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALZQoBNwqOnFOok9it8pOQW1gsHPHldrY1roSGU95/rYQXDApGVQh+EZx8WKXqLbvVWlNApIFZYb7QPw18wxppsCAwEAAQ==";

/// A fixed "now" for the tests: 2023-11-14.
pub const NOW: u64 = 1_700_000_000;

/// DNS as a table: name (lower case, no trailing dot) to answer. Names
/// not in the table are NXDOMAIN.
#[derive(Debug, Default, Clone)]
pub struct Zone(pub HashMap<String, Answer>);

impl Zone {
    /// An empty zone.
    pub fn new() -> Self {
        Zone::default()
    }

    /// Publish one TXT record.
    pub fn txt(mut self, name: &str, text: &str) -> Self {
        self.0.insert(
            name.to_ascii_lowercase(),
            Answer::Records(vec![Record::Txt(text.as_bytes().to_vec())]),
        );
        self
    }

    /// Set any answer.
    pub fn answer(mut self, name: &str, answer: Answer) -> Self {
        self.0.insert(name.to_ascii_lowercase(), answer);
        self
    }

    /// Run a check to its end, answering from the table. Panics if the
    /// check loops without end.
    pub fn run<C: Check>(&self, mut check: C) -> C::Output {
        for _ in 0..100 {
            match check.progress(Instant::now()) {
                Progress::Done(out) => return out,
                Progress::NeedAnswers(queries) => {
                    for q in queries {
                        let a = self.0.get(q.name()).cloned().unwrap_or(Answer::NxDomain);
                        check.answer(&q, a);
                    }
                }
            }
        }
        panic!("the check did not finish");
    }
}

/// Load the test keys.
pub fn rsa_key() -> SigningKey {
    SigningKey::from_pem(RSA_PKCS8_PEM).unwrap()
}

/// Load the test Ed25519 key.
pub fn ed_key() -> SigningKey {
    SigningKey::from_pem(ED25519_PEM).unwrap()
}

/// The statuses of a result list.
pub fn statuses(results: &[DkimResult]) -> Vec<DkimStatus> {
    results.iter().map(|r| r.status).collect()
}

/// Replace the first occurrence of `from` with `to` in `bytes`.
pub fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?} not in message");
    text.replacen(from, to, 1).into_bytes()
}
