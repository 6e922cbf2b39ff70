//! Sans-IO mail authentication: SPF (RFC 7208), DKIM (RFC 6376, RFC 8301,
//! RFC 8463), DMARC (RFC 7489), ARC (RFC 8617), iprev and
//! Authentication-Results (RFC 8601).
//!
//! Every check is a step machine implementing [`Check`]: it says which DNS
//! answers it needs, is resumed with them, and ends with a result. No check
//! opens a socket or reads a clock; the caller passes `now` where a time
//! budget applies. [`drive`] runs a check against any
//! [`postel_dns::Resolver`]; [`authenticate`] runs SPF, DKIM, DMARC and
//! iprev for a received message and writes the Authentication-Results
//! header. Most users call those two.
//!
//! Sign a message, then verify it, answering DNS from memory:
//!
//! ```
//! use postel_auth::dkim::{DkimStatus, SignerConfig, SigningKey, sign_message, verify_message};
//! use postel_auth::{Check, Progress, Record};
//! use postel_dns::MemoryResolver;
//! use std::time::Instant;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
//!     .map_err(|_| "no randomness")?;
//! let key = SigningKey::from_pkcs8_der(pkcs8.as_ref())?;
//! let message = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nHello.\r\n";
//! let signature = sign_message(message, &SignerConfig::new("example.com", "s1"), &key)?;
//!
//! let mut dns = MemoryResolver::new();
//! dns.add("s1._domainkey.example.com", Record::Txt(key.dns_record().into_bytes()));
//! let signed = [signature.as_bytes(), message].concat();
//! let mut check = verify_message(&signed, 1_800_000_000, Default::default());
//! let results = loop {
//!     match check.progress(Instant::now()) {
//!         Progress::Done(results) => break results,
//!         Progress::NeedAnswers(queries) => {
//!             for q in queries {
//!                 check.answer(&q, dns.answer(&q));
//!             }
//!         }
//!     }
//! };
//! assert_eq!(results[0].status, DkimStatus::Pass);
//! # Ok(())
//! # }
//! ```

pub mod arc;
pub mod auth_results;
pub mod authenticate;
pub mod check;
pub mod dkim;
pub mod dmarc;
pub mod iprev;
pub mod message;
mod slots;
pub mod spf;
pub mod tag_list;

pub use authenticate::{
    AuthConfig, AuthReport, AuthRequest, DmarcVerdict, authenticate, authenticate_with,
};
pub use check::{Check, Progress, drive};
pub use postel_dns::{Answer, Query, Record, RecordType, Resolver};
