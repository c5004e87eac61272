#![no_main]
//! EST certs-only response parser (RFC 7030 §4.1.3): base64/PEM/DER in, certificates or a typed error out.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iotsec_pki::est_message::parse_certs_only(data);
});
