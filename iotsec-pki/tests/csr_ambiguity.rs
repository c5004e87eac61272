//! A CSR that names the device twice is refused: two commonNames or serialNumbers (consumers
//! disagree on which one is the identity) and two subjectAltName requests (only one was read).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod hand_csr;

use hand_csr::{CN, SERIAL, csr, extension_request, rdn, san};
use iotsec_pki::ca_error::CaError;
use iotsec_pki::csr_check::{SanEntry, verify_csr};

fn subject_refusal(der: &[u8]) -> Option<&'static str> {
    match verify_csr(der) {
        Err(CaError::SubjectNotAllowed { reason }) => Some(reason),
        _ => None,
    }
}

#[test]
fn one_name_of_each_kind_is_accepted() {
    let der = csr(
        vec![rdn(CN, "sensor-01"), rdn(SERIAL, "SN1")],
        vec![extension_request(vec![san("sensor-01.example")])],
    );
    let v = verify_csr(&der).unwrap();
    assert_eq!(v.subject.len(), 2);
    assert_eq!(v.sans, vec![SanEntry::Dns("sensor-01.example".into())]);
}

#[test]
fn a_second_common_name_is_refused() {
    let der = csr(vec![rdn(CN, "sensor-01"), rdn(CN, "admin")], vec![]);
    assert_eq!(
        subject_refusal(&der),
        Some("commonName or serialNumber repeated")
    );
}

#[test]
fn a_second_serial_number_is_refused() {
    let der = csr(
        vec![rdn(CN, "sensor-01"), rdn(SERIAL, "SN1"), rdn(SERIAL, "SN2")],
        vec![],
    );
    assert_eq!(
        subject_refusal(&der),
        Some("commonName or serialNumber repeated")
    );
}

#[test]
fn a_second_subject_alt_name_request_is_refused() {
    let twice_in_one = csr(
        vec![rdn(CN, "sensor-01")],
        vec![extension_request(vec![
            san("sensor-01.example"),
            san("admin.example"),
        ])],
    );
    let in_two_requests = csr(
        vec![rdn(CN, "sensor-01")],
        vec![
            extension_request(vec![san("sensor-01.example")]),
            extension_request(vec![san("admin.example")]),
        ],
    );
    for der in [twice_in_one, in_two_requests] {
        assert!(matches!(
            verify_csr(&der),
            Err(CaError::SanNotAllowed { name }) if name == "subjectAltName requested twice"
        ));
    }
}
