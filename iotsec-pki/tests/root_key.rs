//! Where the root key is (`root_key`), the check that only the certified root key signs new
//! intermediates, the RFC 4514 subject of an issued certificate, and a device key's raw public
//! key (RFC 6979 / RFC 8032 test keys). The token side runs against SoftHSMv2 in
//! `examples/cloud/tests/pki_hsm_root_cli.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::path::{Path, PathBuf};

use common::acme_ca;
use der::Decode;
use iotsec_pki::ca_state::{
    CaState, NewCaKey, add_intermediate, add_intermediate_signed_by, read_pem,
};
use iotsec_pki::root_key::{ROOT_KEY_FILE, RootKey};
use iotsec_pki::signer::{Signer, SoftwareSigner};
use iotsec_pki::token_key::{CaRole, TokenKey};
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use time::OffsetDateTime;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn spki_bits(key: &DeviceKey) -> Vec<u8> {
    let der = key.public_key_der().unwrap();
    spki::SubjectPublicKeyInfoRef::from_der(&der)
        .unwrap()
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

#[test]
fn raw_public_key_is_the_sec1_point_or_the_ed25519_key() {
    // RFC 6979 §A.2.5: the P-256 key x and its public point (Ux, Uy).
    let x: [u8; 32] = unhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
        .try_into()
        .unwrap();
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &x).unwrap();
    let expected = unhex(concat!(
        "04",
        "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
        "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
    ));
    assert_eq!(key.raw_public_key(), expected);
    assert_eq!(key.raw_public_key(), spki_bits(&key));

    // RFC 8032 §7.1 TEST 1.
    let seed: [u8; 32] = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        .try_into()
        .unwrap();
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::Ed25519, &seed).unwrap();
    let expected = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assert_eq!(key.raw_public_key(), expected);
    assert_eq!(key.raw_public_key(), spki_bits(&key));
}

#[test]
fn an_issued_certificate_names_its_subject_in_rfc4514() {
    let (_dir, state) = acme_ca("root-key-subject");
    let mut ca = CaState::open(&state).unwrap();
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[5; 32]).unwrap();
    let csr = build_csr(
        &key,
        &CsrRequest {
            common_name: "dev-1",
            organization: Some("Acme, Inc."),
            ..Default::default()
        },
    )
    .unwrap();
    let issued = ca.issue_csr(&csr, OffsetDateTime::now_utc()).unwrap();
    // RFC 4514 §2.1: last RDN first; §2.4: the comma escaped.
    assert_eq!(issued.subject, r"CN=dev-1,O=Acme\, Inc.");
}

#[test]
fn ca_txt_names_the_root_key_as_a_file_or_a_token() {
    let dir = Path::new("/srv/ca");
    let file = RootKey::File(dir.join(ROOT_KEY_FILE));
    let base = "organization=Acme\ncrl_url=http://x/crl.der\nlifetime_secs=3600\n";
    assert_eq!(RootKey::from_settings(dir, base).unwrap(), file);
    let token = TokenKey {
        module: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
        token: "root".into(),
        key_label: "root-key".into(),
    };
    // An intermediate's token lines do not name the root key, and the other way round.
    let with_int = format!("{base}{}", token.to_settings());
    assert_eq!(RootKey::from_settings(dir, &with_int).unwrap(), file);
    let with_root = format!("{base}{}", token.to_settings_for(CaRole::Root));
    assert_eq!(
        with_root,
        format!(
            "{base}root_pkcs11_module=/usr/lib/softhsm/libsofthsm2.so\nroot_pkcs11_token=root\n\
             root_pkcs11_key=root-key\n"
        )
    );
    assert_eq!(
        RootKey::from_settings(dir, &with_root).unwrap(),
        RootKey::Token(token.clone())
    );
    assert_eq!(TokenKey::from_settings(&with_root).unwrap(), None);
    // Incomplete root lines are an error, not a silent fall back to the file.
    let partial = format!("{base}root_pkcs11_module=/m.so\nroot_pkcs11_key=k\n");
    let err = RootKey::from_settings(dir, &partial)
        .unwrap_err()
        .to_string();
    assert!(err.contains("root_pkcs11_token"), "{err}");
    // A token root without a PIN names the variable to set (no module is loaded).
    let err = RootKey::Token(token).open(None).err().unwrap().to_string();
    assert_eq!(
        err,
        "CA state: the root key is in PKCS#11 token \"root\": set IOTSEC_PKCS11_ROOT_PIN to its \
         user PIN (or IOTSEC_PKCS11_ROOT_PIN_FILE to a file holding it)"
    );
}

#[test]
fn only_the_certified_root_key_adds_intermediates() {
    let (_dir, state) = acme_ca("root-key-certified");
    let now = OffsetDateTime::now_utc();
    let url = "http://127.0.0.1/crl/b.der";
    // Another key, even a valid P-256 one, is not the root.
    let stranger = SoftwareSigner::generate_p256().unwrap();
    let err = add_intermediate_signed_by(&state, "b", url, now, NewCaKey::Software, &stranger)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "CA state: the CA key is not the key its root certificate certifies"
    );
    assert!(!state.join("intermediates/b").exists());
    // The root key file, swapped for another key: refused the same way.
    let key_file = state.join(ROOT_KEY_FILE);
    let original = std::fs::read_to_string(&key_file).unwrap();
    std::fs::write(&key_file, stranger.to_pkcs8_pem().unwrap().as_str()).unwrap();
    let err = add_intermediate(&state, "b", url, now)
        .unwrap_err()
        .to_string();
    assert!(err.contains("root certificate certifies"), "{err}");
    // Taken offline: refused, naming the file.
    std::fs::remove_file(&key_file).unwrap();
    let err = add_intermediate(&state, "b", url, now)
        .unwrap_err()
        .to_string();
    assert!(err.contains("offline/root.key.pem is not at hand"), "{err}");
    assert!(!state.join("intermediates/b").exists());
    // Back: the certified key signs, and the new intermediate chains to the root.
    std::fs::write(&key_file, &original).unwrap();
    let root = SoftwareSigner::from_pkcs8_pem(&original).unwrap();
    let sub = add_intermediate_signed_by(&state, "b", url, now, NewCaKey::Software, &root).unwrap();
    let int_der = read_pem(&sub.join("intermediate.pem"), "CERTIFICATE").unwrap();
    let int = x509_cert::Certificate::from_der(&int_der).unwrap();
    let root_der = read_pem(&state.join("root.pem"), "CERTIFICATE").unwrap();
    let root_cert = x509_cert::Certificate::from_der(&root_der).unwrap();
    assert_eq!(
        int.tbs_certificate.issuer,
        root_cert.tbs_certificate.subject
    );
    assert_eq!(
        root_cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
        root.public_key()
    );
    assert!(CaState::open(&sub).is_ok());
}
