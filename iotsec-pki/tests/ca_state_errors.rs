//! A CA state directory that cannot be used says what is wrong and where: each failure is a
//! typed `CaError` with its path or setting, a stable code and its kind (bad input, or internal
//! for what only a broken machine produces).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::path::PathBuf;

use iotsec_pki::ErrorKind;
use iotsec_pki::ca::devid::{DevIdKind, DevIdProfile};
use iotsec_pki::ca::error::{CaError, SecretFileProblem};
use iotsec_pki::ca::state::{CaSettings, CaState, enable_devid, init_state, set_root_crl_url};
use iotsec_pki::keys::secret_file::read_secret_file;
use time::OffsetDateTime;

fn acme(name: &str) -> PathBuf {
    common::acme_ca(name).1
}

fn devid() -> DevIdProfile {
    DevIdProfile {
        hw_type: "1.3.6.1.4.1.99999.1".parse().unwrap(),
        kind: DevIdKind::Local,
    }
}

#[test]
fn a_ca_is_never_initialised_over_another() {
    let state = acme("err-init-twice");
    let before = std::fs::read(state.join("intermediate.pem")).unwrap();
    let settings = CaSettings {
        organization: "Other".into(),
        crl_url: "http://127.0.0.1/crl.der".into(),
        lifetime_secs: 3600,
    };
    let err = init_state(&state, &settings, OffsetDateTime::now_utc()).unwrap_err();
    assert!(
        matches!(&err, CaError::AlreadyExists { path, what: "a CA" } if *path == state),
        "{err:?}"
    );
    assert_eq!(
        (err.code(), err.kind()),
        ("already-exists", ErrorKind::BadInput)
    );
    assert_eq!(
        err.to_string(),
        format!("CA state: {} already holds a CA", state.display())
    );
    assert_eq!(
        std::fs::read(state.join("intermediate.pem")).unwrap(),
        before
    );
}

#[test]
fn a_devid_profile_is_set_once() {
    let state = acme("err-devid-twice");
    enable_devid(&state, &devid()).unwrap();
    let err = enable_devid(&state, &devid()).unwrap_err();
    assert!(
        matches!(&err, CaError::AlreadyExists { path, what: "a DevID profile" }
            if *path == state.join("ca.txt")),
        "{err:?}"
    );
}

#[test]
fn a_root_crl_url_is_one_line() {
    let state = acme("err-root-crl-url");
    for url in ["", "http://a/\nlifetime_secs=1"] {
        let err = set_root_crl_url(&state, url).unwrap_err();
        assert!(
            matches!(
                err,
                CaError::BadSetting {
                    key: "root_crl_url",
                    reason: "must be one non-empty line"
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "bad-setting");
    }
    // Nothing was written: the injected line did not reach ca.txt.
    let settings = std::fs::read_to_string(state.join("ca.txt")).unwrap();
    assert!(!settings.contains("root_crl_url"), "{settings}");
    assert_eq!(settings.matches("lifetime_secs=").count(), 1);
}

/// Replaces the `key=` line of ca.txt with `line`.
fn edit_settings(state: &std::path::Path, key: &str, line: &str) {
    let path = state.join("ca.txt");
    let text: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(&format!("{key}=")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, format!("{text}{line}\n")).unwrap();
}

#[test]
fn a_bad_setting_names_its_key() {
    for (key, line, reason) in [
        (
            "lifetime_secs",
            "lifetime_secs=an hour",
            "is not a number of seconds",
        ),
        (
            "devid_hw_type",
            "devid_hw_type=not.an.oid",
            "is not an object identifier",
        ),
    ] {
        let state = acme(&format!("err-setting-{key}"));
        edit_settings(&state, key, line);
        let err = CaState::open(&state).err().unwrap();
        assert!(
            matches!(err, CaError::BadSetting { key: k, reason: r } if k == key && r == reason),
            "{line}: {err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::BadInput);
    }
    let state = acme("err-setting-devid-kind");
    enable_devid(&state, &devid()).unwrap();
    edit_settings(&state, "devid_kind", "devid_kind=fdevid");
    let err = CaState::open(&state).err().unwrap();
    assert!(
        matches!(
            err,
            CaError::BadSetting {
                key: "devid_kind",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_incomplete_token_key_is_refused_not_read_as_a_file_key() {
    let state = acme("err-token-incomplete");
    edit_settings(&state, "pkcs11_module", "pkcs11_module=/usr/lib/softhsm.so");
    let err = CaState::open(&state).err().unwrap();
    assert!(
        matches!(err, CaError::IncompleteTokenKey { prefix: "" }),
        "{err:?}"
    );
    assert_eq!(err.code(), "incomplete-token-key");
}

#[cfg(unix)]
#[test]
fn a_secret_file_problem_is_typed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = peers::scratch("err-secret-file");
    let path = dir.join("pin");
    std::fs::write(&path, "1234\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = read_secret_file(&path, "PIN").unwrap_err();
    assert!(
        matches!(
            &err,
            CaError::SecretFile { what, path: p, problem: SecretFileProblem::Exposed { mode: 0o640 } }
                if what == "PIN" && *p == path
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "secret-file");
    let missing = read_secret_file(&dir.join("absent"), "PIN").unwrap_err();
    let CaError::SecretFile {
        problem: SecretFileProblem::Unreadable(io),
        ..
    } = &missing
    else {
        panic!("{missing:?}")
    };
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // The I/O error stays reachable as the source.
    assert!(std::error::Error::source(&missing).is_some());
}
