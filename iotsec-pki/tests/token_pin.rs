//! Where a PKCS#11 token PIN comes from: its variable or a 0600 file the `_FILE` variable names,
//! never both, no fallback between the root's and the intermediates' (`TokenKey::pin_from`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use iotsec_pki::token_key::{CaRole, TokenKey};
use zeroize::Zeroizing;

fn token() -> TokenKey {
    TokenKey {
        module: PathBuf::from("/nonexistent/libsofthsm2.so"),
        token: "root".into(),
        key_label: "root-key".into(),
    }
}

/// A file `name` holding `text` with `mode`, in a fresh scratch directory.
fn pin_file(name: &str, text: &str, mode: u32) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("token-pin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn err(r: Result<Zeroizing<String>, iotsec_pki::ca_error::CaError>) -> String {
    r.err().unwrap().to_string()
}

#[test]
fn pin_from_the_variable_or_a_private_file_never_both() {
    let t = token();
    let pin = || Some(Zeroizing::new("1234".to_owned()));
    assert_eq!(
        t.pin_from(CaRole::Intermediate, pin(), None)
            .unwrap()
            .as_str(),
        "1234"
    );
    // One trailing line break (LF or CRLF) is not part of the PIN; inner spaces are.
    for (name, text) in [("lf", "12 34\n"), ("crlf", "12 34\r\n"), ("none", "12 34")] {
        let f = pin_file(name, text, 0o600);
        assert_eq!(
            t.pin_from(CaRole::Root, None, Some(f)).unwrap().as_str(),
            "12 34"
        );
    }
    let f = pin_file("both", "1234", 0o400);
    assert_eq!(
        err(t.pin_from(CaRole::Root, pin(), Some(f))),
        "CA state: set either IOTSEC_PKCS11_ROOT_PIN or IOTSEC_PKCS11_ROOT_PIN_FILE, not both"
    );
    let f = pin_file("wide", "1234", 0o640);
    assert_eq!(
        err(t.pin_from(CaRole::Intermediate, None, Some(f.clone()))),
        format!(
            "CA state: PIN file {}: mode 640 lets group or others read it (chmod 600)",
            f.display()
        )
    );
    let f = pin_file("empty", "\n", 0o600);
    assert_eq!(
        err(t.pin_from(CaRole::Intermediate, None, Some(f.clone()))),
        format!("CA state: PIN file {}: empty", f.display())
    );
    let f = pin_file("long", &"1".repeat(1025), 0o600);
    assert_eq!(
        err(t.pin_from(CaRole::Intermediate, None, Some(f.clone()))),
        format!("CA state: PIN file {}: longer than 1024 bytes", f.display())
    );
    assert_eq!(
        err(t.pin_from(CaRole::Intermediate, None, None)),
        "CA state: the intermediate key is in PKCS#11 token \"root\": set IOTSEC_PKCS11_PIN to its \
         user PIN (or IOTSEC_PKCS11_PIN_FILE to a file holding it)"
    );
}
