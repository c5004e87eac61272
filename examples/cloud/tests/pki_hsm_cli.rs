//! `iotsec-cloud pki init --intermediate NAME --pkcs11-*`: an issuing intermediate whose key is
//! generated in a real PKCS#11 token (SoftHSMv2), certified by the root, and used by later
//! commands through $IOTSEC_PKCS11_PIN; OpenSSL verifies what it signs. A missing or wrong PIN
//! and a token key that is not the certified one are refused (exit 2).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Whether softhsm2 and openssl are here; with CI=true their absence fails the test.
fn peers() -> bool {
    let missing: Vec<&str> = ["softhsm2-util", "openssl"]
        .into_iter()
        .filter(|p| Command::new(p).arg("--version").output().is_err())
        .chain((!Path::new(MODULE).exists()).then_some(MODULE))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI=true and {missing:?} missing (apt-get install softhsm2 openssl)"
    );
    eprintln!("\n*** SKIPPING pki_hsm_cli: {missing:?} not installed ***\n");
    false
}

struct Hsm {
    dir: PathBuf,
    conf: PathBuf,
}

impl Hsm {
    /// A scratch directory with its own SoftHSM token "iotsec" (user PIN 1234).
    fn new(test: &str) -> Hsm {
        let dir = std::env::temp_dir().join(format!("iotsec-hsm-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tokens")).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .unwrap();
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", "iotsec"])
            .args(["--pin", "1234", "--so-pin", "5678"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Hsm { dir, conf }
    }

    /// `iotsec-cloud --format json ARGS` with this token's configuration and `pin`.
    fn cloud(&self, pin: Option<&str>, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"));
        c.current_dir(&self.dir)
            .env("SOFTHSM2_CONF", &self.conf)
            .env_remove("IOTSEC_PKCS11_PIN")
            .args(["--format", "json"])
            .args(args);
        if let Some(pin) = pin {
            c.env("IOTSEC_PKCS11_PIN", pin);
        }
        c.output().unwrap()
    }

    fn openssl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("openssl")
            .current_dir(&self.dir)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn init_hsm_intermediate(hsm: &Hsm, name: &str, key: &str) -> Output {
    hsm.cloud(
        Some("1234"),
        &[
            "pki",
            "init",
            "--state",
            "ca",
            "--intermediate",
            name,
            "--pkcs11-module",
            MODULE,
            "--pkcs11-token",
            "iotsec",
            "--pkcs11-key",
            key,
            "--pkcs11-generate",
        ],
    )
}

#[test]
fn an_intermediate_key_in_softhsm_issues_certificates_openssl_verifies() {
    if !peers() {
        return;
    }
    let hsm = Hsm::new("issue");
    assert_eq!(code(&hsm.cloud(None, &["pki", "init", "--state", "ca"])), 0);
    let out = init_hsm_intermediate(&hsm, "hsm", "int-key");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key"], r#"PKCS#11 token "iotsec", key "int-key""#);
    let sub = hsm.dir.join("ca/intermediates/hsm");
    assert!(
        !sub.join("intermediate.key.pem").exists(),
        "no key file when the key is in the token"
    );
    let settings = std::fs::read_to_string(sub.join("ca.txt")).unwrap();
    assert!(
        settings.ends_with(&format!(
            "pkcs11_module={MODULE}\npkcs11_token=iotsec\npkcs11_key=int-key\n"
        )),
        "{settings}"
    );

    let (ok, out) = hsm.openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "dev.key",
        "-out",
        "dev.csr",
        "-subj",
        "/CN=dev-1",
    ]);
    assert!(ok, "{out}");
    let issue = |pin: Option<&str>| {
        hsm.cloud(
            pin,
            &[
                "pki",
                "issue",
                "--state",
                "ca",
                "--intermediate",
                "hsm",
                "--csr",
                "dev.csr",
                "--out",
                "dev.pem",
            ],
        )
    };
    let out = issue(Some("1234"));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::copy(sub.join("intermediate.pem"), hsm.dir.join("int.pem")).unwrap();
    let (ok, out) = hsm.openssl(&[
        "verify",
        "-CAfile",
        "ca/root.pem",
        "-untrusted",
        "int.pem",
        "-purpose",
        "sslclient",
        "dev.pem",
    ]);
    assert!(ok && out.contains("dev.pem: OK"), "{out}");

    // No PIN, a wrong PIN: bad input with a one-line reason, nothing issued.
    let out = issue(None);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set IOTSEC_PKCS11_PIN"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let out = issue(Some("9999"));
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PKCS#11"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_token_key_that_is_not_the_certified_one_is_refused() {
    if !peers() {
        return;
    }
    let hsm = Hsm::new("swap");
    assert_eq!(code(&hsm.cloud(None, &["pki", "init", "--state", "ca"])), 0);
    assert_eq!(code(&init_hsm_intermediate(&hsm, "a", "key-a")), 0);
    assert_eq!(code(&init_hsm_intermediate(&hsm, "b", "key-b")), 0);
    // Point intermediate a at b's key: it must not sign under a's certificate.
    let ca_txt = hsm.dir.join("ca/intermediates/a/ca.txt");
    let settings = std::fs::read_to_string(&ca_txt).unwrap();
    std::fs::write(
        &ca_txt,
        settings.replace("pkcs11_key=key-a", "pkcs11_key=key-b"),
    )
    .unwrap();
    let out = hsm.cloud(
        Some("1234"),
        &[
            "pki",
            "crl",
            "--state",
            "ca",
            "--intermediate",
            "a",
            "--out",
            "a.crl",
        ],
    );
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the CA key is not the key its intermediate certificate certifies"),
        "{err}"
    );
    assert!(!hsm.dir.join("a.crl").exists());
    // Intermediate b still works.
    let out = hsm.cloud(
        Some("1234"),
        &[
            "pki",
            "crl",
            "--state",
            "ca",
            "--intermediate",
            "b",
            "--out",
            "b.crl",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}
