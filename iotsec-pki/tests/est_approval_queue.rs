//! The manual-approval queue of an EST label (RFC 7030 §4.2.3) as a state machine, checked
//! against a model over random sequences of enrollments and approvals: a request is answered
//! 202 until an operator approves it, then issued exactly once on the next retry, and leaves
//! the queue; approvals of other requests never issue this one. The device that retries once
//! more (it missed the answer) gets the same certificate again, not a new queue entry
//! (`est::service`, "Re-submitted requests").
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
use iotsec_pki::est_message::{Base64Layout, encode_csr_body};
use iotsec_pki::est_service::{EstRequest, EstService, LabelPolicy, TlsFacts};
use iotsec_pki::store::{ApprovalStore, CertStore};
use proptest::prelude::*;

/// What the model expects of one distinct request (CSR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queued {
    /// Not in the queue.
    Absent,
    /// Queued under this id, approved or not.
    Pending { id: i64, approved: bool },
    /// Issued: this certificate (DER) is the answer to every retry.
    Issued,
}

#[derive(Clone, Debug)]
enum Op {
    /// The device (re)sends request `n`.
    Enroll(usize),
    /// The operator approves request `n`'s queue entry, if it has one.
    Approve(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..3).prop_map(Op::Enroll),
        (0usize..3).prop_map(Op::Approve),
    ]
}

fn enroll_request(n: usize) -> EstRequest {
    let csr = common::csr_for(KeyAlgorithm::P256, 40 + n as u8, &format!("queued-{n}"));
    EstRequest {
        method: "POST".into(),
        path: "/.well-known/est/manual/simpleenroll".into(),
        content_type: Some("application/pkcs10".into()),
        authorization: Some("Basic dTpw".into()), // u:p
        body: encode_csr_body(&csr, Base64Layout::Lines64).into_bytes(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn approval_queue_follows_the_model(ops in proptest::collection::vec(op(), 1..24)) {
        let (_, state) = common::acme_ca("est-queue");
        let mut labels = HashMap::new();
        labels.insert(
            "manual".to_owned(),
            LabelPolicy {
                basic: Some(("u".into(), "p".into())),
                manual_approval: true,
                ..Default::default()
            },
        );
        let service = EstService::new(CaState::open(&state).unwrap(), labels);
        // The operator's side: `iotsec-cloud pki approve` opens the same state.
        let mut operator = CaState::open(&state).unwrap();
        let tls = TlsFacts { client_cert: None, exporter: Some([1; 32]), ..Default::default() };
        let mut model = [Queued::Absent; 3];
        let mut issued = 0u64;
        let mut certs: [Option<Vec<u8>>; 3] = Default::default();
        for op in ops {
            match op {
                Op::Enroll(n) => {
                    let r = service.handle(&enroll_request(n), &tls, time::OffsetDateTime::now_utc());
                    match model[n] {
                        Queued::Pending { approved: true, .. } => {
                            prop_assert_eq!(r.status, 200, "approved request {} not issued", n);
                            issued += 1;
                            certs[n] = Some(r.body.to_vec());
                            model[n] = Queued::Issued;
                        }
                        Queued::Issued => {
                            prop_assert_eq!(r.status, 200, "issued request {} not answered again", n);
                            prop_assert_eq!(Some(r.body.to_vec()), certs[n].clone());
                        }
                        Queued::Pending { id, approved: false } => {
                            prop_assert_eq!(r.status, 202);
                            prop_assert_eq!(
                                String::from_utf8_lossy(&r.body).into_owned(),
                                format!("request {id} awaits approval\n")
                            );
                        }
                        Queued::Absent => {
                            prop_assert_eq!(r.status, 202);
                            let body = String::from_utf8_lossy(&r.body).into_owned();
                            let id: i64 = body
                                .strip_prefix("request ")
                                .and_then(|b| b.strip_suffix(" awaits approval\n"))
                                .and_then(|n| n.parse().ok())
                                .unwrap_or_else(|| panic!("{body:?}"));
                            prop_assert!(
                                model.iter().all(|q| *q != Queued::Pending { id, approved: false }
                                    && *q != Queued::Pending { id, approved: true }),
                                "id {} reused", id
                            );
                            model[n] = Queued::Pending { id, approved: false };
                        }
                    }
                    prop_assert!(r.headers.iter().any(|(k, _)| *k == "Retry-After") == (r.status == 202));
                }
                Op::Approve(n) => {
                    if let Queued::Pending { id, .. } = model[n] {
                        prop_assert!(ApprovalStore::approve_pending(&mut operator.store, id).unwrap());
                        model[n] = Queued::Pending { id, approved: true };
                    }
                }
            }
            prop_assert_eq!(operator.store.issued_count().unwrap(), issued);
        }
    }
}
