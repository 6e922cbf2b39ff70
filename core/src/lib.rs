#![doc = include_str!("../README.md")]

pub mod connection;
pub mod error;
pub mod secret;
pub mod session;
pub mod ticket;
pub mod time;

#[cfg(feature = "tokio")]
pub mod driver;
#[cfg(feature = "test-kit")]
pub mod testkit;

pub use connection::{ConnectionInfo, TlsInfo, TlsPolicy};
pub use error::{DecisionError, UsageError};
pub use secret::Secret;
pub use session::{CloseReason, Compression, Session, SessionEvent, Upgrade, Upgraded};
pub use ticket::{Ticket, TicketBook};
pub use time::{SystemClock, Timestamp};
