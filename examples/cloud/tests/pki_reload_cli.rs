//! A running `iotsec-cloud pki est-server` follows `pki rotate`, `pki revoke` (leaf and intermediate)
//! and refuses a broken state on disk, without a restart: checked with curl (EST enrollment,
//! mTLS, CRL distribution points) and `openssl verify`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{
    curl_in as curl, dp_path, free_port, have, openssl, openssl_csr, p, pki, scratch, wait_until,
};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

/// Enrolls `/CN={cn}` over EST (HTTP Basic) into `{cn}.pem`; returns the HTTP status.
fn enroll(dir: &Path, port: u16, cn: &str) -> String {
    openssl_csr(
        dir,
        &format!("{cn}.key"),
        &format!("{cn}.csr.der"),
        &format!("/CN={cn}"),
        &["-outform", "DER"],
    );
    let (ok, out) = openssl(
        dir,
        &[
            "base64",
            "-in",
            &format!("{cn}.csr.der"),
            "-out",
            &format!("{cn}.csr.b64"),
        ],
    );
    assert!(ok, "{out}");
    let status = curl(
        dir,
        &[
            "--user",
            "dev:secret",
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            &format!("@{cn}.csr.b64"),
            &format!("https://127.0.0.1:{port}/.well-known/est/simpleenroll"),
        ],
        &format!("{cn}.p7.b64"),
    );
    if status == "200" {
        let (ok, out) = openssl(
            dir,
            &[
                "base64",
                "-d",
                "-in",
                &format!("{cn}.p7.b64"),
                "-out",
                &format!("{cn}.p7.der"),
            ],
        );
        assert!(ok, "{out}");
        let (ok, out) = openssl(
            dir,
            &[
                "pkcs7",
                "-inform",
                "DER",
                "-in",
                &format!("{cn}.p7.der"),
                "-print_certs",
                "-out",
                &format!("{cn}.pem"),
            ],
        );
        assert!(ok, "{out}");
    }
    status
}

/// The value of the one-value extension `ext` of `cert` as OpenSSL prints it (`AB:CD:...`).
fn key_id(dir: &Path, cert: &str, ext: &str) -> String {
    let (ok, out) = openssl(dir, &["x509", "-in", cert, "-noout", "-ext", ext]);
    assert!(ok, "{out}");
    let value = out.lines().nth(1).unwrap().trim();
    value.strip_prefix("keyid:").unwrap_or(value).to_owned()
}

