//! Real peers (OpenSSL, curl, strongSwan pki, pkilint) used by the integration tests.
//! On a developer machine a missing peer skips the test loudly; with `CI=true` it fails.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Returns true if `program` runs; otherwise skips (developer machine) or panics (CI).
pub fn have(program: &str) -> bool {
    let ok = Command::new(program)
        .arg(if program == "openssl" {
            "version"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("real peer `{program}` is missing and CI=true");
        }
        eprintln!("SKIPPING: real peer `{program}` is not installed");
    }
    ok
}

/// A scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command, returns (status ok, stdout+stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// `openssl req -verify -text` on a DER CSR.
pub fn openssl_req_text(der: &[u8]) -> Option<String> {
    if !have("openssl") {
        return None;
    }
    let mut child = Command::new("openssl")
        .args(["req", "-inform", "DER", "-noout", "-text", "-verify"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(der).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    Some(s)
}

/// A certs-only PKCS#7 made by OpenSSL from two self-signed certificates, and a signed CMS.
pub struct CertsOnlyFixture {
    pub pkcs7_der: Vec<u8>,
    pub pkcs7_pem: String,
    pub signed_cms_der: Vec<u8>,
}

pub fn openssl_certs_only_fixture() -> Option<CertsOnlyFixture> {
    if !have("openssl") {
        return None;
    }
    let dir = scratch("certs-only");
    for n in ["a", "b"] {
        openssl_self_signed(&dir, n);
    }
    for (out, der) in [("p7.der", true), ("p7.pem", false)] {
        let mut args = vec![
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "a.pem",
            "-certfile",
            "b.pem",
        ];
        if der {
            args.extend(["-outform", "DER"]);
        }
        args.extend(["-out", out]);
        let (ok, o) = openssl(&dir, &args);
        assert!(ok, "{o}");
    }
    std::fs::write(dir.join("msg.txt"), b"hello").unwrap();
    let (ok, out) = openssl(
        &dir,
        &[
            "cms",
            "-sign",
            "-in",
            "msg.txt",
            "-signer",
            "a.pem",
            "-inkey",
            "a.key",
            "-outform",
            "DER",
            "-out",
            "signed.der",
            "-nodetach",
        ],
    );
    assert!(ok, "{out}");
    Some(CertsOnlyFixture {
        pkcs7_der: std::fs::read(dir.join("p7.der")).unwrap(),
        pkcs7_pem: std::fs::read_to_string(dir.join("p7.pem")).unwrap(),
        signed_cms_der: std::fs::read(dir.join("signed.der")).unwrap(),
    })
}

/// Asserts that `openssl pkcs7 -print_certs` reads a DER certs-only message.
pub fn openssl_reads_pkcs7(der: &[u8]) {
    let dir = scratch("reads-p7");
    std::fs::write(dir.join("in.der"), der).unwrap();
    let (ok, out) = openssl(
        &dir,
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            "in.der",
            "-print_certs",
            "-noout",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("subject="), "{out}");
}

/// Writes bytes to a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `openssl` with `args`, run in `dir`; returns (status ok, stdout+stderr).
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    run(Command::new("openssl").current_dir(dir).args(args))
}

/// `openssl req` with a fresh P-256 key (no passphrase) written to `key` in `dir`; `args` follow.
fn openssl_req_new_key(dir: &Path, mode: &str, key: &str, args: &[&str]) {
    let mut all = vec![
        "req",
        mode,
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
    ];
    all.extend_from_slice(args);
    let (ok, out) = openssl(dir, &all);
    assert!(ok, "{out}");
}

/// `openssl req -new` with a fresh P-256 key: writes the key to `key` and a DER CSR to `csr`
/// (both in `dir`); `extra` is added to the command.
pub fn openssl_csr(dir: &Path, key: &str, csr: &str, subj: &str, extra: &[&str]) {
    let mut args = vec!["-out", csr, "-outform", "DER", "-subj", subj];
    args.extend_from_slice(extra);
    openssl_req_new_key(dir, "-new", key, &args);
}

/// A self-signed P-256 certificate `{name}.pem` with its key `{name}.key`, subject `CN={name}`.
pub fn openssl_self_signed(dir: &Path, name: &str) {
    let (pem, subj) = (format!("{name}.pem"), format!("/CN={name}"));
    let args = ["-out", &pem, "-subj", &subj, "-days", "1"];
    openssl_req_new_key(dir, "-x509", &format!("{name}.key"), &args);
}

/// `openssl verify` of `cert` against `root.pem` with `int` as the untrusted intermediate;
/// `extra` is added before the certificate.
pub fn openssl_verify(dir: &Path, int: &str, extra: &[&str], cert: &str) -> (bool, String) {
    let mut args = vec!["verify", "-CAfile", "root.pem", "-untrusted", int];
    args.extend_from_slice(extra);
    args.push(cert);
    openssl(dir, &args)
}

/// `openssl verify -purpose sslclient`: `cert` chains to `root.pem` through `int`.
pub fn verify_client(dir: &Path, int: &str, cert: &str) -> (bool, String) {
    openssl_verify(dir, int, &["-purpose", "sslclient"], cert)
}

/// `openssl verify -crl_check` of `cert` with the PEM CRL `crl`.
pub fn verify_with_crl(dir: &Path, int: &str, crl: &str, cert: &str) -> (bool, String) {
    openssl_verify(dir, int, &["-crl_check", "-CRLfile", crl], cert)
}

/// `openssl crl -text` of `file` (`inform` DER or PEM), its signature checked against `int`.
pub fn openssl_crl_text(dir: &Path, inform: &str, file: &str, int: &str) -> (bool, String) {
    openssl(
        dir,
        &[
            "crl", "-inform", inform, "-in", file, "-noout", "-text", "-CAfile", int,
        ],
    )
}

/// The serial number of the PEM certificate `pem`, read by `openssl x509 -serial`.
pub fn openssl_serial(dir: &Path, pem: &str) -> Vec<u8> {
    let (_, serial) = openssl(dir, &["x509", "-in", pem, "-noout", "-serial"]);
    let serial = serial.trim().strip_prefix("serial=").unwrap().to_owned();
    (0..serial.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&serial[i..i + 2], 16).unwrap())
        .collect()
}
