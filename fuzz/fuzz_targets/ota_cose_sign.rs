//! Fuzzes the COSE_Sign decoder, the trust-root decoder and the whole device verifier.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iotsec_ota::cose_sign::CoseSign::from_cbor(data);
    if let Ok(root) = iotsec_ota::TrustRoot::from_pinned(data) {
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
        let _ = iotsec_ota::verify(data, &root, &state);
    }
});
