//! The attack suite, named after the TUF specification's threat list (§1.5.2): each attack is
//! refused with its own error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use iotsec_ota::image_stream::{ImageError, ImageVerifier};
use iotsec_ota::manifest_builder::ComponentSpec;
use iotsec_ota::signer::{Signer, sign_document};
use iotsec_ota::trust_root::ROOT_CONTENT_TYPE;
use iotsec_ota::verifier::MANIFEST_CONTENT_TYPE;
use iotsec_ota::{Error, Role, TrustRoot, verify};

#[test]
fn a_genuine_release_is_accepted() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = signed(&release());
    let verified = verify(&doc, &root, &state()).unwrap();
    assert_eq!(verified.signers, 2);
    assert_eq!(verified.manifest.version, "2.0.0");
    assert_eq!(verified.manifest.security_counter, 4);
    let component = verified.manifest.component("app").unwrap();
    let mut image = ImageVerifier::new(component);
    image.update(IMAGE).unwrap();
    assert_eq!(image.finish(), Ok(()));
}

#[test]
fn arbitrary_software_tampered_payload_is_a_bad_signature() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let mut doc = signed(&release());
    // Flip a byte of the version text "2.0.0" inside the signed payload.
    let at = doc.windows(5).position(|w| w == b"2.0.0").unwrap();
    doc[at] = b'9';
    assert!(matches!(
        verify(&doc, &root, &state()),
        Err(Error::BadSignature { .. })
    ));
}

#[test]
fn arbitrary_software_signed_by_an_unknown_key() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = release().sign(&[&ed(99)]).unwrap();
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::NoTrustedSignature {
            role: Role::Release,
            untrusted: 1
        })
    );
}

#[test]
fn rollback_attack_lower_security_counter() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = signed(&release().security_counter(2));
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::Rollback {
            stored: 3,
            offered: 2
        })
    );
}

#[test]
fn replay_attack_old_sequence_number() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = signed(&release().sequence_number(10));
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::Replay {
            last: 10,
            offered: 10
        })
    );
}

#[test]
fn indefinite_freeze_attack_expired_manifest() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = signed(&release().expires_at(1_700_000_000));
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::Expired {
            expires_at: 1_700_000_000,
            now: 1_800_000_000
        })
    );
    // Without a trusted clock the device cannot judge expiry and relies on sequence numbers;
    // it has to say so, and the outcome says the expiry was not checked.
    let no_clock = iotsec_ota::DeviceState {
        now: iotsec_ota::TrustedTime::NoTrustedClock,
        ..state()
    };
    let verified = verify(&doc, &root, &no_clock).unwrap();
    assert_eq!(verified.expiry, iotsec_ota::ExpiryCheck::NotChecked);
    let fresh = signed(&release());
    assert_eq!(
        verify(&fresh, &root, &state()).unwrap().expiry,
        iotsec_ota::ExpiryCheck::CheckedAt(1_800_000_000)
    );
    assert_eq!(verified.signers, 2);
    assert_eq!(verified.manifest.version, "2.0.0");
    assert_eq!(verified.manifest.expires_at, Some(1_700_000_000));
}

#[test]
fn mix_and_match_attack_image_of_another_release() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let doc = signed(&release());
    let verified = verify(&doc, &root, &state()).unwrap();
    let other = b"firmware image v1: an older, vulnerable ARM binary!";
    assert_eq!(other.len(), IMAGE.len() + 3);
    let mut image = ImageVerifier::new(verified.manifest.component("app").unwrap());
    image.update(&other[..IMAGE.len()]).unwrap();
    assert_eq!(image.finish(), Err(ImageError::DigestMismatch));
}

#[test]
fn mix_and_match_attack_signature_moved_to_another_payload() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let genuine = signed(&release());
    let other = release()
        .component(ComponentSpec::from_image("modem", b"modem blob"))
        .sign(&[&ed(4), &es(5)])
        .unwrap();
    // Graft the signatures of `genuine` onto the payload of `other`.
    let g = iotsec_ota::cose_sign::CoseSign::from_cbor(&genuine).unwrap();
    let o = iotsec_ota::cose_sign::CoseSign::from_cbor(&other).unwrap();
    let sigs: Vec<(Vec<u8>, Vec<u8>)> = g
        .signatures
        .iter()
        .map(|s| (s.protected.to_vec(), s.signature.to_vec()))
        .collect();
    let grafted = iotsec_ota::cose_sign::assemble(o.body_protected, o.payload, &sigs);
    assert!(matches!(
        verify(&grafted, &root, &state()),
        Err(Error::BadSignature { .. })
    ));
}

