//! `iotsec-cloud pki init|issue|revoke|crl` end to end, checked by `openssl verify -crl_check`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command};

use common::{free_port, have, openssl, openssl_csr, p, pki, scratch, wait_until};

/// `iotsec-cloud pki est-server` of the CA in `state` on `port` with HTTP Basic `dev:pw`; `extra` is added.
fn serve(state: &str, port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args([
            "pki",
            "est-server",
            "--state",
            state,
            "--est",
            &format!("127.0.0.1:{port}"),
            "--basic-auth",
            "dev:pw",
        ])
        .args(extra)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// With the `peers` installed (else `None`): a scratch directory `name` and its `state` folder,
/// where `pki init` (with `extra`) made a CA.
fn init_ca(name: &str, peers: &[&str], extra: &[&str]) -> Option<(PathBuf, String)> {
    if !have(peers) {
        return None;
    }
    let dir = scratch(name);
    let state = p(&dir, "state");
    let (code, out) = pki("init", &state, extra);
    assert_eq!(code, 0, "{out}");
    Some((dir, state))
}

#[test]
fn init_issue_revoke_crl() {
    let Some((dir, state)) = init_ca("cloud-pki", &["openssl"], &["--lifetime-hours", "2"]) else {
        return;
    };
    let (code, _) = pki("init", &state, &[]);
    assert_eq!(code, 2, "second init must refuse to overwrite the CA");
    openssl_csr(&dir, "d.key", "d.csr", "/CN=dev-1", &[]);
    let (code, out) = pki(
        "issue",
        &state,
        &["--csr", &p(&dir, "d.csr"), "--out", &p(&dir, "d.pem")],
    );
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let serial = json["serial"].as_str().unwrap().to_owned();
    let (_, s) = openssl(&dir, &["x509", "-in", "d.pem", "-noout", "-serial"]);
    assert_eq!(s.trim(), format!("serial={serial}"));
    let (code, out) = pki("revoke", &state, &["--serial", &serial, "--reason", "1"]);
    assert_eq!(code, 0, "{out}");
    let (code, _) = pki("revoke", &state, &["--serial", "zz"]);
    assert_eq!(code, 2);
    let (code, out) = pki("crl", &state, &["--out", &p(&dir, "crl.pem")]);
    assert_eq!(code, 0, "{out}");
    let root = format!("{state}/root.pem");
    let int = format!("{state}/intermediate.pem");
    let (ok, out) = openssl(
        &dir,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            &root,
            "-untrusted",
            &int,
            "-CRLfile",
            "crl.pem",
            "d.pem",
        ],
    );
    assert!(!ok && out.contains("certificate revoked"), "{out}");
}

