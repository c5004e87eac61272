//! Real peers (OpenSSL, curl, strongSwan pki, pkilint) used by the integration tests.
//! On a developer machine a missing peer skips the test loudly; with `CI=true` it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
        let (ok, out) = run(Command::new("openssl").current_dir(&dir).args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{n}.key"),
            "-out",
            &format!("{n}.pem"),
            "-subj",
            &format!("/CN={n}"),
            "-days",
            "1",
        ]));
        assert!(ok, "{out}");
    }
    let (ok, out) = run(Command::new("openssl").current_dir(&dir).args([
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "a.pem",
        "-certfile",
        "b.pem",
        "-outform",
        "DER",
        "-out",
        "p7.der",
    ]));
    assert!(ok, "{out}");
    let (ok, out) = run(Command::new("openssl").current_dir(&dir).args([
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "a.pem",
        "-certfile",
        "b.pem",
        "-out",
        "p7.pem",
    ]));
    assert!(ok, "{out}");
    std::fs::write(dir.join("msg.txt"), b"hello").unwrap();
    let (ok, out) = run(Command::new("openssl").current_dir(&dir).args([
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
    ]));
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
    let (ok, out) = run(Command::new("openssl").current_dir(&dir).args([
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        "in.der",
        "-print_certs",
        "-noout",
    ]));
    assert!(ok, "{out}");
    assert!(out.contains("subject="), "{out}");
}

/// Writes bytes to a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}
