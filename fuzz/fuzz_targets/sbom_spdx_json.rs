#![no_main]
//! SPDX 2.3 JSON ingest never panics.

use iotsec_sbom::sbom::parse_spdx_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_spdx_json(data);
});
