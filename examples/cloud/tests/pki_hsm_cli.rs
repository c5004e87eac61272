//! `iotsec-cloud pki init --intermediate NAME --pkcs11-*`: an issuing intermediate whose key is
//! generated in a real PKCS#11 token (SoftHSMv2), certified by the root, and used by later
//! commands through $IOTSEC_PKCS11_PIN or a 0600 file named by $IOTSEC_PKCS11_PIN_FILE; OpenSSL
//! verifies what it signs. A missing or wrong PIN, both PIN sources at once, a PIN file others
//! may read and a token key that is not the certified one are refused (exit 2).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::softhsm::{Hsm, MODULE, new_token_key_args, peers};
use common::{assert_chain_verifies, openssl_csr};

fn init_hsm_intermediate(hsm: &Hsm, name: &str, key: &str) -> (i32, String, String) {
    hsm.cloud(
        Some("1234"),
        &[
            &["pki", "init", "--state", "ca", "--intermediate", name][..],
            &new_token_key_args(key),
        ]
        .concat(),
    )
}

#[test]
fn an_intermediate_key_in_softhsm_issues_certificates_openssl_verifies() {
    if !peers() {
        return;
    }
    let hsm = Hsm::new("issue");
    assert_eq!(hsm.cloud(None, &["pki", "init", "--state", "ca"]).0, 0);
    let (code, out, err) = init_hsm_intermediate(&hsm, "hsm", "int-key");
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
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

    openssl_csr(&hsm.dir, "dev.key", "dev.csr", "/CN=dev-1", &[]);
    // `pki issue` to `out` with, of the PIN variables, only those in `env`.
    let issue_env = |env: &[(&str, &str)], out: &str| {
        hsm.cloud_env(
            env,
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
                out,
            ],
        )
    };
    let issue = |pin: Option<&str>| match pin {
        Some(pin) => issue_env(&[("IOTSEC_PKCS11_PIN", pin)], "dev.pem"),
        None => issue_env(&[], "dev.pem"),
    };
    let (code, _, err) = issue(Some("1234"));
    assert_eq!(code, 0, "{err}");
    std::fs::copy(sub.join("intermediate.pem"), hsm.dir.join("int.pem")).unwrap();
    assert_chain_verifies(&hsm.dir, "ca/root.pem", "int.pem", "dev.pem");

    // No PIN, a wrong PIN: bad input with a one-line reason, nothing issued.
    let (code, _, err) = issue(None);
    assert_eq!(code, 2);
    assert!(err.contains("set IOTSEC_PKCS11_PIN"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let (code, _, err) = issue(Some("9999"));
    assert_eq!(code, 2);
    assert!(err.contains("PKCS#11"), "{err}");

    // The PIN from a 0600 file named by IOTSEC_PKCS11_PIN_FILE, with no PIN in the environment.
    let pin_file = hsm.dir.join("pin");
    std::fs::write(&pin_file, "1234\n").unwrap();
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = pin_file.to_str().unwrap();
    let (code, _, err) = issue_env(&[("IOTSEC_PKCS11_PIN_FILE", file)], "dev2.pem");
    assert_eq!(code, 0, "{err}");
    assert_chain_verifies(&hsm.dir, "ca/root.pem", "int.pem", "dev2.pem");
    std::fs::remove_file(hsm.dir.join("dev2.pem")).unwrap();
    // Both the variable and the file: refused, nothing issued.
    let both = [
        ("IOTSEC_PKCS11_PIN", "1234"),
        ("IOTSEC_PKCS11_PIN_FILE", file),
    ];
    let (code, _, err) = issue_env(&both, "dev2.pem");
    assert_eq!(code, 2);
    assert!(
        err.contains("set either IOTSEC_PKCS11_PIN or IOTSEC_PKCS11_PIN_FILE, not both"),
        "{err}"
    );
    // A PIN file others may read: refused.
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = issue_env(&[("IOTSEC_PKCS11_PIN_FILE", file)], "dev2.pem");
    assert_eq!(code, 2);
    assert!(
        err.contains("mode 644 lets group or others read it"),
        "{err}"
    );
    assert!(!hsm.dir.join("dev2.pem").exists());
}

#[test]
fn a_token_key_that_is_not_the_certified_one_is_refused() {
    if !peers() {
        return;
    }
    let hsm = Hsm::new("swap");
    assert_eq!(hsm.cloud(None, &["pki", "init", "--state", "ca"]).0, 0);
    assert_eq!(init_hsm_intermediate(&hsm, "a", "key-a").0, 0);
    assert_eq!(init_hsm_intermediate(&hsm, "b", "key-b").0, 0);
    // Point intermediate a at b's key: it must not sign under a's certificate.
    let ca_txt = hsm.dir.join("ca/intermediates/a/ca.txt");
    let settings = std::fs::read_to_string(&ca_txt).unwrap();
    std::fs::write(
        &ca_txt,
        settings.replace("pkcs11_key=key-a", "pkcs11_key=key-b"),
    )
    .unwrap();
    let crl = |name: &str| {
        hsm.cloud(
            Some("1234"),
            &[
                "pki",
                "crl",
                "--state",
                "ca",
                "--intermediate",
                name,
                "--out",
                "out.crl",
            ],
        )
    };
    let (code, _, err) = crl("a");
    assert_eq!(code, 2);
    assert!(
        err.contains("the CA key is not the key its intermediate certificate certifies"),
        "{err}"
    );
    assert!(!hsm.dir.join("out.crl").exists());
    // Intermediate b still works.
    let (code, _, err) = crl("b");
    assert_eq!(code, 0, "{err}");
    assert!(hsm.dir.join("out.crl").exists());
}
