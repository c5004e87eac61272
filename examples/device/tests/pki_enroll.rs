//! `iotsec-device enroll` / `reenroll` against the iotsec EST server on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::process::Command;

use iotsec_pki::ca_state::{CaSettings, CaState, init_state};
use iotsec_pki::est_service::{BindingPolicy, LabelPolicy};
use iotsec_pki::est_transport::{bind_endpoint, serve};

fn device(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-device"))
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap(), s)
}

#[test]
fn enroll_then_renew_then_rekey_with_channel_binding() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("device-enroll-{}", std::process::id()));
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
    let mut labels = HashMap::new();
    labels.insert(
        String::new(),
        LabelPolicy {
            basic: Some(("dev".into(), "pw".into())),
            client_cert_auth: true,
            binding: BindingPolicy::Required,
            ..Default::default()
        },
    );
    let ep = bind_endpoint(CaState::open(&state).unwrap(), "127.0.0.1:0", labels).unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        ep.listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || serve(ep.listener, ep.config, ep.service));
    let p = |n: &str| dir.join(n).display().to_string();
    let trust = state.join("root.pem").display().to_string();

    // Without the binding the label refuses; with it, enrollment succeeds.
    let (code, out) = device(&[
        "enroll",
        "--est",
        &url,
        "--trust",
        &trust,
        "--cn",
        "dev-7",
        "--dns",
        "dev-7.devices.invalid",
        "--basic-auth",
        "dev:pw",
        "--key-out",
        &p("k0.pem"),
        "--cert-out",
        &p("c0.pem"),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"status\":400"), "{out}");
    let (code, out) = device(&[
        "enroll",
        "--est",
        &url,
        "--trust",
        &trust,
        "--cn",
        "dev-7",
        "--dns",
        "dev-7.devices.invalid",
        "--basic-auth",
        "dev:pw",
        "--bind",
        "--key-out",
        &p("k1.pem"),
        "--cert-out",
        &p("c1.pem"),
    ]);
    assert_eq!(code, 0, "{out}");
    let chain = std::fs::read_to_string(dir.join("c1.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);

    // Renew (same key) and rekey (new key) over mutual TLS.
    let (code, out) = device(&[
        "reenroll",
        "--est",
        &url,
        "--trust",
        &trust,
        "--cert",
        &p("c1.pem"),
        "--key",
        &p("k1.pem"),
        "--bind",
        "--cert-out",
        &p("c2.pem"),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = device(&[
        "reenroll",
        "--est",
        &url,
        "--trust",
        &trust,
        "--cert",
        &p("c2.pem"),
        "--key",
        &p("k1.pem"),
        "--bind",
        "--rekey-out",
        &p("k3.pem"),
        "--cert-out",
        &p("c3.pem"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_ne!(
        std::fs::read(dir.join("k1.pem")).unwrap(),
        std::fs::read(dir.join("k3.pem")).unwrap()
    );
    // Bad usage exits 2.
    let (code, _) = device(&[
        "enroll",
        "--est",
        &url,
        "--trust",
        &trust,
        "--cn",
        "x",
        "--key-alg",
        "rsa",
        "--key-out",
        &p("x"),
        "--cert-out",
        &p("y"),
    ]);
    assert_eq!(code, 2);
}
