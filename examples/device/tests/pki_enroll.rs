//! `iotsec-device enroll` / `reenroll` against the iotsec EST server on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashMap;

use common::run_json_text as device;
use iotsec_pki::ca_state::CaState;
use iotsec_pki::est_service::{BindingPolicy, LabelPolicy};
use iotsec_pki::est_transport::{bind_endpoint, serve};

#[test]
fn enroll_then_renew_then_rekey_with_channel_binding() {
    let (dir, state) = common::acme_ca("device-enroll");
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
    // The server's TLS provider is the process default, as the cloud binary installs it.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ep = bind_endpoint(CaState::open(&state).unwrap(), "127.0.0.1:0", labels).unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        ep.listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || serve(ep.listener, ep.config, ep.service));
    let p = |n: &str| dir.join(n).display().to_string();
    let trust = state.join("root.pem").display().to_string();

    // `enroll` with the `request` arguments, writing the key and certificate to the given files.
    let enroll = |request: &[&str], key_out: &str, cert_out: &str| {
        let (key_out, cert_out) = (p(key_out), p(cert_out));
        let mut args = vec!["enroll", "--est", &url, "--trust", &trust];
        args.extend_from_slice(request);
        args.extend_from_slice(&["--key-out", &key_out, "--cert-out", &cert_out]);
        device(&args)
    };
    let dev7 = [
        "--cn",
        "dev-7",
        "--dns",
        "dev-7.devices.invalid",
        "--basic-auth",
        "dev:pw",
    ];
    // `reenroll --bind` over mutual TLS with `cert` and k1.pem; `extra` is added.
    let reenroll = |cert: &str, extra: &[&str]| {
        let (cert, key) = (p(cert), p("k1.pem"));
        let mut args = vec![
            "reenroll", "--est", &url, "--trust", &trust, "--cert", &cert, "--key", &key, "--bind",
        ];
        args.extend_from_slice(extra);
        device(&args)
    };

    // Without the binding the label refuses; with it, enrollment succeeds.
    let (code, out) = enroll(&dev7, "k0.pem", "c0.pem");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"status\":400"), "{out}");
    let (code, out) = enroll(&[&dev7[..], &["--bind"]].concat(), "k1.pem", "c1.pem");
    assert_eq!(code, 0, "{out}");
    let chain = std::fs::read_to_string(dir.join("c1.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);

    // Renew (same key) and rekey (new key) over mutual TLS.
    let (code, out) = reenroll("c1.pem", &["--cert-out", &p("c2.pem")]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = reenroll(
        "c2.pem",
        &["--rekey-out", &p("k3.pem"), "--cert-out", &p("c3.pem")],
    );
    assert_eq!(code, 0, "{out}");
    assert_ne!(
        std::fs::read(dir.join("k1.pem")).unwrap(),
        std::fs::read(dir.join("k3.pem")).unwrap()
    );
    // Bad usage exits 2.
    let (code, _) = enroll(&["--cn", "x", "--key-alg", "rsa"], "x", "y");
    assert_eq!(code, 2);

    // Credentials from a private file instead of the command line; a readable one is refused.
    let creds = dir.join("basic.txt");
    std::fs::write(&creds, "dev:pw\n").unwrap();
    let set_mode = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(0o600);
    let from_file = [
        "--cn",
        "dev-8",
        "--bind",
        "--basic-auth-file",
        &p("basic.txt"),
    ];
    let (code, out) = enroll(&from_file, "k8.pem", "c8.pem");
    assert_eq!(code, 0, "{out}");
    set_mode(0o644);
    let (code, out) = enroll(&from_file, "k9.pem", "c9.pem");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("mode 644 lets group or others read it (chmod 600)"),
        "{out}"
    );
    assert!(!dir.join("k9.pem").exists());
    // Wrong credentials in the file: the server says 401.
    std::fs::write(&creds, "dev:nope").unwrap();
    set_mode(0o600);
    let (code, out) = enroll(&from_file, "k10.pem", "c10.pem");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"status\":401"), "{out}");
}
