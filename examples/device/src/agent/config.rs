//! What an agent is told at start: where its state lives, whom it talks to, what it trusts,
//! how it proves itself before it has a certificate, and what firmware it was made with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

/// [`AgentConfig::http_keep_alive`] by default.
pub const DEFAULT_HTTP_KEEP_ALIVE: Duration = Duration::from_secs(2);

/// The configuration of one device agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The state directory (created if missing): key (mode 0600), certificate chain, A/B slot
    /// files, attestation counter. A restarted agent resumes from it.
    pub state_dir: PathBuf,
    /// The cloud's base URL, `https://HOST:PORT`: EST under `/.well-known/est`, the fleet API
    /// under `/v1/device` (`iotsec_fleet_api::paths`).
    pub cloud_url: String,
    /// The EST label (`/.well-known/est/LABEL/...`); `None`: the default label.
    pub est_label: Option<String>,
    /// The MQTT broker, `HOST:PORT` (mutual TLS 1.3, MQTT 5).
    pub broker: String,
    /// Trust anchors (DER certificates) for the cloud's and the broker's server certificates:
    /// the fleet CA chain (`iotsec-cloud pki init`).
    pub trust_anchors: Vec<Vec<u8>>,
    /// The device id to enroll as (the certificate CN, MQTT client id and username). `None`:
    /// the CN of the bootstrap certificate, or of the stored certificate when resuming.
    pub device_id: Option<String>,
    /// The credential for the first enrollment (RFC 7030 §3.3.2, §3.3.3).
    pub bootstrap: Bootstrap,
    /// The firmware verification settings and the factory image.
    pub firmware: FirmwareConfig,
    /// `Some`: act on timers as well as on commands (the CLI). `None`: act only on commands
    /// (the demo drives every step).
    pub timers: Option<Timers>,
    /// The rustls crypto provider; `None`: the process default (the binary installs aws-lc-rs).
    pub tls_provider: Option<Arc<rustls::crypto::CryptoProvider>>,
    /// How long one network exchange (HTTP request, MQTT connect or acknowledgement) may take.
    pub step_timeout: Duration,
    /// How long the HTTPS connection to the cloud stays open after a step for the next one
    /// (keep-alive: a step's requests, and steps close together, share one TLS handshake).
    /// Short by default: an idle device should not hold a connection; a driver that runs
    /// steps back to back (the demo) keeps it longer. Keep it under the server's idle limit.
    pub http_keep_alive: Duration,
}

impl AgentConfig {
    /// A command-driven configuration with the defaults: the default EST label, the device id
    /// from the bootstrap certificate (set [`AgentConfig::device_id`] for HTTP Basic), no
    /// timers, the process-default crypto provider, 15 s per network step.
    pub fn new(
        state_dir: impl Into<PathBuf>,
        cloud_url: impl Into<String>,
        broker: impl Into<String>,
        trust_anchors: Vec<Vec<u8>>,
        bootstrap: Bootstrap,
        firmware: FirmwareConfig,
    ) -> AgentConfig {
        AgentConfig {
            state_dir: state_dir.into(),
            cloud_url: cloud_url.into(),
            est_label: None,
            broker: broker.into(),
            trust_anchors,
            device_id: None,
            bootstrap,
            firmware,
            timers: None,
            tls_provider: None,
            step_timeout: Duration::from_secs(15),
            http_keep_alive: DEFAULT_HTTP_KEEP_ALIVE,
        }
    }
}

/// The bootstrap credential of the first enrollment.
#[derive(Clone)]
pub enum Bootstrap {
    /// HTTP Basic (RFC 7617) over the TLS connection.
    Basic {
        /// User name.
        user: String,
        /// Password (zeroized when dropped).
        password: Zeroizing<String>,
    },
    /// A bootstrap (manufacturer) certificate presented as the TLS client certificate.
    Certificate {
        /// Certificate chain, DER, leaf first.
        chain: Vec<Vec<u8>>,
        /// Its private key, PKCS#8 DER (zeroized when dropped).
        key_pkcs8: Zeroizing<Vec<u8>>,
    },
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret half.
        match self {
            Bootstrap::Basic { user, .. } => write!(f, "Basic({user:?})"),
            Bootstrap::Certificate { chain, .. } => {
                write!(f, "Certificate({} certificates)", chain.len())
            }
        }
    }
}

/// What the device needs to verify and install updates (`iotsec_ota::DeviceState`), and the
/// image it was made with.
#[derive(Debug, Clone)]
pub struct FirmwareConfig {
    /// The pinned `iotsec-ota` trust root document.
    pub trust_root: Vec<u8>,
    /// Vendor UUID.
    pub vendor_id: [u8; 16],
    /// Device class UUID.
    pub class_id: [u8; 16],
    /// Trust root version this device has stored (older roots are refused).
    pub trusted_root_version: u64,
    /// Largest image a slot holds (bytes).
    pub slot_capacity: u64,
    /// The factory image, written into slot A when the state directory has no boot record
    /// yet; `None` requires a provisioned state directory.
    pub factory: Option<FactoryImage>,
}

/// The image a device leaves the factory with.
#[derive(Debug, Clone)]
pub struct FactoryImage {
    /// Its version.
    pub version: String,
    /// The image.
    pub image: Vec<u8>,
    /// Its security counter.
    pub security_counter: u64,
    /// Its manifest sequence number.
    pub sequence: u64,
}

/// Periods of the timer-driven agent (the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Telemetry publish period.
    pub telemetry: Duration,
    /// Release channel poll period (also the status check and renewal check period).
    pub poll: Duration,
    /// Attestation period (the broker's posture needs a recent attestation).
    pub attest: Duration,
}
