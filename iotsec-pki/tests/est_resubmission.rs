//! A re-submitted enrollment (RFC 7030 §4.2.1; `est::service`, "Re-submitted requests"): the
//! same CSR from the same authenticated client within the window gets the certificate already
//! issued for it, byte for byte; a different CSR, another client, a request after the window,
//! after the certificate expired or after it was revoked is decided as a new one. Also the
//! approval queue as an explicit `ApprovalStore`, and the identities the application bars.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca::error::{BarredReason, CaError};
use iotsec_pki::ca::state::CaState;
use iotsec_pki::device::est_message::parse_certs_only;
use iotsec_pki::est::enrollment_admission::ReservedNames;
use iotsec_pki::est::service::{EstRequest, EstResponse, EstService, LabelPolicy, TlsFacts};
use iotsec_pki::store::{ApprovalStore, CertStore};
use proptest::prelude::*;
use time::OffsetDateTime;

/// A service over a fresh CA (device certificates live an hour) with labels "" and "other"
/// (HTTP Basic u:p) and "manual" (manual approval); also the operator's view of the CA.
fn service(name: &str) -> (EstService, CaState) {
    let (_, state) = common::acme_ca(name);
    let basic = LabelPolicy {
        basic: Some(("u".into(), "p".into())),
        ..Default::default()
    };
    let mut labels = HashMap::new();
    labels.insert(String::new(), basic.clone());
    labels.insert("other".into(), basic.clone());
    labels.insert(
        "manual".into(),
        LabelPolicy {
            manual_approval: true,
            ..basic
        },
    );
    (
        EstService::new(CaState::open(&state).unwrap(), labels),
        CaState::open(&state).unwrap(),
    )
}

fn request(label: &str, op: &str, csr: &[u8]) -> EstRequest {
    common::est_post(label, op, csr)
}

fn enroll(label: &str, csr: &[u8]) -> EstRequest {
    request(label, "simpleenroll", csr)
}

fn tls(client_cert: Option<&[u8]>) -> TlsFacts {
    TlsFacts {
        client_cert: client_cert.map(<[u8]>::to_vec),
        exporter: Some([7; 32]),
        ..Default::default()
    }
}

/// The certificate of a certs-only answer.
fn issued(r: &EstResponse) -> Vec<u8> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    der::Encode::to_der(&parse_certs_only(&r.body).unwrap()[0]).unwrap()
}

fn serial_of(cert: &[u8]) -> Vec<u8> {
    use der::Decode;
    x509_cert::Certificate::from_der(cert)
        .unwrap()
        .tbs_certificate
        .serial_number
        .as_bytes()
        .to_vec()
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(secs)
}

#[test]
fn an_identical_resubmission_gets_the_certificate_already_issued() {
    let (s, operator) = service("est-resub-same");
    let csr = common::csr_for(KeyAlgorithm::P256, 31, "dev-1");
    let t0 = at(0);
    let first = s.handle(&enroll("", &csr), &tls(None), t0);
    let again = s.handle(
        &enroll("", &csr),
        &tls(None),
        t0 + time::Duration::seconds(30),
    );
    assert_eq!(issued(&first), issued(&again));
    assert_eq!(first.body, again.body, "the same response bytes");
    assert_eq!(operator.store.issued_count().unwrap(), 1);
    // Still the same one just inside the window (10 minutes by default).
    let edge = s.handle(
        &enroll("", &csr),
        &tls(None),
        t0 + time::Duration::seconds(600),
    );
    assert_eq!(issued(&edge), issued(&first));
    assert_eq!(operator.store.issued_count().unwrap(), 1);
}

