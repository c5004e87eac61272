//! `verifier::verify_release_signatures`: the signature half of `verify`, for a party without
//! device state (`iotsec-cloud ota verify` without `--state`). It refuses what is not a release
//! signed by the threshold, and checks nothing about a device.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use iotsec_ota::verifier::{MANIFEST_CONTENT_TYPE, verify_release_signatures};
use iotsec_ota::{Error, Role, TrustRoot, verify};

#[test]
fn a_genuine_release_gives_the_manifest_verify_gives() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = signed(&release());
    let (manifest, signers) = verify_release_signatures(&doc, &root).unwrap();
    let verified = verify(&doc, &root, &state()).unwrap();
    assert_eq!(signers, 2);
    assert_eq!(signers, verified.signers);
    assert_eq!(manifest.version, "2.0.0");
    assert_eq!(
        (manifest.security_counter, manifest.sequence_number),
        (
            verified.manifest.security_counter,
            verified.manifest.sequence_number
        )
    );
}

#[test]
fn a_tampered_payload_an_unknown_key_and_a_short_threshold_are_refused() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let mut doc = signed(&release());
    let at = doc.windows(5).position(|w| w == b"2.0.0").unwrap();
    doc[at] = b'9';
    assert!(matches!(
        verify_release_signatures(&doc, &root),
        Err(Error::BadSignature { .. })
    ));
    let stranger = release().sign(&[&ed(99)]).unwrap();
    assert_eq!(
        verify_release_signatures(&stranger, &root).map(|(_, n)| n),
        Err(Error::NoTrustedSignature {
            role: Role::Release,
            untrusted: 1
        })
    );
}

#[test]
fn another_document_type_is_refused_even_when_signed() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    // The trust root is a validly signed document, but not a manifest.
    assert_eq!(
        verify_release_signatures(&root_doc, &root).map(|(_, n)| n),
        Err(Error::WrongDocumentType {
            expected: MANIFEST_CONTENT_TYPE
        })
    );
}

#[test]
fn device_rules_are_not_its_to_check() {
    // A counter below the device's stored one: verify refuses it as a rollback; the signature
    // check alone has no device to compare with and accepts the signatures.
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = signed(&release().security_counter(2));
    assert!(matches!(
        verify(&doc, &root, &state()),
        Err(Error::Rollback { .. })
    ));
    assert_eq!(
        verify_release_signatures(&doc, &root)
            .unwrap()
            .0
            .security_counter,
        2
    );
}
