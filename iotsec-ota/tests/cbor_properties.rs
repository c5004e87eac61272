//! Property tests for the deterministic CBOR layer (RFC 8949 §4.2.1): decoding never panics,
//! encode/decode round-trips, and every re-encoding the canonical rules forbid is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::canonical_cbor::CborError;
use iotsec_ota::cose_sign::CoseSign;
use iotsec_ota::manifest::{Component, Manifest, RolloutGate};
use iotsec_ota::trust_root::TrustRoot;
use proptest::prelude::*;

fn owned_manifest() -> impl Strategy<Value = OwnedManifest> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..=32), 0..=16),
        proptest::collection::vec(
            (
                any::<[u8; 32]>(),
                any::<u64>(),
                proptest::option::of(any::<[u8; 32]>()),
            ),
            1..=4,
        ),
        any::<u64>(),
        any::<u64>(),
        (
            0u32..1000,
            0u32..1000,
            0u32..100_000,
            proptest::option::of("[a-z]{1,8}"),
        ),
        proptest::option::of(any::<u64>()),
        proptest::option::of((
            1u16..=10_000,
            proptest::collection::vec(any::<u8>(), 8..=32),
        )),
    )
        .prop_map(
            |(vendor, class, devices, components, counter, sequence, v, expiry, rollout)| {
                let version = match v.3 {
                    Some(pre) => format!("{}.{}.{}-{}", v.0, v.1, v.2, pre),
                    None => format!("{}.{}.{}", v.0, v.1, v.2),
                };
                OwnedManifest {
                    vendor,
                    class,
                    devices,
                    components,
                    counter,
                    sequence,
                    version,
                    expiry,
                    rollout,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct OwnedManifest {
    vendor: [u8; 16],
    class: [u8; 16],
    devices: Vec<Vec<u8>>,
    components: Vec<([u8; 32], u64, Option<[u8; 32]>)>,
    counter: u64,
    sequence: u64,
    version: String,
    expiry: Option<u64>,
    rollout: Option<(u16, Vec<u8>)>,
}

const IDS: [&str; 4] = ["app", "bootloader", "modem", "radio-config"];

impl OwnedManifest {
    fn view(&self) -> Manifest<'_> {
        let mut device_ids = heapless::Vec::new();
        for id in &self.devices {
            device_ids.push(id.as_slice()).unwrap();
        }
        let mut components = heapless::Vec::new();
        for (i, (digest, size, base)) in self.components.iter().enumerate() {
            components
                .push(Component {
                    id: IDS[i],
                    digest: *digest,
                    size: *size,
                    delta_base: *base,
                })
                .unwrap();
        }
        Manifest {
            vendor_id: self.vendor,
            class_id: self.class,
            device_ids,
            components,
            security_counter: self.counter,
            sequence_number: self.sequence,
            version: &self.version,
            expires_at: self.expiry,
            rollout: self.rollout.as_ref().map(|(bps, seed)| RolloutGate {
                basis_points: *bps,
                seed,
            }),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn manifest_round_trips(m in owned_manifest()) {
        let view = m.view();
        let bytes = view.to_cbor();
        let decoded = Manifest::from_cbor(&bytes).unwrap();
        prop_assert_eq!(&decoded, &view);
        // Deterministic: re-encoding the decoded value gives the same bytes.
        prop_assert_eq!(decoded.to_cbor(), bytes.clone());
    }

    #[test]
    fn manifest_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Manifest::from_cbor(&bytes);
        let _ = CoseSign::from_cbor(&bytes);
        let _ = TrustRoot::from_pinned(&bytes);
    }

    #[test]
    fn mutated_manifests_never_panic_and_never_decode_to_a_different_encoding(
        m in owned_manifest(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = m.view().to_cbor();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        // Whatever decodes must be canonical: re-encoding yields the very same bytes.
        if let Ok(decoded) = Manifest::from_cbor(&bytes) {
            prop_assert_eq!(decoded.to_cbor(), bytes.clone());
        }
    }

    /// The non-vacuous half of the test above: a byte changed inside the first component's
    /// digest (a bstr, any value is valid) always decodes, to that very digest, canonically.
    #[test]
    fn a_mutated_digest_byte_decodes_to_the_mutated_digest(
        m in owned_manifest(),
        at in 0usize..32,
        value in any::<u8>(),
    ) {
        let mut bytes = m.view().to_cbor();
        let digest = m.components[0].0;
        // 0x58 0x20: bstr of 32 bytes, then the digest.
        let mut needle = vec![0x58, 0x20];
        needle.extend_from_slice(&digest);
        let start = bytes.windows(needle.len()).position(|w| w == needle.as_slice()).unwrap() + 2;
        bytes[start + at] = value;
        let decoded = Manifest::from_cbor(&bytes).unwrap();
        let mut want = digest;
        want[at] = value;
        prop_assert_eq!(decoded.components[0].digest, want);
        prop_assert_eq!(decoded.to_cbor(), bytes.clone());
    }

    #[test]
    fn a_prefix_of_a_manifest_is_refused(m in owned_manifest(), cut in any::<prop::sample::Index>()) {
        let bytes = m.view().to_cbor();
        let end = cut.index(bytes.len());
        prop_assert!(Manifest::from_cbor(&bytes[..end]).is_err());
    }
}

/// A minimal valid manifest, hand-encoded, to mutate byte by byte below.
fn minimal() -> Vec<u8> {
    let mut spec = Manifest {
        vendor_id: [1; 16],
        class_id: [2; 16],
        device_ids: heapless::Vec::new(),
        components: heapless::Vec::new(),
        security_counter: 5,
        sequence_number: 30,
        version: "1.0.0",
        expires_at: None,
        rollout: None,
    };
    spec.components
        .push(Component {
            id: "app",
            digest: [3; 32],
            size: 100,
            delta_base: None,
        })
        .unwrap();
    spec.to_cbor()
}

/// Every single-byte substitution of the minimal manifest: the decoder accepts exactly the
/// ones that stay canonical (each re-encodes to the same bytes), refuses the others without
/// panicking, and accepts every substitution inside the vendor id, class id and digest bstrs
/// (64 bytes where any value is valid).
#[test]
fn every_single_byte_substitution_of_a_manifest() {
    let bytes = minimal();
    let free: Vec<usize> = [[1u8; 16].as_slice(), &[2; 16], &[3; 32]]
        .iter()
        .flat_map(|field| {
            let at = bytes
                .windows(field.len())
                .position(|w| w == *field)
                .unwrap();
            at..at + field.len()
        })
        .collect();
    assert_eq!(free.len(), 64);
    let (mut decoded, mut refused) = (0usize, 0usize);
    for i in 0..bytes.len() {
        for value in 0..=u8::MAX {
            if value == bytes[i] {
                continue;
            }
            let mut mutated = bytes.clone();
            mutated[i] = value;
            match Manifest::from_cbor(&mutated) {
                Ok(m) => {
                    assert_eq!(m.to_cbor(), mutated, "byte {i} = {value:#04x}");
                    decoded += 1;
                }
                Err(_) => {
                    assert!(!free.contains(&i), "byte {i} = {value:#04x} refused");
                    refused += 1;
                }
            }
        }
    }
    assert!(decoded > 64 * 255, "only {decoded} substitutions decoded");
    assert!(refused > 0);
    assert_eq!(decoded + refused, bytes.len() * 255);
}

#[test]
fn non_shortest_integer_in_a_manifest_is_refused() {
    let bytes = minimal();
    // Key 5 (security counter) followed by 0x05; re-encode 5 as 0x18 0x05.
    let at = bytes.windows(2).position(|w| w == [0x05, 0x05]).unwrap();
    let mut long = bytes[..=at].to_vec();
    long.extend_from_slice(&[0x18, 0x05]);
    long.extend_from_slice(&bytes[at + 2..]);
    assert!(matches!(
        Manifest::from_cbor(&long),
        Err(CborError::NonShortestHead { .. })
    ));
}

#[test]
fn unsorted_and_duplicate_keys_in_a_manifest_are_refused() {
    let bytes = minimal();
    // Swap entries 5 and 6 (security counter and sequence number): 05 05 06 18 1e.
    let at = bytes
        .windows(5)
        .position(|w| w == [0x05, 0x05, 0x06, 0x18, 0x1e])
        .unwrap();
    let mut swapped = bytes.clone();
    swapped[at..at + 5].copy_from_slice(&[0x06, 0x18, 0x1e, 0x05, 0x05]);
    assert!(matches!(
        Manifest::from_cbor(&swapped),
        Err(CborError::UnsortedKeys { key: 5, .. })
    ));
    let mut duplicate = bytes.clone();
    duplicate[at + 2..at + 5].copy_from_slice(&[0x05, 0x18, 0x1e]);
    assert!(matches!(
        Manifest::from_cbor(&duplicate),
        Err(CborError::DuplicateKey { key: 5, .. })
    ));
}

#[test]
fn indefinite_map_and_trailing_bytes_are_refused() {
    let bytes = minimal();
    let mut indefinite = bytes.clone();
    indefinite[0] = 0xbf;
    indefinite.push(0xff);
    assert!(matches!(
        Manifest::from_cbor(&indefinite),
        Err(CborError::IndefiniteLength { offset: 0 })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0x00);
    assert_eq!(
        Manifest::from_cbor(&trailing),
        Err(CborError::TrailingBytes { extra: 1 })
    );
    assert_eq!(Manifest::from_cbor(&bytes).unwrap().sequence_number, 30);
}
