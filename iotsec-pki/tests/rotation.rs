//! Intermediate key rotation: a new key and certificate under the same subject; the old key
//! keeps signing the CRL for what it issued. Checked by OpenSSL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;
use std::path::Path;

use common::{acme_ca_at, csr_for, write_pem};
use der::Decode;
use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::{CaState, NewCaKey, read_pem};
use iotsec_pki::root_crl::{intermediate_certificate, revoke_intermediate, root_crl};
use iotsec_pki::rotation::{
    drop_expired_keys, generation_crl_url, retired_generations, revoke_in_any_generation,
    rotate_intermediate,
};
use iotsec_pki::store::hex_upper;
use peers::{have, openssl};
use proptest::prelude::*;
use time::OffsetDateTime;

fn cert(der: &[u8]) -> x509_cert::Certificate {
    x509_cert::Certificate::from_der(der).unwrap()
}

/// The value (DER) of the extension `oid` among `extensions`.
fn extension(extensions: Option<Vec<x509_cert::ext::Extension>>, oid: &str) -> Vec<u8> {
    extensions
        .unwrap()
        .into_iter()
        .find(|e| e.extn_id == der::oid::ObjectIdentifier::new_unwrap(oid))
        .unwrap()
        .extn_value
        .into_bytes()
}

/// The subject key identifier of a certificate (DER of the extension value).
fn ski(der: &[u8]) -> Vec<u8> {
    extension(cert(der).tbs_certificate.extensions, "2.5.29.14")
}

/// (issuer name DER, CRL number) of a DER CRL.
fn crl_number(der: &[u8]) -> (Vec<u8>, u64) {
    use der::Encode;
    let crl = x509_cert::crl::CertificateList::from_der(der).unwrap();
    let ext = crl
        .tbs_cert_list
        .crl_extensions
        .unwrap()
        .into_iter()
        .find(|e| e.extn_id == der::oid::ObjectIdentifier::new_unwrap("2.5.29.20"))
        .unwrap();
    let n = der::asn1::Uint::from_der(ext.extn_value.as_bytes()).unwrap();
    let number = n
        .as_bytes()
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (crl.tbs_cert_list.issuer.to_der().unwrap(), number)
}

fn verify(dir: &Path, int: &str, extra: &[&str], leaf: &str) -> (bool, String) {
    let mut args = vec!["verify", "-CAfile", "root.pem", "-untrusted", int];
    args.extend_from_slice(extra);
    args.push(leaf);
    openssl(dir, &args)
}

