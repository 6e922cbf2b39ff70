//! DNS types shared by Postel's Sans-IO checks, and the async resolver trait
//! that drives them.
//!
//! The mail-authentication machines in `postel-auth` never do I/O: they hand
//! out [`Query`] values and are resumed with [`Answer`] values. This crate
//! defines those two types and the [`Resolver`] trait that turns one into the
//! other.
//!
//! ```
//! use postel_dns::{Answer, Query, Record, RecordType};
//!
//! let query = Query::new("Example.COM.", RecordType::Txt);
//! assert_eq!(query.name(), "example.com");
//! let answer = Answer::Records(vec![Record::Txt(b"v=spf1 -all".to_vec())]);
//! assert_eq!(answer.txt().next(), Some(&b"v=spf1 -all"[..]));
//! ```

mod types;

pub use types::{Answer, Query, Record, RecordType, Resolver};
