//! DNS types shared by Postel's Sans-IO checks, the async resolver trait
//! that drives them, and resolvers.
//!
//! The mail-authentication machines in `postel-auth` never do I/O: they hand
//! out [`Query`] values and are resumed with [`Answer`] values. This crate
//! defines those two types and the [`Resolver`] trait that turns one into the
//! other, and three resolvers:
//!
//! * [`MemoryResolver`], always there: a table in memory, for tests and
//!   benchmarks;
//! * `ZoneResolver`, with the `zone` feature: answers from RFC 1035 master
//!   files;
//! * `HickoryResolver`, with the `hickory` feature: asks name servers through
//!   hickory-resolver on tokio, with its cache.
//!
//! Without features the crate depends on `thiserror` only.
//!
//! ```
//! use postel_dns::{Answer, MemoryResolver, Query, Record, RecordType, Resolver};
//!
//! let query = Query::new("Example.COM.", RecordType::Txt);
//! assert_eq!(query.name(), "example.com");
//! let answer = Answer::Records(vec![Record::Txt(b"v=spf1 -all".to_vec())]);
//! assert_eq!(answer.txt().next(), Some(&b"v=spf1 -all"[..]));
//!
//! // A resolver for a test: records, an alias, a broken name.
//! let mut dns = MemoryResolver::new();
//! dns.add_txt("example.com", "v=spf1 -all")
//!     .alias("www.example.com", "example.com")
//!     .insert("_dmarc.example.com", RecordType::Txt, Answer::TempFail("SERVFAIL".into()));
//!
//! // Any resolver is used the same way, from async code.
//! async fn spf_of(dns: &impl Resolver, domain: &str) -> Answer {
//!     dns.lookup(&Query::new(domain, RecordType::Txt)).await
//! }
//! # let waker = std::task::Waker::noop();
//! # let mut cx = std::task::Context::from_waker(waker);
//! # let mut fut = std::pin::pin!(spf_of(&dns, "WWW.example.com"));
//! # let std::task::Poll::Ready(spf) = fut.as_mut().poll(&mut cx) else { panic!() };
//! // (polled to completion here; a MemoryResolver never waits)
//! assert_eq!(spf, answer);
//! assert_eq!(dns.answer(&query), answer);
//! assert!(dns.answer(&Query::new("_dmarc.example.com", RecordType::Txt)).is_temp_fail());
//! assert_eq!(dns.answer(&Query::new("mail.example.com", RecordType::A)), Answer::NxDomain);
//! ```

mod memory;
mod types;

#[cfg(feature = "hickory")]
mod hickory;
#[cfg(feature = "zone")]
mod zone;

pub use memory::{DEFAULT_MAX_CNAME_HOPS, MemoryResolver};
pub use types::{Answer, Query, Record, RecordType, Resolver, UnknownRecordType};

#[cfg(feature = "hickory")]
pub use hickory::{HickoryError, HickoryOptions, HickoryResolver};
#[cfg(feature = "zone")]
pub use zone::{ZoneError, ZoneResolver};
