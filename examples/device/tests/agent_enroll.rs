//! The agent enrolls over EST (RFC 7030 simpleenroll, HTTP Basic bootstrap) against the
//! iotsec-pki EST server on loopback, keeps its key 0600 in its state directory, re-enrolls
//! (simplereenroll over mutual TLS) and resumes after a restart with the renewed certificate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::agent::{Fleet, Running, closed_port, mode};
use iotsec_device::agent::{Agent, AgentCommand, AgentEvent, AgentExit, Bootstrap};
use zeroize::Zeroizing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolls_renews_and_resumes_from_its_state_directory() {
    let fleet = Fleet::new("agent-enroll");
    let broker = closed_port();
    let mut dev = Running::start(fleet.config("dev-1", &broker));
    assert_eq!(
        dev.next().await,
        AgentEvent::Booted {
            firmware: "1.0.0".into(),
            slot: "A".into()
        }
    );
    let AgentEvent::Enrolled { id, serial } = dev.next().await else {
        panic!("not enrolled");
    };
    assert_eq!(id, "dev-1");
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    let state = fleet.state_of("dev-1");
    assert_eq!(mode(&state.join("key.pem")), 0o600);
    let chain = std::fs::read(state.join("cert.pem")).unwrap();
    assert_eq!(
        common::agent::pem_certs(&chain).len(),
        2,
        "leaf + intermediate"
    );

    // Renewal: a new serial for the same key, stored.
    let key_before = std::fs::read(state.join("key.pem")).unwrap();
    let AgentEvent::Renewed { serial: renewed } = dev.ask(AgentCommand::Renew).await else {
        panic!("not renewed");
    };
    assert_ne!(renewed, serial);
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    assert_eq!(std::fs::read(state.join("key.pem")).unwrap(), key_before);
    assert_eq!(dev.stop().await, AgentExit::Stopped);

    // A restart resumes with the renewed certificate: no second enrollment.
    let mut dev = Running::start(fleet.config("dev-1", &broker));
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    assert_eq!(
        dev.next().await,
        AgentEvent::Resumed {
            id: "dev-1".into(),
            serial: renewed
        }
    );
    assert!(matches!(dev.next().await, AgentEvent::Disconnected { .. }));
    assert_eq!(dev.stop().await, AgentExit::Stopped);

    // The state directory is one device's: another id is refused.
    let (_commands, rx) = tokio::sync::mpsc::channel(1);
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let other = Agent::new(fleet.config("dev-1", &broker)).unwrap();
    let mut config = fleet.config("dev-2", &broker);
    config.state_dir = fleet.state_of("dev-1");
    let err = Agent::new(config).unwrap().run(rx, tx).await.unwrap_err();
    assert_eq!(err.code(), "bad_config", "{err}");
    drop(other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_bootstrap_password_is_refused_and_nothing_is_stored() {
    let fleet = Fleet::new("agent-enroll-refused");
    let mut config = fleet.config("dev-9", &closed_port());
    config.bootstrap = Bootstrap::Basic {
        user: common::agent::BOOTSTRAP_USER.into(),
        password: Zeroizing::new("wrong".into()),
    };
    let (_commands, rx) = tokio::sync::mpsc::channel(1);
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let err = Agent::new(config).unwrap().run(rx, tx).await.unwrap_err();
    assert_eq!(err.code(), "http_401", "{err}");
    assert!(matches!(
        events.recv().await,
        Some(AgentEvent::Booted { .. })
    ));
    assert!(!fleet.state_of("dev-9").join("key.pem").exists());
    assert!(!fleet.state_of("dev-9").join("cert.pem").exists());
}
