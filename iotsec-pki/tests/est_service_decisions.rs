//! EST decisions without sockets (the sans-IO core): bytes and TLS facts in, responses out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;

use iotsec_pki::ca_state::{CaSettings, CaState, init_state};
use iotsec_pki::channel_binding::challenge_password_for;
use iotsec_pki::est_message::parse_certs_only;
use iotsec_pki::est_service::{BindingPolicy, EstRequest, EstService, LabelPolicy, TlsFacts};
use iotsec_pki::{CsrRequest, DeviceKey, KeyAlgorithm, build_csr};
use time::OffsetDateTime;

const EXPORTER: [u8; 32] = [0x5a; 32];

fn service(name: &str) -> EstService {
    let state = peers::scratch(name).join("state");
    init_state(
        &state,
        &CaSettings {
            organization: "Acme".into(),
            crl_url: "http://127.0.0.1/crl".into(),
            lifetime_secs: 3600,
        },
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let base = LabelPolicy {
        basic: Some(("u".into(), "p".into())),
        ..Default::default()
    };
    let mut labels = HashMap::new();
    labels.insert(String::new(), base.clone());
    labels.insert(
        "bound".into(),
        LabelPolicy {
            binding: BindingPolicy::Required,
            ..base.clone()
        },
    );
    labels.insert(
        "off".into(),
        LabelPolicy {
            binding: BindingPolicy::Off,
            ..base
        },
    );
    labels.insert(
        "cert".into(),
        LabelPolicy {
            basic: None,
            client_cert_auth: true,
            ..Default::default()
        },
    );
    EstService::new(CaState::open(&state).unwrap(), labels)
}

fn enroll(label: &str, pw: Option<&str>) -> EstRequest {
    enroll_as(label, pw, "d")
}

/// A simpleenroll request for `common_name` with Basic credentials u:p.
fn enroll_as(label: &str, pw: Option<&str>, common_name: &str) -> EstRequest {
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[21u8; 32]).unwrap();
    let csr = build_csr(
        &key,
        &CsrRequest {
            common_name,
            challenge_password: pw,
            ..Default::default()
        },
    )
    .unwrap();
    common::est_post(label, "simpleenroll", &csr)
}

fn facts() -> TlsFacts {
    TlsFacts {
        client_cert: None,
        exporter: Some(EXPORTER),
        ..Default::default()
    }
}

#[test]
fn tls_unique_value_is_refused_on_tls13_even_when_binding_is_optional() {
    let s = service("est-d-tlsunique");
    // 12 bytes: the size of a TLS 1.2 Finished message (tls-unique).
    let r = s.handle(
        &enroll("", Some("AAAAAAAAAAAAAAAA")),
        &facts(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("tls-unique"));
}

#[test]
fn binding_policies() {
    let s = service("est-d-binding");
    let good = challenge_password_for(&EXPORTER);
    let other = challenge_password_for(&[0u8; 32]);
    assert_eq!(
        s.handle(
            &enroll("bound", Some(&good)),
            &facts(),
            time::OffsetDateTime::now_utc()
        )
        .status,
        200
    );
    assert_eq!(
        s.handle(
            &enroll("bound", Some(&other)),
            &facts(),
            time::OffsetDateTime::now_utc()
        )
        .status,
        400
    );
    assert_eq!(
        s.handle(
            &enroll("bound", None),
            &facts(),
            time::OffsetDateTime::now_utc()
        )
        .status,
        400
    );
    // Optional: another session's binding is what a relayed request carries: refused.
    let r = s.handle(
        &enroll("", Some(&other)),
        &facts(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "challengePassword does not carry this session's channel binding\n"
    );
    // Without the session's exporter value nothing can be bound (never a constant instead).
    let no_exporter = TlsFacts {
        client_cert: None,
        exporter: None,
        ..Default::default()
    };
    let zeros = challenge_password_for(&[0u8; 32]);
    for label in ["bound", ""] {
        let r = s.handle(
            &enroll(label, Some(&zeros)),
            &no_exporter,
            time::OffsetDateTime::now_utc(),
        );
        assert_eq!(r.status, 400, "{label:?}");
    }
    assert_eq!(
        s.handle(
            &enroll("bound", None),
            &no_exporter,
            time::OffsetDateTime::now_utc()
        )
        .status,
        400
    );
    // Optional: a plain password is not a binding and is ignored; Off: nothing is checked.
    assert_eq!(
        s.handle(
            &enroll("", Some("plain-secret")),
            &facts(),
            time::OffsetDateTime::now_utc()
        )
        .status,
        200
    );
    assert_eq!(
        s.handle(
            &enroll("off", Some("AAAAAAAAAAAAAAAA")),
            &facts(),
            time::OffsetDateTime::now_utc()
        )
        .status,
        200
    );
}

/// RFC 7030 §4.5.2: the CSR attributes name subjectAltName, and challengePassword (which carries
/// the channel binding, RFC 7030 §3.5) exactly where the label requires the binding.
#[test]
fn csr_attributes_ask_for_the_channel_binding_only_where_it_is_required() {
    use der::Decode;
    use der::oid::ObjectIdentifier;
    use iotsec_pki::csr::{ID_CE_SUBJECT_ALT_NAME, ID_CHALLENGE_PASSWORD};
    let s = service("est-d-csrattrs");
    let attributes = |label: &str| {
        let prefix = if label.is_empty() {
            String::new()
        } else {
            format!("{label}/")
        };
        let get = EstRequest {
            method: "GET".into(),
            path: format!("/.well-known/est/{prefix}csrattrs"),
            ..Default::default()
        };
        let r = s.handle(&get, &facts(), time::OffsetDateTime::now_utc());
        assert_eq!(r.status, 200, "{label:?}");
        let der = iotsec_pki::est_message::decode_base64_body(&r.body).unwrap();
        Vec::<ObjectIdentifier>::from_der(&der).unwrap()
    };
    assert_eq!(
        attributes("bound"),
        [ID_CE_SUBJECT_ALT_NAME, ID_CHALLENGE_PASSWORD]
    );
    for label in ["", "off"] {
        assert_eq!(attributes(label), [ID_CE_SUBJECT_ALT_NAME], "{label:?}");
    }
}

#[test]
fn http_level_refusals() {
    let s = service("est-d-http");
    let mut get = enroll("", None);
    get.method = "GET".into();
    let r = s.handle(&get, &facts(), time::OffsetDateTime::now_utc());
    assert_eq!(r.status, 405);
    assert!(r.headers.iter().any(|(k, v)| *k == "Allow" && v == "POST"));
    let mut unknown = enroll("", None);
    unknown.path = "/.well-known/est/nolabel/simpleenroll".into();
    assert_eq!(
        s.handle(&unknown, &facts(), time::OffsetDateTime::now_utc())
            .status,
        404
    );
    let mut no_auth = enroll("", None);
    no_auth.authorization = None;
    let r = s.handle(&no_auth, &facts(), time::OffsetDateTime::now_utc());
    assert_eq!(r.status, 401);
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| *k == "WWW-Authenticate" && v.starts_with("Basic "))
    );
    let mut garbage = enroll("", None);
    garbage.body = b"not base64 at all!".to_vec();
    assert_eq!(
        s.handle(&garbage, &facts(), time::OffsetDateTime::now_utc())
            .status,
        400
    );
    let mut reenroll = enroll("", None);
    reenroll.path = "/.well-known/est/simplereenroll".into();
    assert_eq!(
        s.handle(&reenroll, &facts(), time::OffsetDateTime::now_utc())
            .status,
        401,
        "re-enroll needs the TLS client certificate"
    );
}

