//! The client side: a response reader that frames server output (and
//! streams large FETCH bodies), and a Sans-IO session that sends commands,
//! routes responses to them, and drives login, SASL, STARTTLS, IDLE and
//! LOGOUT.
//!
//! ```
//! use postel_imap::client::{ClientConfig, ClientEvent, ClientSession};
//!
//! let mut config = ClientConfig::default();
//! config.allow_plaintext_auth = true; // an example, not over TLS
//! let mut session = ClientSession::new(config);
//! let login = session.login("fred", "secret").unwrap();
//! session.enqueue_input(b"* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] ready\r\n");
//! assert!(matches!(session.next_event(), Some(ClientEvent::Greeting(_))));
//! assert!(matches!(session.next_event(), Some(ClientEvent::Capabilities(_))));
//! assert_eq!(session.poll_transmit().unwrap(), b"A0001 LOGIN fred secret\r\n");
//! session.enqueue_input(b"A0001 OK [CAPABILITY IMAP4rev2 IDLE] done\r\n");
//! assert!(matches!(session.next_event(), Some(ClientEvent::Capabilities(_))));
//! let Some(ClientEvent::Done { tag, status, .. }) = session.next_event() else { panic!() };
//! assert_eq!((tag, status.kind), (login, postel_imap::StatusKind::Ok));
//! ```

mod capabilities;
mod error;
mod reader;
mod session;

pub use capabilities::Capabilities;
pub use error::{ClientError, ProtocolError, UsageError};
pub use reader::{
    InvalidResponse, ResponseError, ResponseEvent, ResponseLimits, ResponseReader, StreamedItem,
    StreamedLiteral,
};
pub use session::{ClientConfig, ClientEvent, ClientSession, ConnectionState, DataMode};
