//! `iotsec-cloud pki init --root-pkcs11-*`: the offline root key generated in a real PKCS#11
//! token (SoftHSMv2) and never written as a file; intermediates added later are signed by the
//! token root opened with $IOTSEC_PKCS11_ROOT_PIN (no fallback to $IOTSEC_PKCS11_PIN), and
//! OpenSSL verifies the device certificate chains. A missing or wrong root PIN and a token key
//! that is not the one the root certificate certifies are refused (exit 2, one line).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::softhsm::{Hsm, MODULE, Pins, peers};
use common::{assert_chain_verifies, openssl, openssl_csr};

/// Both PINs: the root's token "root" has 4321, the intermediates' token "iotsec" 1234.
const BOTH: Pins<'static> = Pins {
    intermediate: Some("1234"),
    root: Some("4321"),
};

/// Every `*.key.pem` under `dir`, relative to it, sorted.
fn key_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, found);
            } else if path.to_string_lossy().ends_with(".key.pem") {
                found.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// `pki init --state STATE` with the root key generated in token `token` under `label`, and
/// `extra` arguments.
fn init_token_root(
    hsm: &Hsm,
    pins: Pins<'_>,
    state: &str,
    token: &str,
    label: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec![
        "pki",
        "init",
        "--state",
        state,
        "--root-pkcs11-module",
        MODULE,
        "--root-pkcs11-token",
        token,
        "--root-pkcs11-key",
        label,
        "--root-pkcs11-generate",
    ];
    args.extend_from_slice(extra);
    hsm.cloud_with(pins, &args)
}

/// `pki init --state ca --intermediate NAME` with `extra` arguments.
fn add_intermediate(
    hsm: &Hsm,
    pins: Pins<'_>,
    name: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec!["pki", "init", "--state", "ca", "--intermediate", name];
    args.extend_from_slice(extra);
    hsm.cloud_with(pins, &args)
}

/// The arguments that generate a new intermediate's key under `label` in token `token`.
fn in_token<'a>(token: &'a str, label: &'a str) -> [&'a str; 7] {
    [
        "--pkcs11-module",
        MODULE,
        "--pkcs11-token",
        token,
        "--pkcs11-key",
        label,
        "--pkcs11-generate",
    ]
}

