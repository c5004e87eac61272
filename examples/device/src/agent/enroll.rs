//! Enrollment (RFC 7030 §4.2.1 `simpleenroll`: a fresh P-256 key, the bootstrap credential)
//! and renewal (§4.2.2 `simplereenroll`: the same key over mutual TLS). The issued leaf must
//! certify the device's key for the requested name (`iotsec_pki::check_issued_leaf`) before
//! anything is stored.

use std::sync::Arc;
use std::time::Duration;

use iotsec_pki::{CsrRequest, DeviceKey, ExpectedLeaf, KeyAlgorithm, build_csr, check_issued_leaf};
use tokio::sync::mpsc::UnboundedSender;
use zeroize::Zeroizing;

use super::cloud::{self, Cloud, tls_config};
use super::config::{AgentConfig, Bootstrap};
use super::error::AgentError;
use super::event::AgentEvent;
use super::state::{Identity, LeafFacts, StateDir};

/// The non-self-issued certificates of `/cacerts`: the intermediates that complete the chain
/// the device presents.
pub(super) fn intermediates(cacerts: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    use der::Decode;
    cacerts
        .into_iter()
        .filter(|c| {
            x509_cert::Certificate::from_der(c)
                .map(|x| x.tbs_certificate.issuer != x.tbs_certificate.subject)
                .unwrap_or(false)
        })
        .collect()
}

/// The TLS client credentials of an enrolled identity.
pub(super) fn auth_of(identity: &Identity) -> Result<cloud::ClientAuth, AgentError> {
    let key = identity.key.to_pkcs8_der().map_err(AgentError::Pki)?;
    Ok((identity.chain.clone(), key))
}

/// Enrollment attempts before the agent gives up on a transient failure.
const ENROLL_ATTEMPTS: u32 = 5;

