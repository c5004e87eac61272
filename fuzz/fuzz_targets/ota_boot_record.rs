//! Fuzzes the boot-record decoder (flash contents after a power cut are outside input): never
//! panics, and whatever decodes re-encodes to the same bytes.
#![no_main]

use iotsec_ota::trial_boot::BootRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = BootRecord::from_bytes::<()>(data) {
        assert_eq!(record.to_bytes().as_slice(), data);
        let _ = record.select_boot::<()>();
    }
});
