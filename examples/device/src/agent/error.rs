//! The agent's errors, each with a stable [`AgentError::code`]. Refusals by a peer (the EST
//! server, the cloud) are named by the peer's or the crate's own code, so a driver can tell an
//! attack being stopped from a broken link. The broker's and the update verifier's refusals
//! are not errors but events (`PublishRefused`, `Update { result: refused, .. }`).

use std::path::PathBuf;

/// Why a step of the agent failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration cannot be used (bad URL, no trust anchor, a flag we do not act on).
    #[error("bad configuration: {reason}")]
    BadConfig {
        /// Why.
        reason: String,
    },
    /// Reading or writing the state directory failed.
    #[error("state {}: {source}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A state file is not what the agent wrote.
    #[error("state {}: {what}", path.display())]
    StateCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A TLS configuration could not be built (bad certificate or key).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// An HTTP exchange failed below HTTP (connection, TLS handshake, I/O).
    #[error("{doing}: {source}")]
    Http {
        /// The step.
        doing: &'static str,
        /// The transport error.
        source: reqwest::Error,
    },
    /// A step took longer than the configured step timeout.
    #[error("{doing}: no answer within the step timeout")]
    Timeout {
        /// The step.
        doing: &'static str,
    },
    /// The server refused (4xx/5xx) with a fleet-API error code (or `http_<status>` when the
    /// body was not a fleet-API error).
    #[error("{doing}: HTTP {status} {code}: {message}")]
    Refused {
        /// The step.
        doing: &'static str,
        /// HTTP status.
        status: u16,
        /// The server's stable code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// A reply was larger than the agent reads for that step.
    #[error("{doing}: reply larger than {max} bytes")]
    ReplyTooLarge {
        /// The step.
        doing: &'static str,
        /// The cap.
        max: usize,
    },
    /// A reply was not what the step expects (bad JSON, bad base64, no certificate, ...).
    #[error("{doing}: {reason}")]
    BadReply {
        /// The step.
        doing: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The EST server holds the request for manual approval (HTTP 202).
    #[error("enrollment pending at the CA (retry after {retry_after:?} s)")]
    EnrollPending {
        /// Retry-After seconds, if sent.
        retry_after: Option<u32>,
    },
    /// The issued certificate is not the one the device asked for.
    #[error("issued certificate refused: {0}")]
    IssuedLeaf(iotsec_pki::LeafMismatch),
    /// A key or CSR operation of `iotsec-pki` failed.
    #[error("{0}")]
    Pki(iotsec_pki::Error),
    /// Evidence could not be produced.
    #[error("evidence: {0}")]
    Evidence(iotsec_attest::se_evidence::SeEvidenceError),
    /// The slot store failed (I/O on the slot files).
    #[error("slot store: {0}")]
    SlotStore(std::io::Error),
    /// The TPM could not be reached or refused a command (`--tpm`): no evidence was made.
    #[error("TPM: {reason}")]
    Tpm {
        /// The TPM command error's code (`response_code`, ...) or `tpm_unreachable`.
        code: &'static str,
        /// What failed.
        reason: String,
    },
}

impl AgentError {
    /// A stable snake_case code: the agent's own, or the peer's code for [`AgentError::Refused`]
    /// (`revoked`, `decommissioned`, `nonce_unknown`, ...) and the library's code for errors of
    /// `iotsec-pki` and `iotsec-attest`.
    pub fn code(&self) -> &str {
        match self {
            AgentError::BadConfig { .. } => "bad_config",
            AgentError::State { .. } => "state_io",
            AgentError::StateCorrupt { .. } => "state_corrupt",
            AgentError::Tls(_) => "tls_config",
            AgentError::Http { .. } => "http_failed",
            AgentError::Timeout { .. } => "timeout",
            AgentError::Refused { code, .. } => code,
            AgentError::ReplyTooLarge { .. } => "reply_too_large",
            AgentError::BadReply { .. } => "bad_reply",
            AgentError::EnrollPending { .. } => "enroll_pending",
            AgentError::IssuedLeaf(e) => e.code(),
            AgentError::Pki(e) => e.code(),
            AgentError::Evidence(e) => e.code(),
            AgentError::SlotStore(_) => "slot_store",
            AgentError::Tpm { code, .. } => code,
        }
    }

    /// Whether the error is bad input of the caller (configuration), not a failure or refusal
    /// met while running: the CLI exits 2 for it.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            AgentError::BadConfig { .. } | AgentError::StateCorrupt { .. } | AgentError::Tls(_)
        )
    }

    /// Whether the cloud refused because the operator decommissioned this device (HTTP 403 with
    /// code `decommissioned`): the agent wipes its keys.
    pub fn is_decommissioned(&self) -> bool {
        matches!(self, AgentError::Refused { status: 403, code, .. } if code == "decommissioned")
    }

    /// Whether trying again later may succeed: no answer in time, a broken connection (but not
    /// a TLS refusal: a certificate the peer or the agent refused stays refused), or a server
    /// that says it is busy (HTTP 429, 503).
    pub fn is_transient(&self) -> bool {
        match self {
            AgentError::Timeout { .. } => true,
            AgentError::Http { source, .. } => {
                let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
                while let Some(e) = cause {
                    // rustls reaches reqwest inside an io::Error, whose source() skips it.
                    let tls = e.downcast_ref::<rustls::Error>().is_some()
                        || e.downcast_ref::<std::io::Error>()
                            .and_then(std::io::Error::get_ref)
                            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
                    if tls {
                        return false;
                    }
                    cause = e.source();
                }
                true
            }
            AgentError::Refused { status, .. } => matches!(status, 429 | 503),
            _ => false,
        }
    }

    /// The error as an [`crate::agent::AgentEvent::Error`].
    pub fn to_event(&self) -> super::event::AgentEvent {
        super::event::AgentEvent::Error {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}
