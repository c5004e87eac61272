//! The reload state machine of a running EST server (`est_reload`): what a check of the disk
//! does after a revocation, a rotation (finished, interrupted, running), a broken file and
//! its repair; an in-flight request keeps the generation it started with. A model test runs
//! random sequences of these changes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{acme_ca_at, csr_for};
use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::{CaState, NewCaKey, read_pem};
use iotsec_pki::est_message::parse_certs_only;
use iotsec_pki::est_reload::{CheckOutcome, ReloadEvent, ReloadingEst, ServedState};
use iotsec_pki::est_service::{EstRequest, EstService, LabelPolicy, TlsFacts};
use iotsec_pki::root_key::RootKey;
use iotsec_pki::rotation::{
    ROTATION_PENDING, ROTATION_STAGING, RotationStep, revoke_in_any_generation,
    rotate_intermediate, rotate_intermediate_observed,
};
use iotsec_pki::state_lock::StateLock;
use proptest::prelude::*;
use time::OffsetDateTime;

/// A reloading server state over a fresh CA, checking on every call, with its event log.
fn reloading(name: &str) -> (PathBuf, ReloadingEst, Arc<Mutex<Vec<String>>>) {
    let (_, state) = acme_ca_at(name, OffsetDateTime::now_utc());
    let mut labels = HashMap::new();
    labels.insert(
        String::new(),
        LabelPolicy {
            basic: Some(("dev".into(), "s3cret".into())),
            ..Default::default()
        },
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    common::crypto_provider();
    let est = ReloadingEst::start(
        ServedState {
            state_dir: state.clone(),
            intermediates: Vec::new(),
            labels,
            root_crl: None,
            pins: Default::default(),
        },
        Duration::ZERO,
        Box::new(move |e: &ReloadEvent<'_>| log.lock().unwrap().push(format!("{e:?}"))),
    )
    .unwrap();
    (state, est, events)
}

/// The intermediate certificate in what `/cacerts` of `service` returns.
fn served_intermediate(service: &EstService) -> Vec<u8> {
    let r = service.handle(
        &EstRequest {
            method: "GET".into(),
            path: "/.well-known/est/cacerts".into(),
            ..Default::default()
        },
        &TlsFacts::default(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(r.status, 200);
    use der::Encode;
    let certs = parse_certs_only(&r.body).unwrap();
    assert_eq!(certs.len(), 2);
    // The one the root certified (the root's subject is its issuer).
    let intermediate = certs
        .into_iter()
        .find(|c| c.tbs_certificate.issuer != c.tbs_certificate.subject)
        .unwrap();
    intermediate.to_der().unwrap()
}

fn on_disk(state: &Path) -> Vec<u8> {
    read_pem(&state.join("intermediate.pem"), "CERTIFICATE").unwrap()
}

/// Issues one leaf with the current key and revokes it (as `pki revoke --serial` does).
fn issue_and_revoke(state: &Path, seed: u8) {
    let now = OffsetDateTime::now_utc();
    let leaf = CaState::open(state)
        .unwrap()
        .issue_csr(&csr_for(KeyAlgorithm::P256, seed, "dev"), now)
        .unwrap();
    revoke_in_any_generation(state, &leaf.serial, 1, now).unwrap();
}

fn refusals(events: &Mutex<Vec<String>>) -> usize {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.starts_with("Refused"))
        .count()
}

#[test]
fn a_check_follows_revocation_rotation_and_refuses_a_broken_file() {
    let (state, est, events) = reloading("reload-machine");
    assert_eq!(est.loaded().number, 1);
    assert_eq!(est.check_now(), CheckOutcome::Unchanged);

    // An issuance changes nothing a server loads; a revocation does (the TLS layer's CRL).
    let now = OffsetDateTime::now_utc();
    CaState::open(&state)
        .unwrap()
        .issue_csr(&csr_for(KeyAlgorithm::P256, 1, "dev-1"), now)
        .unwrap();
    assert_eq!(est.check_now(), CheckOutcome::Unchanged);
    issue_and_revoke(&state, 2);
    assert_eq!(est.check_now(), CheckOutcome::Reloaded { generation: 2 });

    // A truncated certificate written in place: refused once, the last good state kept.
    let good = std::fs::read(state.join("intermediate.pem")).unwrap();
    std::fs::write(state.join("intermediate.pem"), &good[..good.len() / 2]).unwrap();
    assert_eq!(est.check_now(), CheckOutcome::Refused);
    assert_eq!(est.check_now(), CheckOutcome::Unchanged);
    assert_eq!(est.loaded().number, 2);
    assert_eq!(refusals(&events), 1);
    assert_eq!(served_intermediate(&est.loaded().service), good_der(&good));
    std::fs::write(state.join("intermediate.pem"), &good).unwrap();
    assert_eq!(est.check_now(), CheckOutcome::Reloaded { generation: 3 });

    // A request that started before a rotation finishes on its generation; the next one
    // gets the new chain.
    let in_flight = est.loaded();
    let old = on_disk(&state);
    rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
    assert_eq!(est.check_now(), CheckOutcome::Reloaded { generation: 4 });
    assert_eq!(served_intermediate(&in_flight.service), old);
    assert_eq!(served_intermediate(&est.loaded().service), on_disk(&state));
    assert_ne!(old, on_disk(&state));
}

fn good_der(pem: &[u8]) -> Vec<u8> {
    pem_rfc7468::decode_vec(pem).unwrap().1
}

#[test]
fn a_check_finishes_an_interrupted_rotation_and_waits_for_a_running_one() {
    let (state, est, _) = reloading("reload-rotation-crash");
    let now = OffsetDateTime::now_utc();
    let root_der = read_pem(&state.join("root.pem"), "CERTIFICATE").unwrap();
    let root_key = RootKey::of_state(&state)
        .unwrap()
        .open_certified(&root_der, &Default::default())
        .unwrap();
    // The rotating process dies right after its commit point.
    let result = rotate_intermediate_observed(
        &state,
        None,
        now,
        NewCaKey::Software,
        root_key.as_ref(),
        &mut |step| match step {
            RotationStep::Committed => Err(CaError::Io(std::io::Error::other("crash"))),
            _ => Ok(()),
        },
    );
    assert!(result.is_err());
    assert!(state.join(ROTATION_PENDING).exists());
    assert_eq!(est.check_now(), CheckOutcome::Reloaded { generation: 2 });
    assert!(!state.join(ROTATION_PENDING).exists());
    assert_eq!(served_intermediate(&est.loaded().service), on_disk(&state));

    // A rotation running in another process (it holds the lock): the check waits for it.
    let lock = StateLock::exclusive(&state, StateLock::WAIT_NONE).unwrap();
    std::fs::create_dir(state.join(ROTATION_STAGING)).unwrap();
    assert_eq!(est.check_now(), CheckOutcome::InTransition);
    assert_eq!(est.loaded().number, 2);
    // It died before its commit point: undone, nothing to load.
    drop(lock);
    assert_eq!(est.check_now(), CheckOutcome::Unchanged);
    assert!(!state.join(ROTATION_STAGING).exists());
}

#[test]
fn checks_are_at_most_one_per_interval() {
    let (_, state) = acme_ca_at("reload-interval", OffsetDateTime::now_utc());
    let mut labels = HashMap::new();
    labels.insert(String::new(), LabelPolicy::default());
    common::crypto_provider();
    let est = ReloadingEst::start(
        ServedState {
            state_dir: state.clone(),
            intermediates: Vec::new(),
            labels,
            root_crl: None,
            pins: Default::default(),
        },
        Duration::from_secs(3600),
        Box::new(|_: &ReloadEvent<'_>| {}),
    )
    .unwrap();
    issue_and_revoke(&state, 3);
    assert_eq!(est.check_if_due(), CheckOutcome::NotDue);
    assert_eq!(est.generation().number, 1);
    assert_eq!(est.check_now(), CheckOutcome::Reloaded { generation: 2 });
}

/// Enrolls `dev-{seed}` through `service` (HTTP Basic): the HTTP status.
fn enroll_through(service: &EstService, seed: u8) -> u16 {
    enroll_response(service, seed).status
}

fn enroll_response(service: &EstService, seed: u8) -> iotsec_pki::est_service::EstResponse {
    use base64ct::{Base64, Encoding};
    use iotsec_pki::est_message::{Base64Layout, encode_csr_body};
    let csr = csr_for(KeyAlgorithm::P256, seed, &format!("dev-{seed}"));
    service.handle(
        &EstRequest {
            method: "POST".into(),
            path: "/.well-known/est/simpleenroll".into(),
            content_type: Some("application/pkcs10".into()),
            authorization: Some(format!("Basic {}", Base64::encode_string(b"dev:s3cret"))),
            body: encode_csr_body(&csr, Base64Layout::Lines64).into_bytes(),
        },
        &TlsFacts::default(),
        time::OffsetDateTime::now_utc(),
    )
}

/// The (authority, subject) key identifiers of a certificate.
fn key_ids(cert: &x509_cert::Certificate) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    use der::Decode;
    use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};
    let exts = cert.tbs_certificate.extensions.clone().unwrap_or_default();
    let value = |oid: &str| {
        exts.iter()
            .find(|e| e.extn_id == der::oid::ObjectIdentifier::new_unwrap(oid))
            .map(|e| e.extn_value.as_bytes().to_vec())
    };
    (
        value("2.5.29.35").map(|v| {
            AuthorityKeyIdentifier::from_der(&v)
                .unwrap()
                .key_identifier
                .unwrap()
                .as_bytes()
                .to_vec()
        }),
        value("2.5.29.14").map(|v| {
            SubjectKeyIdentifier::from_der(&v)
                .unwrap()
                .0
                .as_bytes()
                .to_vec()
        }),
    )
}

#[test]
fn under_concurrent_reloads_each_request_sees_one_generation() {
    use der::Decode;
    let (state, est, events) = reloading("reload-concurrent");
    let est = Arc::new(est);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4u8)
        .map(|w| {
            let (est, stop) = (est.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                let mut n = 0u8;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n = n % 49 + 1;
                    let seed = w * 50 + n;
                    // One request's generation: its chain and what it issues belong together.
                    let generation = est.generation();
                    let chain = served_intermediate(&generation.service);
                    let r = enroll_response(&generation.service, seed);
                    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                    let leaf = parse_certs_only(&r.body).unwrap().remove(0);
                    let int = x509_cert::Certificate::from_der(&chain).unwrap();
                    assert_eq!(key_ids(&leaf).0, key_ids(&int).1);
                    seen.insert(generation.number);
                }
                seen
            })
        })
        .collect();
    let now = OffsetDateTime::now_utc();
    for i in 0..3u8 {
        rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
        issue_and_revoke(&state, 200 + i);
        std::thread::sleep(Duration::from_millis(30));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    for w in workers {
        seen.extend(w.join().unwrap());
    }
    // The workers crossed reloads, and none was refused.
    assert!(seen.len() > 1, "{seen:?}");
    assert_eq!(refusals(&events), 0, "{:?}", events.lock().unwrap());
    est.check_now();
    assert_eq!(est.check_now(), CheckOutcome::Unchanged);
    assert_eq!(served_intermediate(&est.loaded().service), on_disk(&state));
}

