//! Delivery agents (feature `delivery`): what takes messages out of the
//! queue and hands them to the next hop.
//!
//! - [`route`]: the transport table (Postfix syntax: relayhost
//!   `[host]:port`, `host:port` with MX lookup, per-domain `smtp:` and
//!   `lmtp:` entries) and MX resolution through a `postel_dns::Resolver`.
//! - [`smtp`]: the SMTP client agent: each address in turn, STARTTLS
//!   opportunistic or required, one [`Connection`] for many messages.
//! - [`lmtp`]: the LMTP client agent, over TCP or a Unix socket.
//! - [`worker`]: leases work from a [`QueueStore`](crate::QueueStore),
//!   groups recipients by destination, applies the
//!   [`Scheduler`](crate::Scheduler), records outcomes, removes what is done, and calls the report hook
//!   when a delivery status report is due.
//!
//! The protocol is postel-smtp's Sans-IO [`ClientSession`]; this module
//! only moves bytes over tokio and maps the outcomes: 2yz delivered, 4yz
//! deferred, 5yz failed, each with its reply kept; a connection that
//! cannot be made or breaks (refused, timeout, 421) defers the recipients
//! it concerns and counts against the destination.
//!
//! [`ClientSession`]: postel_smtp::client::ClientSession

pub mod lmtp;
pub mod route;
mod session;
pub mod smtp;
mod tls;
pub mod worker;

pub use lmtp::{LmtpAgent, LmtpPolicy};
pub use postel_smtp::client::{ClientTimeouts, TlsPolicy};
pub use route::{
    Host, LmtpTarget, ParseError, RandomSource, ResolveOptions, Route, RouteError, SmtpNexthop,
    SplitMix64, Target, Transport, TransportTable,
};
pub use session::{
    ConnectError, Connection, Delivery, OutboundMessage, RecipientResult, SessionError, Status,
};
pub use smtp::{SmtpAgent, SmtpPolicy};
pub use tls::TlsSetupError;
pub use worker::{
    Clock, DeliveryEvent, HookError, HookFuture, ReportHook, ReportedRecipient, RunReport, Worker,
    WorkerError, WorkerOptions,
};