#[test]
fn a_different_csr_or_client_is_a_new_enrollment() {
    let (s, operator) = service("est-resub-other");
    let t0 = at(0);
    let csr = common::csr_for(KeyAlgorithm::P256, 32, "dev-2");
    let first = issued(&s.handle(&enroll("", &csr), &tls(None), t0));
    // Another key for the same name: another CSR.
    let rekeyed = common::csr_for(KeyAlgorithm::P256, 33, "dev-2");
    let second = issued(&s.handle(&enroll("", &rekeyed), &tls(None), t0));
    assert_ne!(serial_of(&first), serial_of(&second));
    // The same CSR at another label (same CA): another client.
    let third = issued(&s.handle(&enroll("other", &csr), &tls(None), t0));
    assert_ne!(serial_of(&first), serial_of(&third));
    // The same CSR with a TLS client certificate alongside HTTP Basic: another client...
    let with_cert = issued(&s.handle(&enroll("", &csr), &tls(Some(&second)), t0));
    assert_ne!(serial_of(&first), serial_of(&with_cert));
    // ...which, repeating itself, gets its own certificate again.
    let repeated = issued(&s.handle(&enroll("", &csr), &tls(Some(&second)), t0));
    assert_eq!(with_cert, repeated);
    assert_eq!(operator.store.issued_count().unwrap(), 4);
    // A wrong password is refused as before, however identical the CSR.
    let mut wrong = enroll("", &csr);
    wrong.authorization = Some("Basic dTpx".into()); // u:x
    assert_eq!(s.handle(&wrong, &tls(None), t0).status, 401);
    assert_eq!(operator.store.issued_count().unwrap(), 4);
}

#[test]
fn after_the_window_expiry_or_revocation_the_request_is_issued_anew() {
    let (s, mut operator) = service("est-resub-later");
    let t0 = at(0);
    let csr = common::csr_for(KeyAlgorithm::P256, 34, "dev-3");
    let first = issued(&s.handle(&enroll("", &csr), &tls(None), t0));
    // Past the window.
    let late = issued(&s.handle(
        &enroll("", &csr),
        &tls(None),
        t0 + time::Duration::seconds(601),
    ));
    assert_ne!(serial_of(&first), serial_of(&late));
    // Revoked: never handed out again.
    assert!(operator.revoke(&serial_of(&late), 1, t0).unwrap());
    let after_revoke = issued(&s.handle(
        &enroll("", &csr),
        &tls(None),
        t0 + time::Duration::seconds(602),
    ));
    assert_ne!(serial_of(&after_revoke), serial_of(&late));
    assert_eq!(operator.store.issued_count().unwrap(), 3);

    // A window longer than the certificate's life (an hour here) never outlives it.
    let (s, operator) = service("est-resub-expired");
    let s = s.with_reissue_window(Duration::from_secs(24 * 3600));
    let first = issued(&s.handle(&enroll("", &csr), &tls(None), t0));
    let within = issued(&s.handle(
        &enroll("", &csr),
        &tls(None),
        t0 + time::Duration::seconds(1800),
    ));
    assert_eq!(first, within);
    let expired = issued(&s.handle(
        &enroll("", &csr),
        &tls(None),
        t0 + time::Duration::seconds(2 * 3600),
    ));
    assert_ne!(serial_of(&first), serial_of(&expired));
    assert_eq!(operator.store.issued_count().unwrap(), 2);

    // A zero window issues every time.
    let (s, operator) = service("est-resub-zero");
    let s = s.with_reissue_window(Duration::ZERO);
    let a = issued(&s.handle(&enroll("", &csr), &tls(None), t0));
    let b = issued(&s.handle(&enroll("", &csr), &tls(None), t0));
    assert_ne!(serial_of(&a), serial_of(&b));
    assert_eq!(operator.store.issued_count().unwrap(), 2);
}

#[test]
fn a_resubmitted_renewal_gets_the_same_renewal_and_serverkeygen_issues_anew() {
    let (s, operator) = service("est-resub-renew");
    let t0 = at(0);
    let old = issued(&s.handle(
        &enroll("", &common::csr_for(KeyAlgorithm::P256, 35, "dev-4")),
        &tls(None),
        t0,
    ));
    let renewal = common::csr_for(KeyAlgorithm::P256, 36, "dev-4");
    let mut renew = request("", "simplereenroll", &renewal);
    renew.authorization = None;
    let a = issued(&s.handle(&renew, &tls(Some(&old)), t0));
    let b = issued(&s.handle(&renew, &tls(Some(&old)), t0));
    assert_eq!(a, b);
    assert_eq!(operator.store.issued_count().unwrap(), 2);
    // serverkeygen answers with a fresh private key each time, so a fresh certificate too.
    let keygen = request("", "serverkeygen", &renewal);
    assert_eq!(s.handle(&keygen, &tls(None), t0).status, 200);
    assert_eq!(s.handle(&keygen, &tls(None), t0).status, 200);
    assert_eq!(operator.store.issued_count().unwrap(), 4);
}

/// An approval queue in memory: what a service given its own store uses instead of the CA
/// database's.
#[derive(Clone, Default)]
struct MemoryQueue(Arc<Mutex<Vec<Entry>>>);

