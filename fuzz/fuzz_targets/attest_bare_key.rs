//! A PEM attestation key given on the command line: `BareKey::from_pem` never panics, an accepted
//! key has full-width coordinates, and using it to check a signature never panics either.
#![no_main]

use iotsec_attest::TpmSignature;
use iotsec_attest::identity::bare_key::BareKey;
use iotsec_attest::tpm::algorithm::EccCurve;
use iotsec_attest::tpm::public::KeyOrigin;
use iotsec_attest::verify::SignatureVerifier;
use iotsec_attest::verify::ring::RingVerifier;
use libfuzzer_sys::fuzz_target;

/// A well-formed TPMT_SIGNATURE (ECDSA/SHA-256, r = s = 1) and an RSASSA one (one byte).
const ECDSA_SIG: &[u8] = &[0x00, 0x18, 0x00, 0x0b, 0x00, 0x01, 0x01, 0x00, 0x01, 0x01];
const RSA_SIG: &[u8] = &[0x00, 0x14, 0x00, 0x0b, 0x00, 0x01, 0x01];

fuzz_target!(|data: &[u8]| {
    let Ok(pem) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = BareKey::from_pem(pem) {
        match &key {
            BareKey::Ecc { curve, x, y } => {
                let width = match curve {
                    EccCurve::NistP256 => 32,
                    EccCurve::NistP384 => 48,
                };
                assert_eq!((x.len(), y.len()), (width, width));
            }
            BareKey::Rsa { modulus, .. } => assert!(!modulus.is_empty()),
        }
        let area = key.as_public_area();
        assert_eq!(area.origin, KeyOrigin::BareKey);
        for sig in [ECDSA_SIG, RSA_SIG] {
            if let Ok(sig) = TpmSignature::parse(sig) {
                assert!(RingVerifier.verify(&area, b"message", &sig).is_err());
            }
        }
    }
});
