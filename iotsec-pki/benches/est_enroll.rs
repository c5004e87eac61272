//! EST enrollments per second over TLS 1.3 mutual TLS on loopback with 64 concurrent clients,
//! with p50/p99 latency, through both servers of the crate in the same run: the blocking one
//! (`est::transport`, a thread per connection) and the tokio one (`est::http`, axum + hyper +
//! tokio-rustls, feature `est-axum`, the decision on the blocking pool). After each, a check
//! that the database holds exactly one record per enrollment (none lost, none duplicated).
//! Run: `cargo bench -p iotsec-pki --bench est_enroll [-- ROUNDS]` (ROUNDS alternations of the
//! two servers, default 2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iotsec_pki::ca_state::{CaSettings, CaState, init_state};
use iotsec_pki::est::admission::ServeLimits;
use iotsec_pki::est::http::{TlsConfigCell, router, server_config_for};
use iotsec_pki::est_client::EstClient;
use iotsec_pki::est_service::{BindingPolicy, EstService, LabelPolicy};
use iotsec_pki::est_transport::{bind_endpoint, issue_server_identity, serve_limited};
use iotsec_pki::store::CertStore;
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 20;

/// Both servers admit every bench client (all from 127.0.0.1).
fn limits() -> ServeLimits {
    ServeLimits::default().with_connections(1024, 1024, 0)
}

fn labels() -> HashMap<String, LabelPolicy> {
    let mut labels = HashMap::new();
    labels.insert(
        String::new(),
        LabelPolicy {
            client_cert_auth: true,
            binding: BindingPolicy::Off,
            ..Default::default()
        },
    );
    labels
}

/// A device: its key and bootstrap certificate.
type Device = (DeviceKey, Vec<u8>);

/// Every device enrolls `PER_CLIENT` times at `url`, `CLIENTS` at once, each enrollment a fresh
/// TLS connection authenticated by the bootstrap certificate; prints and returns the rate.
fn run_clients(name: &str, dir: &Path, url: &str, devices: &Arc<Vec<Device>>) -> f64 {
    let ca = CaState::open(dir).unwrap();
    let root = CertificateDer::from(ca.authority.root_der().to_vec());
    let int = ca.authority.intermediate_der().to_vec();
    let before = ca.store.issued_count().unwrap();
    let provider = iotsec_pki::tls_config::process_provider().unwrap();
    let start = Instant::now();
    let handles: Vec<_> = (0..devices.len())
        .map(|i| {
            let (url, root, int, provider, devices) = (
                url.to_owned(),
                root.clone(),
                int.clone(),
                provider.clone(),
                devices.clone(),
            );
            std::thread::spawn(move || {
                let (key, cert) = &devices[i];
                let pk = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    key.to_pkcs8_der().unwrap().to_vec(),
                ));
                let cfg = iotsec_pki::tls_config::client_config(
                    provider,
                    &[root],
                    Some((
                        vec![
                            CertificateDer::from(cert.clone()),
                            CertificateDer::from(int),
                        ],
                        pk,
                    )),
                )
                .unwrap();
                let client = EstClient::new(&url, Arc::new(cfg)).unwrap();
                // A certificate alone authorizes its own identity only: each device enrolls
                // a new certificate for the name its bootstrap certificate carries.
                let csr = build_csr(
                    key,
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
    let mut lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let elapsed = start.elapsed();
    lat.sort();
    let total = lat.len();
    let after = ca.store.issued_count().unwrap();
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "est_enroll {name}: {CLIENTS} clients x {PER_CLIENT} = {total} mTLS enrollments in {:.2}s = {rate:.0}/s; p50 {:.1} ms, p99 {:.1} ms; records added {} (expected {total})",
        elapsed.as_secs_f64(),
        lat[total / 2].as_secs_f64() * 1e3,
        lat[total * 99 / 100].as_secs_f64() * 1e3,
        after - before,
    );
    assert_eq!(
        (after - before) as usize,
        total,
        "lost or duplicated records"
    );
    rate
}

/// The blocking server on a port of its own; returns its URL.
fn start_blocking(dir: &Path) -> String {
    let ep = bind_endpoint(CaState::open(dir).unwrap(), "127.0.0.1:0", labels()).unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        ep.listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || serve_limited(ep.listener, ep.config, ep.service, limits()));
    url
}

/// The axum server (2 worker threads, one per core) on a port of its own; returns its URL.
fn start_axum(dir: &Path) -> String {
    let ca = CaState::open(dir).unwrap();
    let certified = Arc::new(issue_server_identity(&ca).unwrap());
    let service = Arc::new(EstService::new(ca, labels()));
    let tls = Arc::new(TlsConfigCell::new(
        server_config_for(&service, certified).unwrap(),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            iotsec_pki::est::http::serve(
                listener,
                tls,
                router(service),
                limits(),
                std::future::pending(),
            )
            .await
        })
    });
    url
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2);
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
    // Each client gets a bootstrap certificate for mTLS.
    let mut devices = Vec::new();
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
        devices.push((key, cert.der));
    }
    let devices = Arc::new(devices);
    // The server binary's choice: aws-lc-rs (the post-quantum hybrid offered first).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let blocking = start_blocking(&dir);
    let axum = start_axum(&dir);
    let (mut old, mut new) = (Vec::new(), Vec::new());
    // Alternated, so a burst of load from elsewhere on the machine hits both alike.
    for _ in 0..rounds {
        old.push(run_clients("blocking", &dir, &blocking, &devices));
        new.push(run_clients("axum", &dir, &axum, &devices));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "est_enroll: axum {:.0}/s vs blocking {:.0}/s (mean of {rounds} rounds): ratio {:.2}",
        mean(&new),
        mean(&old),
        mean(&new) / mean(&old)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
