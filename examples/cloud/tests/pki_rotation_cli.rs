//! `iotsec-cloud pki rotate`, `pki revoke --default-intermediate` and `pki crl --root|--generation`
//! end to end, checked by `openssl verify` and curl against `serve`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{
    assert_chain_verifies, curl_in, dp_path, free_port, have, openssl, openssl_csr, p, pki,
    scratch, wait_until,
};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

/// Issues a certificate for a fresh openssl key with subject `/CN={cn}` into `{cn}.pem`.
fn issue(dir: &Path, state: &str, cn: &str) -> (i32, String) {
    openssl_csr(
        dir,
        &format!("{cn}.key"),
        &format!("{cn}.csr"),
        &format!("/CN={cn}"),
        &[],
    );
    pki(
        "issue",
        state,
        &[
            "--csr",
            &p(dir, &format!("{cn}.csr")),
            "--out",
            &p(dir, &format!("{cn}.pem")),
        ],
    )
}

fn verify(dir: &Path, int: &str, extra: &[&str], leaf: &str) -> (bool, String) {
    let mut args = vec!["verify", "-CAfile", "state/root.pem", "-untrusted", int];
    args.extend_from_slice(extra);
    args.push(leaf);
    openssl(dir, &args)
}

#[test]
fn rotate_then_revoke_old_leaf_and_the_intermediate() {
    if !have(&["openssl", "curl"]) {
        return;
    }
    let dir = scratch("cloud-pki-rotate");
    let state = p(&dir, "state");
    let (code, out) = pki("init", &state, &["--lifetime-hours", "2"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = issue(&dir, &state, "old");
    assert_eq!(code, 0, "{out}");
    let old_leaf_serial = json(&out)["serial"].as_str().unwrap().to_owned();
    let (ok, ext) = openssl(
        &dir,
        &[
            "x509",
            "-in",
            "state/intermediate.pem",
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(
        ok && ext.contains("URI:http://127.0.0.1:8080/root.crl"),
        "{ext}"
    );

    // Revoke needs a target.
    let (code, out) = pki("revoke", &state, &[]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = pki(
        "revoke",
        &state,
        &["--serial", &old_leaf_serial, "--reason", "bogus"],
    );
    assert_eq!(code, 2, "{out}");

    let (code, out_rotate) = pki("rotate", &state, &[]);
    assert_eq!(code, 0, "{out_rotate}");
    let rotation = json(&out_rotate);
    let old_int_serial = rotation["old_serial"].as_str().unwrap().to_owned();
    let new_int_serial = rotation["new_serial"].as_str().unwrap().to_owned();
    assert_ne!(old_int_serial, new_int_serial);
    let old_int = format!("state/retired/{old_int_serial}/intermediate.pem");
    assert_eq!(
        rotation["retired"].as_str().unwrap(),
        p(&dir, &old_int).replace("/intermediate.pem", "")
    );
    let (_, s) = openssl(
        &dir,
        &["x509", "-in", "state/intermediate.pem", "-noout", "-serial"],
    );
    assert_eq!(s.trim(), format!("serial={new_int_serial}"));
    let (code, out) = issue(&dir, &state, "new");
    assert_eq!(code, 0, "{out}");

    assert_eq!(
        verify(&dir, &old_int, &[], "old.pem"),
        (true, "old.pem: OK\n".into())
    );
    assert_eq!(
        verify(&dir, "state/intermediate.pem", &[], "new.pem"),
        (true, "new.pem: OK\n".into())
    );

    // A server started after the rotation hands out the new chain and still publishes the
    // old key's CRL.
    let (port, crl_port) = (free_port(), free_port());
    let mut server = Command::new(env!("CARGO_BIN_EXE_iotsec-cloud"))
        .args([
            "pki",
            "est-server",
            "--state",
            &state,
            "--est",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--crl-http", &format!("127.0.0.1:{crl_port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let curl = |args: &[&str], out: &str| curl_in(&dir, args, out);
    let up = wait_until(|| {
        curl(
            &[&format!("https://127.0.0.1:{port}/.well-known/est/cacerts")],
            "cacerts.b64",
        ) == "200"
    });
    let old_crl_status = curl(
        &[&format!(
            "http://127.0.0.1:{crl_port}/crl/retired-{old_int_serial}.der"
        )],
        "served-old.crl",
    );
    // Each leaf's own CRL distribution point (its path, on this server's port) serves the
    // CRL of the key that signed it: OpenSSL checks each leaf with its own intermediate.
    let (old_dp, new_dp) = (dp_path(&dir, "old.pem"), dp_path(&dir, "new.pem"));
    let fetch_dp = |path: &str, out: &str| {
        let status = curl(&[&format!("http://127.0.0.1:{crl_port}{path}")], out);
        let (ok, text) = openssl(
            &dir,
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                out,
                "-out",
                &format!("{out}.pem"),
            ],
        );
        (status, ok, text)
    };
    let old_dp_fetch = fetch_dp(&old_dp, "old-dp.crl");
    let new_dp_fetch = fetch_dp(&new_dp, "new-dp.crl");
    let old_dp_verify = verify(
        &dir,
        &old_int,
        &["-crl_check", "-CRLfile", "old-dp.crl.pem"],
        "old.pem",
    );
    let new_dp_verify = verify(
        &dir,
        "state/intermediate.pem",
        &["-crl_check", "-CRLfile", "new-dp.crl.pem"],
        "new.pem",
    );
    // An old leaf revoked after the rotation: on the old key's CRL, at the old leaf's URL.
    let (revoke_code, revoke_out) = pki(
        "revoke",
        &state,
        &["--serial", &old_leaf_serial, "--reason", "keyCompromise"],
    );
    let revoked_fetch = fetch_dp(&old_dp, "old-dp-revoked.crl");
    let revoked_verify = verify(
        &dir,
        &old_int,
        &["-crl_check", "-CRLfile", "old-dp-revoked.crl.pem"],
        "old.pem",
    );
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(up, "server never answered /cacerts");
    assert_eq!(old_crl_status, "200");
    assert_eq!(old_dp, "/crl.der");
    assert_eq!(new_dp, format!("/crl-{new_int_serial}.der"));
    assert_eq!(
        json(&out_rotate)["crl_url"].as_str().unwrap(),
        format!("http://127.0.0.1:8080{new_dp}")
    );
    for (status, ok, text) in [&old_dp_fetch, &new_dp_fetch, &revoked_fetch] {
        assert_eq!(status, "200");
        assert!(ok, "{text}");
    }
    assert_eq!(old_dp_verify, (true, "old.pem: OK\n".into()));
    assert_eq!(new_dp_verify, (true, "new.pem: OK\n".into()));
    assert_eq!(revoke_code, 0, "{revoke_out}");
    assert_eq!(
        json(&revoke_out)["generation"].as_str().unwrap(),
        old_int_serial
    );
    assert_eq!(
        revoked_verify,
        (
            false,
            "CN = old\nerror 23 at 0 depth lookup: certificate revoked\nerror old.pem: verification failed\n"
                .into()
        )
    );
    assert!(
        openssl(
            &dir,
            &["base64", "-d", "-in", "cacerts.b64", "-out", "cacerts.der"]
        )
        .0
    );
    let (ok, out) = openssl(
        &dir,
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            "cacerts.der",
            "-print_certs",
            "-out",
            "cacerts.pem",
        ],
    );
    assert!(ok, "{out}");
    let served = std::fs::read_to_string(dir.join("cacerts.pem")).unwrap();
    let new_pem = std::fs::read_to_string(dir.join("state/intermediate.pem")).unwrap();
    let old_pem = std::fs::read_to_string(dir.join(&old_int)).unwrap();
    assert!(served.contains(new_pem.trim()), "{served}");
    assert!(!served.contains(old_pem.trim()), "{served}");
    let (ok, text) = openssl(
        &dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "served-old.crl",
            "-noout",
            "-CAfile",
            &old_int,
        ],
    );
    assert!(ok && text.contains("verify OK"), "{text}");

    // ... and on the CRL `pki crl --generation` signs.
    let (code, out) = pki(
        "crl",
        &state,
        &[
            "--generation",
            &old_int_serial,
            "--out",
            &p(&dir, "old.crl.pem"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (ok, out) = verify(
        &dir,
        &old_int,
        &["-crl_check", "-CRLfile", "old.crl.pem"],
        "old.pem",
    );
    assert!(!ok, "{out}");
    assert_eq!(
        out,
        "CN = old\nerror 23 at 0 depth lookup: certificate revoked\nerror old.pem: verification failed\n"
    );

    // The root revokes the (new) intermediate: the whole chain fails with -crl_check_all.
    let (code, out) = pki("crl", &state, &["--out", &p(&dir, "int.crl.pem")]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = pki(
        "crl",
        &state,
        &["--root", "--out", &p(&dir, "root.crl.pem")],
    );
    assert_eq!(code, 0, "{out}");
    let all = [
        "-crl_check_all",
        "-CRLfile",
        "root.crl.pem",
        "-CRLfile",
        "int.crl.pem",
    ];
    assert_eq!(
        verify(&dir, "state/intermediate.pem", &all, "new.pem"),
        (true, "new.pem: OK\n".into())
    );
    let (code, out) = pki(
        "revoke",
        &state,
        &["--default-intermediate", "--reason", "keyCompromise"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(json(&out)["serial"].as_str().unwrap(), new_int_serial);
    let (code, out) = pki(
        "crl",
        &state,
        &["--root", "--out", &p(&dir, "root.crl.pem")],
    );
    assert_eq!(code, 0, "{out}");
    let (ok, out) = verify(&dir, "state/intermediate.pem", &all, "new.pem");
    assert!(!ok, "{out}");
    assert_eq!(
        out,
        "O = iotsec fleet, CN = iotsec fleet Issuing CA\nerror 23 at 1 depth lookup: certificate revoked\nerror new.pem: verification failed\n"
    );
    // ... and the revoked intermediate issues nothing more.
    let (code, out) = issue(&dir, &state, "late");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("revoked by the root"), "{out}");
}

/// A token intermediate rotated to a new token key: the new key signs, the old one keeps
/// signing its CRL from the token, and no key file appears anywhere.
#[test]
fn a_token_intermediate_rotates_to_a_new_token_key() {
    use common::softhsm::{Hsm, MODULE, new_token_key_args, peers};
    if !peers() {
        return;
    }
    let hsm = Hsm::new("rotate-token");
    assert_eq!(hsm.cloud(None, &["pki", "init", "--state", "ca"]).0, 0);
    let (code, _, err) = hsm.cloud(
        Some("1234"),
        &[
            &["pki", "init", "--state", "ca", "--intermediate", "hsm"][..],
            &new_token_key_args("key-1"),
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    openssl_csr(&hsm.dir, "a.key", "a.csr", "/CN=a", &[]);
    let issue = |csr: &str, out: &str| {
        hsm.cloud(
            Some("1234"),
            &[
                "pki",
                "issue",
                "--state",
                "ca",
                "--intermediate",
                "hsm",
                "--csr",
                csr,
                "--out",
                out,
            ],
        )
    };
    assert_eq!(issue("a.csr", "a.pem").0, 0);
    // No PIN: nothing rotated.
    let rotate = [
        &["pki", "rotate", "--state", "ca", "--intermediate", "hsm"][..],
        &new_token_key_args("key-2"),
    ]
    .concat();
    let (code, _, err) = hsm.cloud(None, &rotate);
    assert_eq!(code, 2, "{err}");
    assert!(!hsm.dir.join("ca/intermediates/hsm/retired").exists());
    let (code, out, err) = hsm.cloud(Some("1234"), &rotate);
    assert_eq!(code, 0, "{err}");
    let rotation: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rotation["key"], r#"PKCS#11 token "iotsec", key "key-2""#);
    let old = rotation["old_serial"].as_str().unwrap().to_owned();
    let sub = hsm.dir.join("ca/intermediates/hsm");
    let settings = std::fs::read_to_string(sub.join("ca.txt")).unwrap();
    assert!(
        settings.ends_with(&format!(
            "pkcs11_module={MODULE}\npkcs11_token=iotsec\npkcs11_key=key-2\n"
        )),
        "{settings}"
    );
    let retired = std::fs::read_to_string(sub.join(format!("retired/{old}/ca.txt"))).unwrap();
    assert!(retired.contains("pkcs11_key=key-1\n"), "{retired}");
    assert!(!sub.join("intermediate.key.pem").exists());
    assert!(
        !sub.join(format!("retired/{old}/intermediate.key.pem"))
            .exists()
    );

    openssl_csr(&hsm.dir, "b.key", "b.csr", "/CN=b", &[]);
    assert_eq!(issue("b.csr", "b.pem").0, 0);
    std::fs::copy(sub.join("intermediate.pem"), hsm.dir.join("new-int.pem")).unwrap();
    std::fs::copy(
        sub.join(format!("retired/{old}/intermediate.pem")),
        hsm.dir.join("old-int.pem"),
    )
    .unwrap();
    assert_chain_verifies(&hsm.dir, "ca/root.pem", "new-int.pem", "b.pem");
    assert_chain_verifies(&hsm.dir, "ca/root.pem", "old-int.pem", "a.pem");
    // The old token key signs the CRL for a.pem.
    let (_, serial) = common::openssl(&hsm.dir, &["x509", "-in", "a.pem", "-noout", "-serial"]);
    let (code, _, err) = hsm.cloud(
        Some("1234"),
        &[
            "pki",
            "revoke",
            "--state",
            "ca",
            "--intermediate",
            "hsm",
            "--serial",
            serial.trim(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hsm.cloud(
        Some("1234"),
        &[
            "pki",
            "crl",
            "--state",
            "ca",
            "--intermediate",
            "hsm",
            "--generation",
            &old,
            "--out",
            "old.crl.pem",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (ok, out) = common::openssl(
        &hsm.dir,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "ca/root.pem",
            "-untrusted",
            "old-int.pem",
            "-CRLfile",
            "old.crl.pem",
            "a.pem",
        ],
    );
    assert!(
        !ok && out.contains("error 23 at 0 depth lookup: certificate revoked"),
        "{out}"
    );
}
