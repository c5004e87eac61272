//! EST enrollments per second over TLS 1.3 mutual TLS on loopback with 64 concurrent clients,
//! with p50/p99 latency, then a check that the database holds exactly one record per
//! enrollment (none lost, none duplicated).
//! Run: `cargo bench -p iotsec-pki --bench est_enroll`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use iotsec_pki::ca_state::{CaSettings, CaState, init_state};
use iotsec_pki::est_client::EstClient;
use iotsec_pki::est_service::{BindingPolicy, LabelPolicy};
use iotsec_pki::est_transport::{bind_endpoint, serve};
use iotsec_pki::store::CertStore;
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 20;

fn main() {
    let dir = std::env::temp_dir().join(format!("iotsec-est-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    init_state(
        &dir,
        &CaSettings {
            organization: "Bench".into(),
            crl_url: "http://127.0.0.1/crl".into(),
            lifetime_secs: 3600,
        },
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let mut ca = CaState::open(&dir).unwrap();
    let root = CertificateDer::from(ca.authority.root_der().to_vec());
    let int = ca.authority.intermediate_der().to_vec();
    // Each client gets a bootstrap certificate for mTLS.
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[(i + 1) as u8; 32]).unwrap();
        let csr = build_csr(
            &key,
            &CsrRequest {
                common_name: &format!("boot-{i}"),
                ..Default::default()
            },
        )
        .unwrap();
        let cert = ca.issue_csr(&csr, OffsetDateTime::now_utc()).unwrap();
        clients.push((key, cert.der));
    }
    let before = ca.store.issued_count().unwrap();
    let mut labels = HashMap::new();
    labels.insert(
        String::new(),
        LabelPolicy {
            client_cert_auth: true,
            binding: BindingPolicy::Off,
            ..Default::default()
        },
    );
    // The server binary's choice: aws-lc-rs (the post-quantum hybrid offered first).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let provider = iotsec_pki::tls_config::process_provider().unwrap();
    let ep = bind_endpoint(CaState::open(&dir).unwrap(), "127.0.0.1:0", labels).unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        ep.listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || serve(ep.listener, ep.config, ep.service));

    let start = Instant::now();
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, (key, cert))| {
            let url = url.clone();
            let root = root.clone();
            let int = int.clone();
            let provider = provider.clone();
            std::thread::spawn(move || {
                let pk = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    key.to_pkcs8_der().unwrap().to_vec(),
                ));
                let cfg = iotsec_pki::tls_config::client_config(
                    provider,
                    &[root],
                    Some((
                        vec![CertificateDer::from(cert), CertificateDer::from(int)],
                        pk,
                    )),
                )
                .unwrap();
                let client = EstClient::new(&url, Arc::new(cfg)).unwrap();
                // A certificate alone authorizes its own identity only: each device enrolls
                // a new certificate for the name its bootstrap certificate carries.
                let csr = build_csr(
                    &key,
                    &CsrRequest {
                        common_name: &format!("boot-{i}"),
                        ..Default::default()
                    },
                )
                .unwrap();
                let mut lat = Vec::new();
                for _ in 0..PER_CLIENT {
                    let t = Instant::now();
                    let r = client.enroll(false, None, |_| Ok(csr.clone())).unwrap();
                    assert_eq!(r.status, 200);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let elapsed = start.elapsed();
    lat.sort();
    let total = lat.len();
    let after = CaState::open(&dir).unwrap().store.issued_count().unwrap();
    println!(
        "est_enroll: {CLIENTS} clients x {PER_CLIENT} = {total} mTLS enrollments in {:.2}s = {:.0}/s; p50 {:.1} ms, p99 {:.1} ms; records added {} (expected {total})",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        lat[total / 2].as_secs_f64() * 1e3,
        lat[total * 99 / 100].as_secs_f64() * 1e3,
        after - before,
    );
    assert_eq!(
        (after - before) as usize,
        total,
        "lost or duplicated records"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
