//! The server side: a Sans-IO session that turns client bytes into events
//! and the application's decisions into replies.

mod config;
mod event;
mod session;

pub use config::{Limits, Protocol, ServerConfig, Strictness, Timeouts};
pub use event::{
    AbortReason, ConnectionInfo, Recipient, ServerEvent, SessionInfo, TlsInfo, Transaction,
};
pub use session::ServerSession;
