//! The root's own CRL (ARL): the root revokes an intermediate and OpenSSL, checking the whole
//! chain (`-crl_check_all`, RFC 5280 §6.3), refuses every certificate under it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod peers;

use std::path::Path;

use common::{csr_for, write_pem};
use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca_error::CaError;
use iotsec_pki::ca_state::{CaSettings, CaState, NewCaKey, init_state_publishing, read_pem};
use iotsec_pki::root_crl::{
    intermediate_certificate, is_revoked_by_root, parse_reason, revoke_intermediate, root_crl,
};
use peers::{have, openssl, scratch};
use time::OffsetDateTime;

const ROOT_CRL_URL: &str = "http://127.0.0.1/root.crl";

/// An "Acme" CA whose root CRL is published at [`ROOT_CRL_URL`]: (dir, state).
fn acme_with_arl(name: &str, now: OffsetDateTime) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = scratch(name);
    let state = dir.join("state");
    init_state_publishing(
        &state,
        &CaSettings {
            organization: "Acme".into(),
            crl_url: "http://127.0.0.1/crl.der".into(),
            lifetime_secs: 3600,
        },
        Some(ROOT_CRL_URL),
        now,
        NewCaKey::Software,
        NewCaKey::Software,
    )
    .unwrap();
    (dir, state)
}

/// `openssl verify -crl_check_all` of `leaf` with the root and intermediate CRLs.
fn verify_all(dir: &Path, leaf: &str) -> (bool, String) {
    openssl(
        dir,
        &[
            "verify",
            "-crl_check_all",
            "-CAfile",
            "root.pem",
            "-CRLfile",
            "root.crl",
            "-CRLfile",
            "int.crl",
            "-untrusted",
            "int.pem",
            leaf,
        ],
    )
}

#[test]
fn reasons_by_name_or_number() {
    assert_eq!(parse_reason("keyCompromise").unwrap(), 1);
    assert_eq!(parse_reason("KEYCOMPROMISE").unwrap(), 1);
    assert_eq!(parse_reason("superseded").unwrap(), 4);
    assert_eq!(parse_reason("cessationOfOperation").unwrap(), 5);
    assert_eq!(parse_reason("aACompromise").unwrap(), 10);
    assert_eq!(parse_reason("0").unwrap(), 0);
    assert_eq!(parse_reason("10").unwrap(), 10);
    for bad in ["7", "11", "256", "", "compromised", "-1"] {
        assert!(
            matches!(parse_reason(bad), Err(CaError::UnknownReason { ref given }) if given == bad),
            "{bad}"
        );
    }
}

