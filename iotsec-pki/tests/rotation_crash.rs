//! Crash injection into an intermediate key rotation: a crash after any step of the rotation
//! (and again after any step of the recovery that follows) leaves a CA that opens in exactly
//! the old state or exactly the new one, and whose old leaves still verify with OpenSSL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::path::{Path, PathBuf};

use common::{acme_ca_at, csr_for, write_pem};
use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::{CaState, NewCaKey, read_pem};
use iotsec_pki::root_key::RootKey;
use iotsec_pki::rotation::{
    ROTATION_DONE, ROTATION_PENDING, ROTATION_STAGING, Recovery, RotationStep, recover_rotation,
    recover_rotation_observed, retired_generations, rotate_intermediate_observed,
};
use iotsec_pki::state_lock::StateLock;
use iotsec_pki::store::{CertStore, hex_upper};
use peers::{have, openssl_verify};
use time::OffsetDateTime;

/// What the CA looked like before the rotation.
struct Before {
    intermediate: Vec<u8>,
    settings: String,
    key: Vec<u8>,
    serial_hex: String,
    leaves: u64,
    crl_number: u64,
}

/// A CA with two leaves (`leaf0.pem`, `leaf1.pem`, and `root.pem`, `int.pem` in `dir`).
fn ca_with_leaves(name: &str, now: OffsetDateTime) -> (PathBuf, PathBuf, Before) {
    use der::Decode;
    let (dir, state) = acme_ca_at(name, now);
    let mut ca = CaState::open(&state).unwrap();
    for i in 0..2u8 {
        let leaf = ca
            .issue_csr(
                &csr_for(KeyAlgorithm::P256, i + 1, &format!("dev-{i}")),
                now,
            )
            .unwrap();
        write_pem(&dir, &format!("leaf{i}.pem"), "CERTIFICATE", &leaf.der);
    }
    ca.crl(now).unwrap();
    let intermediate = ca.authority.intermediate_der().to_vec();
    write_pem(&dir, "root.pem", "CERTIFICATE", ca.authority.root_der());
    write_pem(&dir, "int.pem", "CERTIFICATE", &intermediate);
    let before = Before {
        serial_hex: hex_upper(
            x509_cert::Certificate::from_der(&intermediate)
                .unwrap()
                .tbs_certificate
                .serial_number
                .as_bytes(),
        ),
        intermediate,
        settings: std::fs::read_to_string(state.join("ca.txt")).unwrap(),
        key: std::fs::read(state.join("intermediate.key.pem")).unwrap(),
        leaves: ca.store.issued_count().unwrap(),
        crl_number: ca.store.crl_number().unwrap(),
    };
    (dir, state, before)
}

/// Rotates the default intermediate of `state`, failing (like a crash: nothing cleaned up)
/// at the observed step number `crash_at`; returns the steps passed and the result.
fn rotate_crashing_at(
    state: &Path,
    now: OffsetDateTime,
    crash_at: Option<usize>,
) -> (Vec<RotationStep>, Result<(), CaError>) {
    let root_der = read_pem(&state.join("root.pem"), "CERTIFICATE").unwrap();
    let root_key = RootKey::of_state(state)
        .unwrap()
        .open_certified(&root_der, &Default::default())
        .unwrap();
    let mut steps = Vec::new();
    let result = rotate_intermediate_observed(
        state,
        None,
        now,
        NewCaKey::Software,
        root_key.as_ref(),
        &mut |step| {
            if Some(steps.len()) == crash_at {
                return Err(injected_crash());
            }
            steps.push(step);
            Ok(())
        },
    );
    (steps, result.map(|_| ()))
}

/// Recovers with a crash after every single step, until a recovery runs to its end; returns
/// how many crashed.
fn recover_crashing_after_every_step(state: &Path) -> usize {
    for crashes in 0..64 {
        match recover_rotation_observed(state, StateLock::WAIT_NONE, &mut |_| Err(injected_crash()))
        {
            Ok(_) => return crashes,
            Err(CaError::Io(e)) if e.to_string() == "injected crash" => {}
            Err(e) => panic!("recovery failed: {e}"),
        }
    }
    panic!("recovery never finished");
}

fn assert_no_rotation_left(state: &Path) {
    assert!(!state.join(ROTATION_STAGING).exists());
    assert!(!state.join(ROTATION_PENDING).exists());
    assert!(!state.join(ROTATION_DONE).exists());
}

