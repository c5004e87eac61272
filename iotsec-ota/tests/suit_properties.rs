//! Properties of the SUIT decoder and verifier: no input makes them panic (arbitrary bytes,
//! bytes behind the envelope tag, and mutated real manifests, which reach the command-sequence
//! analysis), and no single-byte change to a signed envelope verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::signer::{Es256Key, Signer};
use iotsec_ota::suit::{
    Envelope, EnvelopeBuilder, SeverableMembers, SuitKey, SuitManifest, authenticate_envelope,
};
use proptest::prelude::*;

fn signer() -> Es256Key {
    Es256Key::from_scalar(&[5; 32]).unwrap()
}

/// Parsed once: deriving a P-256 public key is slow in debug builds.
fn key() -> SuitKey {
    static KEY: std::sync::OnceLock<SuitKey> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| SuitKey::parse(signer().algorithm(), &signer().public_key()).unwrap())
}

fn builder() -> EnvelopeBuilder {
    EnvelopeBuilder::for_image([1; 16], [2; 16], &[b"app", b"0"], b"image")
        .sequence_number(9)
        .fetch_from("coap://fw.example/app.bin")
        .invoke()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Envelope::from_cbor(&bytes);
        let _ = SuitManifest::decode(&bytes, &SeverableMembers::default());
        let _ = authenticate_envelope(&bytes, &[key()]);
        let mut tagged = vec![0xd8, 0x6b];
        tagged.extend_from_slice(&bytes);
        let _ = Envelope::from_cbor(&tagged);
        let _ = authenticate_envelope(&tagged, &[key()]);
    }

    /// Mutated manifests go through the whole analysis (no signature in the way).
    #[test]
    fn mutated_manifests_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut manifest = builder().manifest().unwrap();
        for (at, value) in edits {
            let at = at.index(manifest.len());
            manifest[at] = value;
        }
        let _ = SuitManifest::decode(&manifest, &SeverableMembers::default());
    }

}

proptest! {
    // Each case verifies a P-256 signature (slow in debug builds): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_single_byte_change_verifies(at in any::<prop::sample::Index>(), value in any::<u8>()) {
        static SIGNED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let envelope = SIGNED.get_or_init(|| builder().sign(&signer()).unwrap());
        let at = at.index(envelope.len());
        prop_assume!(envelope[at] != value);
        let mut tampered = envelope.clone();
        tampered[at] = value;
        prop_assert!(authenticate_envelope(&tampered, &[key()]).is_err());
    }
}

#[test]
fn the_producer_round_trips() {
    let envelope = builder().sign(&signer()).unwrap();
    let verified = authenticate_envelope(&envelope, &[key()]).unwrap();
    let component = &verified.manifest.components[0];
    assert_eq!(verified.manifest.sequence_number, 9);
    assert_eq!(
        component.id.as_slice(),
        &[b"app".as_slice(), b"0".as_slice()]
    );
    assert_eq!(component.vendor_id, Some([1; 16]));
    assert_eq!(component.class_id, Some([2; 16]));
    assert_eq!(component.images.len(), 1);
    assert_eq!(component.images[0].size, Some(5));
    assert_eq!(
        hex::encode(component.images[0].digest),
        "6105d6cc76af400325e94d588ce511be5bfdbb73b437dc51eca43917d7a43e3d"
    );
}
