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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_certificate_enrolls_its_own_name() {
    let fleet = Fleet::new("agent-enroll-cert");
    // The manufacturer's certificate for "dev-boot", issued by the fleet CA.
    let (key, issued, intermediate) = fleet.issue("dev-boot", time::OffsetDateTime::now_utc());
    let mut config = fleet.config("unused", &closed_port());
    config.device_id = None;
    config.state_dir = fleet.state_of("dev-boot");
    config.bootstrap = Bootstrap::Certificate {
        chain: vec![issued.der.clone(), intermediate.clone()],
        key_pkcs8: Zeroizing::new(key.to_pkcs8_der().unwrap().to_vec()),
    };
    let mut dev = Running::start(config);
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    let enrolled = dev.next().await;
    let AgentEvent::Enrolled { id, serial } = enrolled else {
        panic!("not enrolled: {enrolled:?} {:?}", dev.task.await);
    };
    assert_eq!(id, "dev-boot");
    // A new key and certificate: not the bootstrap one.
    assert_ne!(serial, iotsec_test_support::hex::encode(&issued.serial));
    assert_eq!(dev.stop().await, AgentExit::Stopped);

    // Without the intermediate the server cannot verify it: refused at the handshake, at
    // once (a TLS refusal is not retried).
    let mut config = fleet.config("unused", &closed_port());
    config.device_id = None;
    config.state_dir = fleet.state_of("dev-boot-2");
    config.bootstrap = Bootstrap::Certificate {
        chain: vec![issued.der.clone()],
        key_pkcs8: Zeroizing::new(key.to_pkcs8_der().unwrap().to_vec()),
    };
    let (_commands, rx) = tokio::sync::mpsc::channel(1);
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let err = Agent::new(config).unwrap().run(rx, tx).await.unwrap_err();
    assert_eq!(err.code(), "http_failed");
    assert!(format!("{err:?}").contains("UnknownCA"), "{err:?}");
    assert!(matches!(
        events.recv().await,
        Some(AgentEvent::Booted { .. })
    ));
    assert_eq!(events.recv().await, None, "retried or went on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_enrolls_again_with_the_bootstrap_credential() {
    use iotsec_pki::ca_state::to_pem;
    let fleet = Fleet::new("agent-enroll-expired");
    // A state directory whose certificate (one-hour lifetime) was issued two hours ago.
    let two_hours_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    let (key, issued, _) = fleet.issue("dev-old", two_hours_ago);
    let state = fleet.state_of("dev-old");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("key.pem"),
        to_pem("PRIVATE KEY", &key.to_pkcs8_der().unwrap()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        state.join("cert.pem"),
        to_pem("CERTIFICATE", &issued.der).unwrap(),
    )
    .unwrap();
    let mut config = fleet.config("unused", &closed_port());
    config.device_id = None;
    config.state_dir = state.clone();
    let mut dev = Running::start(config);
    assert!(matches!(dev.next().await, AgentEvent::Booted { .. }));
    let AgentEvent::Error { code, .. } = dev.next().await else {
        panic!("the expiry was not reported");
    };
    assert_eq!(code, "certificate_expired");
    let AgentEvent::Enrolled { id, serial } = dev.next().await else {
        panic!("not enrolled again");
    };
    assert_eq!(id, "dev-old");
    assert_ne!(serial, iotsec_test_support::hex::encode(&issued.serial));
    assert_ne!(
        std::fs::read(state.join("key.pem")).unwrap(),
        to_pem("PRIVATE KEY", &key.to_pkcs8_der().unwrap())
            .unwrap()
            .into_bytes()
    );
    assert_eq!(dev.stop().await, AgentExit::Stopped);
}
