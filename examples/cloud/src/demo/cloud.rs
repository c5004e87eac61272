//! The cloud service (`iotsec-cloud serve`) as an in-process task: EST enrollment, attestation
//! appraisal, the registry, the SBOM gate, releases and rollout, the broker's posture feed and
//! CRL, and the deny-stream watcher that quarantines probing devices.

use std::path::PathBuf;

use super::broker::BrokerFiles;
use super::pki::FleetPki;

/// Probing denials of one device before the cloud quarantines it.
pub const PROBE_THRESHOLD: u32 = 3;

/// What the demo gives the cloud.
pub struct CloudSetup<'a> {
    /// The fleet PKI (the CA state the service issues from, the operator identity).
    pub pki: &'a FleetPki,
    /// The broker's files (the posture feed and CRL the cloud writes).
    pub broker: &'a BrokerFiles,
    /// The broker's pid (SIGHUP after a new posture feed or CRL).
    pub broker_pid: Option<u32>,
    /// The broker's port on 127.0.0.1 (the deny stream).
    pub broker_port: u16,
    /// The EST bootstrap user and password of the factory.
    pub bootstrap: (&'a str, &'a str),
    /// The SBOM gate's inputs: the advisory directory and the policy file.
    pub gate: (PathBuf, PathBuf),
    /// The OTA trust root the devices pin (the cloud checks manifests against it).
    pub trust_root: &'a [u8],
    /// The cloud's own state (registry database) directory.
    pub state: PathBuf,
}

/// The running cloud.
pub struct Cloud {
    /// Its base URL (`https://127.0.0.1:PORT`).
    pub url: String,
}

/// Starts the cloud service on 127.0.0.1 (port 0).
pub async fn start(setup: CloudSetup<'_>) -> Result<Cloud, String> {
    let _ = setup;
    Err("the cloud service (serve::start) is not part of this build yet".into())
}

impl Cloud {
    /// Stops the service.
    pub async fn shutdown(self) {}
}
