//! TLS for delivery: a verifying rustls client configuration (webpki roots
//! plus any roots the policy adds) for required TLS, and one that accepts
//! any certificate for opportunistic TLS (RFC 7435: encryption without
//! authentication beats plaintext, and a check that fails would only push
//! the client back to plaintext).

use std::sync::Arc;

use postel_core::driver::tls::NoServerAuthentication;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

/// The TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A root certificate given in the policy is not usable.
    #[error("bad root certificate: {0}")]
    BadRoot(#[source] rustls::Error),
    /// rustls refused the configuration (no protocol versions).
    #[error("TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// The two connectors a delivery agent uses.
#[derive(Clone)]
pub(crate) struct Connectors {
    /// Checks the certificate chain and the name (required TLS).
    pub verifying: TlsConnector,
    /// Accepts any certificate (opportunistic TLS).
    pub opportunistic: TlsConnector,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connectors")
    }
}

impl Connectors {
    pub(crate) fn new(
        webpki: bool,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        if webpki {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for root in extra_roots {
            roots.add(root.clone()).map_err(TlsSetupError::BadRoot)?;
        }
        let verifying = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(TlsSetupError::Config)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let opportunistic = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(TlsSetupError::Config)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoServerAuthentication::new()))
            .with_no_client_auth();
        Ok(Connectors {
            verifying: TlsConnector::from(Arc::new(verifying)),
            opportunistic: TlsConnector::from(Arc::new(opportunistic)),
        })
    }
}

/// The name a server certificate must show for `host` (an IP address or
/// a DNS name); `None` if `host` is neither.
pub(crate) fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).ok()
}
