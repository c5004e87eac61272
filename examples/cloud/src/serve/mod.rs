//! `iotsec-cloud serve`: the fleet service. One HTTPS endpoint (TLS 1.3 only, tokio + axum)
//! answering the API of `iotsec-fleet-api`: EST enrollment (RFC 7030) with the CA of the state
//! directory, the CRL (RFC 5280 §5) and OCSP (RFC 6960), attestation (nonce; SE evidence or a TPM
//! quote, `iotsec_attest::appraise::tpm_evidence`), the
//! release channel behind the SBOM gate, device reports, the registry and the operator's
//! rollout, quarantine, revocation and decommissioning. State lives in `DIR/fleet.db`
//! ([`FleetStore`], SQLite) beside the CA's own database; the broker gets a posture feed and
//! a CRL file ([`broker`]) and the service follows the plugin's deny stream ([`deny`]).
//!
//! The library entry is [`start`]: it opens the state, binds, and returns a [`RunningCloud`]
//! (its address; [`RunningCloud::shutdown`]). The command line (`iotsec-cloud serve`) calls it
//! and waits for Ctrl-C or SIGTERM.
//!
//! # Running the service
//!
//! ```text
//! iotsec-cloud pki init --state fleet                      # the CA (once)
//! iotsec-cloud ota root init ...                           # the OTA trust root devices pin
//! iotsec-cloud --format json serve --state fleet \
//!     --basic-auth-file bootstrap.secret --operator ops \
//!     --gate-policy gate-policy.toml --advisories advisories/ \
//!     --ota-root trust-root.cose --factory-firmware 1.0.0=factory.bin \
//!     [--listen 127.0.0.1:8443] [--label LABEL=INTERMEDIATE] \
//!     [--broker-posture posture.json --broker-crl crl.pem --broker-pid PID] \
//!     [--deny-broker 127.0.0.1:8883 --deny-reader cloud-deny --deny-threshold 3] \
//!     [--tpm-ek-ca ek-roots.pem | --tpm-ek-allow ek-allow.txt | --tpm-trust-on-first-use]
//! {"listening":"127.0.0.1:41377","url":"https://127.0.0.1:41377"}
//! ```
//!
//! - `bootstrap.secret` holds `USER:PASS` (mode 0600), the credential devices enroll with;
//!   `--operator` names the CN of the operator's certificate.
//! - The first stdout line names the bound address (`--listen` defaults to `127.0.0.1:0`, any
//!   free port). The server certificate is issued by the fleet CA for `127.0.0.1` and
//!   `localhost` at start; clients trust the fleet root (`DIR/root.pem`).
//! - Devices enroll with EST (`/.well-known/est/simpleenroll`, HTTP Basic with the bootstrap
//!   credential). EST enrolls devices only: the operator's certificate (for `/v1/admin/*`) is
//!   issued from the CA outside EST ([`issue_operator`], or `pki issue --csr` with an operator
//!   CN). A device that was revoked or decommissioned does not enroll again under its id.
//! - Releases: `POST /v1/admin/releases` with the manifest signed by a release key of the
//!   `--ota-root` trust root, the image and its CycloneDX SBOM; the SBOM gate (the one of
//!   `iotsec-cloud sbom gate`) decides, bound to the image digest. Then `POST
//!   /v1/admin/rollout` `{"action":"start","version":..,"stages_bps":[100,1000,10000]}`,
//!   `advance`, `halt`, `resume`. A device in the current stage that reports `reverted` halts
//!   the rollout (`canary_reverted`).
//! - Broker: point the plugin's `plugin_opt_posture` at `--broker-posture` (a `.json` file)
//!   and the listener's `crlfile` at `--broker-crl`; `--broker-pid` gets SIGHUP after each
//!   revocation. mosquitto 2.0.11 re-reads `crlfile` on SIGHUP (the revoked certificate's next
//!   handshake fails) and keeps connected clients; a revoked device is therefore also marked
//!   `revoked` (and quarantined) in the posture feed, written before the SIGHUP, on which the
//!   plugin closes its open session and denies it everything. The feed is written by one task,
//!   changes coalesced (at most one write per 150 ms); quarantines and revocations are
//!   written before their request is answered. Before `mosquitto` starts,
//!   write the CRL once (`iotsec-cloud pki crl --state DIR --out crl.pem`): the service
//!   rewrites it from then on. For the deny stream, list `--deny-reader` in
//!   `plugin_opt_deny_readers`; the service issues itself a certificate for that CN at start.
//! - TPM attestation keys (credential protection, TPM 2.0 Part 1 §24; the registrar exchange
//!   of Keylime): with `--tpm-ek-ca FILE` (PEM, every certificate a trust
//!   anchor; repeatable) or `--tpm-ek-allow FILE` (one hex SHA-256 of an EK TPM2B_PUBLIC per
//!   line, `#` comments; a malformed line exits 2), a device registers its AK over
//!   `POST /v1/tpm/register` and `POST /v1/tpm/activate` (`iotsec_fleet_api::paths`) and only a
//!   registered AK's quotes are accepted ([`TpmTrust::Endorsed`]); `--tpm-trust-on-first-use`
//!   binds the AK of a device's first accepted quote ([`TpmTrust::FirstUse`]) and cannot be
//!   combined with the other two (exit 2: one service, one rule for every device). With none
//!   of them TPM evidence and registration are refused (`tpm_not_enabled`). The registrar's
//!   decisions are `iotsec_attest::identity::registration`; the pending registrations (a
//!   digest of the secret, never the secret) and the bindings live in `fleet.db`.
//! - Stop with Ctrl-C or SIGTERM. Every acknowledged change is committed (SQLite WAL,
//!   `synchronous=FULL`) before its answer; after `kill -9` the service restarts from DIR
//!   (`tests/serve_kill.rs`).
//!
//! The older EST-only server, which follows `pki rotate|revoke|crl` on disk without a restart,
//! is `iotsec-cloud pki est-server`. This service opens the CA at start: restart it after a
//! `pki rotate`.