#[test]
fn endless_data_attack_oversized_document() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let mut doc = signed(&release());
    doc.resize(4096, 0);
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::DocumentTooLarge {
            size: 4096,
            cap: 2048
        })
    );
}

#[test]
fn endless_data_attack_image_longer_than_signed() {
    let spec = ComponentSpec::from_image("app", IMAGE);
    let mut image = ImageVerifier::with_expectation(spec.digest, spec.size);
    image.update(IMAGE).unwrap();
    assert_eq!(
        image.update(b"x"),
        Err(ImageError::TooLong {
            expected: IMAGE.len() as u64
        })
    );
    assert_eq!(image.update(b""), Err(ImageError::Aborted));
}

#[test]
fn endless_data_attack_image_larger_than_slot() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let mut spec = ComponentSpec::from_image("app", IMAGE);
    spec.size = 2 << 20;
    let doc = signed(
        &iotsec_ota::manifest_builder::ManifestBuilder::new(VENDOR, CLASS, "2.0.0")
            .security_counter(4)
            .sequence_number(11)
            .component(spec),
    );
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::ImageTooLarge {
            size: 2 << 20,
            capacity: 1 << 20
        })
    );
}

#[test]
fn wrong_hardware_vendor_class_and_device() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let mut builder = iotsec_ota::manifest_builder::ManifestBuilder::new([9; 16], CLASS, "2.0.0")
        .security_counter(4)
        .sequence_number(11)
        .component(ComponentSpec::from_image("app", IMAGE));
    assert_eq!(
        verify(&signed(&builder), &root, &state()),
        Err(Error::WrongVendor)
    );
    builder = iotsec_ota::manifest_builder::ManifestBuilder::new(VENDOR, [9; 16], "2.0.0")
        .security_counter(4)
        .sequence_number(11)
        .component(ComponentSpec::from_image("app", IMAGE));
    assert_eq!(
        verify(&signed(&builder), &root, &state()),
        Err(Error::WrongClass)
    );
    let for_others = release().device(b"device-0002").device(b"device-0003");
    assert_eq!(
        verify(&signed(&for_others), &root, &state()),
        Err(Error::WrongDevice)
    );
    let for_us = release().device(b"device-0002").device(DEVICE);
    let doc = signed(&for_us);
    let verified = verify(&doc, &root, &state()).unwrap();
    assert_eq!(verified.signers, 2);
    assert_eq!(verified.manifest.version, "2.0.0");
    assert_eq!(
        verified.manifest.device_ids.as_slice(),
        [b"device-0002".as_slice(), DEVICE]
    );
}

#[test]
fn threshold_with_the_same_key_signing_twice_counts_once() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let key = ed(4);
    let doc = release().sign(&[&key, &key]).unwrap();
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::ThresholdNotMet {
            role: Role::Release,
            needed: 2,
            valid: 1
        })
    );
}

#[test]
fn threshold_with_the_same_public_key_listed_twice_is_refused() {
    // A root lists ed 4's public key under two key ids, hoping it counts twice.
    let (r1, r2, r3) = (ed(1), ed(2), es(3));
    let mut payload = root_payload(1, &[&r1, &r2, &r3], 2, &[&ed(4), &es(5)], 2);
    let mut alias = entry(&ed(4));
    alias.0 = b"alias-of-4".to_vec();
    payload.keys.push(alias);
    payload.release.1 = vec![ed(4).key_id(), b"alias-of-4".to_vec()];
    let doc = sign_root(&payload, &[&r1, &r2]);
    assert!(matches!(
        TrustRoot::from_pinned(&doc),
        Err(Error::DuplicateKey { .. })
    ));
}

#[test]
fn rotated_out_key_signs_nothing_new() {
    let (r1, r2, r3) = (ed(1), ed(2), es(3));
    let (s4, s5, s6, s7) = (ed(4), es(5), ed(6), ed(7));
    let v1_doc = root_v1();
    let v1 = TrustRoot::from_pinned(&v1_doc).unwrap();
    // v2 drops release key ed 4 (compromised) and root key ed 2, adds ed 7 to both.
    let v2_payload = root_payload(2, &[&r1, &r3, &s7], 2, &[&s5, &s6, &s7], 1);
    // Signed by v1's root threshold (r1, r3) and v2's (r1, r3) -- also by s7.
    let v2_doc = sign_root(&v2_payload, &[&r1, &r3, &s7]);
    let v2 = v1.rotate(&v2_doc).unwrap();
    assert_eq!(v2.version(), 2);
    let state_v2 = iotsec_ota::DeviceState {
        trusted_root_version: 2,
        ..state()
    };
    let by_removed = release().sign(&[&s4]).unwrap();
    assert_eq!(
        verify(&by_removed, &v2, &state_v2),
        Err(Error::NoTrustedSignature {
            role: Role::Release,
            untrusted: 1
        })
    );
    // The removed root key cannot drive the next rotation either.
    let v3_payload = root_payload(3, &[&r2, &r3], 1, &[&s4], 1);
    let v3_doc = sign_root(&v3_payload, &[&r2, &r3]);
    assert_eq!(
        v2.rotate(&v3_doc),
        Err(Error::ThresholdNotMet {
            role: Role::Root,
            needed: 2,
            valid: 1
        })
    );
    // The old root is refused once the device stores version 2.
    let doc = signed(&release());
    assert_eq!(
        verify(&doc, &v1, &state_v2),
        Err(Error::RootRollback {
            trusted: 2,
            offered: 1
        })
    );
}

