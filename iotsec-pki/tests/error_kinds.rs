//! Every error knows its stable code and whether it is a refusal, bad input or internal: the
//! command line maps it to exit 1 / 2 with one call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iotsec_pki::ErrorKind;
use iotsec_pki::ca_error::{CaError, MAX_LIFETIME_HOURS, device_lifetime_secs};

#[test]
fn refusals_bad_input_and_internal_failures_are_told_apart() {
    let refusals = [
        CaError::CsrSignatureInvalid,
        CaError::SanNotAllowed { name: "x".into() },
        CaError::SubjectNotAllowed { reason: "r" },
        CaError::DevIdIdentityRequired,
        CaError::DevIdNotEnabled,
        CaError::UnknownCertificate,
    ];
    for e in &refusals {
        assert!(e.is_refusal(), "{e}");
    }
    let bad_input = [
        CaError::UnknownSerial {
            serial_hex: "01".into(),
        },
        CaError::IssuerRetired {
            serial_hex: "01".into(),
        },
        CaError::NoCryptoProvider,
        CaError::LifetimeOutOfRange { hours: 0 },
    ];
    for e in &bad_input {
        assert_eq!(e.kind(), ErrorKind::BadInput, "{e}");
    }
    let io = CaError::Io(std::io::Error::other("disk"));
    assert_eq!(io.kind(), ErrorKind::Internal);
    let mut codes: Vec<&str> = refusals
        .iter()
        .chain(&bad_input)
        .chain([&io])
        .map(CaError::code)
        .collect();
    assert_eq!(codes[0], "csr-signature-invalid");
    let n = codes.len();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), n, "codes are distinct");
}

#[test]
fn device_lifetimes_are_one_hour_to_398_days() {
    assert_eq!(MAX_LIFETIME_HOURS, 9552);
    assert_eq!(device_lifetime_secs(1).unwrap(), 3600);
    assert_eq!(device_lifetime_secs(9552).unwrap(), 9552 * 3600);
    for hours in [0, 9553, u64::MAX] {
        assert_eq!(
            device_lifetime_secs(hours).unwrap_err().to_string(),
            format!("a device certificate lifetime of {hours} hours is outside 1..=9552")
        );
    }
}