pub mod broker;
mod certs;
pub mod cli;
pub mod deny;
mod http;
pub mod identity;
pub mod sqlite;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use iotsec_pki::TokenPins;
use iotsec_sbom::Policy;
use iotsec_sbom::advisory::AdvisoryDatabase;
use zeroize::Zeroizing;

pub use identity::{ClientIdentity, issue_operator};
pub use iotsec_pki::est::http::{ServeLimits, TlsFacts};
pub use sqlite::SqliteFleetStore;
pub use store::FleetStore;

/// Seconds an attestation nonce stays redeemable by default.
pub const DEFAULT_NONCE_TTL_SECS: u64 = 60;
/// Seconds before notAfter at which devices re-enroll, by default (a quarter of the 24 h
/// default certificate lifetime).
pub const DEFAULT_RENEW_BEFORE_SECS: u64 = 6 * 3600;

/// The SBOM deploy gate the release channel runs (the one of `iotsec-cloud sbom gate`).
#[derive(Clone)]
pub struct GateConfig {
    /// The gate policy.
    pub policy: Policy,
    /// The OSV advisory database.
    pub advisories: Arc<AdvisoryDatabase>,
}

/// Which TPM attestation keys the service accepts quotes from.
#[derive(Clone, Default)]
pub enum TpmTrust {
    /// None: TPM evidence and registration are refused (`tpm_not_enabled`). The default, so
    /// that a service nobody configured for TPMs does not trust any key.
    #[default]
    Refuse,
    /// The first accepted quote of a device binds its AK (`--tpm-trust-on-first-use`): nothing
    /// shows the AK is in a TPM. Registration is refused (`tpm_registration_not_enabled`).
    FirstUse,
    /// Only AKs registered over [`iotsec_fleet_api::paths::TPM_REGISTER`] beside an EK this
    /// trusts (`--tpm-ek-ca`, `--tpm-ek-allow`); a quote by any other AK is refused
    /// (`ak_not_registered`).
    Endorsed(Arc<iotsec_attest::identity::registration::EkTrust>),
}