#[test]
fn serve_answers_cacerts_and_basic_auth_enrollment_over_tls13() {
    let Some((dir, state)) = init_ca("cloud-serve", &["curl"], &[]) else {
        return;
    };
    let port = free_port();
    let mut server = serve(&state, port, &[]);
    let url = format!("https://127.0.0.1:{port}/.well-known/est");
    let root = format!("{state}/root.pem");
    // curl with `args` (response body discarded): the HTTP status.
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .current_dir(&dir)
            .args(["-sS", "--cacert", &root])
            .args(args)
            .args(["-o", "/dev/null", "-w", "%{http_code}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ok = wait_until(|| curl(&[&format!("{url}/cacerts")]) == "200");
    openssl_csr(&dir, "k.pem", "c.der", "/CN=dev-9", &["-outform", "DER"]);
    let (_, _) = openssl(&dir, &["base64", "-in", "c.der", "-out", "c.b64"]);
    let enroll = |auth: &str| {
        curl(&[
            "-u",
            auth,
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            "@c.b64",
            &format!("{url}/simpleenroll"),
        ])
    };
    let good = enroll("dev:pw");
    let bad = enroll("dev:nope");
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(ok, "server never answered /cacerts");
    assert_eq!(good, "200");
    assert_eq!(bad, "401");
}

/// `pki init --devid-hw-type OID --idevid` then `pki issue --devid-serial`: the IDevID carries
/// the operator's serial (not the CSR's) and a chain OpenSSL accepts; without the serial the
/// DevID CA refuses (exit 1).
#[test]
fn devid_init_and_issue() {
    let devid = ["--devid-hw-type", "1.3.6.1.4.1.32473.1.7", "--idevid"];
    let Some((dir, state)) = init_ca("cloud-devid", &["openssl"], &devid) else {
        return;
    };
    openssl_csr(&dir, "d.key", "d.csr", "/CN=d-1/serialNumber=FROM-CSR", &[]);
    let csr = p(&dir, "d.csr");
    let (code, out) = pki("issue", &state, &["--csr", &csr]);
    assert_eq!(code, 1, "DevID CA issued without a serial: {out}");
    let pem = p(&dir, "d.pem");
    let (code, out) = pki(
        "issue",
        &state,
        &["--csr", &csr, "--out", &pem, "--devid-serial", "SN-1"],
    );
    assert_eq!(code, 0, "{out}");
    let (ok, text) = openssl(&dir, &["x509", "-in", "d.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("CN = d-1, serialNumber = SN-1"), "{text}");
    assert!(!text.contains("FROM-CSR"), "{text}");
    assert!(text.contains("othername: 1.3.6.1.5.5.7.8.4::"), "{text}");
    assert!(
        text.contains("Not After : Dec 31 23:59:59 9999 GMT"),
        "{text}"
    );
    let (ok, out) = openssl(
        &dir,
        &[
            "verify",
            "-CAfile",
            &format!("{state}/root.pem"),
            "-untrusted",
            &format!("{state}/intermediate.pem"),
            "d.pem",
        ],
    );
    assert!(ok, "{out}");
}

/// `pki init --intermediate line-b` adds a second intermediate under the same root;
/// `serve --label b=line-b` serves it at `/.well-known/est/b/`: cacerts returns its chain and
/// enrollment is signed by it; `pki issue|revoke|crl --intermediate line-b` act on it, and its CRL
/// makes `openssl verify -crl_check` refuse the revoked certificate.
#[test]
fn second_intermediate_behind_a_label() {
    let Some((dir, state)) = init_ca("cloud-two-cas", &["openssl", "curl"], &[]) else {
        return;
    };
    let (code, out) = pki(
        "init",
        &state,
        &[
            "--intermediate",
            "line-b",
            "--crl-url",
            "http://127.0.0.1/crl/line-b.der",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (code, _) = pki("init", &state, &["--intermediate", "line-b"]);
    assert_eq!(code, 2, "the same intermediate twice");
    let int_b = format!("{state}/intermediates/line-b/intermediate.pem");
    let root = format!("{state}/root.pem");

    let port = free_port();
    let mut server = serve(&state, port, &["--label", "b=line-b"]);
    let url = format!("https://127.0.0.1:{port}/.well-known/est");
    let curl = |args: &[&str], out: &str| {
        let o = Command::new("curl")
            .current_dir(&dir)
            .args(["-sS", "--cacert", &root, "-o", out, "-w", "%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let up = wait_until(|| curl(&[&format!("{url}/b/cacerts")], "cacerts-b.b64") == "200");
    let to_pem = |b64: &str, pem: &str| {
        let der = format!("{b64}.der");
        assert!(openssl(&dir, &["base64", "-d", "-in", b64, "-out", &der]).0);
        let (ok, out) = openssl(
            &dir,
            &[
                "pkcs7",
                "-inform",
                "DER",
                "-in",
                &der,
                "-print_certs",
                "-out",
                pem,
            ],
        );
        assert!(ok, "{out}");
        std::fs::read_to_string(dir.join(pem)).unwrap()
    };
    let default_status = curl(&[&format!("{url}/cacerts")], "cacerts-a.b64");
    openssl_csr(&dir, "b.key", "b.der", "/CN=dev-b", &["-outform", "DER"]);
    assert!(openssl(&dir, &["base64", "-in", "b.der", "-out", "b.b64"]).0);
    let enrolled = curl(
        &[
            "-u",
            "dev:pw",
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            "@b.b64",
            &format!("{url}/b/simpleenroll"),
        ],
        "b.p7.b64",
    );
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(up, "server never answered /b/cacerts");
    assert_eq!(default_status, "200");
    let chain_b = to_pem("cacerts-b.b64", "cacerts-b.pem");
    let chain_a = to_pem("cacerts-a.b64", "cacerts-a.pem");
    assert!(chain_b.contains("Issuing CA line-b"), "{chain_b}");
    assert!(!chain_a.contains("line-b"), "{chain_a}");
    assert_eq!(enrolled, "200");
    to_pem("b.p7.b64", "b.pem");
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "-CAfile", &root, "-untrusted", &int_b];
        args.extend_from_slice(extra);
        args.push("b.pem");
        openssl(&dir, &args)
    };
    let (ok, out) = verify(&[]);
    assert!(ok, "{out}");

    // Revoke at line-b and publish line-b's CRL: openssl now refuses the certificate.
    let (_, serial) = openssl(&dir, &["x509", "-in", "b.pem", "-noout", "-serial"]);
    let (code, out) = pki(
        "revoke",
        &state,
        &[
            "--intermediate",
            "line-b",
            "--serial",
            serial.trim(),
            "--reason",
            "1",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let crl = p(&dir, "crl-b.pem");
    let (code, out) = pki("crl", &state, &["--intermediate", "line-b", "--out", &crl]);
    assert_eq!(code, 0, "{out}");
    let (ok, out) = verify(&["-crl_check", "-CRLfile", &crl]);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    // The default intermediate did not issue line-b's serial: revoking it there is refused.
    let (code, out) = pki("revoke", &state, &["--serial", serial.trim()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no certificate with serial"), "{out}");
}
