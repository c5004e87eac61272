//! Client identities the fleet CA issues outside EST: the operator's (the bootstrap credential
//! devices enroll with must not make operators, so the service's EST refuses operator CNs) and
//! the service's own for the broker's deny stream.

use iotsec_attest::identity::credential::OsRng;
use iotsec_pki::{CaState, CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use super::{ServeConfig, ServeError};

/// A client certificate with its chain and key.
pub struct ClientIdentity {
    /// The CN.
    pub cn: String,
    /// Leaf, then the intermediate (DER).
    pub chain: Vec<Vec<u8>>,
    /// The key, PKCS#8 DER.
    pub key_pkcs8: Zeroizing<Vec<u8>>,
    /// The fleet root (DER), which servers of the fleet chain to.
    pub root: Vec<u8>,
}

impl ClientIdentity {
    /// A TLS 1.3 client configuration presenting this identity and trusting the fleet root
    /// (process-default crypto provider).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, ServeError> {
        Ok(iotsec_pki::tls_config::client_config(
            iotsec_pki::tls_config::process_provider()?,
            &[CertificateDer::from(self.root.clone())],
            Some((
                self.chain
                    .iter()
                    .cloned()
                    .map(CertificateDer::from)
                    .collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.to_vec())),
            )),
        )?)
    }
}

/// Issues a certificate for `cn` with a fresh P-256 key from `ca`.
pub fn issue(ca: &mut CaState, cn: &str) -> Result<ClientIdentity, ServeError> {
    let key = DeviceKey::generate(KeyAlgorithm::P256, &mut OsRng);
    let csr = build_csr(
        &key,
        &CsrRequest {
            common_name: cn,
            ..CsrRequest::default()
        },
    )
    .map_err(|e| ServeError::Config(format!("CSR for {cn:?}: {e}")))?;
    let issued = ca.issue_csr(&csr, time::OffsetDateTime::now_utc())?;
    let key_pkcs8 = key
        .to_pkcs8_der()
        .map_err(|e| ServeError::Config(format!("key for {cn:?}: {e}")))?;
    Ok(ClientIdentity {
        cn: cn.to_owned(),
        chain: vec![issued.der, ca.authority.intermediate_der().to_vec()],
        key_pkcs8,
        root: ca.authority.root_der().to_vec(),
    })
}

/// Issues an operator certificate for `cn`, one of `config.operators`, from the CA in
/// `config.state_dir` (blocking; the service may be running).
pub fn issue_operator(config: &ServeConfig, cn: &str) -> Result<ClientIdentity, ServeError> {
    if !config.operators.iter().any(|o| o == cn) {
        return Err(ServeError::Config(format!(
            "{cn:?} is not a configured operator"
        )));
    }
    let mut ca = CaState::open_with(&config.state_dir, &config.pins)?;
    issue(&mut ca, cn)
}