#[test]
fn enrollment_response_is_one_certificate_with_a_closing_newline() {
    let s = service("est-d-response");
    let r = s.handle(&enroll("", None), &facts(), time::OffsetDateTime::now_utc());
    assert_eq!(r.status, 200);
    assert!(r.body.ends_with(b"\n"));
    assert_eq!(parse_certs_only(&r.body).unwrap().len(), 1);
    let cacerts = EstRequest {
        method: "GET".into(),
        path: "/.well-known/est/cacerts".into(),
        ..Default::default()
    };
    let r = s.handle(
        &cacerts,
        &TlsFacts::default(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(parse_certs_only(&r.body).unwrap().len(), 2);
}

/// The first certificate of an enrollment response.
fn issued(r: &iotsec_pki::est_service::EstResponse) -> Vec<u8> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    der::Encode::to_der(&parse_certs_only(&r.body).unwrap()[0]).unwrap()
}

#[test]
fn a_client_certificate_authorizes_its_own_identity_only() {
    let s = service("est-d-certauth");
    let dev = issued(&s.handle(
        &enroll_as("", None, "dev-1"),
        &facts(),
        time::OffsetDateTime::now_utc(),
    ));
    let with_cert = |cert: &[u8]| TlsFacts {
        client_cert: Some(cert.to_vec()),
        exporter: Some(EXPORTER),
        ..Default::default()
    };
    let mut by_cert = enroll_as("cert", None, "dev-1");
    by_cert.authorization = None;
    // Its own Subject (and no SAN, as issued): a new certificate.
    issued(&s.handle(&by_cert, &with_cert(&dev), time::OffsetDateTime::now_utc()));
    // Another device's name: refused, the certificate authorizes only its own identity.
    let mut other = enroll_as("cert", None, "dev-2");
    other.authorization = None;
    let r = s.handle(&other, &with_cert(&dev), time::OffsetDateTime::now_utc());
    assert_eq!(r.status, 403);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "the client certificate does not authorize this subject\n"
    );
    // A certificate this CA did not issue (another CA of the same name, as a TLS layer trusting
    // a sibling intermediate would pass it) authorizes nothing here.
    let stranger_ca = service("est-d-certauth-stranger");
    let stranger = issued(&stranger_ca.handle(
        &enroll_as("", None, "dev-1"),
        &facts(),
        time::OffsetDateTime::now_utc(),
    ));
    let r = s.handle(
        &by_cert,
        &with_cert(&stranger),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "the client certificate does not authorize this issuer\n"
    );
    // A client certificate that is not DER is named as such (400), not as a bad CSR.
    let r = s.handle(
        &by_cert,
        &with_cert(b"junk"),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(r.status, 400);
    assert!(
        String::from_utf8_lossy(&r.body).starts_with("malformed client certificate: "),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // With valid Basic credentials the certificate only accompanies the request.
    issued(&s.handle(
        &enroll_as("", None, "dev-2"),
        &with_cert(&dev),
        time::OffsetDateTime::now_utc(),
    ));
}

/// RFC 7030 §4.2.2: a re-enrollment renews the presented certificate's identity; another
/// Subject is a bad request about that renewal (400), not a refused authorization (403).
#[test]
fn a_re_enrollment_that_changes_the_subject_is_named_as_such() {
    let s = service("est-d-reenroll-subject");
    let dev = issued(&s.handle(
        &enroll_as("", None, "dev-1"),
        &facts(),
        time::OffsetDateTime::now_utc(),
    ));
    let with_dev = TlsFacts {
        client_cert: Some(dev),
        exporter: Some(EXPORTER),
        ..Default::default()
    };
    let reenroll_as = |common_name: &str| {
        let mut r = enroll_as("", None, common_name);
        r.path = "/.well-known/est/simplereenroll".into();
        r
    };
    issued(&s.handle(
        &reenroll_as("dev-1"),
        &with_dev,
        time::OffsetDateTime::now_utc(),
    ));
    let r = s.handle(
        &reenroll_as("dev-2"),
        &with_dev,
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "re-enrollment changes the subject\n"
    );
}

#[test]
fn the_decision_takes_its_time_from_the_caller() {
    let s = service("est-d-clock");
    // An hour ago by the caller's clock: the certificate is dated from it (notBefore backdated
    // by the 5-minute skew allowance, notAfter one profile lifetime later), not from the
    // machine's clock.
    let at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::hours(1);
    let r = s.handle(&enroll("off", None), &facts(), at);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let certs = parse_certs_only(&r.body).unwrap();
    let cert = &certs[0];
    let validity = &cert.tbs_certificate.validity;
    let secs = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
    assert_eq!(
        secs(&validity.not_before),
        (at - time::Duration::minutes(5)).unix_timestamp()
    );
    assert_eq!(
        secs(&validity.not_after),
        (at + time::Duration::hours(1)).unix_timestamp()
    );
}

/// A CSR must not claim a CA's name: a leaf called "Acme Issuing CA" would pass for its issuer
/// wherever a relying party compares names.
#[test]
fn a_csr_naming_a_ca_of_the_hierarchy_is_refused() {
    let s = service("est-d-ca-name");
    for cn in ["Acme Root CA", "Acme Issuing CA", " acme issuing ca"] {
        let r = s.handle(
            &enroll_as("", None, cn),
            &facts(),
            time::OffsetDateTime::now_utc(),
        );
        assert_eq!(
            (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            (403, "CSR commonName is the name of a CA\n".to_owned()),
            "{cn:?}"
        );
    }
    let refused = iotsec_pki::CaError::SubjectNamesCa {
        field: "commonName",
    };
    assert_eq!(
        (refused.code(), refused.is_refusal()),
        ("subject-names-ca", true)
    );
    // A name that merely contains the CA's is a device's.
    let r = s.handle(
        &enroll_as("", None, "Acme Issuing CA device 7"),
        &facts(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(r.status, 200);
}

fn from(ip: &str) -> TlsFacts {
    TlsFacts {
        peer: Some(std::net::SocketAddr::new(ip.parse().unwrap(), 40000)),
        ..facts()
    }
}

/// Password guessing over HTTP Basic is slowed per client address: after the burst of failures
/// the address is answered 429 (even with the right password) until a token refills; other
/// addresses are unaffected.
#[test]
fn failed_basic_authentication_is_limited_per_client_address() {
    use iotsec_pki::est::basic_auth::FailedAuthLimit;
    let s = service("est-d-basic-limit").with_failed_auth_limit(FailedAuthLimit {
        burst: 3,
        refill_secs: 30,
        max_tracked: 64,
    });
    let now = OffsetDateTime::now_utc();
    let mut wrong = enroll("", None);
    wrong.authorization = Some("Basic dTp4".into()); // u:x
    for _ in 0..3 {
        assert_eq!(s.handle(&wrong, &from("192.0.2.1"), now).status, 401);
    }
    let right = enroll("", None);
    let r = s.handle(&right, &from("192.0.2.1"), now);
    assert_eq!(r.status, 429);
    assert_eq!(
        r.headers.iter().find(|(k, _)| *k == "Retry-After"),
        Some(&("Retry-After", "30".to_owned()))
    );
    assert_eq!(s.handle(&wrong, &from("192.0.2.1"), now).status, 429);
    assert_eq!(s.handle(&right, &from("192.0.2.2"), now).status, 200);
    // One refilled token: the right password gets through again.
    let later = now + time::Duration::seconds(30);
    assert_eq!(s.handle(&right, &from("192.0.2.1"), later).status, 200);
}
