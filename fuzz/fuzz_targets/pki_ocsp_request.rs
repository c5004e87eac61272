#![no_main]
//! OCSP request decoder (RFC 6960 §4.1): DER in, a bounded request or a typed error out.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iotsec_pki::ocsp_responder::parse_request(data);
});
