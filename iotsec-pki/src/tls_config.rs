//! rustls configurations for brokers, services and EST: TLS 1.3 only, AEAD suites only (every
//! TLS 1.3 suite is AEAD, RFC 8446 §9.1), ring provider, client certificates verified against
//! our CA with the current CRL (RFC 5280 §6.3).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::ca_error::CaError;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl core::fmt::Display) -> CaError {
    CaError::State(format!("TLS configuration: {e}"))
}

/// Whether a server requires a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Every client must present a certificate chaining to the CA (brokers, mTLS services).
    Required,
    /// A certificate is verified when offered; HTTP Basic may authenticate the rest (EST).
    Optional,
}

/// A TLS 1.3-only server configuration that verifies client certificates against `client_roots`
/// and rejects certificates listed in `crls`.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
    client_auth: ClientAuth,
) -> Result<ServerConfig, CaError> {
    let mut roots = RootCertStore::empty();
    for r in client_roots {
        roots.add(r.clone()).map_err(tls_err)?;
    }
    let mut vb = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .with_crls(crls)
        // The root signs no CRL for the intermediate here; leaf revocation is what we publish.
        .only_check_end_entity_revocation();
    if client_auth == ClientAuth::Optional {
        vb = vb.allow_unauthenticated();
    }
    let verifier = vb.build().map_err(tls_err)?;
    ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(tls_err)
}

/// A TLS 1.3-only client configuration trusting `roots`, optionally presenting a client chain.
pub fn client_config(
    roots: &[CertificateDer<'static>],
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<ClientConfig, CaError> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).map_err(tls_err)?;
    }
    let b = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_root_certificates(store);
    match client {
        Some((chain, key)) => b.with_client_auth_cert(chain, key).map_err(tls_err),
        None => Ok(b.with_no_client_auth()),
    }
}