#[test]
fn rotation_needs_both_thresholds_and_the_next_version() {
    let (r1, r2, r3) = (ed(1), ed(2), es(3));
    let (n1, n2) = (ed(11), ed(12));
    let v1_doc = root_v1();
    let v1 = TrustRoot::from_pinned(&v1_doc).unwrap();
    let v2_payload = root_payload(2, &[&n1, &n2], 2, &[&ed(4)], 1);
    // Only the new keys: v1's threshold is not met.
    let only_new = sign_root(&v2_payload, &[&n1, &n2]);
    assert!(matches!(
        v1.rotate(&only_new),
        Err(Error::NoTrustedSignature {
            role: Role::Root,
            ..
        })
    ));
    // Only the old keys: v2's own threshold is not met.
    let only_old = sign_root(&v2_payload, &[&r1, &r2]);
    assert!(matches!(
        v1.rotate(&only_old),
        Err(Error::NoTrustedSignature {
            role: Role::Root,
            ..
        })
    ));
    // Skipping a version is refused.
    let v3_payload = root_payload(3, &[&n1, &n2], 2, &[&ed(4)], 1);
    let skip = sign_root(&v3_payload, &[&r1, &r3, &n1, &n2]);
    assert_eq!(
        v1.rotate(&skip),
        Err(Error::RootVersionNotNext {
            current: 1,
            offered: 3
        })
    );
    let both = sign_root(&v2_payload, &[&r1, &r3, &n1, &n2]);
    assert_eq!(v1.rotate(&both).unwrap().version(), 2);
}

#[test]
fn a_root_is_not_a_manifest_and_a_manifest_is_not_a_root() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    assert_eq!(
        verify(&root_doc, &root, &state()),
        Err(Error::WrongDocumentType {
            expected: MANIFEST_CONTENT_TYPE
        })
    );
    let doc = signed(&release());
    assert_eq!(
        TrustRoot::from_pinned(&doc),
        Err(Error::WrongDocumentType {
            expected: ROOT_CONTENT_TYPE
        })
    );
    // A manifest payload signed as a root is refused by the root schema.
    let payload = release().payload().unwrap();
    let confused = sign_document(ROOT_CONTENT_TYPE, &payload, &[&ed(1), &ed(2)]).unwrap();
    assert!(matches!(
        TrustRoot::from_pinned(&confused),
        Err(Error::Encoding(_))
    ));
}

#[test]
fn outside_the_signed_rollout_cohort() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let seed = b"canary-seed-0001";
    let bucket = iotsec_ota::rollout_cohort::cohort_bucket(seed, DEVICE);
    let outside = signed(&release().rollout(bucket, seed));
    assert_eq!(
        verify(&outside, &root, &state()),
        Err(Error::OutsideCohort {
            bucket,
            basis_points: bucket
        })
    );
    let inside = signed(&release().rollout(bucket + 1, seed));
    let verified = verify(&inside, &root, &state()).unwrap();
    assert_eq!(verified.signers, 2);
    assert_eq!(verified.manifest.version, "2.0.0");
    let gate = verified.manifest.rollout.unwrap();
    assert_eq!(
        (gate.basis_points, gate.seed),
        (bucket + 1, seed.as_slice())
    );
}

#[test]
fn es256_and_ed25519_signers_mix_in_one_threshold() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    for signers in [
        vec![&ed(4) as &dyn iotsec_ota::signer::Signer, &ed(6)],
        vec![&es(5) as &dyn iotsec_ota::signer::Signer, &ed(6)],
    ] {
        let doc = release().sign(&signers).unwrap();
        assert_eq!(verify(&doc, &root, &state()).unwrap().signers, 2);
    }
}

