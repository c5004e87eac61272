//! `--format text` (the default) of the `pki` commands is short lines for people; JSON only
//! with `--format json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;

use common::{have, openssl_csr, output, scratch};

/// `iotsec-cloud` with `args` in `dir`: (exit code, stdout, stderr).
fn cloud_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    output(
        Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
            .current_dir(dir)
            .args(args),
    )
}

#[test]
fn pki_init_prints_lines_for_people() {
    let dir = scratch("text-init");
    let (code, stdout, stderr) = cloud_in(&dir, &["pki", "init", "--state", "st"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "CA created in st\n\
         root: st/root.pem\n\
         offline root key: st/offline/root.key.pem\n\
         intermediate: st/intermediate.pem\n\
         intermediate key: st/intermediate.key.pem\n\
         next: move offline/root.key.pem to offline media\n"
    );
    let (code, stdout, stderr) = cloud_in(
        &dir,
        &["pki", "init", "--state", "st", "--intermediate", "lab"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "intermediate lab created in st/intermediates/lab\n\
         certificate: st/intermediates/lab/intermediate.pem\n\
         key: st/intermediates/lab/intermediate.key.pem\n"
    );
    // The same facts, for programs, only with --format json.
    let (code, stdout, stderr) =
        cloud_in(&dir, &["pki", "init", "--state", "b", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["root"], "b/root.pem");
    assert_eq!(v["intermediate_key"], "intermediate.key.pem");
}

#[test]
fn every_pki_command_answers_in_text_without_json() {
    if !have(&["openssl"]) {
        return;
    }
    let dir = scratch("text-pki");
    let (code, _, stderr) = cloud_in(&dir, &["pki", "init", "--state", "st"]);
    assert_eq!(code, 0, "{stderr}");
    openssl_csr(&dir, "d.key", "d.csr", "/CN=dev-1", &[]);

    let (code, pem, _) = cloud_in(&dir, &["pki", "issue", "--state", "st", "--csr", "d.csr"]);
    assert_eq!(code, 0);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    assert!(pem.ends_with("-----END CERTIFICATE-----\n"), "{pem}");

    let (code, issued, _) = cloud_in(
        &dir,
        &[
            "pki", "issue", "--state", "st", "--csr", "d.csr", "--out", "d.pem",
        ],
    );
    assert_eq!(code, 0);
    // "issued serial HEX, valid until YYYY-MM-DDTHH:MM:SSZ, written to d.pem"
    let serial = issued
        .strip_prefix("issued serial ")
        .and_then(|rest| rest.split_once(", valid until "))
        .map(|(serial, _)| serial.to_owned())
        .unwrap_or_else(|| panic!("{issued}"));
    assert!(issued.ends_with("Z, written to d.pem\n"), "{issued}");

    let revoke = ["pki", "revoke", "--state", "st", "--serial", &serial];
    let (code, stdout, _) = cloud_in(
        &dir,
        &[&revoke[..], &["--reason", "keyCompromise"]].concat(),
    );
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            &*format!("revoked serial {serial} (CRL reason code 1)\n")
        )
    );
    let (code, stdout, _) = cloud_in(&dir, &revoke);
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            &*format!("serial {serial} was already revoked: unchanged\n")
        )
    );

    let (code, stdout, _) = cloud_in(&dir, &["pki", "rotate", "--state", "st"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("rotated intermediate default: serial "),
        "{stdout}"
    );
    assert_eq!(lines[1], "certificate: st/intermediate.pem");
    assert_eq!(lines[2], "key: st/intermediate.key.pem");
    assert_eq!(lines.len(), 6, "{stdout}");

    let (code, stdout, _) = cloud_in(&dir, &["pki", "crl", "--state", "st", "--out", "crl.der"]);
    assert_eq!(code, 0);
    let bytes = std::fs::metadata(dir.join("crl.der")).unwrap().len();
    assert_eq!(stdout, format!("CRL written to crl.der ({bytes} bytes)\n"));

    let (code, stdout, _) = cloud_in(&dir, &["pki", "approve", "--state", "st", "--id", "5"]);
    assert_eq!(
        (code, stdout.as_str()),
        (1, "rejected: no enrollment 5 is waiting for approval\n")
    );
}