/// (id, label, CSR DER, approved)
type Entry = (i64, String, Vec<u8>, bool);

impl ApprovalStore for MemoryQueue {
    fn add_pending(&mut self, label: &str, csr_der: &[u8], _at: i64) -> Result<i64, CaError> {
        let mut q = self.0.lock().unwrap();
        let id = q.iter().map(|e| e.0).max().unwrap_or(100) + 1;
        q.push((id, label.to_owned(), csr_der.to_vec(), false));
        Ok(id)
    }
    fn find_pending(&self, label: &str, csr_der: &[u8]) -> Result<Option<(i64, bool)>, CaError> {
        let q = self.0.lock().unwrap();
        Ok(q.iter()
            .find(|e| e.1 == label && e.2 == csr_der)
            .map(|e| (e.0, e.3)))
    }
    fn pending_approved(&self, id: i64) -> Result<Option<bool>, CaError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.0 == id)
            .map(|e| e.3))
    }
    fn approve_pending(&mut self, id: i64) -> Result<bool, CaError> {
        let mut q = self.0.lock().unwrap();
        Ok(q.iter_mut()
            .find(|e| e.0 == id)
            .map(|e| e.3 = true)
            .is_some())
    }
    fn remove_pending(&mut self, id: i64) -> Result<(), CaError> {
        self.0.lock().unwrap().retain(|e| e.0 != id);
        Ok(())
    }
}

#[test]
fn the_approval_queue_is_the_store_the_service_is_given() {
    let (s, operator) = service("est-resub-queue");
    let mut queue = MemoryQueue::default();
    let s = s.with_approval_store(queue.clone());
    let csr = common::csr_for(KeyAlgorithm::P256, 37, "dev-5");
    let t0 = at(0);
    let r = s.handle(&enroll("manual", &csr), &tls(None), t0);
    assert_eq!(r.status, 202);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "request 101 awaits approval\n"
    );
    // Queued in the given store, not in the CA database.
    assert_eq!(
        queue.find_pending("manual", &csr).unwrap(),
        Some((101, false))
    );
    assert_eq!(
        ApprovalStore::find_pending(&operator.store, "manual", &csr).unwrap(),
        None
    );
    // Approving in the CA database does nothing for it; approving in the given store does.
    assert_eq!(
        s.handle(&enroll("manual", &csr), &tls(None), t0).status,
        202
    );
    assert!(queue.approve_pending(101).unwrap());
    let cert = issued(&s.handle(&enroll("manual", &csr), &tls(None), t0));
    assert_eq!(queue.pending_approved(101).unwrap(), None, "left the queue");
    // The device that missed the answer retries: the same certificate, not a new request.
    assert_eq!(
        issued(&s.handle(&enroll("manual", &csr), &tls(None), t0)),
        cert
    );
    assert_eq!(operator.store.issued_count().unwrap(), 1);
}

fn barring(s: EstService) -> EstService {
    s.with_enrollment_admission(ReservedNames::new(
        ["ops".to_owned(), "cloud-deny".to_owned(), String::new()],
        |cn: &str| {
            Ok(match cn {
                "dev-revoked" => Some(BarredReason::Revoked),
                "dev-gone" => Some(BarredReason::Decommissioned),
                "dev-broken-registry" => return Err(CaError::Poisoned { what: "registry" }),
                _ => None,
            })
        },
    ))
}