/// How the service follows the broker.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The plugin's posture feed (`plugin_opt_posture`), written as JSON (tmp + rename) after
    /// changes (coalesced, see [`broker`]); must end in `.json`.
    pub posture_file: PathBuf,
    /// The listener's `crlfile`, written as PEM (tmp + rename) on every revocation.
    pub crl_file: PathBuf,
    /// The broker's process id: sent SIGHUP after the CRL file changed (mosquitto 2.0 reloads
    /// its listeners' TLS settings, `crlfile` included, on SIGHUP; see [`broker`]).
    pub pid: Option<u32>,
    /// The deny stream, if the service should follow it.
    pub deny: Option<DenyConfig>,
}

/// The plugin's deny stream: who to quarantine for probing other devices' topics.
#[derive(Debug, Clone)]
pub struct DenyConfig {
    /// The broker's TLS listener (127.0.0.1:PORT).
    pub broker: SocketAddr,
    /// The deny topic (`plugin_opt_deny_topic`).
    pub topic: String,
    /// The MQTT username/CN the service connects as: an operator CN that is one of the
    /// plugin's `plugin_opt_deny_readers` (the service issues itself a certificate for it).
    pub reader: String,
    /// Quarantine a device after this many denies on topics of other devices.
    pub threshold: u32,
}

/// What [`start`] serves.
#[derive(Clone)]
pub struct ServeConfig {
    /// The state directory: the CA (`pki init`), `fleet.db`.
    pub state_dir: PathBuf,
    /// Where to listen (port 0: any free port; [`RunningCloud::addr`] says which).
    pub listen: SocketAddr,
    /// Extra EST labels: (label, named intermediate of `pki init --intermediate`).
    pub labels: Vec<(String, String)>,
    /// The bootstrap credential for `simpleenroll` (HTTP Basic user, password); `None`: only
    /// client certificates issued by the fleet CA enroll.
    pub bootstrap: Option<(String, Zeroizing<String>)>,
    /// Certificate CNs treated as operators on `/v1/admin/*`.
    pub operators: Vec<String>,
    /// The release channel's SBOM gate.
    pub gate: GateConfig,
    /// The OTA trust root document devices pin (`iotsec-cloud ota root`): a release's
    /// manifest must be signed by its release keys.
    pub ota_trust_root: Vec<u8>,
    /// Factory firmware measurements accepted in attestation besides published releases:
    /// (version, SHA-256 of the image).
    pub factory_firmware: Vec<(String, [u8; 32])>,
    /// Seconds a nonce stays redeemable.
    pub nonce_ttl_secs: u64,
    /// Which TPM attestation keys are trusted.
    pub tpm: TpmTrust,
    /// Seconds a TPM registration waits for the device's secret.
    pub tpm_registration_ttl_secs: u64,
    /// What [`iotsec_fleet_api::DeviceStatus::renew_before_secs`] tells devices.
    pub renew_before_secs: u64,
    /// The broker, if the service feeds one.
    pub broker: Option<BrokerConfig>,
    /// PINs of CA keys held in PKCS#11 tokens.
    pub pins: TokenPins,
    /// Connection and request bounds ([`ServeLimits`]); the body cap must admit a release
    /// upload ([`iotsec_fleet_api::MAX_IMAGE_BODY`]): each route caps its own body below it.
    pub limits: ServeLimits,
}

/// The bounds the service runs with by default: [`ServeLimits::default`] with room for a
/// fleet on one address (the demo's devices all connect from 127.0.0.1), a release upload,
/// and 30 s for a connection's next request (a kept-alive device connection between steps).
pub fn default_limits() -> ServeLimits {
    let mut limits = ServeLimits::default();
    limits.max_connections = 4096;
    limits.max_per_address = 4096;
    limits.reserve = 64;
    limits.max_body = iotsec_fleet_api::MAX_IMAGE_BODY + 4096;
    // Devices keep their connection between steps (keep-alive); a connection is closed when
    // its next request is not in whole within this.
    limits.deadline = std::time::Duration::from_secs(30);
    limits
}