#[test]
fn no_default_to_version_zero() {
    // A root claiming version 0 is malformed: versions start at 1, nothing defaults to 0.
    let (r1, r2, r3) = (ed(1), ed(2), es(3));
    let payload = root_payload(0, &[&r1, &r2, &r3], 2, &[&ed(4)], 1);
    let doc = sign_root(&payload, &[&r1, &r2]);
    assert!(matches!(
        TrustRoot::from_pinned(&doc),
        Err(Error::Encoding(_))
    ));
    // A rotation cannot wrap around or go sideways: v1 -> v1 is refused.
    let v1_doc = root_v1();
    let v1 = TrustRoot::from_pinned(&v1_doc).unwrap();
    assert_eq!(
        v1.rotate(&v1_doc),
        Err(Error::RootVersionNotNext {
            current: 1,
            offered: 1
        })
    );
}

#[test]
fn unreachable_thresholds_are_refused_when_the_root_loads() {
    let (r1, r2) = (ed(1), ed(2));
    let payload = root_payload(1, &[&r1, &r2], 3, &[&ed(4)], 1);
    let doc = sign_root(&payload, &[&r1, &r2]);
    assert_eq!(
        TrustRoot::from_pinned(&doc),
        Err(Error::ThresholdUnreachable {
            role: Role::Root,
            threshold: 3,
            keys: 2
        })
    );
}

#[test]
fn indefinite_freeze_attack_expired_trust_root() {
    let (r1, r2, r3) = (ed(1), ed(2), es(3));
    let mut payload = root_payload(1, &[&r1, &r2, &r3], 2, &[&ed(4), &es(5), &ed(6)], 2);
    payload.expires_at = Some(1_750_000_000);
    let doc = sign_root(&payload, &[&r1, &r2]);
    let root = TrustRoot::from_pinned(&doc).unwrap();
    assert_eq!(root.expires_at(), Some(1_750_000_000));
    assert_eq!(
        verify(&signed(&release()), &root, &state()),
        Err(Error::RootExpired {
            expires_at: 1_750_000_000,
            now: 1_800_000_000
        })
    );
    // A fresh root (the next version) restores service.
    let mut next = root_payload(2, &[&r1, &r2, &r3], 2, &[&ed(4), &es(5), &ed(6)], 2);
    next.expires_at = Some(1_900_000_000);
    let next_doc = sign_root(&next, &[&r1, &r2]);
    let fresh = root.rotate(&next_doc).unwrap();
    assert_eq!(fresh.version(), 2);
    assert_eq!(fresh.expires_at(), Some(1_900_000_000));
    let doc = signed(&release());
    let verified = verify(&doc, &fresh, &state()).unwrap();
    assert_eq!(verified.signers, 2);
    assert_eq!(verified.manifest.version, "2.0.0");
    assert_eq!(verified.manifest.security_counter, 4);
}

#[test]
fn roles_are_separate_root_keys_cannot_sign_releases() {
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    // ed 1 and ed 2 hold the root role (2-of-3) but not the release role.
    let doc = release().sign(&[&ed(1), &ed(2)]).unwrap();
    assert_eq!(
        verify(&doc, &root, &state()),
        Err(Error::NoTrustedSignature {
            role: Role::Release,
            untrusted: 2
        })
    );
    // And release keys cannot rotate the root.
    let (s4, s5, s6) = (ed(4), es(5), ed(6));
    let v2 = root_payload(2, &[&s4, &s6], 2, &[&s4, &s5, &s6], 1);
    let v2_doc = sign_root(&v2, &[&s4, &s5, &s6]);
    assert!(matches!(
        root.rotate(&v2_doc),
        Err(Error::NoTrustedSignature {
            role: Role::Root,
            ..
        })
    ));
}

#[test]
fn limits_are_inclusive_an_image_that_fills_the_slot_and_an_equal_counter_pass() {
    // The refusals above are strict inequalities: an image of exactly the slot's capacity and
    // a release that keeps the stored security counter (a bug fix without a new rollback floor)
    // are accepted; one byte more, or one counter less, is not.
    let root_doc = root_v1();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let with_size = |size: u64, counter: u64| {
        let mut spec = ComponentSpec::from_image("app", IMAGE);
        spec.size = size;
        signed(
            &iotsec_ota::manifest_builder::ManifestBuilder::new(VENDOR, CLASS, "2.0.0")
                .security_counter(counter)
                .sequence_number(11)
                .component(spec),
        )
    };
    let full = with_size(1 << 20, 3);
    let verified = verify(&full, &root, &state()).unwrap();
    assert_eq!(verified.manifest.security_counter, 3);
    assert_eq!(
        verify(&with_size((1 << 20) + 1, 3), &root, &state()),
        Err(Error::ImageTooLarge {
            size: (1 << 20) + 1,
            capacity: 1 << 20
        })
    );
    assert_eq!(
        verify(&with_size(1 << 20, 2), &root, &state()),
        Err(Error::Rollback {
            stored: 3,
            offered: 2
        })
    );
}
