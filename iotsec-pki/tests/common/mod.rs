//! CA fixtures shared by the integration tests: an "Acme" CA in a scratch directory, its
//! certificates beside the test's files, PEM files, and an EST endpoint served in the background.
//! Test files that use it also declare `mod peers;`. Each fixture is gated on the features it
//! needs, so that the device-side tests also build from the published package (default
//! features; the repository's tests enable every feature).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "est-axum")]
pub mod axum_server;
pub mod slow_client;

#[cfg(feature = "sqlite")]
use std::path::{Path, PathBuf};
#[cfg(feature = "aws-lc-rs")]
use std::sync::Arc;

#[cfg(feature = "aws-lc-rs")]
use rustls::crypto::CryptoProvider;

#[cfg(feature = "sqlite")]
use iotsec_pki::ca_state::{CaSettings, init_state, to_pem};
#[cfg(feature = "est-server")]
use iotsec_pki::est_transport::{EstEndpoint, serve};
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
#[cfg(feature = "sqlite")]
use time::OffsetDateTime;

#[cfg(feature = "sqlite")]
use crate::peers::scratch;

/// The application's TLS provider, as a server binary sets it up: aws-lc-rs, offering the
/// X25519MLKEM768 hybrid first with X25519 and P-256 as fallbacks, installed as the process
/// default (the crate's servers use that one) on first use.
#[cfg(feature = "aws-lc-rs")]
pub fn crypto_provider() -> Arc<CryptoProvider> {
    let _ = iotsec_pki::tls_provider::hybrid_first().install_default();
    CryptoProvider::get_default().unwrap().clone()
}

/// Makes the "Acme" CA (CRL at `http://127.0.0.1/crl.der`, one-hour certificates) in `state`.
#[cfg(feature = "sqlite")]
pub fn init_acme(state: &Path, now: OffsetDateTime) {
    init_state(
        state,
        &CaSettings {
            organization: "Acme".into(),
            crl_url: "http://127.0.0.1/crl.der".into(),
            lifetime_secs: 3600,
        },
        now,
    )
    .unwrap();
}

/// A scratch directory `name` with the "Acme" CA made now in its `state` folder: (dir, state).
#[cfg(feature = "sqlite")]
pub fn acme_ca(name: &str) -> (PathBuf, PathBuf) {
    acme_ca_at(name, OffsetDateTime::now_utc())
}

/// A scratch directory `name` with the "Acme" CA made at `now` in its `state` folder.
#[cfg(feature = "sqlite")]
pub fn acme_ca_at(name: &str, now: OffsetDateTime) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let state = dir.join("state");
    init_acme(&state, now);
    (dir, state)
}

/// Copies the CA's `root.pem` and `intermediate.pem` (as `int.pem`) from `state` into `dir`.
#[cfg(feature = "sqlite")]
pub fn copy_ca_certs(state: &Path, dir: &Path) {
    std::fs::copy(state.join("root.pem"), dir.join("root.pem")).unwrap();
    std::fs::copy(state.join("intermediate.pem"), dir.join("int.pem")).unwrap();
}

/// Writes `der` as a PEM block with `label` to `dir/name`.
#[cfg(feature = "sqlite")]
pub fn write_pem(dir: &Path, name: &str, label: &str, der: &[u8]) {
    std::fs::write(dir.join(name), to_pem(label, der).unwrap()).unwrap();
}

/// A CSR for `common_name` alone, signed by the `alg` key made from the secret `[seed; 32]`.
pub fn csr_for(alg: KeyAlgorithm, seed: u8, common_name: &str) -> Vec<u8> {
    let key = DeviceKey::from_secret_bytes(alg, &[seed; 32]).unwrap();
    build_csr(
        &key,
        &CsrRequest {
            common_name,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Serves `ep` on a background thread; returns its port.
#[cfg(feature = "est-server")]
pub fn serve_in_background(ep: EstEndpoint) -> u16 {
    let port = ep.listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(ep.listener, ep.config, ep.service));
    port
}

/// An EST POST of `csr` to operation `op` ("simpleenroll", ...) at `label` ("" for the default
/// label), with HTTP Basic credentials u:p.
#[cfg(feature = "est-server")]
pub fn est_post(label: &str, op: &str, csr: &[u8]) -> iotsec_pki::est_service::EstRequest {
    use iotsec_pki::est_message::{Base64Layout, encode_csr_body};
    let prefix = if label.is_empty() {
        String::new()
    } else {
        format!("{label}/")
    };
    iotsec_pki::est_service::EstRequest {
        method: "POST".into(),
        path: format!("/.well-known/est/{prefix}{op}"),
        content_type: Some("application/pkcs10".into()),
        authorization: Some("Basic dTpw".into()), // u:p
        body: encode_csr_body(csr, Base64Layout::Lines64).into_bytes(),
    }
}
