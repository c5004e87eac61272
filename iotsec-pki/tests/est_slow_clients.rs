//! The slow-client (slowloris) attack against both EST servers, on loopback: an attacker from
//! three addresses opens more connections than the caps allow and trickles one byte of a TLS
//! record header every 2 s; the per-address cap refuses its extra connections, the deadline
//! (handshake + request, 3 s) closes those it holds however they trickle, and the reserve for
//! new addresses lets an honest client enroll at once while the attack runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::axum_server::AxumServer;
use common::slow_client::{self, REFUSED_WITHIN};
use common::{acme_ca, csr_for};
use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_state::CaState;
use iotsec_pki::est::admission::ServeLimits;
use iotsec_pki::est_client::EstClient;
use iotsec_pki::est_service::LabelPolicy;
use iotsec_pki::est_transport::{bind_endpoint, serve_limited};
use rustls::pki_types::CertificateDer;

const DEADLINE: Duration = Duration::from_secs(3);
const TRICKLE_EVERY: Duration = Duration::from_secs(2);
const ATTACK_FOR: Duration = Duration::from_secs(10);
const ATTACKERS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(127, 0, 0, 2),
    Ipv4Addr::new(127, 0, 0, 3),
    Ipv4Addr::new(127, 0, 0, 4),
];
/// Connections the attacker opens from each address (more than `PER_ADDRESS`).
const PER_SOURCE: usize = 5;
const MAX_CONNECTIONS: usize = 8;
const PER_ADDRESS: usize = 3;
const RESERVE: usize = 2;

fn limits() -> ServeLimits {
    ServeLimits::default()
        .with_deadline(DEADLINE)
        .with_connections(MAX_CONNECTIONS, PER_ADDRESS, RESERVE)
}

fn labels() -> HashMap<String, LabelPolicy> {
    let mut labels = HashMap::new();
    labels.insert(
        String::new(),
        LabelPolicy {
            basic: Some(("dev".into(), "s3cret".into())),
            ..Default::default()
        },
    );
    labels
}

/// Runs the attack against `port` and, while it runs, four honest enrollments from 127.0.0.1,
/// each of which must succeed well within the deadline (it never waits for a slot).
fn attack_and_enroll(state: &Path, port: u16) {
    let root = CertificateDer::from(CaState::open(state).unwrap().authority.root_der().to_vec());
    let config =
        iotsec_pki::tls_config::client_config(common::crypto_provider(), &[root], None).unwrap();
    let client = EstClient::new(&format!("https://127.0.0.1:{port}"), Arc::new(config)).unwrap();
    let attack = slow_client::start(port, &ATTACKERS, PER_SOURCE, TRICKLE_EVERY, ATTACK_FOR);
    std::thread::sleep(Duration::from_millis(800)); // the attacker holds what it can
    for i in 0..4u8 {
        let started = Instant::now();
        let reply = client
            .enroll(false, Some(("dev", "s3cret")), |_| {
                Ok(csr_for(KeyAlgorithm::P256, 40 + i, &format!("honest-{i}")))
            })
            .unwrap();
        let took = started.elapsed();
        assert_eq!(reply.status, 200, "honest enrollment {i}");
        assert!(took < DEADLINE, "honest enrollment {i} took {took:?}");
        std::thread::sleep(Duration::from_millis(1500));
    }
    let report = attack.join().unwrap();
    eprintln!("slow-client attack: {report:?}");
    // The attacker never holds more than 3 + 3 + 1 slots (the reserve takes one connection
    // per new address), so of the 15 connections of its first round at least 8 are refused.
    assert!(
        report.refused >= ATTACKERS.len() * PER_SOURCE - (2 * PER_ADDRESS + 1),
        "{report:?}"
    );
    // Each connection the server held was closed by the deadline, trickling or not.
    let most_held = 2 * PER_ADDRESS + 1;
    assert!(report.held_for.len() >= most_held, "{report:?}");
    for held in &report.held_for {
        assert!(
            *held >= DEADLINE - Duration::from_millis(200)
                && *held <= DEADLINE + Duration::from_secs(1),
            "a trickling connection lived {held:?} (deadline {DEADLINE:?}): {report:?}"
        );
    }
    assert!(REFUSED_WITHIN < DEADLINE);
}

#[test]
fn the_axum_server_withstands_slow_clients() {
    let (_dir, state) = acme_ca("est-slow-axum");
    let server = AxumServer::start(&state, labels(), limits());
    attack_and_enroll(&state, server.port);
    server.stop().unwrap();
}

#[test]
fn the_blocking_server_withstands_slow_clients() {
    let (_dir, state) = acme_ca("est-slow-blocking");
    common::crypto_provider();
    let ep = bind_endpoint(CaState::open(&state).unwrap(), "127.0.0.1:0", labels()).unwrap();
    let port = ep.listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve_limited(ep.listener, ep.config, ep.service, limits()));
    attack_and_enroll(&state, port);
}
