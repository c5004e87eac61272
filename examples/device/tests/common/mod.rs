//! Scaffolding shared by the `iotsec-device` integration tests: running the binary, and (in
//! [`agent`] and [`broker`]) a fleet CA, its EST server and mosquitto for the agent tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

/// Runs `iotsec-device` with `args`: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-device"))
        .args(args)
        .output()
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        out.status.code().unwrap(),
        text(out.stdout),
        text(out.stderr),
    )
}

/// Runs `iotsec-device --format json` with `args`: (exit code, stdout followed by stderr).
pub fn run_json_text(args: &[&str]) -> (i32, String) {
    let (code, mut out, err) = run(&[&["--format", "json"], args].concat());
    out.push_str(&err);
    (code, out)
}

/// Runs `iotsec-device --format json` with `args`: (exit code, stdout as JSON or `Null`).
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let (code, out, _) = run(&[&["--format", "json"], args].concat());
    (
        code,
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null),
    )
}

/// A fresh scratch directory `name` with an "Acme" CA (one-hour certificates) in its `state`
/// folder: (dir, state).
pub fn acme_ca(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use iotsec_pki::ca_state::{CaSettings, init_state};
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.join("state");
    init_state(
        &state,
        &CaSettings {
            organization: "Acme".into(),
            crl_url: "http://127.0.0.1/crl".into(),
            lifetime_secs: 3600,
        },
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    (dir, state)
}

/// An EST server of the CA in `state` on a free loopback port, serving the default label with
/// `policy`, in a background thread: its base URL.
pub fn est_server(state: &std::path::Path, policy: iotsec_pki::est_service::LabelPolicy) -> String {
    use iotsec_pki::ca_state::CaState;
    use iotsec_pki::est_transport::{bind_endpoint, serve};
    // The server's TLS provider is the process default, as the cloud binary installs it.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let labels = std::collections::HashMap::from([(String::new(), policy)]);
    let ep = bind_endpoint(CaState::open(state).unwrap(), "127.0.0.1:0", labels).unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        ep.listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || serve(ep.listener, ep.config, ep.service));
    url
}

/// The `iotsec-ota` trust root the tests pin: root key seed 1, release key seed 2 (one
/// signature each), version 1, no expiry.
pub fn ota_trust_root() -> Vec<u8> {
    use iotsec_ota::signer::{Ed25519Key, Signer, sign_document};
    use iotsec_ota::trust_root::{ROOT_CONTENT_TYPE, TrustRootPayload};
    let root = Ed25519Key::from_seed(&[1; 32]);
    let release = Ed25519Key::from_seed(&[2; 32]);
    let payload = TrustRootPayload {
        version: 1,
        keys: vec![
            (root.key_id(), root.algorithm(), root.public_key()),
            (release.key_id(), release.algorithm(), release.public_key()),
        ],
        root: (1, vec![root.key_id()]),
        release: (1, vec![release.key_id()]),
        expires_at: None,
    };
    sign_document(ROOT_CONTENT_TYPE, &payload.to_cbor(), &[&root]).expect("sign the root")
}

pub mod agent;
pub mod broker;
pub mod cloud;
