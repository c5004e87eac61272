//! CA issuance, revocation and CRLs, checked by OpenSSL (a peer we did not write).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use common::{acme_ca, copy_ca_certs, csr_for, write_pem};
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::CaState;
use iotsec_pki::csr_check::verify_csr;
use iotsec_pki::store::CertStore;
use iotsec_pki::{CsrRequest, DeviceKey, DeviceName, KeyAlgorithm, build_csr};
use peers::{have, openssl, openssl_crl_text, openssl_csr, verify_client, verify_with_crl};
use time::OffsetDateTime;

fn new_ca(name: &str) -> (std::path::PathBuf, CaState) {
    let (dir, state) = acme_ca(name);
    (dir, CaState::open(&state).unwrap())
}

#[test]
fn csr_asking_for_ca_gets_an_end_entity_cert_that_openssl_verifies() {
    if !have("openssl") {
        return;
    }
    let (dir, mut ca) = new_ca("ca-flag");
    // An attacker's CSR: asks for cA=TRUE, keyCertSign, serverAuth and a 100-year life.
    openssl_csr(
        &dir,
        "dev.key",
        "dev.csr",
        "/CN=dev-0001",
        &[
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-addext",
            "subjectAltName=DNS:dev-0001.devices.invalid",
        ],
    );
    let csr = std::fs::read(dir.join("dev.csr")).unwrap();
    let cert = ca.issue_csr(&csr, OffsetDateTime::now_utc()).unwrap();
    write_pem(&dir, "dev.pem", "CERTIFICATE", &cert.der);
    std::fs::write(dir.join("chain.pem"), ca.chain_pem().unwrap()).unwrap();
    copy_ca_certs(ca.dir(), &dir);

    let (ok, text) = openssl(&dir, &["x509", "-in", "dev.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(!text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Digital Signature"), "{text}");
    assert!(!text.contains("Certificate Sign"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(!text.contains("TLS Web Server Authentication"), "{text}");
    assert!(text.contains("URI:http://127.0.0.1/crl.der"), "{text}");
    assert!(text.contains("DNS:dev-0001.devices.invalid"), "{text}");
    assert!(
        text.contains("Subject: CN=dev-0001") || text.contains("Subject: CN = dev-0001"),
        "{text}"
    );

    let (ok, out) = verify_client(&dir, "int.pem", "dev.pem");
    assert!(ok && out.contains("dev.pem: OK"), "{out}");
    // The device cert cannot act as a CA: a cert "issued" by it would not verify. Check with
    // openssl's own CA check too.
    let (_, out) = openssl(
        &dir,
        &[
            "x509",
            "-in",
            "dev.pem",
            "-noout",
            "-ext",
            "basicConstraints",
        ],
    );
    assert!(out.contains("CA:FALSE"), "{out}");

    // Revoke and check with a CRL: openssl must now reject the certificate.
    assert!(
        ca.revoke(&cert.serial, 1, OffsetDateTime::now_utc())
            .unwrap()
    );
    assert!(
        !ca.revoke(&cert.serial, 1, OffsetDateTime::now_utc())
            .unwrap(),
        "second revoke is a no-op"
    );
    let crl = ca.crl(OffsetDateTime::now_utc()).unwrap();
    write_pem(&dir, "crl.pem", "X509 CRL", &crl);
    let (ok, crl_text) = openssl_crl_text(&dir, "PEM", "crl.pem", "int.pem");
    assert!(ok, "{crl_text}");
    assert!(
        crl_text.contains("verify OK") || crl_text.contains("verify ok"),
        "{crl_text}"
    );
    assert!(crl_text.contains("X509v3 CRL Number"), "{crl_text}");
    assert!(crl_text.contains("Next Update"), "{crl_text}");
    assert!(crl_text.contains("Key Compromise"), "{crl_text}");
    let (ok, out) = verify_with_crl(&dir, "int.pem", "crl.pem", "dev.pem");
    assert!(!ok, "revoked cert verified: {out}");
    assert!(out.contains("certificate revoked"), "{out}");
    assert!(matches!(
        ca.ensure_not_revoked(&cert.serial),
        Err(CaError::Revoked { .. })
    ));
}

#[test]
fn serials_are_random_positive_and_at_least_64_bits() {
    let (_dir, mut ca) = new_ca("serials");
    let csr = csr_for(KeyAlgorithm::P256, 3, "dev-s");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let c = ca.issue_csr(&csr, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(c.serial.len(), 16);
        assert!(
            c.serial[0] & 0x80 == 0 && c.serial[0] != 0,
            "positive and minimal"
        );
        assert!(seen.insert(c.serial.clone()));
    }
    assert_eq!(ca.store.issued_count().unwrap(), 50);
}

#[test]
fn lifetime_comes_from_the_profile() {
    let (_dir, mut ca) = new_ca("lifetime");
    let csr = csr_for(KeyAlgorithm::Ed25519, 4, "dev-l");
    let now = OffsetDateTime::now_utc();
    let c = ca.issue_csr(&csr, now).unwrap();
    assert_eq!((c.not_after - now).whole_seconds(), 3600);
}

#[test]
fn forged_csr_signature_is_refused() {
    let mut csr = csr_for(KeyAlgorithm::P256, 5, "dev-f");
    // Flip a bit inside the subject CN (covered by the signature).
    let pos = csr.windows(5).position(|w| w == b"dev-f").unwrap();
    csr[pos] ^= 0x01;
    assert!(matches!(
        verify_csr(&csr),
        Err(CaError::CsrSignatureInvalid)
    ));
    let mut csr = csr_for(KeyAlgorithm::Ed25519, 5, "dev-f");
    let last = csr.len() - 1;
    csr[last] ^= 0x80;
    assert!(matches!(
        verify_csr(&csr),
        Err(CaError::CsrSignatureInvalid)
    ));
}

#[test]
fn san_outside_the_allow_list_is_refused() {
    let (_dir, mut ca) = new_ca("san");
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[6u8; 32]).unwrap();
    let csr_naming = |names: &[DeviceName<'_>]| {
        let request = CsrRequest {
            common_name: "dev-x",
            device_names: names,
            ..Default::default()
        };
        build_csr(&key, &request).unwrap()
    };
    let csr = csr_naming(&[DeviceName::Dns("bank.example.com")]);
    match ca.issue_csr(&csr, OffsetDateTime::now_utc()) {
        Err(CaError::SanNotAllowed { name }) => assert_eq!(name, "DNS:bank.example.com"),
        other => panic!("{other:?}"),
    }
    let csr = csr_naming(&[DeviceName::Dns("evildevices.invalid")]);
    assert!(matches!(
        ca.issue_csr(&csr, OffsetDateTime::now_utc()),
        Err(CaError::SanNotAllowed { .. })
    ));
    let csr = csr_naming(&[DeviceName::Uri("urn:dev:42")]);
    let issued = ca.issue_csr(&csr, OffsetDateTime::now_utc()).unwrap();
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(&issued.der).unwrap();
    let san = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == "2.5.29.17")
        .map(|e| x509_cert::ext::pkix::SubjectAltName::from_der(e.extn_value.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(
        san.0,
        [
            x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(
                der::asn1::Ia5String::new("urn:dev:42").unwrap()
            )
        ]
    );
    assert_eq!(
        ca.store.issued_count().unwrap(),
        1,
        "refused requests leave no record"
    );
}

#[test]
fn subject_bytes_survive_issuance() {
    let (_dir, mut ca) = new_ca("subject");
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[8u8; 32]).unwrap();
    let names = [DeviceName::Dns("d1.devices.invalid")];
    let csr_der = build_csr(
        &key,
        &CsrRequest {
            common_name: "d1",
            organization: Some("Acme"),
            device_names: &names,
            ..Default::default()
        },
    )
    .unwrap();
    let csr = verify_csr(&csr_der).unwrap();
    let cert = ca.issue_verified(&csr, OffsetDateTime::now_utc()).unwrap();
    use der::{Decode, Encode};
    let parsed = x509_cert::Certificate::from_der(&cert.der).unwrap();
    assert_eq!(
        parsed.tbs_certificate.subject.to_der().unwrap(),
        csr.subject_der
    );
    let san = parsed
        .tbs_certificate
        .extensions
        .unwrap()
        .into_iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.17")
        .unwrap();
    assert_eq!(Some(san.extn_value.as_bytes().to_vec()), csr.san_der);
}

/// The `Signer` seam an HSM plugs into: a signer that lives outside the CA (here a wrapper
/// counting calls around a software key, standing in for a PKCS#11 session) issues
/// certificates and CRLs that OpenSSL verifies against the CA made at init.
#[test]
fn external_signer_issues_verifiable_certificates() {
    use iotsec_pki::authority::Authority;
    use iotsec_pki::profile::IssuanceProfile;
    use iotsec_pki::signer::{Signer, SignerAlgorithm, SoftwareSigner};
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountingHsm {
        inner: SoftwareSigner,
        calls: std::sync::Arc<AtomicUsize>,
    }
    impl Signer for CountingHsm {
        fn algorithm(&self) -> SignerAlgorithm {
            self.inner.algorithm()
        }
        fn public_key(&self) -> &[u8] {
            self.inner.public_key()
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.sign(message)
        }
    }
    if !have("openssl") {
        return;
    }
    let (dir, ca) = new_ca("hsm");
    let key_pem = std::fs::read_to_string(ca.dir().join("intermediate.key.pem")).unwrap();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let hsm = CountingHsm {
        inner: SoftwareSigner::from_pkcs8_pem(&key_pem).unwrap(),
        calls: calls.clone(),
    };
    let authority = Authority::new(
        "Acme",
        Box::new(hsm),
        ca.authority.intermediate_der().to_vec(),
        ca.authority.root_der().to_vec(),
        IssuanceProfile::short_lived("http://127.0.0.1/crl.der"),
    );
    let csr = verify_csr(&csr_for(KeyAlgorithm::P256, 12, "hsm-1")).unwrap();
    let cert = authority.issue(&csr, OffsetDateTime::now_utc()).unwrap();
    let crl = authority
        .sign_crl(
            &[],
            1,
            OffsetDateTime::now_utc(),
            OffsetDateTime::now_utc() + time::Duration::hours(1),
        )
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    write_pem(&dir, "h.pem", "CERTIFICATE", &cert.der);
    write_pem(&dir, "h.crl", "X509 CRL", &crl);
    copy_ca_certs(ca.dir(), &dir);
    let (ok, out) = verify_with_crl(&dir, "int.pem", "h.crl", "h.pem");
    assert!(ok, "{out}");
}
