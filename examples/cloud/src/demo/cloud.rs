//! The cloud service (`iotsec-cloud serve`, [`crate::serve`]) as an in-process task: EST
//! enrollment from the fleet CA, attestation appraisal, the registry, the SBOM gate, releases
//! and rollout, the broker's posture feed and CRL (with SIGHUP), and the deny-stream follower
//! that quarantines probing devices.

use std::net::SocketAddr;
use std::sync::Arc;

use iotsec_sbom::Policy;
use iotsec_sbom::advisory::{AdvisoryDatabase, SnapshotFile};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::broker::{BrokerFiles, DENY_TOPIC};
use super::pki::{FleetPki, OPERATOR};
use super::release;
use crate::serve::{self, BrokerConfig, DenyConfig, GateConfig, RunningCloud, ServeConfig};

/// Denials on other devices' topics before the cloud quarantines a device.
pub const PROBE_THRESHOLD: u32 = 3;
/// The CN the cloud reads the deny stream as (one of the plugin's `deny_readers`).
pub const DENY_READER: &str = "cloud-deny";

/// What the demo gives the cloud.
pub struct CloudSetup<'a> {
    /// The fleet PKI (the CA state the service issues from).
    pub pki: &'a FleetPki,
    /// The broker's files (the posture feed and CRL the cloud writes).
    pub broker: &'a BrokerFiles,
    /// The broker's pid (SIGHUP after a new CRL).
    pub broker_pid: Option<u32>,
    /// The broker's port on 127.0.0.1 (the deny stream).
    pub broker_port: u16,
    /// The EST bootstrap user and password of the factory.
    pub bootstrap: (&'a str, &'a str),
    /// The OTA trust root the devices pin (the cloud checks manifests against it).
    pub trust_root: &'a [u8],
}

/// The running cloud.
pub struct Cloud {
    /// Its base URL (`https://127.0.0.1:PORT`).
    pub url: String,
    running: RunningCloud,
}

/// The SBOM gate of the demo: the embedded advisory and policy.
fn gate() -> Result<GateConfig, String> {
    let (path, text) = release::ADVISORY;
    let advisories = AdvisoryDatabase::from_files(&[SnapshotFile {
        path: path.into(),
        bytes: text.as_bytes().to_vec(),
    }])
    .map_err(|e| format!("advisory {path}: {e}"))?;
    let policy =
        Policy::from_toml(release::GATE_POLICY).map_err(|e| format!("gate policy: {e}"))?;
    Ok(GateConfig {
        policy,
        advisories: Arc::new(advisories),
    })
}

/// Starts the cloud service on 127.0.0.1 (port 0).
pub async fn start(setup: CloudSetup<'_>) -> Result<Cloud, String> {
    let factory: [u8; 32] = Sha256::digest(release::image(release::FACTORY)).into();
    let mut config = ServeConfig::new(
        setup.pki.ca_dir.clone(),
        gate()?,
        setup.trust_root.to_vec(),
        vec![(release::FACTORY.to_owned(), factory)],
    );
    config.bootstrap = Some((
        setup.bootstrap.0.to_owned(),
        Zeroizing::new(setup.bootstrap.1.to_owned()),
    ));
    config.operators = vec![OPERATOR.to_owned()];
    config.broker = Some(BrokerConfig {
        posture_file: setup.broker.posture.clone(),
        crl_file: setup.broker.crl.clone(),
        pid: setup.broker_pid,
        deny: Some(DenyConfig {
            broker: SocketAddr::from(([127, 0, 0, 1], setup.broker_port)),
            topic: DENY_TOPIC.to_owned(),
            reader: DENY_READER.to_owned(),
            threshold: PROBE_THRESHOLD,
        }),
    });
    let running = serve::start(config)
        .await
        .map_err(|e| format!("{e} ({})", e.code()))?;
    Ok(Cloud {
        url: running.url(),
        running,
    })
}

impl Cloud {
    /// Stops the service.
    pub async fn shutdown(self) {
        let _ = self.running.shutdown().await;
    }
}