/// [`enroll`], tried again after a transient failure (reported as [`AgentEvent::Error`]) with
/// exponential backoff from 1 s plus up to 1 s of jitter, so that a fleet starting at once
/// spreads out; a refusal ends it at once. Every attempt sends the same CSR (one key for the
/// device): an attempt whose answer was lost (a timeout while the CA issued) is a re-submission
/// the EST server can recognise and answer with the certificate it already issued.
pub(super) async fn enroll_with_retries(
    config: &AgentConfig,
    known_id: Option<&str>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    state: &StateDir,
    events: &UnboundedSender<AgentEvent>,
) -> Result<Identity, AgentError> {
    use rand_core::RngCore;
    let request = EnrollRequest::new(config, known_id)?;
    let mut attempt = 1;
    loop {
        match enroll(config, &request, provider, state).await {
            Ok((chain, leaf)) => {
                return Ok(Identity {
                    key: request.key,
                    chain,
                    leaf,
                });
            }
            Err(e) if e.is_transient() && attempt < ENROLL_ATTEMPTS => {
                let _ = events.send(e.to_event());
                let backoff = Duration::from_secs(1 << (attempt - 1))
                    + Duration::from_millis(u64::from(rand_core::OsRng.next_u32() % 1000));
                tokio::time::sleep(backoff).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a first enrollment sends, the same on every attempt: the credential, the device id
/// (configured, else `known_id` of an expired certificate, else the bootstrap certificate's
/// CN), a fresh P-256 key and the CSR for it.
struct EnrollRequest {
    auth: Option<cloud::ClientAuth>,
    id: String,
    key: DeviceKey,
    csr: Vec<u8>,
}

impl EnrollRequest {
    fn new(config: &AgentConfig, known_id: Option<&str>) -> Result<EnrollRequest, AgentError> {
        let (auth, bootstrap_cn) = match &config.bootstrap {
            Bootstrap::Basic { .. } => (None, None),
            Bootstrap::Certificate { chain, key_pkcs8 } => {
                let cn = chain
                    .first()
                    .and_then(|c| LeafFacts::of(c).ok())
                    .map(|f| f.cn);
                (
                    Some((chain.clone(), Zeroizing::new(key_pkcs8.to_vec()))),
                    cn,
                )
            }
        };
        let id = config
            .device_id
            .clone()
            .or(known_id.map(str::to_owned))
            .or(bootstrap_cn)
            .ok_or_else(|| AgentError::BadConfig {
                reason: "no device id: configure one (the bootstrap credential does not name it)"
                    .into(),
            })?;
        let key = DeviceKey::generate(KeyAlgorithm::P256, &mut rand_core::OsRng);
        let csr = build_csr(&key, &Self::subject(&id)).map_err(AgentError::Pki)?;
        Ok(EnrollRequest { auth, id, key, csr })
    }

    fn subject(id: &str) -> CsrRequest<'_> {
        CsrRequest {
            common_name: id,
            ..CsrRequest::default()
        }
    }
}

/// One first-enrollment attempt (RFC 7030 §4.2.1): `cacerts`, then `simpleenroll` with the
/// bootstrap credential; the issued leaf must certify the request's key for its name. Stores
/// the identity; returns its chain and leaf.
async fn enroll(
    config: &AgentConfig,
    request: &EnrollRequest,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    state: &StateDir,
) -> Result<(Vec<Vec<u8>>, LeafFacts), AgentError> {
    let basic = match &config.bootstrap {
        Bootstrap::Basic { user, password } => Some((user.as_str(), password.as_str())),
        Bootstrap::Certificate { .. } => None,
    };
    let auth = request
        .auth
        .as_ref()
        .map(|(chain, key)| (chain.clone(), Zeroizing::new(key.to_vec())));
    let tls = tls_config(provider, &config.trust_anchors, auth)?;
    let bootstrap = Cloud::new(
        &config.cloud_url,
        config.est_label.as_deref(),
        tls,
        config.step_timeout,
        config.http_keep_alive,
    )?;
    let tail = intermediates(bootstrap.cacerts().await?);
    let certs = bootstrap.enroll(false, basic, &request.csr).await?;
    let leaf = certs.first().ok_or(AgentError::BadReply {
        doing: "enrolling (EST simpleenroll)",
        reason: "no certificate".into(),
    })?;
    let subject = EnrollRequest::subject(&request.id);
    check_issued_leaf(leaf, &request.key, &ExpectedLeaf::Requested(&subject))
        .map_err(AgentError::IssuedLeaf)?;
    let facts = LeafFacts::of(leaf).map_err(|reason| AgentError::BadReply {
        doing: "enrolling (EST simpleenroll)",
        reason,
    })?;
    let mut chain = vec![leaf.clone()];
    chain.extend(tail);
    state.store_identity(Some(&request.key), &chain)?;
    Ok((chain, facts))
}

/// Renewal (RFC 7030 §4.2.2): a CSR with the current subject and key, sent over mutual TLS
/// with the current certificate (`cloud` is the device's client); the new leaf must be the
/// current one renewed. Returns the new chain (new leaf, same intermediates) and its facts;
/// the caller stores them.
pub(super) async fn reenroll(
    cloud: &Cloud,
    identity: &Identity,
) -> Result<(Vec<Vec<u8>>, LeafFacts), AgentError> {
    use der::Decode;
    const DOING: &str = "re-enrolling (EST simplereenroll)";
    let current = identity.chain.first().cloned().unwrap_or_default();
    let leaf = x509_cert::Certificate::from_der(&current).map_err(|e| AgentError::BadConfig {
        reason: format!("the stored certificate: {e}"),
    })?;
    let csr =
        iotsec_pki::csr::build_renewal_csr(&identity.key, &leaf, None).map_err(AgentError::Pki)?;
    let certs = cloud.enroll(true, None, &csr).await?;
    let new_leaf = certs.first().ok_or(AgentError::BadReply {
        doing: DOING,
        reason: "no certificate".into(),
    })?;
    check_issued_leaf(new_leaf, &identity.key, &ExpectedLeaf::SameAs(&current))
        .map_err(AgentError::IssuedLeaf)?;
    let facts = LeafFacts::of(new_leaf).map_err(|reason| AgentError::BadReply {
        doing: DOING,
        reason,
    })?;
    let mut chain = vec![new_leaf.clone()];
    chain.extend(identity.chain.iter().skip(1).cloned());
    Ok((chain, facts))
}
