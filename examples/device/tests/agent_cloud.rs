//! The agent against the fleet API (iotsec-pki's EST router with the device endpoints of
//! `iotsec_fleet_api`, tests/common/cloud.rs): SE evidence accepted, a wrong measurement
//! refused (`unknown_firmware`), the release channel downloaded, verified, installed, trial
//! booted and confirmed or reverted, each outcome reported; decommissioning wipes the key,
//! whether the status says so or a 403 `decommissioned` does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use base64ct::{Base64, Encoding};
use common::agent::{
    BOOTSTRAP_PASSWORD, BOOTSTRAP_USER, Fleet, Running, closed_port, factory_image, release,
};
use common::cloud::TestCloud;
use iotsec_device::agent::{AgentCommand, AgentEvent, AgentExit, UpdateResult};
use iotsec_fleet_api::{DeviceReport, ReleaseOffer, UpdateOutcome};
use sha2::Digest;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

fn offer((manifest, image): &(Vec<u8>, Vec<u8>), version: &str) -> (ReleaseOffer, Vec<u8>) {
    (
        ReleaseOffer {
            version: version.into(),
            manifest: Base64::encode_string(manifest),
            image_sha256: hex::encode(sha256(image)),
            image_len: image.len() as u64,
        },
        image.clone(),
    )
}

fn attested(accepted: bool, code: Option<&str>) -> AgentEvent {
    AgentEvent::Attested {
        accepted,
        code: code.map(str::to_owned),
        quarantined: !accepted,
    }
}

