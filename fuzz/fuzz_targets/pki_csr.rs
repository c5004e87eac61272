#![no_main]
//! Server-side CSR acceptance (RFC 2986): DER in, a verified request or a typed error out.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iotsec_pki::csr_check::verify_csr(data);
});