#[test]
fn reserved_names_and_ended_identities_do_not_enroll() {
    let (s, operator) = service("est-resub-admission");
    let s = barring(s);
    let t0 = at(0);
    let refused = |cn: &str| {
        let r = s.handle(
            &enroll("", &common::csr_for(KeyAlgorithm::P256, 38, cn)),
            &tls(None),
            t0,
        );
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    };
    for cn in ["ops", "OPS", " ops", "cloud-deny", "Cloud-Deny "] {
        assert_eq!(
            refused(cn),
            (
                403,
                format!("{cn:?} is reserved: EST enrolls devices only\n")
            ),
            "{cn:?}"
        );
    }
    assert_eq!(
        refused("dev-revoked"),
        (
            403,
            "device \"dev-revoked\" is revoked: it does not enroll again\n".into()
        )
    );
    assert_eq!(
        refused("dev-gone"),
        (
            403,
            "device \"dev-gone\" is decommissioned: it does not enroll again\n".into()
        )
    );
    // A registry that cannot answer refuses (fails closed), without details.
    assert_eq!(
        refused("dev-broken-registry"),
        (500, "internal error\n".into())
    );
    // The empty name reserves nothing; an ordinary device and a look-alike enroll.
    assert_eq!(refused("dev-6").0, 200);
    assert_eq!(refused("ops-device").0, 200);
    assert_eq!(operator.store.issued_count().unwrap(), 2);
    // Renewal of an ended identity is refused as well.
    let (plain, _) = service("est-resub-admission-renew");
    let old = issued(&plain.handle(
        &enroll("", &common::csr_for(KeyAlgorithm::P256, 39, "dev-revoked")),
        &tls(None),
        t0,
    ));
    let barred = barring(plain);
    let mut renew = request(
        "",
        "simplereenroll",
        &common::csr_for(KeyAlgorithm::P256, 40, "dev-revoked"),
    );
    renew.authorization = None;
    assert_eq!(barred.handle(&renew, &tls(Some(&old)), t0).status, 403);
}

#[test]
fn admission_refusals_have_stable_codes() {
    let reserved = CaError::ReservedName {
        common_name: "ops".into(),
    };
    let revoked = CaError::IdentityBarred {
        common_name: "d".into(),
        reason: BarredReason::Revoked,
    };
    let gone = CaError::IdentityBarred {
        common_name: "d".into(),
        reason: BarredReason::Decommissioned,
    };
    assert_eq!(
        [reserved.code(), revoked.code(), gone.code()],
        [
            "reserved-name",
            "identity-revoked",
            "identity-decommissioned"
        ]
    );
    assert!(reserved.is_refusal() && revoked.is_refusal() && gone.is_refusal());
}

#[derive(Clone, Debug)]
enum Op {
    /// Client `c` (0: no certificate, 1: with the first certificate issued) sends CSR `n`.
    Submit { csr: usize, client: usize },
    /// The clock moves on.
    Wait(i64),
    /// The operator revokes the certificate last issued for CSR `n` to client `c`.
    Revoke { csr: usize, client: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..2, 0usize..2).prop_map(|(csr, client)| Op::Submit { csr, client }),
        1 => (1i64..400).prop_map(Op::Wait),
        1 => (0usize..2, 0usize..2).prop_map(|(csr, client)| Op::Revoke { csr, client }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Against a model: a submission gets the certificate issued for the same (CSR, client)
    /// within the last 600 s unless revoked; otherwise a new one. The store holds exactly
    /// the certificates the model issued.
    #[test]
    fn resubmissions_follow_the_model(ops in proptest::collection::vec(op(), 1..20)) {
        let (s, mut operator) = service("est-resub-model");
        let csrs = [
            common::csr_for(KeyAlgorithm::P256, 41, "dev-m"),
            common::csr_for(KeyAlgorithm::P256, 42, "dev-m"),
        ];
        let base = at(0);
        let anchor = issued(&s.handle(&enroll("", &csrs[0]), &tls(None), base));
        // (csr, client) -> (cert, issued at, revoked)
        let mut model: HashMap<(usize, usize), (Vec<u8>, i64, bool)> = HashMap::new();
        model.insert((0, 0), (anchor.clone(), 0, false));
        let mut count = 1u64;
        let mut clock = 0i64;
        for op in ops {
            match op {
                Op::Submit { csr, client } => {
                    let facts = tls((client == 1).then_some(anchor.as_slice()));
                    let now = base + time::Duration::seconds(clock);
                    let cert = issued(&s.handle(&enroll("", &csrs[csr]), &facts, now));
                    match model.get(&(csr, client)) {
                        Some((prev, when, false)) if clock - when <= 600 => {
                            prop_assert_eq!(&cert, prev);
                        }
                        _ => {
                            count += 1;
                            model.insert((csr, client), (cert, clock, false));
                        }
                    }
                }
                Op::Wait(secs) => clock += secs,
                Op::Revoke { csr, client } => {
                    // The anchor authenticates client 1: keep it valid.
                    if (csr, client) != (0, 0)
                        && let Some(entry) = model.get_mut(&(csr, client))
                        && !entry.2
                    {
                        operator.revoke(&serial_of(&entry.0), 1, base).unwrap();
                        entry.2 = true;
                    }
                }
            }
            prop_assert_eq!(operator.store.issued_count().unwrap(), count);
        }
    }
}
