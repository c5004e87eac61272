//! rustls configurations for brokers, services and EST: TLS 1.3 only, AEAD suites only (every
//! TLS 1.3 suite is AEAD, RFC 8446 §9.1), client certificates verified against our CA with the
//! current CRL (RFC 5280 §6.3).
//!
//! The cryptography is the application's: every builder takes a rustls
//! [`CryptoProvider`] (its key exchange groups, e.g. the
//! X25519MLKEM768 hybrid first, are what the configuration offers), and
//! [`process_provider`] hands over the one the application installed with
//! `CryptoProvider::install_default`. No feature of this crate installs or picks one.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::UnixTime;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::ca::error::CaError;

/// The process-default provider (`CryptoProvider::get_default()`), which the application
/// installs at start-up; refused with [`CaError::NoCryptoProvider`] when none is.
pub fn process_provider() -> Result<Arc<CryptoProvider>, CaError> {
    CryptoProvider::get_default()
        .cloned()
        .ok_or(CaError::NoCryptoProvider)
}

fn tls_err(e: impl core::fmt::Display) -> CaError {
    CaError::TlsConfig {
        reason: e.to_string(),
    }
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
    provider: Arc<CryptoProvider>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
    client_auth: ClientAuth,
) -> Result<ServerConfig, CaError> {
    server_config_presenting(
        provider.clone(),
        Arc::new(server_certified_key(&provider, chain, key)?),
        client_roots,
        crls,
        &[],
        client_auth,
    )
}

/// The server's chain and key as rustls holds them, parsed once: a reloading server
/// ([`crate::est::reload`]) builds a configuration per state generation around the same one.
pub fn server_certified_key(
    provider: &CryptoProvider,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, CaError> {
    CertifiedKey::from_der(chain, key, provider).map_err(tls_err)
}

/// [`server_config`] presenting `certified` (see [`server_certified_key`]), and refusing
/// every client certificate issued by one of `revoked_issuers` (DER certificates of
/// intermediates the root revoked; matched by key identifier).
pub fn server_config_presenting(
    provider: Arc<CryptoProvider>,
    certified: Arc<CertifiedKey>,
    client_roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
    revoked_issuers: &[&[u8]],
    client_auth: ClientAuth,
) -> Result<ServerConfig, CaError> {
    let mut roots = RootCertStore::empty();
    for r in client_roots {
        roots.add(r.clone()).map_err(tls_err)?;
    }
    let roots = Arc::new(roots);
    let verifier_with = |crls: Vec<CertificateRevocationListDer<'static>>| {
        let mut vb = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .with_crls(crls)
            // The root signs no CRL for the intermediate here; leaf revocation is what we
            // publish.
            .only_check_end_entity_revocation();
        if client_auth == ClientAuth::Optional {
            vb = vb.allow_unauthenticated();
        }
        vb.build().map_err(tls_err)
    };
    let mut by_key: Vec<(Vec<u8>, Arc<dyn ClientCertVerifier>)> = Vec::new();
    for crl in &crls {
        if let Some(key_id) = crl_authority_key_id(crl) {
            by_key.push((key_id, verifier_with(vec![crl.clone()])?));
        }
    }
    let revoked = revoked_issuers
        .iter()
        .map(|der| cert_subject_key_id(der).ok_or_else(|| CaError::RevokedIssuerWithoutSki))
        .collect::<Result<Vec<_>, _>>()?;
    let verifier = Arc::new(ByIssuerKey {
        by_key,
        revoked,
        fallback: verifier_with(crls)?,
    });
    Ok(ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified))))
}

/// A TLS 1.3-only client configuration trusting `roots`, optionally presenting a client chain.
pub fn client_config(
    provider: Arc<CryptoProvider>,
    roots: &[CertificateDer<'static>],
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<ClientConfig, CaError> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).map_err(tls_err)?;
    }
    let b = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_root_certificates(store);
    match client {
        Some((chain, key)) => b.with_client_auth_cert(chain, key).map_err(tls_err),
        None => Ok(b.with_no_client_auth()),
    }
}

/// Checks a client certificate with the CRL of the key that signed it. After a rotation
/// ([`crate::ca::rotation`]) the old and the new key sign CRLs under one issuer name, and webpki
/// picks a CRL by issuer name: given both, it would check an old leaf against the new key's CRL
/// (whose signature does not verify with the old key) and refuse it. So there is one verifier
/// per CRL, chosen by the leaf's authority key identifier, which is the CRL's; a leaf naming
/// no such key gets the verifier holding every CRL (as before: refused when its CRL is
/// missing).
#[derive(Debug)]
struct ByIssuerKey {
    by_key: Vec<(Vec<u8>, Arc<dyn ClientCertVerifier>)>,
    /// Key identifiers of intermediates the root revoked: their leaves are refused.
    revoked: Vec<Vec<u8>>,
    fallback: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for ByIssuerKey {
    fn offer_client_auth(&self) -> bool {
        self.fallback.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.fallback.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.fallback.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let key_id = cert_authority_key_id(end_entity);
        if key_id.as_ref().is_some_and(|k| self.revoked.contains(k)) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked,
            ));
        }
        let verifier = self
            .by_key
            .iter()
            .find(|(k, _)| Some(k) == key_id.as_ref())
            .map_or(&self.fallback, |(_, v)| v);
        verifier.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.fallback.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.fallback.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.fallback.supported_verify_schemes()
    }
}

/// RFC 5280 §4.2.1.1 authorityKeyIdentifier.
const ID_CE_AUTHORITY_KEY_IDENTIFIER: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.35");

fn key_identifier_of(extensions: Option<&Vec<x509_cert::ext::Extension>>) -> Option<Vec<u8>> {
    use der::Decode;
    use x509_cert::ext::pkix::AuthorityKeyIdentifier;
    let ext = extensions?
        .iter()
        .find(|e| e.extn_id == ID_CE_AUTHORITY_KEY_IDENTIFIER)?;
    let aki = AuthorityKeyIdentifier::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(aki.key_identifier?.as_bytes().to_vec())
}

/// The authority key identifier (keyIdentifier) of a certificate, if it parses and has one.
fn cert_authority_key_id(cert: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(cert).ok()?;
    key_identifier_of(cert.tbs_certificate.extensions.as_ref())
}

/// The subject key identifier of a certificate, if it parses and has one.
fn cert_subject_key_id(cert: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    use x509_cert::ext::pkix::SubjectKeyIdentifier;
    let cert = x509_cert::Certificate::from_der(cert).ok()?;
    let ext = cert
        .tbs_certificate
        .extensions?
        .into_iter()
        .find(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)?;
    let ski = SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(ski.0.as_bytes().to_vec())
}

/// RFC 5280 §4.2.1.2 subjectKeyIdentifier.
const ID_CE_SUBJECT_KEY_IDENTIFIER: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.14");

/// The authority key identifier (keyIdentifier) of a CRL, if it parses and has one.
fn crl_authority_key_id(crl: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    let crl = x509_cert::crl::CertificateList::from_der(crl).ok()?;
    key_identifier_of(crl.tbs_cert_list.crl_extensions.as_ref())
}
