//! `iotsec-cloud pki init|issue|revoke|crl` end to end, checked by `openssl verify -crl_check`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

fn cloud(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap(), s)
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

#[test]
fn init_issue_revoke_crl() {
    if Command::new("openssl").arg("version").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "openssl missing with CI=true"
        );
        eprintln!("SKIPPING: openssl not installed");
        return;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cloud-pki-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state").display().to_string();
    let (code, out) = cloud(&["pki", "init", "--state", &state, "--lifetime-hours", "2"]);
    assert_eq!(code, 0, "{out}");
    let (code, _) = cloud(&["pki", "init", "--state", &state]);
    assert_eq!(code, 2, "second init must refuse to overwrite the CA");
    let (ok, out) = openssl(
        &dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "d.key",
            "-out",
            "d.csr",
            "-subj",
            "/CN=dev-1",
        ],
    );
    assert!(ok, "{out}");
    let (code, out) = cloud(&[
        "pki",
        "issue",
        "--state",
        &state,
        "--csr",
        &dir.join("d.csr").display().to_string(),
        "--out",
        &dir.join("d.pem").display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let serial = json["serial"].as_str().unwrap().to_owned();
    let (_, s) = openssl(&dir, &["x509", "-in", "d.pem", "-noout", "-serial"]);
    assert_eq!(s.trim(), format!("serial={serial}"));
    let (code, out) = cloud(&[
        "pki", "revoke", "--state", &state, "--serial", &serial, "--reason", "1",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, _) = cloud(&["pki", "revoke", "--state", &state, "--serial", "zz"]);
    assert_eq!(code, 2);
    let (code, out) = cloud(&[
        "pki",
        "crl",
        "--state",
        &state,
        "--out",
        &dir.join("crl.pem").display().to_string(),
    ]);
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
    if Command::new("curl").arg("--version").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "curl missing with CI=true"
        );
        eprintln!("SKIPPING: curl not installed");
        return;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cloud-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state").display().to_string();
    assert_eq!(cloud(&["pki", "init", "--state", &state]).0, 0);
    // A free port: bind, read, release.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args([
            "serve",
            "--state",
            &state,
            "--est",
            &format!("127.0.0.1:{port}"),
            "--basic-auth",
            "dev:pw",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/.well-known/est");
    let root = format!("{state}/root.pem");
    let mut ok = false;
    for _ in 0..50 {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--cacert",
                &root,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{url}/cacerts"),
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout) == "200" {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (csr_ok, out) = openssl(
        &dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "c.der",
            "-outform",
            "DER",
            "-subj",
            "/CN=dev-9",
        ],
    );
    assert!(csr_ok, "{out}");
    let (_, _) = openssl(&dir, &["base64", "-in", "c.der", "-out", "c.b64"]);
    let enroll = |auth: &str| {
        let out = Command::new("curl")
            .current_dir(&dir)
            .args([
                "-sS",
                "--cacert",
                &root,
                "-u",
                auth,
                "-H",
                "Content-Type: application/pkcs10",
                "--data-binary",
                "@c.b64",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{url}/simpleenroll"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
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
    if Command::new("openssl").arg("version").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "openssl missing with CI=true"
        );
        eprintln!("SKIPPING: openssl not installed");
        return;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cloud-devid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state").display().to_string();
    let (code, out) = cloud(&[
        "pki",
        "init",
        "--state",
        &state,
        "--devid-hw-type",
        "1.3.6.1.4.1.32473.1.7",
        "--idevid",
    ]);
    assert_eq!(code, 0, "{out}");
    let (ok, out) = openssl(
        &dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "d.key",
            "-out",
            "d.csr",
            "-subj",
            "/CN=d-1/serialNumber=FROM-CSR",
        ],
    );
    assert!(ok, "{out}");
    let csr = dir.join("d.csr").display().to_string();
    let (code, out) = cloud(&["pki", "issue", "--state", &state, "--csr", &csr]);
    assert_eq!(code, 1, "DevID CA issued without a serial: {out}");
    let pem = dir.join("d.pem").display().to_string();
    let (code, out) = cloud(&[
        "pki",
        "issue",
        "--state",
        &state,
        "--csr",
        &csr,
        "--out",
        &pem,
        "--devid-serial",
        "SN-1",
    ]);
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
