//! Properties of the MCUboot reader over arbitrary input: it never panics, never reads outside
//! the source it was given, refuses every single-byte change of a signed image, and its TLV
//! walker stays inside its area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::mcuboot::tlv::TlvWalker;
use iotsec_ota::mcuboot::{
    HashAlgorithm, ImageHeader, ImageSource, ImageSpec, ImageVersion, KeyAlgorithm, Layout,
    TrustedKey, sign_image, verify_image,
};
use iotsec_ota::signer::{Ed25519Key, Signer};
use proptest::prelude::*;

/// A source that fails the test if the verifier reads past its end.
struct Checked<'a> {
    bytes: &'a [u8],
    reads: usize,
}

impl ImageSource for Checked<'_> {
    type Error = ();

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Result<(), ()> {
        let start = offset as usize;
        assert!(
            start + buffer.len() <= self.bytes.len(),
            "read past the source"
        );
        buffer.copy_from_slice(&self.bytes[start..start + buffer.len()]);
        self.reads += 1;
        Ok(())
    }
}

fn key() -> (Ed25519Key, TrustedKey) {
    let signer = Ed25519Key::from_seed(&[42; 32]);
    let trusted = TrustedKey::from_raw(KeyAlgorithm::Ed25519, &signer.public_key()).unwrap();
    (signer, trusted)
}

fn signed(payload: &[u8], counter: Option<u32>, pure: bool) -> Vec<u8> {
    let mut spec = ImageSpec::new(ImageVersion {
        major: 1,
        minor: 0,
        revision: 0,
        build: 0,
    });
    spec.pad_header = true;
    spec.security_counter = counter;
    if pure {
        spec.pure = true;
        spec.hash = HashAlgorithm::Sha512;
    }
    sign_image(payload, &spec, &key().0).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_verify_and_never_read_out_of_bounds(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        slot in any::<bool>(),
    ) {
        let layout = if slot { Layout::Slot } else { Layout::File };
        let mut source = Checked { bytes: &bytes, reads: 0 };
        prop_assert!(verify_image(&mut source, &key().1, layout).is_err());
    }

    #[test]
    fn a_valid_header_with_arbitrary_areas_never_panics(
        image_size in 0u32..64,
        protected in 0u16..80,
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let header = ImageHeader {
            load_address: 0,
            header_size: 32,
            protected_tlv_size: protected,
            image_size,
            flags: 0,
            version: ImageVersion::default(),
        };
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        let mut source = Checked { bytes: &bytes, reads: 0 };
        prop_assert!(verify_image(&mut source, &key().1, Layout::File).is_err());
    }

    #[test]
    fn every_single_byte_change_of_a_signed_image_is_refused(
        payload in proptest::collection::vec(any::<u8>(), 1..300),
        counter in proptest::option::of(any::<u32>()),
        pure in any::<bool>(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..,
    ) {
        let image = signed(&payload, counter, pure);
        let verified = verify_image(&mut image.as_slice(), &key().1, Layout::File).unwrap();
        prop_assert_eq!(verified.security_counter, counter);
        let mut tampered = image.clone();
        tampered[at.index(image.len())] ^= xor;
        let mut source = Checked { bytes: &tampered, reads: 0 };
        prop_assert!(verify_image(&mut source, &key().1, Layout::File).is_err());
    }

    #[test]
    fn the_tlv_walker_stays_inside_its_area(
        area in proptest::collection::vec(any::<u8>(), 4..200),
        declared in 0u16..300,
    ) {
        let mut source = Checked { bytes: &area, reads: 0 };
        let Ok(mut walker) = TlvWalker::new(0, declared) else {
            prop_assert!(declared < 4);
            return Ok(());
        };
        let mut last_end = 4u64;
        for _ in 0..area.len() {
            match walker.next_tlv(&mut source) {
                Ok(Some(tlv)) => {
                    prop_assert_eq!(tlv.offset, last_end);
                    last_end = tlv.value_offset() + u64::from(tlv.len);
                    prop_assert!(last_end <= u64::from(declared));
                }
                Ok(None) => {
                    prop_assert_eq!(last_end, u64::from(declared));
                    break;
                }
                Err(_) => break,
            }
        }
    }

    #[test]
    fn headers_round_trip(
        load_address in any::<u32>(),
        header_size in 32u16..,
        protected_tlv_size in any::<u16>(),
        image_size in any::<u32>(),
        flags in prop::sample::select(vec![0u32, 0x1, 0x10, 0x20, 0x100, 0x131]),
        major in any::<u8>(), minor in any::<u8>(), revision in any::<u16>(), build in any::<u32>(),
    ) {
        let header = ImageHeader {
            load_address, header_size, protected_tlv_size, image_size, flags,
            version: ImageVersion { major, minor, revision, build },
        };
        prop_assert_eq!(ImageHeader::parse(&header.to_bytes()), Ok(header));
    }
}

#[test]
fn versions_order_as_mcuboot_orders_them() {
    let v = |major, minor, revision, build| ImageVersion {
        major,
        minor,
        revision,
        build,
    };
    let ordered = [
        v(0, 0, 0, 0),
        v(0, 0, 0, 9),
        v(0, 0, 1, 0),
        v(0, 1, 0, 0),
        v(1, 0, 0, 0),
        v(1, 0, 300, 0),
        v(255, 255, 65535, u32::MAX),
    ];
    for pair in ordered.windows(2) {
        assert!(
            pair[0].ordinal() < pair[1].ordinal(),
            "{} < {}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(v(1, 2, 3, 4).to_string(), "1.2.3+4");
}

#[test]
fn header_field_refusals_have_their_codes() {
    let good = ImageHeader {
        load_address: 0,
        header_size: 32,
        protected_tlv_size: 0,
        image_size: 0,
        flags: 0,
        version: ImageVersion::default(),
    }
    .to_bytes();
    let with = |at: usize, bytes: &[u8]| {
        let mut h = good;
        h[at..at + bytes.len()].copy_from_slice(bytes);
        ImageHeader::parse(&h).unwrap_err().code()
    };
    assert_eq!(with(0, &[0]), "mcuboot_bad_magic");
    assert_eq!(with(8, &[31, 0]), "mcuboot_header_size");
    assert_eq!(with(28, &[1]), "mcuboot_header_reserved");
    assert_eq!(with(16, &[0x04]), "mcuboot_encrypted");
    assert_eq!(with(16, &[0x08]), "mcuboot_encrypted");
    assert_eq!(with(17, &[0x04]), "mcuboot_unsupported_flags"); // LZMA2
    assert_eq!(with(19, &[0x80]), "mcuboot_unsupported_flags");
}