/// The CA opens exactly as it was before the rotation; its leaves verify with its certificate.
fn assert_exactly_old(dir: &Path, state: &Path, before: &Before) {
    let ca = CaState::open(state).unwrap();
    assert_no_rotation_left(state);
    assert_eq!(ca.authority.intermediate_der(), before.intermediate);
    assert!(ca.may_issue());
    assert_eq!(
        std::fs::read_to_string(state.join("ca.txt")).unwrap(),
        before.settings
    );
    assert_eq!(
        std::fs::read(state.join("intermediate.key.pem")).unwrap(),
        before.key
    );
    assert_eq!(ca.store.issued_count().unwrap(), before.leaves);
    assert_eq!(ca.store.crl_number().unwrap(), before.crl_number);
    assert!(retired_generations(state).unwrap().is_empty());
    for leaf in ["leaf0.pem", "leaf1.pem"] {
        assert_eq!(
            openssl_verify(dir, "int.pem", &[], leaf),
            (true, format!("{leaf}: OK\n"))
        );
    }
}

/// The CA opens exactly rotated: a new certificate and empty database in place, the old
/// generation whole in `retired/SERIAL`; the old leaves verify with the retired certificate.
fn assert_exactly_new(dir: &Path, state: &Path, before: &Before) {
    let ca = CaState::open(state).unwrap();
    assert_no_rotation_left(state);
    assert_ne!(ca.authority.intermediate_der(), before.intermediate);
    assert!(ca.may_issue());
    assert_eq!(ca.store.issued_count().unwrap(), 0);
    assert_eq!(ca.store.crl_number().unwrap(), before.crl_number);
    assert_ne!(
        std::fs::read(state.join("intermediate.key.pem")).unwrap(),
        before.key
    );
    let retired = state.join("retired").join(&before.serial_hex);
    assert_eq!(retired_generations(state).unwrap(), vec![retired.clone()]);
    assert_eq!(
        std::fs::read(retired.join("intermediate.key.pem")).unwrap(),
        before.key
    );
    let retired_settings = std::fs::read_to_string(retired.join("ca.txt")).unwrap();
    assert!(
        retired_settings.starts_with(&before.settings)
            && retired_settings[before.settings.len()..].starts_with("retired_at="),
        "{retired_settings}"
    );
    let old = CaState::open(&retired).unwrap();
    assert!(!old.may_issue());
    assert_eq!(old.authority.intermediate_der(), before.intermediate);
    assert_eq!(old.store.issued_count().unwrap(), before.leaves);
    std::fs::copy(retired.join("intermediate.pem"), dir.join("retired.pem")).unwrap();
    for leaf in ["leaf0.pem", "leaf1.pem"] {
        assert_eq!(
            openssl_verify(dir, "retired.pem", &[], leaf),
            (true, format!("{leaf}: OK\n"))
        );
    }
}

