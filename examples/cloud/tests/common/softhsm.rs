//! SoftHSMv2 tokens for the `pki` tests that keep CA keys in PKCS#11: a scratch token directory
//! with its own `softhsm2.conf`, and `iotsec-cloud` run against it with the PINs it reads from
//! the environment (`IOTSEC_PKCS11_PIN`, `IOTSEC_PKCS11_ROOT_PIN`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{have, output, scratch};

/// SoftHSMv2's PKCS#11 module (Debian `softhsm2`).
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The CLI arguments that make a new key `key` in the "iotsec" token of SoftHSM.
pub fn new_token_key_args(key: &str) -> [&str; 7] {
    [
        "--pkcs11-module",
        MODULE,
        "--pkcs11-token",
        "iotsec",
        "--pkcs11-key",
        key,
        "--pkcs11-generate",
    ]
}

/// Whether softhsm2 (tool and module) and openssl are here; with CI=true their absence fails.
pub fn peers() -> bool {
    if !have(&["softhsm2-util", "openssl"]) {
        return false;
    }
    let module = Path::new(MODULE).exists();
    assert!(
        module || std::env::var("CI").as_deref() != Ok("true"),
        "{MODULE} missing with CI=true"
    );
    if !module {
        eprintln!("SKIPPING: {MODULE} missing");
    }
    module
}

/// A scratch directory holding SoftHSM tokens.
pub struct Hsm {
    /// The scratch directory (the working directory of `iotsec-cloud`).
    pub dir: PathBuf,
    conf: PathBuf,
}

/// The PINs `iotsec-cloud` finds in its environment (`None`: the variable is unset).
#[derive(Clone, Copy, Default)]
pub struct Pins<'a> {
    /// `IOTSEC_PKCS11_PIN` (issuing intermediates).
    pub intermediate: Option<&'a str>,
    /// `IOTSEC_PKCS11_ROOT_PIN` (the root).
    pub root: Option<&'a str>,
}

impl Hsm {
    /// A scratch directory with its own SoftHSM token "iotsec" (user PIN 1234).
    pub fn new(test: &str) -> Hsm {
        let dir = scratch(&format!("hsm-{test}"));
        std::fs::create_dir_all(dir.join("tokens")).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .unwrap();
        let hsm = Hsm { dir, conf };
        hsm.add_token("iotsec", "1234");
        hsm
    }

    /// Initializes one more token `label` with user PIN `pin`.
    pub fn add_token(&self, label: &str, pin: &str) {
        let (code, _, err) = output(
            Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", &self.conf)
                .args(["--init-token", "--free", "--label", label])
                .args(["--pin", pin, "--so-pin", "5678"]),
        );
        assert_eq!(code, 0, "{err}");
    }

    /// `iotsec-cloud --format json ARGS` with this token directory and intermediate `pin`
    /// only: (exit code, stdout, stderr).
    pub fn cloud(&self, pin: Option<&str>, args: &[&str]) -> (i32, String, String) {
        self.cloud_with(
            Pins {
                intermediate: pin,
                root: None,
            },
            args,
        )
    }

    /// `iotsec-cloud --format json ARGS` with this token directory and `pins`.
    pub fn cloud_with(&self, pins: Pins<'_>, args: &[&str]) -> (i32, String, String) {
        let mut env = Vec::new();
        if let Some(pin) = pins.intermediate {
            env.push(("IOTSEC_PKCS11_PIN", pin));
        }
        if let Some(pin) = pins.root {
            env.push(("IOTSEC_PKCS11_ROOT_PIN", pin));
        }
        self.cloud_env(&env, args)
    }

    /// `iotsec-cloud --format json ARGS` with this token directory and, of the PIN variables
    /// (`IOTSEC_PKCS11_[ROOT_]PIN[_FILE]`), only those in `env`.
    pub fn cloud_env(&self, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"));
        c.current_dir(&self.dir)
            .env("SOFTHSM2_CONF", &self.conf)
            .env_remove("IOTSEC_PKCS11_PIN")
            .env_remove("IOTSEC_PKCS11_ROOT_PIN")
            .env_remove("IOTSEC_PKCS11_PIN_FILE")
            .env_remove("IOTSEC_PKCS11_ROOT_PIN_FILE")
            .envs(env.iter().copied())
            .args(["--format", "json"])
            .args(args);
        output(&mut c)
    }
}