/// Issues a device certificate from `intermediate` (None: the default one) with `pins` and has
/// `openssl verify -CAfile root -untrusted intermediate leaf` check the chain.
fn issue_and_verify(hsm: &Hsm, pins: Pins<'_>, intermediate: Option<&str>) {
    let tag = intermediate.unwrap_or("default");
    let (csr, leaf) = (format!("{tag}.csr"), format!("{tag}.pem"));
    openssl_csr(
        &hsm.dir,
        &format!("{tag}.key"),
        &csr,
        &format!("/CN=dev-{tag}"),
        &[],
    );
    let mut args = vec![
        "pki", "issue", "--state", "ca", "--csr", &csr, "--out", &leaf,
    ];
    let state: PathBuf = match intermediate {
        Some(name) => {
            args.extend_from_slice(&["--intermediate", name]);
            hsm.dir.join("ca/intermediates").join(name)
        }
        None => hsm.dir.join("ca"),
    };
    let (code, out, err) = hsm.cloud_with(pins, &args);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        json["certificate"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let inter = format!("{tag}-int.pem");
    std::fs::copy(state.join("intermediate.pem"), hsm.dir.join(&inter)).unwrap();
    assert_chain_verifies(&hsm.dir, "ca/root.pem", &inter, &leaf);
}

#[test]
fn a_root_key_in_softhsm_signs_intermediates_whose_chains_openssl_verifies() {
    if !peers() {
        return;
    }
    let hsm = Hsm::new("root");
    hsm.add_token("root", "4321");
    // Root in token "root", the default intermediate in token "iotsec": no key file at all.
    let (code, out, err) = init_token_root(
        &hsm,
        BOTH,
        "ca",
        "root",
        "root-key",
        &in_token("iotsec", "int-default"),
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["offline_root_key"],
        r#"PKCS#11 token "root", key "root-key""#
    );
    assert_eq!(
        json["intermediate_key"],
        r#"PKCS#11 token "iotsec", key "int-default""#
    );
    let ca = hsm.dir.join("ca");
    assert!(!ca.join("offline").exists());
    assert_eq!(key_files(&ca), Vec::<String>::new());
    let settings = std::fs::read_to_string(ca.join("ca.txt")).unwrap();
    assert!(
        settings.contains(&format!(
            "root_pkcs11_module={MODULE}\nroot_pkcs11_token=root\nroot_pkcs11_key=root-key\n"
        )) && settings.ends_with(&format!(
            "pkcs11_module={MODULE}\npkcs11_token=iotsec\npkcs11_key=int-default\n"
        )),
        "{settings}"
    );
    assert!(!settings.contains("4321") && !settings.contains("1234"));
    // The root is self-signed by the token key.
    let (ok, out) = openssl(
        &hsm.dir,
        &["verify", "-CAfile", "ca/root.pem", "ca/root.pem"],
    );
    assert!(ok, "{out}");
    issue_and_verify(&hsm, BOTH, None);

    // An intermediate in the root's own token (same token, other label), and one in software:
    // both signed by the token root.
    let (code, out, err) = add_intermediate(
        &hsm,
        Pins {
            intermediate: Some("4321"),
            root: Some("4321"),
        },
        "same-token",
        &in_token("root", "int-same"),
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["key"], r#"PKCS#11 token "root", key "int-same""#);
    let (code, _, err) = add_intermediate(
        &hsm,
        Pins {
            intermediate: None,
            root: Some("4321"),
        },
        "soft",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let (ok, out) = openssl(
        &hsm.dir,
        &[
            "verify",
            "-CAfile",
            "ca/root.pem",
            "ca/intermediates/same-token/intermediate.pem",
            "ca/intermediates/soft/intermediate.pem",
        ],
    );
    assert!(ok, "{out}");
    issue_and_verify(
        &hsm,
        Pins {
            intermediate: Some("4321"),
            root: None,
        },
        Some("same-token"),
    );
    issue_and_verify(&hsm, BOTH, Some("soft"));
    // Only the software intermediate has a key file; the root never had one.
    assert_eq!(
        key_files(&ca),
        vec!["intermediates/soft/intermediate.key.pem"]
    );
}

#[test]
fn the_token_root_needs_its_own_pin_and_the_certified_key() {
    if !peers() {
        return;
    }
    let hsm = Hsm::new("root-refusals");
    hsm.add_token("root", "4321");
    hsm.add_token("other", "4321");

    // A wrong or missing root PIN at init: refused, nothing written.
    for pins in [
        Pins {
            intermediate: None,
            root: Some("9999"),
        },
        Pins {
            intermediate: Some("4321"),
            root: None,
        },
    ] {
        let (code, _, err) = init_token_root(&hsm, pins, "ca", "root", "root-key", &[]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!hsm.dir.join("ca/root.pem").exists());
    }
    let (code, _, err) = init_token_root(&hsm, BOTH, "ca", "root", "root-key", &[]);
    assert_eq!(code, 0, "{err}");
    // The label is taken now: generating under it again is refused.
    let (code, _, err) = init_token_root(&hsm, BOTH, "ca-dup", "root", "root-key", &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(r#"already holds an object labelled "root-key""#),
        "{err}"
    );
    assert!(!hsm.dir.join("ca-dup/root.pem").exists());

    let refused = |pins: Pins<'_>, reason: &str| {
        let (code, _, err) = add_intermediate(&hsm, pins, "line-b", &[]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(reason), "{reason}: {err}");
        assert!(!hsm.dir.join("ca/intermediates/line-b").exists());
    };
    // No root PIN; only the intermediates' PIN (the same digits!): no fallback.
    let missing = r#"the root key is in PKCS#11 token "root": set IOTSEC_PKCS11_ROOT_PIN"#;
    refused(Pins::default(), missing);
    refused(
        Pins {
            intermediate: Some("4321"),
            root: None,
        },
        missing,
    );
    // A wrong root PIN.
    refused(
        Pins {
            intermediate: None,
            root: Some("9999"),
        },
        "PKCS#11",
    );

    // Another key under the same label (in token "other"): it must not sign for this root.
    let (code, _, err) = init_token_root(&hsm, BOTH, "ca2", "other", "root-key", &[]);
    assert_eq!(code, 0, "{err}");
    let ca_txt = hsm.dir.join("ca/ca.txt");
    let settings = std::fs::read_to_string(&ca_txt).unwrap();
    std::fs::write(
        &ca_txt,
        settings.replace("root_pkcs11_token=root", "root_pkcs11_token=other"),
    )
    .unwrap();
    refused(
        Pins {
            intermediate: None,
            root: Some("4321"),
        },
        "the CA key is not the key its root certificate certifies",
    );
    // Back to the certified key: the same command works.
    std::fs::write(&ca_txt, settings).unwrap();
    let (code, _, err) = add_intermediate(
        &hsm,
        Pins {
            intermediate: None,
            root: Some("4321"),
        },
        "line-b",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    // --root-pkcs11-* only makes a new CA.
    let (code, _, err) = add_intermediate(
        &hsm,
        BOTH,
        "line-c",
        &[
            "--root-pkcs11-module",
            MODULE,
            "--root-pkcs11-token",
            "root",
            "--root-pkcs11-key",
            "root-key",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--root-pkcs11-* is for a new CA"), "{err}");
}
