//! The intermediate CA key inside a PKCS#11 token (SoftHSMv2, a peer we did not write): the key
//! is generated in the token, certified by the root, and signs a device certificate and a CRL
//! that OpenSSL verifies.
//!
//! SoftHSM reads its configuration from `SOFTHSM2_CONF` when the module initializes, and
//! setting the environment of the running test process needs `unsafe` (edition 2024), which the
//! workspace forbids; so the outer test runs the token work in a child process of this test
//! binary (`--ignored --exact hsm_child`) with its own `SOFTHSM2_CONF`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{init_acme, write_pem};
use iotsec_pki::authority::{Authority, RevokedEntry, certify_intermediate};
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::read_pem;
use iotsec_pki::csr_check::verify_csr;
use iotsec_pki::pkcs11_signer::Pkcs11Signer;
use iotsec_pki::profile::IssuanceProfile;
use iotsec_pki::signer::{Signer, SoftwareSigner};
use peers::{have, openssl_crl_text, openssl_csr, run, scratch, verify_client, verify_with_crl};
use time::OffsetDateTime;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[test]
fn softhsm_key_signs_certificates_and_crls_that_openssl_verifies() {
    if !have("softhsm2-util") || !have("openssl") {
        return;
    }
    if !Path::new(MODULE).exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{MODULE} missing with CI=true"
        );
        eprintln!("SKIPPING: {MODULE} missing");
        return;
    }
    let dir = scratch("pkcs11-softhsm");
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
    let (ok, out) = run(Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            "iotsec",
            "--pin",
            "1234",
            "--so-pin",
            "5678",
        ]));
    assert!(ok, "{out}");
    let (ok, out) = run(Command::new(std::env::current_exe().unwrap())
        .env("SOFTHSM2_CONF", &conf)
        .env("IOTSEC_HSM_DIR", &dir)
        .args(["--ignored", "--exact", "hsm_child", "--nocapture"]));
    assert!(ok && out.contains("1 passed"), "{out}");

    // OpenSSL: the device certificate chains through the HSM-held intermediate, and the CRL the
    // HSM signed revokes it.
    let (ok, out) = verify_client(&dir, "int.pem", "dev.pem");
    assert!(ok && out.contains("dev.pem: OK"), "{out}");
    let (ok, text) = openssl_crl_text(&dir, "PEM", "crl.pem", "int.pem");
    assert!(
        ok && text.to_ascii_lowercase().contains("verify ok"),
        "{text}"
    );
    let (ok, out) = verify_with_crl(&dir, "int.pem", "crl.pem", "dev.pem");
    assert!(!ok && out.contains("certificate revoked"), "{out}");
}

/// Run only by the test above, in a child process with `SOFTHSM2_CONF` set.
#[test]
#[ignore = "run by softhsm_key_signs_certificates_and_crls_that_openssl_verifies"]
fn hsm_child() {
    let dir = PathBuf::from(std::env::var("IOTSEC_HSM_DIR").expect("run by the parent test"));
    let module = Path::new(MODULE);
    let now = OffsetDateTime::now_utc();

    // A wrong PIN is a typed signer error, not a panic.
    assert!(matches!(
        Pkcs11Signer::open(module, "iotsec", "0000", "int"),
        Err(CaError::Signer(_))
    ));
    let generated = Pkcs11Signer::generate_p256(module, "iotsec", "1234", "int").unwrap();
    let generated_pub = generated.public_key().to_vec();
    drop(generated);
    // Found again by label in a new session: the same public key.
    let hsm = Pkcs11Signer::open(module, "iotsec", "1234", "int").unwrap();
    assert_eq!(hsm.public_key(), generated_pub.as_slice());
    assert!(matches!(
        Pkcs11Signer::open(module, "iotsec", "1234", "no-such-key"),
        Err(CaError::Signer(_))
    ));

    // A software root certifies the HSM key as the issuing intermediate.
    let state = dir.join("state");
    init_acme(&state, now);
    let root_der = read_pem(&state.join("root.pem"), "CERTIFICATE").unwrap();
    let root_key = SoftwareSigner::from_pkcs8_pem(
        &std::fs::read_to_string(state.join("offline/root.key.pem")).unwrap(),
    )
    .unwrap();
    let int_der = certify_intermediate("Acme", "hsm", &root_der, &root_key, &hsm, now).unwrap();
    let ca = Authority::new(
        "Acme",
        Box::new(hsm),
        int_der.clone(),
        root_der.clone(),
        IssuanceProfile::short_lived("http://127.0.0.1/crl.der"),
    );

    openssl_csr(&dir, "dev.key", "dev.csr", "/CN=dev-hsm", &[]);
    let csr = verify_csr(&std::fs::read(dir.join("dev.csr")).unwrap()).unwrap();
    let cert = ca.issue(&csr, now).unwrap();
    let crl = ca
        .sign_crl(
            &[RevokedEntry {
                serial: cert.serial.clone(),
                revoked_at: now,
                reason: 1,
            }],
            1,
            now,
            now + time::Duration::hours(24),
        )
        .unwrap();
    for (name, label, der) in [
        ("root.pem", "CERTIFICATE", &root_der),
        ("int.pem", "CERTIFICATE", &int_der),
        ("dev.pem", "CERTIFICATE", &cert.der),
        ("crl.pem", "X509 CRL", &crl),
    ] {
        write_pem(&dir, name, label, der);
    }
}