#[test]
fn what_the_next_generation_writes_survives_the_reload_after_a_rotation() {
    use iotsec_pki::store::{CertStore, SqliteStore};
    let (state, est, _) = reloading("reload-rotation-wal");
    assert_eq!(enroll_through(&est.loaded().service, 1), 200);
    rotate_intermediate(&state, None, OffsetDateTime::now_utc(), NewCaKey::Software).unwrap();
    assert_eq!(est.check_now(), CheckOutcome::Reloaded { generation: 2 });
    assert_eq!(enroll_through(&est.loaded().service, 2), 200);
    // Seen by another connection (another process, e.g. `pki revoke`): the replaced
    // generation's connection, closed on a database a rotation moved, must not have
    // checkpointed into or deleted the log that now has its old name (the new database's).
    assert!(state.join("pki.sqlite-wal").exists());
    let store = SqliteStore::open(&state.join("pki.sqlite")).unwrap();
    assert_eq!(store.issued_count().unwrap(), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let retired = SqliteStore::open(
        &iotsec_pki::rotation::retired_generations(&state).unwrap()[0].join("pki.sqlite"),
    )
    .unwrap();
    assert_eq!(retired.issued_count().unwrap(), 1);
}

/// A change made to the state on disk.
#[derive(Debug, Clone, Copy)]
enum Change {
    Nothing,
    Revoke,
    Corrupt,
    Repair,
    Rotate,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Nothing),
        Just(Change::Revoke),
        Just(Change::Corrupt),
        Just(Change::Repair),
        Just(Change::Rotate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Model: a check after a change that loads reloads (one generation more); after one that
    /// does not, it refuses (one event per refused state) and keeps the generation; after
    /// none, nothing.
    #[test]
    fn reload_checks_follow_the_model(changes in proptest::collection::vec(change(), 1..12)) {
        let (state, est, events) = reloading("reload-model");
        let mut good = std::fs::read(state.join("intermediate.pem")).unwrap();
        // Leaves to revoke later (an issuance alone changes nothing a server loads).
        let now = OffsetDateTime::now_utc();
        let mut ca = CaState::open(&state).unwrap();
        let serials: Vec<Vec<u8>> = (0..12u8)
            .map(|i| ca.issue_csr(&csr_for(KeyAlgorithm::P256, i + 10, "dev"), now).unwrap().serial)
            .collect();
        drop(ca);
        let (mut generation, mut refused, mut corrupt) = (1u64, 0usize, false);
        for (i, change) in changes.into_iter().enumerate() {
            let changed = match change {
                Change::Nothing => false,
                // Also while the state is broken: a change, refused again.
                Change::Revoke => {
                    revoke_in_any_generation(&state, &serials[i], 1, now).unwrap();
                    true
                }
                Change::Corrupt if !corrupt => {
                    std::fs::write(state.join("intermediate.pem"), &good[..good.len() / 2])
                        .unwrap();
                    corrupt = true;
                    true
                }
                Change::Repair if corrupt => {
                    std::fs::write(state.join("intermediate.pem"), &good).unwrap();
                    corrupt = false;
                    true
                }
                Change::Rotate if !corrupt => {
                    rotate_intermediate(&state, None, now, NewCaKey::Software).unwrap();
                    // A later repair restores this generation's certificate.
                    good = std::fs::read(state.join("intermediate.pem")).unwrap();
                    true
                }
                Change::Corrupt | Change::Repair | Change::Rotate => false,
            };
            let good_now = !corrupt;
            let expected = match (changed, good_now) {
                (false, _) => CheckOutcome::Unchanged,
                (true, true) => {
                    generation += 1;
                    CheckOutcome::Reloaded { generation }
                }
                (true, false) => {
                    refused += 1;
                    CheckOutcome::Refused
                }
            };
            prop_assert_eq!(est.check_now(), expected, "{:?}", change);
            prop_assert_eq!(est.loaded().number, generation);
            prop_assert_eq!(refusals(&events), refused);
        }
    }
}
