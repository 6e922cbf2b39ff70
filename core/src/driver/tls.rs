//! rustls configurations every Postel program needs: a client that
//! encrypts without authenticating (opportunistic TLS between MTAs, RFC
//! 7435) and, behind the feature `insecure-tls-for-tests`, a self-signed
//! server certificate and a client that trusts it, for tests and examples.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A verifier that checks the handshake signature (the peer holds the key of
/// the certificate it sent) but not who the certificate names or who signed
/// it.
///
/// This is opportunistic encryption (RFC 7435): it stops a passive
/// eavesdropper and nothing more. An MTA delivering with opportunistic
/// STARTTLS uses it because a failed check would only push it back to
/// plaintext. Never use it where the peer must be authenticated.
#[derive(Debug)]
pub struct NoServerAuthentication(Arc<CryptoProvider>);

impl NoServerAuthentication {
    /// With the ring provider's signature algorithms.
    pub fn new() -> Self {
        Self(Arc::new(rustls::crypto::ring::default_provider()))
    }
}

impl Default for NoServerAuthentication {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerCertVerifier for NoServerAuthentication {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration for opportunistic TLS: encrypted, the server not
/// authenticated (see [`NoServerAuthentication`]).
pub fn opportunistic_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoServerAuthentication(provider)))
            .with_no_client_auth(),
    )
}

/// A client configuration that checks certificates against the webpki-less
/// `roots` given (an operator's CA, a test's certificate).
pub fn client_config_with_roots(
    roots: rustls::RootCertStore,
) -> Result<rustls::ClientConfig, rustls::Error> {
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// A server configuration for one certificate chain and its key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
}

/// For tests and examples only: certificates nobody should trust.
#[cfg(feature = "insecure-tls-for-tests")]
pub mod insecure {
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    /// A self-signed certificate for `hostname` and its key.
    pub fn self_signed(
        hostname: &str,
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), rcgen::Error> {
        let certified = rcgen::generate_simple_self_signed(vec![hostname.to_owned()])?;
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
        Ok((cert, key))
    }

    /// A TLS acceptor with a fresh self-signed certificate for `hostname`.
    pub fn self_signed_acceptor(
        hostname: &str,
    ) -> Result<TlsAcceptor, Box<dyn std::error::Error + Send + Sync>> {
        let (cert, key) = self_signed(hostname)?;
        let config = super::server_config(vec![cert], key)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// A TLS connector that accepts any certificate (a test server's
    /// self-signed one): encryption without authentication.
    pub fn accept_any_certificate_connector() -> Result<TlsConnector, rustls::Error> {
        Ok(TlsConnector::from(Arc::new(
            super::opportunistic_client_config()?,
        )))
    }

    /// A TLS connector that trusts exactly `cert`.
    pub fn connector_trusting(
        cert: CertificateDer<'static>,
    ) -> Result<TlsConnector, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert)?;
        Ok(TlsConnector::from(Arc::new(
            super::client_config_with_roots(roots)?,
        )))
    }
}
