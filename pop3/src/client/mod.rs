//! The client side: a Sans-IO session that logs in to a POP3 server and
//! runs the application's commands, streaming message bodies out as events.

mod config;
mod session;

pub use config::{ClientAuth, ClientConfig, ClientTimeouts, ResponseLimits, TlsPolicy};
pub use session::{ClientError, ClientEvent, ClientSession, ScanListing, UniqueId};