#[test]
fn root_revokes_the_intermediate_and_openssl_refuses_the_chain() {
    if !have("openssl") {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let (dir, state) = acme_with_arl("arl-revoke", now);
    let mut ca = CaState::open(&state).unwrap();
    let leaf = ca
        .issue_csr(&csr_for(KeyAlgorithm::P256, 1, "dev-1"), now)
        .unwrap();
    write_pem(&dir, "leaf.pem", "CERTIFICATE", &leaf.der);
    std::fs::copy(state.join("root.pem"), dir.join("root.pem")).unwrap();
    std::fs::copy(state.join("intermediate.pem"), dir.join("int.pem")).unwrap();
    write_pem(&dir, "int.crl", "X509 CRL", &ca.crl(now).unwrap());
    write_pem(
        &dir,
        "root.crl",
        "X509 CRL",
        &root_crl(&state, now).unwrap(),
    );

    // The intermediate points at the root's CRL.
    let (ok, text) = openssl(
        &dir,
        &[
            "x509",
            "-in",
            "int.pem",
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains(&format!("URI:{ROOT_CRL_URL}")), "{text}");

    let (ok, out) = verify_all(&dir, "leaf.pem");
    assert!(ok, "{out}");
    assert_eq!(out, "leaf.pem: OK\n");

    let int_der = intermediate_certificate(&state, None).unwrap();
    let r = revoke_intermediate(&state, &int_der, 1, now).unwrap();
    assert!(r.newly_revoked);
    assert!(
        !revoke_intermediate(&state, &int_der, 4, now)
            .unwrap()
            .newly_revoked
    );
    assert!(is_revoked_by_root(&state, &int_der).unwrap());
    write_pem(
        &dir,
        "root.crl",
        "X509 CRL",
        &root_crl(&state, now).unwrap(),
    );

    let (ok, out) = verify_all(&dir, "leaf.pem");
    assert!(!ok, "{out}");
    assert_eq!(
        out,
        "O = Acme, CN = Acme Issuing CA\nerror 23 at 1 depth lookup: certificate revoked\nerror leaf.pem: verification failed\n"
    );

    // The second root CRL: number 2, keyCompromise, signed by the root, 30 days.
    let (ok, text) = openssl(
        &dir,
        &[
            "crl", "-in", "root.crl", "-noout", "-text", "-CAfile", "root.pem",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("verify OK"), "{text}");
    assert!(
        text.contains("X509v3 CRL Number: \n                2\n"),
        "{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(
        text.contains(&format!(
            "Serial Number: {}",
            iotsec_pki::store::hex_upper(&r.serial)
        )),
        "{text}"
    );

    // The revoked intermediate issues nothing any more.
    let mut ca = CaState::open(&state).unwrap();
    assert!(!ca.may_issue());
    assert!(matches!(
        ca.issue_csr(&csr_for(KeyAlgorithm::P256, 2, "dev-2"), now),
        Err(CaError::IssuerRevoked { .. })
    ));
    // ... but still signs its CRL for what it issued.
    ca.crl(now).unwrap();
}

#[test]
fn a_named_intermediate_revoked_by_the_root_stops_issuing() {
    let now = OffsetDateTime::now_utc();
    let (_dir, state) = acme_with_arl("arl-named", now);
    let sub = iotsec_pki::ca_state::add_intermediate(&state, "line2", "http://x/c2", now).unwrap();
    let int_der = intermediate_certificate(&state, Some("line2")).unwrap();
    assert_eq!(
        int_der,
        read_pem(&sub.join("intermediate.pem"), "CERTIFICATE").unwrap()
    );
    CaState::open_intermediate(&state, "line2")
        .unwrap()
        .issue_csr(&csr_for(KeyAlgorithm::P256, 1, "dev-1"), now)
        .unwrap();
    revoke_intermediate(&state, &int_der, 5, now).unwrap();
    let mut ca = CaState::open_intermediate(&state, "line2").unwrap();
    assert!(matches!(
        ca.issue_csr(&csr_for(KeyAlgorithm::P256, 2, "dev-2"), now),
        Err(CaError::IssuerRevoked { .. })
    ));
    // The default intermediate is untouched.
    assert!(CaState::open(&state).unwrap().may_issue());
}

#[test]
fn the_root_revokes_only_what_it_signed_and_signs_only_with_its_key() {
    let now = OffsetDateTime::now_utc();
    let (_dir, state) = acme_with_arl("arl-refusals", now);
    let (_other_dir, other) = acme_with_arl("arl-refusals-other", now);
    let stranger = intermediate_certificate(&other, None).unwrap();
    assert!(matches!(
        revoke_intermediate(&state, &stranger, 1, now),
        Err(CaError::UnknownCertificate)
    ));
    assert!(matches!(
        revoke_intermediate(&state, b"not a certificate", 1, now),
        Err(CaError::MalformedCertificate { .. })
    ));
    let int_der = intermediate_certificate(&state, None).unwrap();
    assert!(matches!(
        revoke_intermediate(&state, &int_der, 7, now),
        Err(CaError::UnknownReason { .. })
    ));
    // The root key away (offline): the CRL cannot be signed.
    std::fs::rename(state.join("offline"), state.join("elsewhere")).unwrap();
    assert!(matches!(
        root_crl(&state, now),
        Err(CaError::RootKeyUnavailable { .. })
    ));
    // Another root's key in its place: refused, not signed under our root's name.
    std::fs::create_dir(state.join("offline")).unwrap();
    std::fs::copy(
        other.join("offline/root.key.pem"),
        state.join("offline/root.key.pem"),
    )
    .unwrap();
    assert!(root_crl(&state, now).is_err());
}

#[test]
fn a_root_crl_file_is_checked_before_a_server_publishes_it() {
    use iotsec_pki::root_crl::read_published_root_crl;
    let now = OffsetDateTime::now_utc();
    let (dir, state) = acme_with_arl("root-crl-publish", now);
    let root_der = read_pem(&state.join("root.pem"), "CERTIFICATE").unwrap();
    root_crl(&state, now).unwrap();
    let good = root_crl(&state, now).unwrap();
    let file = dir.join("root.crl");
    let refused = |bytes: &[u8]| {
        std::fs::write(&file, bytes).unwrap();
        match read_published_root_crl(&file, &root_der) {
            Err(CaError::RootCrlRefused { path, reason }) => {
                assert_eq!(path, file);
                reason
            }
            other => panic!("{other:?}"),
        }
    };

    // DER and PEM, with the number the root gave it.
    std::fs::write(&file, &good).unwrap();
    let published = read_published_root_crl(&file, &root_der).unwrap();
    assert_eq!((published.der.as_slice(), published.number), (&good[..], 2));
    write_pem(&dir, "root.crl", "X509 CRL", &good);
    assert_eq!(
        read_published_root_crl(&file, &root_der).unwrap(),
        published
    );

    // Truncated, or with bytes after it.
    let truncated = "not a DER CRL (truncated, or trailing bytes)";
    assert_eq!(refused(&good[..good.len() / 2]), truncated);
    assert_eq!(refused(&[good.as_slice(), &[0]].concat()), truncated);
    assert_eq!(refused(b"-----BEGIN X509 CRL-----\n"), "not a PEM X509 CRL");
    // Another CA's root CRL, under the same root name: not this root's signature.
    let (_, other) = acme_with_arl("root-crl-publish-other", now);
    assert_eq!(
        refused(&root_crl(&other, now).unwrap()),
        "its signature is not this root's"
    );
    // An intermediate's CRL.
    let int_crl = CaState::open(&state).unwrap().crl(now).unwrap();
    assert_eq!(refused(&int_crl), "not issued by this root");
    // A signature bit flipped.
    let mut forged = good.clone();
    *forged.last_mut().unwrap() ^= 1;
    assert_eq!(refused(&forged), "its signature is not this root's");
}