#[test]
fn a_crash_at_every_step_leaves_exactly_the_old_or_the_new_state() {
    if !have("openssl") {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let (_, state, _) = ca_with_leaves("rotation-crash-steps", now);
    let (all_steps, result) = rotate_crashing_at(&state, now, None);
    result.unwrap();
    let committed = all_steps
        .iter()
        .position(|s| *s == RotationStep::Committed)
        .unwrap();
    use RotationStep::{Committed, Finished, Moved, Staged};
    assert_eq!(
        all_steps,
        [
            Staged("retired generation"),
            Staged("new key"),
            Staged("new certificate and settings"),
            Staged("new database"),
            Committed,
            Moved("old key"),
            Moved("old database"),
            Moved("new database"),
            Moved("new key"),
            Moved("new certificate"),
            Moved("new settings"),
            Moved("retired generation"),
            Moved("pending folder"),
            Finished,
        ]
    );

    for crash_at in 0..all_steps.len() {
        let (dir, state, before) = ca_with_leaves(&format!("rotation-crash-{crash_at}"), now);
        let (passed, result) = rotate_crashing_at(&state, now, Some(crash_at));
        // The step `crash_at` was done; its report is where the process died.
        assert!(result.is_err(), "step {crash_at}");
        assert_eq!(passed, all_steps[..crash_at], "step {crash_at}");
        let (staged, pending) = (
            state.join(ROTATION_STAGING).exists(),
            state.join(ROTATION_PENDING).exists(),
        );
        let crashes = recover_crashing_after_every_step(&state);
        if crash_at < committed {
            assert!(staged && !pending, "step {crash_at}");
            assert_eq!(crashes, 0, "step {crash_at}");
            assert_exactly_old(&dir, &state, &before);
        } else {
            // Every step left after the crash, each crashed once more in the recovery.
            assert_eq!(pending, crash_at + 2 < all_steps.len(), "step {crash_at}");
            assert_eq!(crashes, all_steps.len() - 1 - crash_at, "step {crash_at}");
            assert_exactly_new(&dir, &state, &before);
        }
    }
}

#[test]
fn opening_the_ca_finishes_a_committed_rotation_and_undoes_an_uncommitted_one() {
    if !have("openssl") {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let (_, state, _) = ca_with_leaves("rotation-crash-open", now);
    let (all_steps, _) = rotate_crashing_at(&state, now, None);
    let committed = all_steps
        .iter()
        .position(|s| *s == RotationStep::Committed)
        .unwrap();
    // Crash right after the commit point: the next open finishes the rotation.
    let (dir, state, before) = ca_with_leaves("rotation-crash-open-new", now);
    let (_, result) = rotate_crashing_at(&state, now, Some(committed));
    assert!(result.is_err());
    assert!(state.join(ROTATION_PENDING).exists());
    assert_exactly_new(&dir, &state, &before);
    // Crash right before it: the next open removes the staging folder.
    let (dir, state, before) = ca_with_leaves("rotation-crash-open-old", now);
    let (_, result) = rotate_crashing_at(&state, now, Some(committed - 1));
    assert!(result.is_err());
    assert!(state.join(ROTATION_STAGING).exists());
    assert_exactly_old(&dir, &state, &before);
    // Nothing to recover.
    assert_eq!(
        recover_rotation(&state, StateLock::WAIT_NONE).unwrap(),
        Recovery::Clean
    );
}

/// A process killed while it deleted the finished pending folder (found by the SIGKILL test of
/// `iotsec-cloud pki rotate`: `remove_dir_all` had taken the plan and left the folder, and the
/// next open failed with "No such file or directory"): the folder is renamed before it is
/// deleted, and whatever is left of it is removed on the next open.
#[test]
fn a_crash_while_the_finished_rotation_is_deleted_leaves_the_new_state() {
    if !have("openssl") {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let (_, state, _) = ca_with_leaves("rotation-crash-delete-steps", now);
    let (all_steps, _) = rotate_crashing_at(&state, now, None);
    let renamed = all_steps
        .iter()
        .position(|s| *s == RotationStep::Moved("pending folder"))
        .unwrap();
    let (dir, state, before) = ca_with_leaves("rotation-crash-delete", now);
    let (_, result) = rotate_crashing_at(&state, now, Some(renamed));
    assert!(result.is_err());
    assert!(!state.join(ROTATION_PENDING).exists());
    // Half deleted: the plan and the emptied new folder are gone, the folder itself is not.
    let done = state.join(ROTATION_DONE);
    std::fs::remove_file(done.join("plan.txt")).unwrap();
    std::fs::remove_dir_all(done.join("new")).unwrap();
    assert!(done.exists());
    assert_exactly_new(&dir, &state, &before);
}

#[test]
fn a_rotation_in_progress_holds_off_opens_and_other_rotations() {
    let now = OffsetDateTime::now_utc();
    let (_, state, _) = ca_with_leaves("rotation-lock", now);
    let held = StateLock::exclusive(&state, StateLock::WAIT_NONE).unwrap();
    for result in [
        StateLock::shared(&state, StateLock::WAIT_NONE).map(|_| ()),
        StateLock::exclusive(&state, StateLock::WAIT_NONE).map(|_| ()),
        recover_rotation(&state, StateLock::WAIT_NONE).map(|_| ()),
    ] {
        match result {
            Err(CaError::RotationInProgress { dir }) => assert_eq!(dir, state),
            other => panic!("{other:?}"),
        }
    }
    drop(held);
    let _shared = StateLock::shared(&state, StateLock::WAIT_NONE).unwrap();
    let _another = StateLock::shared(&state, StateLock::WAIT_NONE).unwrap();
    assert!(matches!(
        StateLock::exclusive(&state, StateLock::WAIT_NONE),
        Err(CaError::RotationInProgress { .. })
    ));
}

/// The failure a test injects at a rotation step (what a crash or a full disk would return).
fn injected_crash() -> CaError {
    CaError::Io(std::io::Error::other("injected crash"))
}