#[test]
fn rotation_keeps_old_leaves_verifiable_and_revocable() {
    let now = OffsetDateTime::now_utc();
    let (dir, state) = acme_ca_at("rotate", now);
    let mut ca = CaState::open(&state).unwrap();
    let old_leaf = ca
        .issue_csr(&csr_for(KeyAlgorithm::P256, 1, "dev-old"), now)
        .unwrap();
    let (_, n_before) = crl_number(&ca.crl(now).unwrap());
    drop(ca);
    let old_int = intermediate_certificate(&state, None).unwrap();

    let rotation = rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
    let new_int = intermediate_certificate(&state, None).unwrap();
    assert_eq!(rotation.new_certificate, new_int);
    assert_eq!(
        rotation.old_serial_hex,
        hex_upper(cert(&old_int).tbs_certificate.serial_number.as_bytes())
    );
    assert_eq!(
        rotation.retired_dir,
        state.join("retired").join(&rotation.old_serial_hex)
    );
    assert_eq!(
        retired_generations(&state).unwrap(),
        vec![rotation.retired_dir.clone()]
    );
    // Same subject and issuer, another serial and key.
    assert_eq!(
        cert(&old_int).tbs_certificate.subject,
        cert(&new_int).tbs_certificate.subject
    );
    assert_ne!(
        cert(&old_int).tbs_certificate.serial_number,
        cert(&new_int).tbs_certificate.serial_number
    );
    assert_ne!(ski(&old_int), ski(&new_int));
    assert_eq!(
        read_pem(
            &rotation.retired_dir.join("intermediate.pem"),
            "CERTIFICATE"
        )
        .unwrap(),
        old_int
    );

    let mut ca = CaState::open(&state).unwrap();
    assert!(ca.may_issue());
    let new_leaf = ca
        .issue_csr(&csr_for(KeyAlgorithm::P256, 2, "dev-new"), now)
        .unwrap();
    let mut retired = CaState::open(&rotation.retired_dir).unwrap();
    assert!(!retired.may_issue());
    assert!(matches!(
        retired.issue_csr(&csr_for(KeyAlgorithm::P256, 3, "dev-x"), now),
        Err(CaError::IssuerRetired { ref serial_hex }) if *serial_hex == rotation.old_serial_hex
    ));

    // CRL numbers: one sequence for the issuer name, across both keys.
    let (_, n_new) = crl_number(&ca.crl(now).unwrap());
    let (_, n_old) = crl_number(&retired.crl(now).unwrap());
    assert_eq!((n_before, n_new, n_old), (1, 2, 3));

    // Revoking the old leaf after rotation lands in the old generation.
    let r = revoke_in_any_generation(&state, &old_leaf.serial, 1, now).unwrap();
    assert_eq!(
        r.retired_generation.as_deref(),
        Some(rotation.old_serial_hex.as_str())
    );
    assert!(r.newly_revoked);
    // The current CA finds the old leaf (a renewal of it is checked against this) and refuses
    // it as revoked.
    let (record, revocation) = ca.find_issued(&old_leaf.serial).unwrap().unwrap();
    assert_eq!(record.cert_der, old_leaf.der);
    assert_eq!(revocation.unwrap().reason, 1);
    assert!(matches!(
        ca.ensure_not_revoked(&old_leaf.serial),
        Err(CaError::Revoked { .. })
    ));
    ca.ensure_not_revoked(&new_leaf.serial).unwrap();
    assert!(ca.find_issued(&[9, 9]).unwrap().is_none());
    let r = revoke_in_any_generation(&state, &new_leaf.serial, 4, now).unwrap();
    assert_eq!(r.retired_generation, None);
    assert!(matches!(
        revoke_in_any_generation(&state, &[1, 2, 3], 1, now),
        Err(CaError::UnknownSerial { .. })
    ));

    if !have("openssl") {
        return;
    }
    std::fs::copy(state.join("root.pem"), dir.join("root.pem")).unwrap();
    write_pem(&dir, "old-int.pem", "CERTIFICATE", &old_int);
    write_pem(&dir, "new-int.pem", "CERTIFICATE", &new_int);
    write_pem(&dir, "old-leaf.pem", "CERTIFICATE", &old_leaf.der);
    write_pem(&dir, "new-leaf.pem", "CERTIFICATE", &new_leaf.der);
    assert_eq!(
        verify(&dir, "old-int.pem", &[], "old-leaf.pem"),
        (true, "old-leaf.pem: OK\n".into())
    );
    assert_eq!(
        verify(&dir, "new-int.pem", &[], "new-leaf.pem"),
        (true, "new-leaf.pem: OK\n".into())
    );
    // Each key signed only its own leaves.
    let (ok, out) = verify(&dir, "new-int.pem", &[], "old-leaf.pem");
    assert!(!ok, "{out}");
    assert!(out.contains("error 20 at 0 depth lookup"), "{out}");

    // The old key's CRL lists the old leaf; OpenSSL checks it with the old intermediate.
    let old_crl = retired.crl(now).unwrap();
    write_pem(&dir, "old.crl", "X509 CRL", &old_crl);
    let (ok, out) = verify(
        &dir,
        "old-int.pem",
        &["-crl_check", "-CRLfile", "old.crl"],
        "old-leaf.pem",
    );
    assert!(!ok, "{out}");
    assert_eq!(
        out,
        "CN = dev-old\nerror 23 at 0 depth lookup: certificate revoked\nerror old-leaf.pem: verification failed\n"
    );
    let (ok, text) = openssl(
        &dir,
        &[
            "crl",
            "-in",
            "old.crl",
            "-noout",
            "-text",
            "-CAfile",
            "old-int.pem",
        ],
    );
    assert!(ok && text.contains("verify OK"), "{text}");
    assert!(
        text.contains(&format!("Serial Number: {}", hex_upper(&old_leaf.serial))),
        "{text}"
    );
    // Both CRLs given (same issuer name): OpenSSL picks each leaf's by key identifier.
    write_pem(&dir, "new.crl", "X509 CRL", &ca.crl(now).unwrap());
    for (int, leaf) in [
        ("old-int.pem", "old-leaf.pem"),
        ("new-int.pem", "new-leaf.pem"),
    ] {
        let (ok, out) = verify(
            &dir,
            int,
            &["-crl_check", "-CRLfile", "old.crl", "-CRLfile", "new.crl"],
            leaf,
        );
        assert!(!ok, "{out}");
        assert!(
            out.contains("error 23 at 0 depth lookup: certificate revoked"),
            "{out}"
        );
    }

    // The old key is kept while an old leaf is valid, then dropped.
    assert!(drop_expired_keys(&state, now).unwrap().is_empty());
    let later = now + time::Duration::hours(2);
    assert_eq!(
        drop_expired_keys(&state, later).unwrap(),
        vec![rotation.retired_dir.join("intermediate.key.pem")]
    );
    assert!(CaState::open(&rotation.retired_dir).is_err());
}

