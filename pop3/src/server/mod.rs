//! The server side: a Sans-IO session that turns client bytes into events
//! and the application's decisions into responses.

mod config;
mod event;
mod session;

pub use config::{Limits, ServerConfig, Timeouts};
pub use event::{ConnectionInfo, LoginMethod, ServerEvent, SessionInfo, SessionState, TlsInfo};
pub use session::ServerSession;
