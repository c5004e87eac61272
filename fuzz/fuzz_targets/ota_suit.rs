//! Fuzzes the SUIT envelope decoder, the manifest decoder and command-sequence analysis (also
//! on unauthenticated bytes, so mutations reach it without a valid signature) and the whole
//! verifier with the draft-ietf-suit-manifest examples' key. Seeds: the six draft example
//! envelopes, example 2 with its members severed, and their manifests
//! (`corpus/ota_suit/seed-*`, cut from `../shared/data/suit-examples`).
#![no_main]

use iotsec_ota::suit::{Envelope, SeverableMembers, SuitKey, SuitManifest, verify_envelope};
use libfuzzer_sys::fuzz_target;

/// The examples' P-256 public key, uncompressed SEC1.
const EXAMPLE_KEY: [u8; 65] = [
    0x04, 0x84, 0x96, 0x81, 0x1a, 0xae, 0x0b, 0xaa, 0xab, 0xd2, 0x61, 0x57, 0x18, 0x9e, 0xec, 0xda,
    0x26, 0xbe, 0xaa, 0x8b, 0xf1, 0x1b, 0x6f, 0x3f, 0xe6, 0xe2, 0xb5, 0x65, 0x9c, 0x85, 0xdb, 0xc0,
    0xad, 0x3b, 0x1f, 0x2a, 0x4b, 0x6c, 0x09, 0x81, 0x31, 0xc0, 0xa3, 0x6d, 0xac, 0xd1, 0xd7, 0x8b,
    0xd3, 0x81, 0xdc, 0xdf, 0xb0, 0x9c, 0x05, 0x2d, 0xb3, 0x39, 0x91, 0xdb, 0x73, 0x38, 0xb4, 0xa8,
    0x96,
];

fuzz_target!(|data: &[u8]| {
    let _ = SuitManifest::decode(data, &SeverableMembers::default());
    if let Ok(envelope) = Envelope::from_cbor(data) {
        let _ = SuitManifest::decode(envelope.manifest.content, &envelope.severable);
    }
    if let Ok(key) = SuitKey::parse(iotsec_ota::Algorithm::Es256, &EXAMPLE_KEY) {
        let state = iotsec_ota::DeviceState {
            vendor_id: [0; 16],
            class_id: [0; 16],
            device_id: b"fuzz",
            security_counter: 0,
            last_sequence: 0,
            trusted_root_version: 1,
            slot_capacity: u64::MAX,
            now: iotsec_ota::TrustedTime::NoTrustedClock,
        };
        let _ = verify_envelope(data, &[key], &state);
    }
});
