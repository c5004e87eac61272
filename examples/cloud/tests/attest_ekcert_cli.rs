//! `iotsec-cloud attest ekcert` on EK certificates recorded from swtpm (tests/data/ekcert):
//! exact identities when valid, the exact reason when refused, exit 2 for a bad trust anchor.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ekcert")).join(name)
}

/// Runs `iotsec-cloud --format json attest ekcert ARGS`: (exit code, JSON or Null, stderr).
fn ekcert(args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["--format", "json", "attest", "ekcert"];
    all.extend_from_slice(args);
    let (code, out, err) = common::run(&all);
    (
        code,
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null),
        err,
    )
}

fn path(name: &str) -> String {
    data(name).display().to_string()
}

/// `--cert CERT --ek EK --root root.pem --intermediate issuer.pem` plus `extra`.
fn chain(cert: &str, ek: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let (c, e, r, i) = (path(cert), path(ek), path("root.pem"), path("issuer.pem"));
    let mut args = vec!["--cert", &c, "--ek", &e, "--root", &r, "--intermediate", &i];
    args.extend_from_slice(extra);
    ekcert(&args)
}

fn tmp(name: &str, bytes: &[u8]) -> String {
    let dir = common::scratch(&format!("ekcert-{name}"));
    std::fs::write(dir.join(name), bytes).unwrap();
    common::p(&dir, name)
}

#[test]
fn valid_ek_certificates_give_the_tpm_identity() {
    let (code, json, err) = chain("ek_ecc.der", "ek_ecc.pub", &[]);
    assert_eq!(code, 0, "{json} {err}");
    assert_eq!(
        json["identity"],
        serde_json::json!({
            "manufacturer": "id:00001014",
            "model": "swtpm",
            "version": "id:20191023",
            "serial": "03",
            "quirks_used": [],
        })
    );
    assert_eq!(json["valid"], true);
    let (code, json, _) = chain("ek_rsa.der", "ek_rsa.pub", &[]);
    assert_eq!(code, 0);
    assert_eq!(json["identity"]["serial"], "02");
    // The issuing CA itself may be pinned as the root.
    let (cert, ek, issuer) = (path("ek_rsa.der"), path("ek_rsa.pub"), path("issuer.pem"));
    let (code, _, _) = ekcert(&["--cert", &cert, "--ek", &ek, "--root", &issuer]);
    assert_eq!(code, 0);
}

#[test]
fn refused_certificates_exit_1_with_the_reason() {
    let reason = |r: (i32, serde_json::Value, String)| {
        assert_eq!(r.0, 1, "{} {}", r.1, r.2);
        assert_eq!(r.1["valid"], false);
        r.1["reason"].as_str().unwrap().to_string()
    };
    assert_eq!(
        reason(chain("ek_rsa.der", "ek_ecc.pub", &[])),
        "certificate key differs from the EK public area"
    );
    let (cert, ek, root) = (path("ek_ecc.der"), path("ek_ecc.pub"), path("root.pem"));
    assert_eq!(
        reason(ekcert(&["--cert", &cert, "--ek", &ek, "--root", &root])),
        "no chain from the EK certificate to a trusted root"
    );
    let mut forged = std::fs::read(data("ek_ecc.der")).unwrap();
    let at = forged.len() - 3;
    forged[at] ^= 1;
    let forged = tmp("forged.der", &forged);
    assert_eq!(
        reason(ekcert(&[
            "--cert",
            &forged,
            "--ek",
            &ek,
            "--root",
            &root,
            "--intermediate",
            &path("issuer.pem"),
        ])),
        "signature of certificate 0 does not verify under its issuer"
    );
}

#[test]
fn validity_and_padding_are_refused_unless_tolerated() {
    // One second before notBefore (2026-11-25T06:23:00Z).
    let before = ["--at", "1795587779"];
    let (code, json, _) = chain("ek_ecc.der", "ek_ecc.pub", &before);
    assert_eq!(code, 1);
    assert_eq!(
        json["reason"],
        "certificate 0 is not valid before 1795587780 (unix seconds)"
    );
    let (code, json, _) = chain(
        "ek_ecc.der",
        "ek_ecc.pub",
        &["--at", "1795587779", "--allow-outside-validity"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        json["identity"]["quirks_used"],
        serde_json::json!(["outside_validity"])
    );
    let (code, _, _) = chain("ek_ecc.der", "ek_ecc.pub", &["--at", "1795587780"]);
    assert_eq!(code, 0, "notBefore itself is inside the period");

    let mut padded = std::fs::read(data("ek_rsa.der")).unwrap();
    padded.extend_from_slice(&[0xff; 48]);
    let padded = tmp("padded.der", &padded);
    let (r, i, ek) = (path("root.pem"), path("issuer.pem"), path("ek_rsa.pub"));
    let args = [
        "--cert",
        &padded,
        "--ek",
        &ek,
        "--root",
        &r,
        "--intermediate",
        &i,
    ];
    let (code, json, _) = ekcert(&args);
    assert_eq!(code, 1);
    assert_eq!(
        json["reason"],
        "48 bytes after the certificate (0xFF padding; enable allow_ff_padding)"
    );
    let mut tolerant = args.to_vec();
    tolerant.push("--allow-ff-padding");
    let (code, json, _) = ekcert(&tolerant);
    assert_eq!(code, 0);
    assert_eq!(
        json["identity"]["quirks_used"],
        serde_json::json!(["ff_padding"])
    );
}

#[test]
fn a_root_that_is_not_a_certificate_is_bad_input() {
    let (cert, ek) = (path("ek_rsa.der"), path("ek_rsa.pub"));
    let (code, json, err) = ekcert(&["--cert", &cert, "--ek", &ek, "--root", &ek]);
    assert_eq!(code, 2);
    assert_eq!(json, serde_json::Value::Null, "nothing on stdout");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("ek_rsa.pub: not a DER X.509 certificate"),
        "{err}"
    );
    let (code, _, err) = ekcert(&["--cert", &cert, "--ek", &cert, "--root", &ek]);
    assert_eq!(code, 2);
    assert!(err.contains("not a TPM2B_PUBLIC"), "{err}");
}
