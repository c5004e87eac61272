//! `iotsec-cloud pki rotate` killed (SIGKILL) at moments spread over its run: the next `pki`
//! command finds the CA in exactly the old or exactly the new state, and the leaf issued
//! before still passes `openssl verify` with the intermediate of that state.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{have, openssl, openssl_csr, p, pki, scratch};

/// A CA in `dir/state` with one leaf `old.pem`; its intermediate copied to `old-int.pem`.
fn ca_with_a_leaf(dir: &Path) -> String {
    let state = p(dir, "state");
    let (code, out) = pki("init", &state, &["--lifetime-hours", "2"]);
    assert_eq!(code, 0, "{out}");
    openssl_csr(dir, "old.key", "old.csr", "/CN=old", &[]);
    let (code, out) = pki(
        "issue",
        &state,
        &["--csr", &p(dir, "old.csr"), "--out", &p(dir, "old.pem")],
    );
    assert_eq!(code, 0, "{out}");
    std::fs::copy(dir.join("state/intermediate.pem"), dir.join("old-int.pem")).unwrap();
    state
}

fn rotate(state: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args(["pki", "rotate", "--state", state])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn verifies(dir: &Path, int: &str, leaf: &str) -> bool {
    let (ok, out) = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            "state/root.pem",
            "-untrusted",
            int,
            leaf,
        ],
    );
    ok && out == format!("{leaf}: OK\n")
}

#[test]
fn rotate_killed_at_any_moment_leaves_the_old_or_the_new_state() {
    if !have(&["openssl"]) {
        return;
    }
    // How long a whole rotation takes here.
    let dir = scratch("cloud-pki-rotate-kill-timing");
    let state = ca_with_a_leaf(&dir);
    let started = Instant::now();
    assert!(rotate(&state).wait().unwrap().success());
    let whole = started.elapsed();

    let (mut old, mut new, mut staged, mut committed) = (0, 0, 0, 0);
    for i in 0..12u32 {
        let dir = scratch(&format!("cloud-pki-rotate-kill-{i}"));
        let state = ca_with_a_leaf(&dir);
        let mut child = rotate(&state);
        std::thread::sleep(whole * i / 10);
        let _ = child.kill(); // SIGKILL (it may have finished already)
        child.wait().unwrap();

        staged += usize::from(dir.join("state/rotation.staging").exists());
        committed += usize::from(dir.join("state/rotation.pending").exists());
        // Any command opens the CA: an interrupted rotation is undone or finished first.
        let (code, out) = pki("crl", &state, &["--out", &p(&dir, "crl.der")]);
        assert_eq!(code, 0, "kill {i}: {out}");
        assert!(!dir.join("state/rotation.staging").exists(), "kill {i}");
        assert!(!dir.join("state/rotation.pending").exists(), "kill {i}");
        let current = std::fs::read(dir.join("state/intermediate.pem")).unwrap();
        let before = std::fs::read(dir.join("old-int.pem")).unwrap();
        let retired: Vec<_> = std::fs::read_dir(dir.join("state"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() == "retired")
            .flat_map(|e| std::fs::read_dir(e.path()).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        if current == before {
            old += 1;
            assert!(retired.is_empty(), "kill {i}: {retired:?}");
            assert!(
                verifies(&dir, "state/intermediate.pem", "old.pem"),
                "kill {i}"
            );
        } else {
            new += 1;
            assert_eq!(retired.len(), 1, "kill {i}");
            assert_eq!(
                std::fs::read(retired[0].join("intermediate.pem")).unwrap(),
                before
            );
            let int = retired[0].join("intermediate.pem").display().to_string();
            assert!(verifies(&dir, &int, "old.pem"), "kill {i}");
            assert!(!verifies(&dir, "state/intermediate.pem", "old.pem"));
        }
        // Either way the CA issues again, with the key of its state.
        openssl_csr(&dir, "next.key", "next.csr", "/CN=next", &[]);
        let (code, out) = pki(
            "issue",
            &state,
            &["--csr", &p(&dir, "next.csr"), "--out", &p(&dir, "next.pem")],
        );
        assert_eq!(code, 0, "kill {i}: {out}");
        assert!(
            verifies(&dir, "state/intermediate.pem", "next.pem"),
            "kill {i}"
        );
    }
    eprintln!(
        "rotate killed 12 times over {whole:?}: {old} old state ({staged} left staged), \
         {new} new state ({committed} left committed, unfinished)"
    );
    assert_eq!(old + new, 12);
    assert!(whole > Duration::ZERO);
}