#[test]
fn a_named_intermediate_rotates_and_the_old_one_can_be_revoked_by_the_root() {
    let now = OffsetDateTime::now_utc();
    let (_dir, state) = acme_ca_at("rotate-named", now);
    iotsec_pki::ca_state::add_intermediate(&state, "line2", "http://x/c2", now).unwrap();
    let old_int = intermediate_certificate(&state, Some("line2")).unwrap();
    let rotation = rotate_intermediate(&state, Some("line2"), now, NewCaKey::Software).unwrap();
    assert_eq!(
        rotation.retired_dir,
        state
            .join("intermediates/line2/retired")
            .join(&rotation.old_serial_hex)
    );
    // Superseded: the root revokes the old certificate; the new one issues on.
    revoke_intermediate(&state, &old_int, 4, now).unwrap();
    let mut ca = CaState::open_intermediate(&state, "line2").unwrap();
    assert!(ca.may_issue());
    ca.issue_csr(&csr_for(KeyAlgorithm::P256, 1, "dev-1"), now)
        .unwrap();
    // The default intermediate was not rotated.
    assert!(retired_generations(&state).unwrap().is_empty());
    // A retired generation is not rotated again, even by the holder of the root key.
    let root_key = iotsec_pki::open_root_key(&state, &iotsec_pki::TokenPins::default()).unwrap();
    let err = iotsec_pki::rotate_intermediate_signed_by(
        &rotation.retired_dir,
        None,
        now,
        NewCaKey::Software,
        root_key.as_ref(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CaError::RetiredGeneration { dir } if *dir == rotation.retired_dir),
        "{err:?}"
    );
    // Without the root key at hand (it is not in a generation's folder), nothing is tried.
    assert!(matches!(
        rotate_intermediate(&rotation.retired_dir, None, now, NewCaKey::Software),
        Err(CaError::Io(_) | CaError::RootKeyUnavailable { .. })
    ));
}

#[derive(Debug, Clone)]
enum Op {
    Issue,
    RevokeLast,
    Crl,
    RetiredCrls,
    Rotate,
    RootCrl,
    RevokeIntermediate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Issue),
        1 => Just(Op::RevokeLast),
        3 => Just(Op::Crl),
        3 => Just(Op::RetiredCrls),
        2 => Just(Op::Rotate),
        1 => Just(Op::RootCrl),
        1 => Just(Op::RevokeIntermediate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Over any sequence of issue/revoke/CRL/rotate operations, every CRL an issuer name signs
    /// (the intermediate's, under all its keys; the root's) has a larger CRL number than the
    /// one before it.
    #[test]
    fn crl_numbers_strictly_increase_per_issuer(ops in proptest::collection::vec(op(), 1..14)) {
        let now = OffsetDateTime::now_utc();
        let (_dir, state) = acme_ca_at("rotate-prop", now);
        let mut last: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut seen = |der: &[u8]| {
            let (issuer, n) = crl_number(der);
            if let Some(prev) = last.insert(issuer, n) {
                assert!(n > prev, "CRL number {n} after {prev}");
            }
        };
        let mut serials = Vec::new();
        let mut current_revoked = false;
        for op in ops {
            match op {
                Op::Issue => {
                    let mut ca = CaState::open(&state).unwrap();
                    let issued = ca.issue_csr(&csr_for(KeyAlgorithm::P256, 9, "dev"), now);
                    // The model: a key the root revoked issues nothing; a rotation makes a new one.
                    if current_revoked {
                        assert!(matches!(issued, Err(CaError::IssuerRevoked { .. })), "{issued:?}");
                    } else {
                        serials.push(issued.unwrap().serial);
                    }
                }
                Op::RevokeLast => {
                    if let Some(s) = serials.last() {
                        revoke_in_any_generation(&state, s, 1, now).unwrap();
                    }
                }
                Op::Crl => seen(&CaState::open(&state).unwrap().crl(now).unwrap()),
                Op::RetiredCrls => {
                    for g in retired_generations(&state).unwrap() {
                        seen(&CaState::open(&g).unwrap().crl(now).unwrap());
                    }
                }
                Op::Rotate => {
                    rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
                    current_revoked = false;
                }
                Op::RootCrl => seen(&root_crl(&state, now).unwrap()),
                Op::RevokeIntermediate => {
                    let int = intermediate_certificate(&state, None).unwrap();
                    revoke_intermediate(&state, &int, 4, now).unwrap();
                    current_revoked = true;
                }
            }
        }
    }
}

