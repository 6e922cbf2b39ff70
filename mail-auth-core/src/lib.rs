//! Sans-IO mail authentication: SPF (RFC 7208), DKIM (RFC 6376, RFC 8301,
//! RFC 8463), DMARC (RFC 7489), ARC (RFC 8617), iprev and
//! Authentication-Results (RFC 8601).
//!
//! Every check is a step machine implementing [`Check`]: it says which DNS
//! answers it needs, is resumed with them, and ends with a result. No check
//! opens a socket or reads a clock; the caller passes `now` where a time
//! budget applies. [`drive`] runs a check against any
//! [`postel_dns::Resolver`]; most users call that.

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
