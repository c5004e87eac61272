#![no_main]
//! The DevID identity (subject serialNumber + RFC 4108 hardwareModuleName) read from a client
//! certificate: DER in, an identity, none, or a typed error out.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any OID serves as the expected hwType; the whole certificate is parsed either way.
    let _ = iotsec_pki::devid::identity_of(data, &iotsec_pki::devid::ID_ON_HARDWARE_MODULE_NAME);
});
