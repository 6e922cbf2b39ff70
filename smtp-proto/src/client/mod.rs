//! The client side: a Sans-IO session that sends messages (what a queue's
//! delivery agent or an application's mail submission uses).

mod config;
mod session;

pub use config::{ClientAuth, ClientConfig, ClientTimeouts, TlsPolicy};
pub use session::{
    ClientError, ClientEvent, ClientSession, DeliveryStatus, Envelope, MessageOutcome,
    RecipientOutcome,
};