/// A device whose certificate predates a rotation renews it over EST (RFC 7030 §4.2.2) from the
/// new key; once that old certificate is revoked (on the old key's books), it cannot.
#[test]
fn a_certificate_from_before_a_rotation_renews_over_est() {
    use iotsec_pki::est_message::{Base64Layout, encode_csr_body};
    use iotsec_pki::est_service::{EstRequest, EstService, LabelPolicy, TlsFacts};
    let now = OffsetDateTime::now_utc();
    let (_, state) = acme_ca_at("rotate-renew", now);
    let csr = csr_for(KeyAlgorithm::P256, 5, "dev-renew");
    let old_leaf = CaState::open(&state).unwrap().issue_csr(&csr, now).unwrap();
    rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
    let renew = EstRequest {
        method: "POST".into(),
        path: "/.well-known/est/simplereenroll".into(),
        content_type: Some("application/pkcs10".into()),
        authorization: None,
        body: encode_csr_body(&csr, Base64Layout::Lines64).into_bytes(),
    };
    let tls = TlsFacts {
        client_cert: Some(old_leaf.der.clone()),
        exporter: Some([3; 32]),
        ..Default::default()
    };
    let mut labels = HashMap::new();
    labels.insert(String::new(), LabelPolicy::default());
    let service = EstService::new(CaState::open(&state).unwrap(), labels);
    let r = service.handle(&renew, &tls, time::OffsetDateTime::now_utc());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Revoked under the old key: the renewal is refused.
    revoke_in_any_generation(&state, &old_leaf.serial, 1, now).unwrap();
    let r = service.handle(&renew, &tls, time::OffsetDateTime::now_utc());
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
}

/// The CRL distribution point URIs of a certificate.
fn dp_uris(der: &[u8]) -> Vec<String> {
    use x509_cert::ext::pkix::CrlDistributionPoints;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    let ext = extension(cert(der).tbs_certificate.extensions, "2.5.29.31");
    let dps = CrlDistributionPoints::from_der(&ext).unwrap();
    let mut uris = Vec::new();
    for dp in dps.0 {
        if let Some(DistributionPointName::FullName(names)) = dp.distribution_point {
            for name in names {
                if let GeneralName::UniformResourceIdentifier(u) = name {
                    uris.push(u.as_str().to_owned());
                }
            }
        }
    }
    uris
}

#[test]
fn generation_crl_urls_are_derived_from_the_current_one() {
    for (current, old, new, want) in [
        ("http://h/crl.der", "0A", "0B", "http://h/crl-0B.der"),
        ("http://h/crl-0B.der", "0B", "0C", "http://h/crl-0C.der"),
        // Another generation's suffix is not stripped.
        ("http://h/crl-0B.der", "0A", "0C", "http://h/crl-0B-0C.der"),
        (
            "http://h:8080/a.b/crl",
            "0A",
            "0B",
            "http://h:8080/a.b/crl-0B",
        ),
        (
            "http://h/crl.der?x=1.y#f",
            "0A",
            "0B",
            "http://h/crl-0B.der?x=1.y#f",
        ),
        (
            "http://127.0.0.1:8080",
            "0A",
            "0B",
            "http://127.0.0.1:8080/crl-0B",
        ),
        ("http://h/", "0A", "0B", "http://h/-0B"),
        (
            "http://h/crl/ldev.crl",
            "0A",
            "0B",
            "http://h/crl/ldev-0B.crl",
        ),
        // A name that is only the old suffix (a rotation of `http://h/`) loses it.
        ("http://h/-0A.der", "0A", "0B", "http://h/-0B.der"),
    ] {
        assert_eq!(generation_crl_url(current, old, new), want, "{current}");
    }
}

#[test]
fn the_crl_path_is_the_path_of_the_crl_url() {
    use iotsec_pki::profile::IssuanceProfile;
    for (url, path) in [
        ("http://127.0.0.1:8080/crl.der", Some("/crl.der")),
        ("http://h/crl/ldev-0B.crl?x=/y#z", Some("/crl/ldev-0B.crl")),
        ("http://h:8080", Some("/")),
        ("http://h?x=/a", Some("/")),
        ("/crl.der", None),
    ] {
        assert_eq!(IssuanceProfile::short_lived(url).crl_path(), path, "{url}");
    }
}

