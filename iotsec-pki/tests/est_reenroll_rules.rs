//! Who may re-enroll, decided by the EST service (RFC 7030 §3.3.2, §4.2.2): a re-enrollment is
//! authenticated by the TLS client certificate it renews, on every label, with or without a
//! password; without that certificate it is refused whatever else the request carries. A
//! certificate authenticates a first enrollment only where the label says so. An operator's
//! approval queue (§4.2.3) holds first enrollments, never the renewal of a certificate this CA
//! issued.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;

use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_state::CaState;
use iotsec_pki::est_message::parse_certs_only;
use iotsec_pki::est_service::{EstRequest, EstResponse, EstService, LabelPolicy, TlsFacts};
use time::OffsetDateTime;

/// Labels: "" (password only), "cert" (client certificate only), "manual" (password, every
/// first enrollment waits for an operator).
fn service(name: &str) -> EstService {
    let (_, state) = common::acme_ca(name);
    let password = LabelPolicy {
        basic: Some(("u".into(), "p".into())),
        ..Default::default()
    };
    let mut labels = HashMap::new();
    labels.insert(String::new(), password.clone());
    labels.insert(
        "cert".into(),
        LabelPolicy {
            basic: None,
            client_cert_auth: true,
            ..Default::default()
        },
    );
    labels.insert(
        "manual".into(),
        LabelPolicy {
            manual_approval: true,
            ..password
        },
    );
    EstService::new(CaState::open(&state).unwrap(), labels)
}

/// `op` at `label` for `common_name` (a fresh key per `seed`), with the password u:p when
/// `password` is set.
fn request(label: &str, op: &str, seed: u8, common_name: &str, password: bool) -> EstRequest {
    let mut r = common::est_post(
        label,
        op,
        &common::csr_for(KeyAlgorithm::P256, seed, common_name),
    );
    if !password {
        r.authorization = None;
    }
    r
}

fn tls(client_cert: Option<&[u8]>) -> TlsFacts {
    TlsFacts {
        client_cert: client_cert.map(<[u8]>::to_vec),
        exporter: Some([7; 32]),
        ..Default::default()
    }
}

fn status_and_body(r: &EstResponse) -> (u16, String) {
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

/// The one certificate of a 200 answer.
fn issued(r: &EstResponse) -> Vec<u8> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let certs = parse_certs_only(&r.body).unwrap();
    assert_eq!(certs.len(), 1);
    der::Encode::to_der(&certs[0]).unwrap()
}

/// dev-1's first certificate, enrolled with the password on the default label.
fn first_certificate(s: &EstService) -> Vec<u8> {
    issued(&s.handle(
        &request("", "simpleenroll", 31, "dev-1", true),
        &tls(None),
        OffsetDateTime::now_utc(),
    ))
}

#[test]
fn a_re_enrollment_is_authenticated_by_the_certificate_it_renews_on_every_label() {
    let s = service("est-reenroll-every-label");
    let dev = first_certificate(&s);
    let now = OffsetDateTime::now_utc;
    // A label that takes no client certificate for first enrollments still renews with one,
    // without the password (the device has only its certificate by then).
    let renewed = issued(&s.handle(
        &request("", "simplereenroll", 32, "dev-1", false),
        &tls(Some(&dev)),
        now(),
    ));
    assert_ne!(renewed, dev);
    // And with the password beside it.
    issued(&s.handle(
        &request("", "simplereenroll", 33, "dev-1", true),
        &tls(Some(&dev)),
        now(),
    ));
    // A certificate-only label too.
    issued(&s.handle(
        &request("cert", "simplereenroll", 34, "dev-1", false),
        &tls(Some(&dev)),
        now(),
    ));
    // The renewed certificate renews in its turn.
    issued(&s.handle(
        &request("", "simplereenroll", 35, "dev-1", false),
        &tls(Some(&renewed)),
        now(),
    ));
}

#[test]
fn without_its_certificate_a_re_enrollment_is_refused_whatever_else_it_carries() {
    let s = service("est-reenroll-no-cert");
    first_certificate(&s);
    for (label, password) in [("", true), ("", false), ("cert", false), ("manual", true)] {
        let r = s.handle(
            &request(label, "simplereenroll", 36, "dev-1", password),
            &tls(None),
            OffsetDateTime::now_utc(),
        );
        assert_eq!(r.status, 401, "label {label:?}, password {password}");
    }
}

#[test]
fn a_certificate_authenticates_a_first_enrollment_only_where_the_label_says_so() {
    let s = service("est-reenroll-first");
    let dev = first_certificate(&s);
    let now = OffsetDateTime::now_utc;
    // Password label, certificate without the password: refused.
    let r = s.handle(
        &request("", "simpleenroll", 37, "dev-1", false),
        &tls(Some(&dev)),
        now(),
    );
    assert_eq!(r.status, 401);
    // Certificate label: the certificate authenticates.
    issued(&s.handle(
        &request("cert", "simpleenroll", 38, "dev-1", false),
        &tls(Some(&dev)),
        now(),
    ));
    // Certificate label without one (and no password configured): refused, nothing parsed.
    let mut unparsable = request("cert", "simpleenroll", 39, "dev-1", false);
    unparsable.body = b"not base64 at all!".to_vec();
    assert_eq!(s.handle(&unparsable, &tls(None), now()).status, 401);
    let r = s.handle(
        &request("cert", "simpleenroll", 39, "dev-1", true),
        &tls(None),
        now(),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn the_approval_queue_holds_first_enrollments_never_a_renewal() {
    let s = service("est-reenroll-manual");
    let dev = first_certificate(&s);
    let now = OffsetDateTime::now_utc;
    let (status, body) = status_and_body(&s.handle(
        &request("manual", "simpleenroll", 40, "dev-2", true),
        &tls(None),
        now(),
    ));
    assert_eq!(status, 202);
    assert!(
        body.starts_with("request ") && body.ends_with(" awaits approval\n"),
        "{body:?}"
    );
    // dev-1 renews the certificate this CA issued: answered at once.
    issued(&s.handle(
        &request("manual", "simplereenroll", 41, "dev-1", true),
        &tls(Some(&dev)),
        now(),
    ));
    // A first enrollment accompanied by a certificate is still a first enrollment.
    assert_eq!(
        s.handle(
            &request("manual", "simpleenroll", 42, "dev-1", true),
            &tls(Some(&dev)),
            now(),
        )
        .status,
        202
    );
}