/// A mTLS request with `{cn}.pem` (and its intermediate `int`)/`{cn}.key` to `/cacerts`:
/// the HTTP status.
fn mtls(dir: &Path, port: u16, cn: &str, int: &str) -> String {
    let chain = [
        std::fs::read(dir.join(format!("{cn}.pem"))).unwrap(),
        std::fs::read(dir.join(int)).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join(format!("{cn}-chain.pem")), chain).unwrap();
    curl(
        dir,
        &[
            "--cert",
            &format!("{cn}-chain.pem"),
            "--key",
            &format!("{cn}.key"),
            &format!("https://127.0.0.1:{port}/.well-known/est/cacerts"),
        ],
        "mtls.b64",
    )
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, state: &str, port: u16, crl_port: u16, check_ms: &str) -> Server {
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    Server(
        Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .args([
                "pki",
                "est-server",
                "--state",
                state,
                "--basic-auth",
                "dev:secret",
            ])
            .args(["--est", &format!("127.0.0.1:{port}")])
            .args(["--crl-http", &format!("127.0.0.1:{crl_port}")])
            .args(["--reload-check-ms", check_ms])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// A scratch directory `name` with a CA made by `pki init ARGS` in its `state` folder, or None
/// (skipped) without OpenSSL and curl.
fn fresh_ca(name: &str, init_args: &[&str]) -> Option<(std::path::PathBuf, String)> {
    if !have(&["openssl", "curl"]) {
        return None;
    }
    let dir = scratch(name);
    let state = p(&dir, "state");
    let (code, out) = pki("init", &state, init_args);
    assert_eq!(code, 0, "{out}");
    Some((dir, state))
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap()
}

#[test]
fn running_serve_follows_rotate_and_revoke_and_keeps_the_last_good_state() {
    let Some((dir, state)) = fresh_ca("cloud-pki-reload", &["--lifetime-hours", "2"]) else {
        return;
    };
    let (port, crl_port) = (free_port(), free_port());
    let _server = serve(&dir, &state, port, crl_port, "0");
    let cacerts = format!("https://127.0.0.1:{port}/.well-known/est/cacerts");
    assert!(
        wait_until(|| curl(&dir, &[&cacerts], "cacerts.b64") == "200"),
        "server never answered: {}",
        log(&dir)
    );

    // Before the rotation: issued by the first key.
    assert_eq!(enroll(&dir, port, "before"), "200");
    std::fs::copy(dir.join("state/intermediate.pem"), dir.join("old-int.pem")).unwrap();
    let old_ski = key_id(&dir, "old-int.pem", "subjectKeyIdentifier");
    assert_eq!(
        key_id(&dir, "before.pem", "authorityKeyIdentifier"),
        old_ski
    );

    // Rotate while the server runs: the next enrollment is signed by the new key.
    let (code, out) = pki("rotate", &state, &[]);
    assert_eq!(code, 0, "{out}");
    let old_serial = json(&out)["old_serial"].as_str().unwrap().to_owned();
    let new_ski = key_id(&dir, "state/intermediate.pem", "subjectKeyIdentifier");
    assert_ne!(new_ski, old_ski);
    assert_eq!(enroll(&dir, port, "after"), "200", "{}", log(&dir));
    assert_eq!(key_id(&dir, "after.pem", "authorityKeyIdentifier"), new_ski);
    assert!(log(&dir).contains("reloaded the CA state (generation 2)"));

    // Each leaf's CRL at its own URL, signed by its own key, as OpenSSL checks it.
    let old_int = format!("state/retired/{old_serial}/intermediate.pem");
    for (leaf, int) in [
        ("before", old_int.as_str()),
        ("after", "state/intermediate.pem"),
    ] {
        let path = dp_path(&dir, &format!("{leaf}.pem"));
        let crl = format!("{leaf}.crl");
        assert_eq!(
            curl(&dir, &[&format!("http://127.0.0.1:{crl_port}{path}")], &crl),
            "200"
        );
        let (ok, out) = openssl(
            &dir,
            &[
                "verify",
                "-crl_check",
                "-CRLfile",
                &crl,
                "-CAfile",
                "state/root.pem",
                "-untrusted",
                int,
                &format!("{leaf}.pem"),
            ],
        );
        assert_eq!((ok, out), (true, format!("{leaf}.pem: OK\n")));
    }

    // mTLS with a leaf of either key (each checked with its own key's CRL, though both CRLs
    // have one issuer name); a revoked leaf: the next handshake with it is refused.
    assert_eq!(mtls(&dir, port, "after", "state/intermediate.pem"), "200");
    assert_eq!(mtls(&dir, port, "before", &old_int), "200");
    let (ok, serial) = openssl(&dir, &["x509", "-in", "after.pem", "-noout", "-serial"]);
    assert!(ok);
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    let (code, out) = pki("revoke", &state, &["--serial", &serial]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        mtls(&dir, port, "after", "state/intermediate.pem"),
        "000",
        "{}",
        log(&dir)
    );
    assert_eq!(mtls(&dir, port, "before", &old_int), "200");

    // A truncated intermediate certificate written in place: refused, logged once, the last
    // good state served (the same chain, enrollment by the new key).
    let good = std::fs::read(dir.join("state/intermediate.pem")).unwrap();
    std::fs::write(dir.join("state/intermediate.pem"), &good[..good.len() / 2]).unwrap();
    assert_eq!(enroll(&dir, port, "during"), "200", "{}", log(&dir));
    assert_eq!(
        key_id(&dir, "during.pem", "authorityKeyIdentifier"),
        new_ski
    );
    assert_eq!(curl(&dir, &[&cacerts], "cacerts-during.b64"), "200");
    assert_eq!(mtls(&dir, port, "after", "state/intermediate.pem"), "000");
    assert_eq!(
        log(&dir).matches("kept the last good CA state").count(),
        1,
        "{}",
        log(&dir)
    );
    // Repaired: loaded again.
    std::fs::write(dir.join("state/intermediate.pem"), &good).unwrap();
    assert_eq!(curl(&dir, &[&cacerts], "cacerts-repaired.b64"), "200");
    assert!(
        log(&dir).contains("reloaded the CA state (generation 4)"),
        "{}",
        log(&dir)
    );

    // The root revokes the intermediate: it issues nothing more and its leaves no longer
    // pass the handshake, without a restart; the rotated-out key's leaves still do.
    assert_eq!(mtls(&dir, port, "during", "state/intermediate.pem"), "200");
    let (code, out) = pki("revoke", &state, &["--default-intermediate"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(enroll(&dir, port, "refused"), "503", "{}", log(&dir));
    let body = std::fs::read_to_string(dir.join("refused.p7.b64")).unwrap();
    assert!(body.contains("is revoked by the root"), "{body}");
    assert_eq!(mtls(&dir, port, "during", "state/intermediate.pem"), "000");
    assert_eq!(mtls(&dir, port, "before", &old_int), "200");
}

#[test]
fn serve_publishes_the_root_crl_and_follows_its_rewrites() {
    let Some((dir, state)) = fresh_ca("cloud-pki-reload-root-crl", &[]) else {
        return;
    };
    let root_crl = p(&dir, "state/root.crl");
    let sign_root_crl = |copy: &str| {
        let (code, out) = pki("crl", &state, &["--root", "--out", &root_crl]);
        assert_eq!(code, 0, "{out}");
        std::fs::copy(&root_crl, dir.join(copy)).unwrap();
        std::fs::read(dir.join(copy)).unwrap()
    };
    let first = sign_root_crl("root-1.crl");
    let (port, crl_port) = (free_port(), free_port());
    // The root CRL is published at the root_crl_url path pki init recorded (/root.crl).
    let log_file = std::fs::File::create(dir.join("serve.log")).unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .args([
                "pki",
                "est-server",
                "--state",
                &state,
                "--root-crl",
                &root_crl,
            ])
            .args(["--est", &format!("127.0.0.1:{port}")])
            .args(["--crl-http", &format!("127.0.0.1:{crl_port}")])
            .args(["--reload-check-ms", "0"])
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{crl_port}/root.crl");
    let served = |out: &str| {
        let status = curl(&dir, &[&url], out);
        (status, std::fs::read(dir.join(out)).unwrap_or_default())
    };
    assert!(
        wait_until(|| served("served-1.crl").0 == "200"),
        "{}",
        log(&dir)
    );
    assert_eq!(served("served-1.crl"), ("200".into(), first.clone()));

    // The root revokes the intermediate and signs a new CRL: published from the next request.
    let (code, out) = pki("revoke", &state, &["--default-intermediate"]);
    assert_eq!(code, 0, "{out}");
    let serial = json(&out)["serial"].as_str().unwrap().to_owned();
    let second = sign_root_crl("root-2.crl");
    assert_eq!(served("served-2.crl"), ("200".into(), second.clone()));
    let (ok, text) = openssl(
        &dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "served-2.crl",
            "-noout",
            "-text",
            "-CAfile",
            "state/root.pem",
        ],
    );
    assert!(
        ok && text.contains(&format!("Serial Number: {serial}")),
        "{text}"
    );
    assert!(
        text.contains("X509v3 CRL Number: \n                2"),
        "{text}"
    );

    // The older CRL put back (it would un-revoke), then a truncated one: both refused, the
    // last good one still published, one log line each.
    std::fs::write(&root_crl, &first).unwrap();
    assert_eq!(served("served-3.crl"), ("200".into(), second.clone()));
    std::fs::write(&root_crl, &second[..second.len() - 7]).unwrap();
    assert_eq!(served("served-4.crl"), ("200".into(), second.clone()));
    let text = log(&dir);
    assert_eq!(
        text.matches("kept the last good CA state").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("CRL number is lower than the one served"),
        "{text}"
    );
    assert!(text.contains("not a DER CRL"), "{text}");
    // A new one signed: published.
    let third = sign_root_crl("root-3.crl");
    assert_eq!(served("served-5.crl"), ("200".into(), third));
}