impl ServeConfig {
    /// A configuration with the defaults: listen on 127.0.0.1, any port; no labels, no
    /// bootstrap credential, no operator, no broker.
    pub fn new(
        state_dir: impl Into<PathBuf>,
        gate: GateConfig,
        ota_trust_root: Vec<u8>,
        factory_firmware: Vec<(String, [u8; 32])>,
    ) -> Self {
        Self {
            state_dir: state_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            labels: Vec::new(),
            bootstrap: None,
            operators: Vec::new(),
            gate,
            ota_trust_root,
            factory_firmware,
            nonce_ttl_secs: DEFAULT_NONCE_TTL_SECS,
            tpm: TpmTrust::Refuse,
            tpm_registration_ttl_secs: iotsec_attest::identity::registration::DEFAULT_TTL_SECS,
            renew_before_secs: DEFAULT_RENEW_BEFORE_SECS,
            broker: None,
            pins: TokenPins::default(),
            limits: default_limits(),
        }
    }
}

/// Why the service did not start (or stopped with an error).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The CA state does not load.
    #[error("CA state: {0}")]
    Ca(#[from] iotsec_pki::CaError),
    /// The fleet store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Binding or serving failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        error: std::io::Error,
    },
    /// Writing the broker's files or signalling it failed.
    #[error("broker: {0}")]
    Broker(String),
}

impl ServeError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Config(_) => "bad_config",
            ServeError::Ca(_) => "ca_state",
            ServeError::Store(e) => e.code(),
            ServeError::Io { .. } => "io",
            ServeError::Broker(_) => "broker",
        }
    }
}

/// A running service.
pub struct RunningCloud {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    ca_chain_pem: String,
}

impl RunningCloud {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ADDR`, the base URL of the API and EST.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The fleet CA chain (intermediate + root, PEM) clients trust for the server and the
    /// broker's `cafile`.
    pub fn ca_chain_pem(&self) -> &str {
        &self.ca_chain_pem
    }

    /// Stops accepting, ends open connections and background tasks, and waits for them.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        for task in &self.background {
            task.abort();
        }
        let served = self.server.await;
        for task in self.background {
            let _ = task.await;
        }
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ServeError::Io {
                what: "serving".into(),
                error,
            }),
            Err(e) => Err(ServeError::Io {
                what: "serving".into(),
                error: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

/// Opens the state in `config.state_dir`, binds `config.listen` and serves until
/// [`RunningCloud::shutdown`]. Must run inside a multi-threaded tokio runtime.
pub async fn start(config: ServeConfig) -> Result<RunningCloud, ServeError> {
    let config = Arc::new(config);
    let opened = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || http::open(&config))
            .await
            .map_err(|e| ServeError::Config(format!("opening the state: {e}")))??
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| ServeError::Io {
            what: format!("listening on {}", config.listen),
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| ServeError::Io {
        what: "reading the bound address".into(),
        error,
    })?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let http::Opened {
        app,
        tls,
        ca_chain_pem,
    } = opened;
    let mut background = Vec::new();
    if let Some(posture) = http::posture_task(&app) {
        background.push(tokio::spawn(posture));
    }
    if let Some(deny) = http::deny_task(&app) {
        background.push(tokio::spawn(deny));
    }
    let router = http::router(app);
    let server = tokio::spawn(iotsec_pki::est::http::serve(
        listener,
        Arc::new(iotsec_pki::est::http::TlsConfigCell::new(tls)),
        router,
        config.limits.clone(),
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    ));
    Ok(RunningCloud {
        addr,
        stop,
        server,
        background,
        ca_chain_pem,
    })
}
