//! Facts about a connection that the driver gives a session, and the TLS
//! policy every machine is configured with.

use std::net::SocketAddr;

/// Facts about the connection, given to a session when it is made.
///
/// A server listening with implicit TLS (SMTPS 465, IMAPS 993, POP3S 995)
/// does the handshake first and passes its [`TlsInfo`] here: the session
/// then starts as secured and offers no STARTTLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The peer's address.
    pub peer: Option<SocketAddr>,
    /// Our address.
    pub local: Option<SocketAddr>,
    /// TLS negotiated before the session started (implicit TLS).
    pub tls: Option<TlsInfo>,
    /// Whether the connection is from this machine or a network the
    /// operator trusts as much, so that a server may allow what it refuses
    /// elsewhere (plaintext authentication without TLS).
    pub trusted_network: bool,
}

impl ConnectionInfo {
    /// Info with both addresses known.
    pub fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        Self {
            peer: Some(peer),
            local: Some(local),
            tls: None,
            trusted_network: false,
        }
    }

    /// The same, with TLS negotiated before the session (implicit TLS).
    pub fn with_tls(mut self, tls: TlsInfo) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The same, marked as from a trusted network.
    pub fn trusted(mut self, trusted: bool) -> Self {
        self.trusted_network = trusted;
        self
    }

    /// Whether the peer's address is a loopback address.
    pub fn is_loopback(&self) -> bool {
        self.peer.is_some_and(|p| p.ip().is_loopback())
    }
}

/// What a TLS handshake negotiated, for trace headers, logs and policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The protocol version as Postfix writes it, e.g. `TLSv1.3`.
    pub version: String,
    /// The cipher suite's IANA name, e.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The name the client asked for (SNI), on a server.
    pub sni: Option<String>,
    /// The ALPN protocol agreed on.
    pub alpn: Option<Vec<u8>>,
    /// The peer's end-entity certificate (DER), if it sent one.
    pub peer_certificate: Option<Vec<u8>>,
}

impl TlsInfo {
    /// Info with the version and cipher; the rest empty.
    pub fn new(version: impl Into<String>, cipher: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            cipher: cipher.into(),
            ..Self::default()
        }
    }
}

/// When a machine uses TLS: the same three answers for servers (what they
/// offer and demand) and clients (what they ask for and accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TlsPolicy {
    /// No STARTTLS: a server does not offer it, a client never asks.
    Disabled,
    /// A server offers STARTTLS and serves without it too; a client uses it
    /// when offered and carries on in plaintext otherwise.
    #[default]
    Opportunistic,
    /// A server offers STARTTLS and refuses mail, authentication and
    /// mailbox access before it; a client fails the session without it.
    Required,
}

impl TlsPolicy {
    /// Whether STARTTLS is offered (server) or tried (client).
    pub fn offers(self) -> bool {
        !matches!(self, TlsPolicy::Disabled)
    }

    /// Whether work without TLS is refused.
    pub fn requires(self) -> bool {
        matches!(self, TlsPolicy::Required)
    }
}