proptest! {
    /// Whatever the URL, a generation's URL differs from its predecessor's and from its
    /// predecessor's predecessor's, and rotating twice gives what one rotation from the
    /// first URL to the last serial gives (the name does not grow).
    #[test]
    fn generation_crl_urls_differ_and_do_not_grow(
        url in "http://[a-z0-9.:]{1,12}(/[a-z0-9.-]{0,8}){0,3}(\\?[a-z.=]{0,6})?",
        a in "[0-9A-F]{2,8}", b in "[0-9A-F]{2,8}", c in "[0-9A-F]{2,8}",
    ) {
        prop_assume!(a != b && b != c && a != c);
        let ub = generation_crl_url(&url, &a, &b);
        let uc = generation_crl_url(&ub, &b, &c);
        prop_assert_ne!(&ub, &url);
        prop_assert_ne!(&uc, &ub);
        prop_assert_ne!(&uc, &url);
        prop_assert_eq!(uc, generation_crl_url(&url, &a, &c));
    }
}

/// Each key generation's leaves carry their own CRL URL, and the CRL endpoint routes each
/// URL's path to the generation that signed those leaves.
#[test]
fn each_generation_publishes_its_crl_at_its_own_url() {
    use iotsec_pki::est_service::{EstService, LabelPolicy};
    let now = OffsetDateTime::now_utc();
    let (_dir, state) = acme_ca_at("rotate-crl-url", now);
    let issue = |seed: u8| {
        CaState::open(&state)
            .unwrap()
            .issue_csr(&csr_for(KeyAlgorithm::P256, seed, "dev"), now)
            .unwrap()
            .der
    };
    let leaf_a = issue(1);
    let first = rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
    let leaf_b = issue(2);
    let second = rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
    let leaf_c = issue(3);
    let (a, b, c) = (
        &first.old_serial_hex,
        &first.new_serial_hex,
        &second.new_serial_hex,
    );
    assert_eq!(&second.old_serial_hex, b);
    assert_eq!(
        dp_uris(&leaf_a),
        vec!["http://127.0.0.1/crl.der".to_owned()]
    );
    assert_eq!(
        dp_uris(&leaf_b),
        vec![format!("http://127.0.0.1/crl-{b}.der")]
    );
    assert_eq!(
        dp_uris(&leaf_c),
        vec![format!("http://127.0.0.1/crl-{c}.der")]
    );
    assert_eq!(second.new_crl_url, format!("http://127.0.0.1/crl-{c}.der"));
    // The retired generations keep theirs.
    let retired_url = |serial: &str| {
        CaState::open(&state.join("retired").join(serial))
            .unwrap()
            .authority
            .profile
            .crl_url
    };
    assert_eq!(retired_url(a), "http://127.0.0.1/crl.der");
    assert_eq!(retired_url(b), format!("http://127.0.0.1/crl-{b}.der"));

    let mut labels = HashMap::new();
    labels.insert(String::new(), LabelPolicy::default());
    let mut service = EstService::new(CaState::open(&state).unwrap(), labels);
    for serial in [a, b] {
        service = service.with_intermediate(
            format!("retired-{serial}"),
            CaState::open(&state.join("retired").join(serial)).unwrap(),
        );
    }
    let ra = format!("retired-{a}");
    let rb = format!("retired-{b}");
    for (path, want) in [
        ("/crl.der".to_owned(), Some(ra.clone())),
        (format!("/crl-{b}.der"), Some(rb.clone())),
        (format!("/crl-{c}.der"), Some(String::new())),
        (format!("/crl/retired-{a}.der"), Some(ra.clone())),
        (format!("/crl/retired-{b}.crl"), Some(rb.clone())),
        ("/other.crl".to_owned(), Some(String::new())),
        ("/crl/nope.der".to_owned(), None),
        ("/crl.pem".to_owned(), None),
    ] {
        assert_eq!(service.ca_for_crl_path(&path), want, "{path}");
    }
    // Each path's CRL is signed by the key that signed the leaves naming it.
    let crl_issuer_key = |name: &str| {
        let crl = service.current_crl_of(name).unwrap();
        let crl = x509_cert::crl::CertificateList::from_der(&crl).unwrap();
        extension(crl.tbs_cert_list.crl_extensions, "2.5.29.35")
    };
    let leaf_aki = |der: &[u8]| extension(cert(der).tbs_certificate.extensions, "2.5.29.35");
    for (leaf, path) in [
        (&leaf_a, "/crl.der".to_owned()),
        (&leaf_b, format!("/crl-{b}.der")),
        (&leaf_c, format!("/crl-{c}.der")),
    ] {
        let name = service.ca_for_crl_path(&path).unwrap();
        assert_eq!(crl_issuer_key(&name), leaf_aki(leaf), "{path}");
    }
}