/// A device of `fleet` enrolled at `cloud`, its start events read.
async fn enrolled(fleet: &Fleet, cloud: &TestCloud, id: &str) -> Running {
    let mut config = fleet.config(id, &closed_port());
    config.cloud_url = cloud.url.clone();
    let mut dev = Running::start(config);
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    assert!(matches!(dev.next().await, AgentEvent::Enrolled { .. }));
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    dev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attests_updates_reports_and_is_wiped_when_decommissioned() {
    let fleet = Fleet::new("agent-cloud");
    let cloud = TestCloud::start(&fleet.ca_state, (BOOTSTRAP_USER, BOOTSTRAP_PASSWORD)).await;
    cloud.registry.lock().unwrap().references = vec![sha256(&factory_image())];
    let mut dev = enrolled(&fleet, &cloud, "dev-c").await;

    // Attestation: accepted, refused for a wrong measurement, accepted again.
    assert_eq!(dev.ask(AgentCommand::Attest).await, attested(true, None));
    assert!(matches!(
        dev.ask(AgentCommand::WrongMeasurement).await,
        AgentEvent::Armed { .. }
    ));
    assert_eq!(
        dev.ask(AgentCommand::Attest).await,
        attested(false, Some("unknown_firmware"))
    );
    assert_eq!(dev.ask(AgentCommand::Attest).await, attested(true, None));

    // The release channel: nothing, then 1.1.0 (confirmed and reported).
    assert_eq!(
        dev.ask(AgentCommand::PollRelease).await,
        AgentEvent::NoRelease
    );
    let v11 = release("1.1.0", 2, 2, 0x11);
    cloud.registry.lock().unwrap().release = Some(offer(&v11, "1.1.0"));
    assert_eq!(
        dev.ask(AgentCommand::PollRelease).await,
        AgentEvent::Update {
            version: "1.1.0".into(),
            result: UpdateResult::Confirmed,
            code: None
        }
    );
    let confirmed = DeviceReport {
        firmware: "1.1.0".into(),
        update: Some(UpdateOutcome {
            version: "1.1.0".into(),
            result: UpdateResult::Confirmed,
            code: None,
        }),
    };
    assert_eq!(
        cloud.registry.lock().unwrap().reports.last(),
        Some(&("dev-c".to_owned(), confirmed))
    );
    // The evidence now measures 1.1.0: refused until the cloud knows it, then accepted.
    assert_eq!(
        dev.ask(AgentCommand::Attest).await,
        attested(false, Some("unknown_firmware"))
    );
    cloud
        .registry
        .lock()
        .unwrap()
        .references
        .push(sha256(&v11.1));
    assert_eq!(dev.ask(AgentCommand::Attest).await, attested(true, None));
    // Offered again: already running, nothing to do.
    assert_eq!(
        dev.ask(AgentCommand::PollRelease).await,
        AgentEvent::NoRelease
    );

    // The canary: its trial boot fails, the device reverts to 1.1.0 and says so.
    dev.ask(AgentCommand::FailNextTrialBoot).await;
    cloud.registry.lock().unwrap().release = Some(offer(&release("1.2.0", 3, 3, 0x12), "1.2.0"));
    assert_eq!(
        dev.ask(AgentCommand::PollRelease).await,
        AgentEvent::Update {
            version: "1.2.0".into(),
            result: UpdateResult::Reverted,
            code: Some("trial_boot_failed".into())
        }
    );
    let last = cloud.registry.lock().unwrap().reports.last().cloned();
    assert_eq!(last.unwrap().1.firmware, "1.1.0");

    // A release whose image is not the signed one: refused while streaming, reported.
    let (manifest, _) = release("1.3.0", 4, 4, 0x13);
    let forged = (manifest, vec![0x66; 30_000 + 0x13]);
    cloud.registry.lock().unwrap().release = Some(offer(&forged, "1.3.0"));
    assert_eq!(
        dev.ask(AgentCommand::PollRelease).await,
        AgentEvent::Update {
            version: "1.3.0".into(),
            result: UpdateResult::Refused,
            code: Some("image_digest_mismatch".into())
        }
    );

    // Decommissioned: the status says so, the device wipes its key and exits.
    assert_eq!(
        dev.ask(AgentCommand::CheckStatus).await,
        AgentEvent::Status {
            quarantined: false,
            decommissioned: false
        }
    );
    {
        let mut registry = cloud.registry.lock().unwrap();
        registry.decommissioned.insert("dev-c".into());
        registry.status_says_decommissioned = true;
    }
    assert_eq!(
        dev.ask(AgentCommand::CheckStatus).await,
        AgentEvent::Status {
            quarantined: false,
            decommissioned: true
        }
    );
    assert_eq!(dev.next().await, AgentEvent::Wiped);
    assert_eq!(dev.task.await.unwrap().unwrap(), AgentExit::Wiped);
    let state = fleet.state_of("dev-c");
    for gone in ["key.pem", "cert.pem", "se-counter"] {
        assert!(!state.join(gone).exists(), "{gone} survived the wipe");
    }
    assert!(state.join("slots/boot-record.bin").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_decommissioned_wipes_the_device() {
    let fleet = Fleet::new("agent-cloud-403");
    let cloud = TestCloud::start(&fleet.ca_state, (BOOTSTRAP_USER, BOOTSTRAP_PASSWORD)).await;
    let mut dev = enrolled(&fleet, &cloud, "dev-d").await;
    cloud
        .registry
        .lock()
        .unwrap()
        .decommissioned
        .insert("dev-d".into());
    assert_eq!(dev.ask(AgentCommand::Attest).await, AgentEvent::Wiped);
    assert_eq!(dev.task.await.unwrap().unwrap(), AgentExit::Wiped);
    assert!(!fleet.state_of("dev-d").join("key.pem").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_timers_it_attests_publishes_polls_and_renews_before_expiry() {
    let fleet = Fleet::new("agent-cloud-timers");
    let cloud = TestCloud::start(&fleet.ca_state, (BOOTSTRAP_USER, BOOTSTRAP_PASSWORD)).await;
    {
        let mut registry = cloud.registry.lock().unwrap();
        registry.references = vec![sha256(&factory_image())];
        // Certificates live one hour: renew when less than two hours are left, i.e. now.
        registry.renew_before_secs = 7200;
    }
    let mut config = fleet.config("dev-t", &closed_port());
    config.cloud_url = cloud.url.clone();
    config.timers = Some(iotsec_device::agent::Timers {
        telemetry: std::time::Duration::from_secs(3600),
        poll: std::time::Duration::from_secs(3600),
        attest: std::time::Duration::from_secs(3600),
    });
    let mut dev = Running::start(config);
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    let AgentEvent::Enrolled { serial, .. } = dev.next().await else {
        panic!("not enrolled");
    };
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    // Each timer fires once at start: attestation, telemetry (no broker here), the poll.
    assert_eq!(dev.next().await, attested(true, None));
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    assert_eq!(dev.next().await, AgentEvent::NoRelease);
    assert_eq!(
        dev.next().await,
        AgentEvent::Status {
            quarantined: false,
            decommissioned: false
        }
    );
    let AgentEvent::Renewed { serial: renewed } = dev.next().await else {
        panic!("not renewed");
    };
    assert_ne!(renewed, serial);
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    assert_eq!(dev.stop().await, AgentExit::Stopped);
}
