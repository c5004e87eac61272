//! The device accepts only the certificate it asked for (`check_issued_leaf`): its own key,
//! exactly the requested CN and dNSName/URI entries, or on renewal the current certificate's
//! Subject and SAN byte for byte. Certificates come from the crate's real CA.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_pki::authority::{Authority, create_hierarchy};
use iotsec_pki::csr_check::verify_csr;
use iotsec_pki::profile::IssuanceProfile;
use iotsec_pki::{
    CsrRequest, DeviceKey, DeviceName, ExpectedLeaf, KeyAlgorithm, LeafMismatch, build_csr,
    check_issued_leaf,
};
use time::OffsetDateTime;

fn authority() -> Authority {
    let now = OffsetDateTime::now_utc();
    let h = create_hierarchy("Acme", now).unwrap();
    Authority::new(
        "Acme",
        Box::new(h.intermediate_key),
        h.intermediate_der,
        h.root_der,
        IssuanceProfile::short_lived("http://127.0.0.1/crl.der"),
    )
}

fn key(seed: u8) -> DeviceKey {
    DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[seed; 32]).unwrap()
}

const NAMES: &[DeviceName<'static>] = &[
    DeviceName::Uri("urn:dev:serial:0007"),
    DeviceName::Dns("dev-7.devices.invalid"),
];

fn request<'a>(cn: &'a str, names: &'a [DeviceName<'a>]) -> CsrRequest<'a> {
    CsrRequest {
        common_name: cn,
        device_names: names,
        ..Default::default()
    }
}

/// The CA's certificate for `key` asking for `req`.
fn issued(ca: &Authority, key: &DeviceKey, req: &CsrRequest<'_>) -> Vec<u8> {
    let csr = verify_csr(&build_csr(key, req).unwrap()).unwrap();
    ca.issue(&csr, OffsetDateTime::now_utc()).unwrap().der
}

#[test]
fn the_certificate_asked_for_is_accepted() {
    let ca = authority();
    let (k, req) = (key(7), request("dev-7", NAMES));
    let leaf = issued(&ca, &k, &req);
    // The order of the SAN entries does not matter.
    let reordered = [NAMES[1], NAMES[0]];
    assert_eq!(
        check_issued_leaf(
            &leaf,
            &k,
            &ExpectedLeaf::Requested(&request("dev-7", &reordered))
        ),
        Ok(())
    );
    assert_eq!(
        check_issued_leaf(&leaf, &k, &ExpectedLeaf::SameAs(&leaf)),
        Ok(())
    );
}

#[test]
fn another_key_another_cn_or_other_names_are_refused() {
    let ca = authority();
    let (k, req) = (key(7), request("dev-7", NAMES));
    // A certificate for another key with the very names asked for.
    let theirs = issued(&ca, &key(8), &req);
    let err = check_issued_leaf(&theirs, &k, &ExpectedLeaf::Requested(&req)).unwrap_err();
    assert_eq!(err, LeafMismatch::OtherKey);
    assert_eq!(err.code(), "leaf-other-key");
    // Our key, another device's CN.
    let other_cn = issued(&ca, &k, &request("dev-8", NAMES));
    let err = check_issued_leaf(&other_cn, &k, &ExpectedLeaf::Requested(&req)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"the issued certificate's CN is ["dev-8"], not "dev-7""#
    );
    // Our key and CN, one dNSName dropped.
    let fewer = issued(&ca, &k, &request("dev-7", &NAMES[..1]));
    assert_eq!(
        check_issued_leaf(&fewer, &k, &ExpectedLeaf::Requested(&req)),
        Err(LeafMismatch::Names {
            dns: vec![],
            uri: vec!["urn:dev:serial:0007".into()],
            expected_dns: vec!["dev-7.devices.invalid".into()],
            expected_uri: vec!["urn:dev:serial:0007".into()],
        })
    );
    // A renewal that changes the names.
    assert_eq!(
        check_issued_leaf(&fewer, &k, &ExpectedLeaf::SameAs(&issued(&ca, &k, &req))),
        Err(LeafMismatch::ChangedNames)
    );
}

#[test]
fn bytes_that_are_no_certificate_are_refused() {
    let k = key(7);
    let req = request("dev-7", NAMES);
    for junk in [&b""[..], b"\x30\x03\x02\x01\x01", b"not a certificate"] {
        assert_eq!(
            check_issued_leaf(junk, &k, &ExpectedLeaf::Requested(&req)),
            Err(LeafMismatch::Undecodable)
        );
    }
}
