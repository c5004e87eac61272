//! EK certificates written by `swtpm_setup --create-ek-cert` (a private swtpm-localca chain)
//! validated against the EK the TPM presents: RSA and ECC P-384; a foreign EK, a wrong root, an
//! altered signature and 0xFF-padded or non-minimal-serial encodings are refused unless the
//! matching quirk switch is on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::PublicArea;
use iotsec_attest::identity::ek_certificate::{
    EkCertError, EkQuirks, pem_to_der, validate_ek_certificate, validate_ek_certificate_at,
};

#[test]
fn swtpm_ek_certificates_validate_and_quirks_are_switches() {
    if !peers_available("swtpm_ek_certificates_validate_and_quirks_are_switches") {
        return;
    }
    let tpm = Swtpm::start_manufactured("ekcert");
    let root =
        pem_to_der(&String::from_utf8(tpm.read("ca/swtpm-localca-rootca-cert.pem")).unwrap())
            .unwrap();
    let issuer = pem_to_der(&String::from_utf8(tpm.read("ca/issuercert.pem")).unwrap()).unwrap();
    let none = EkQuirks::default();

    let mut eks = Vec::new();
    for (nv, alg, name) in [("0x1c00002", "rsa", "rsa"), ("0x1c00016", "ecc384", "ecc")] {
        tpm.tool(
            "tpm2_nvread",
            &[nv, "-C", "o", "-o", &format!("ekcert_{name}.der")],
        );
        tpm.tool(
            "tpm2_createek",
            &["-G", alg, "-c", "ek.ctx", "-u", &format!("ek_{name}.pub")],
        );
        let cert = tpm.read(&format!("ekcert_{name}.der"));
        let ek_bytes = tpm.read(&format!("ek_{name}.pub"));
        let ek = PublicArea::parse_tpm2b(&ek_bytes).unwrap();
        let id = validate_ek_certificate(&cert, &ek, &[&issuer], &[&root], &none)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(id.model, "swtpm");
        assert!(id.manufacturer.starts_with("id:"), "{id:?}");
        assert!(id.quirks_used.is_empty());
        eks.push((cert, ek_bytes));
    }
    let (rsa_cert, rsa_ek) = (&eks[0].0, &eks[0].1);
    let (ecc_cert, ecc_ek) = (&eks[1].0, &eks[1].1);
    let rsa_ek = PublicArea::parse_tpm2b(rsa_ek).unwrap();
    let ecc_ek = PublicArea::parse_tpm2b(ecc_ek).unwrap();

    // Validity periods, of the EK certificate and of the CA certificates above it.
    let dates = |der: &[u8]| {
        let c = <x509_cert::Certificate as der::Decode>::from_der(der).unwrap();
        let v = &c.tbs_certificate.validity;
        (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        )
    };
    let (leaf_from, leaf_to) = dates(ecc_cert);
    let (issuer_from, issuer_to) = dates(&issuer);
    let (root_from, root_to) = dates(&root);
    assert_eq!(leaf_to, 253_402_300_799, "swtpm writes 99991231235959Z");
    let at = |t: u64, q: &EkQuirks| {
        validate_ek_certificate_at(ecc_cert, &ecc_ek, &[&issuer], &[&root], q, t)
    };
    assert!(at(leaf_from, &none).is_ok(), "notBefore itself is inside");
    assert_eq!(
        at(leaf_from - 1, &none),
        Err(EkCertError::NotYetValid {
            depth: 0,
            not_before: leaf_from
        })
    );
    // The path is checked leaf first: the first certificate to expire, in path order, is named.
    let path = [leaf_to, issuer_to, root_to];
    let first_expiry = *path.iter().min().unwrap();
    let depth = path.iter().position(|t| *t == first_expiry).unwrap();
    assert!(at(first_expiry, &none).is_ok(), "notAfter itself is inside");
    let expected = EkCertError::Expired {
        depth,
        not_after: first_expiry,
    };
    assert_eq!(at(first_expiry + 1, &none), Err(expected));
    assert!(
        issuer_from >= root_from,
        "the issuer was made after its root"
    );
    let tolerant = EkQuirks {
        allow_outside_validity: true,
        ..none
    };
    assert_eq!(
        at(first_expiry + 1, &tolerant).unwrap().quirks_used,
        vec!["outside_validity"]
    );

    // The certificate of another EK.
    assert_eq!(
        validate_ek_certificate(rsa_cert, &ecc_ek, &[&issuer], &[&root], &none),
        Err(EkCertError::EkMismatch)
    );
    // No chain: the issuer missing, or the issuer offered as the root with the real root absent.
    assert_eq!(
        validate_ek_certificate(ecc_cert, &ecc_ek, &[], &[&root], &none),
        Err(EkCertError::Untrusted)
    );
    assert!(
        validate_ek_certificate(ecc_cert, &ecc_ek, &[&root], &[&issuer], &none).is_ok(),
        "the issuer itself may be pinned as a root"
    );
    // Altered signature.
    let mut forged = rsa_cert.clone();
    let last = forged.len() - 5;
    forged[last] ^= 1;
    assert_eq!(
        validate_ek_certificate(&forged, &rsa_ek, &[&issuer], &[&root], &none),
        Err(EkCertError::BadSignature { depth: 0 })
    );

    // 0xFF padding, as read from a fixed-size NV index.
    let mut padded = rsa_cert.clone();
    padded.extend_from_slice(&[0xff; 100]);
    assert_eq!(
        validate_ek_certificate(&padded, &rsa_ek, &[&issuer], &[&root], &none),
        Err(EkCertError::TrailingBytes {
            count: 100,
            all_ff: true
        })
    );
    let lenient = EkQuirks {
        allow_ff_padding: true,
        ..none
    };
    let id = validate_ek_certificate(&padded, &rsa_ek, &[&issuer], &[&root], &lenient).unwrap();
    assert_eq!(id.quirks_used, vec!["ff_padding"]);
    let mut junk = rsa_cert.clone();
    junk.extend_from_slice(&[0xff, 0x00]);
    assert!(matches!(
        validate_ek_certificate(&junk, &rsa_ek, &[&issuer], &[&root], &lenient),
        Err(EkCertError::TrailingBytes { all_ff: false, .. })
    ));

    // Non-minimal serial: re-encode serial 0x04 as 00 04 (the signature then covers these bytes,
    // so it no longer verifies; the quirk lets the certificate parse, the signature still decides).
    let nm = non_minimal_serial(rsa_cert);
    assert_eq!(
        validate_ek_certificate(&nm, &rsa_ek, &[&issuer], &[&root], &none),
        Err(EkCertError::NonMinimalSerial)
    );
    let q = EkQuirks {
        allow_non_minimal_serial: true,
        ..none
    };
    assert_eq!(
        validate_ek_certificate(&nm, &rsa_ek, &[&issuer], &[&root], &q),
        Err(EkCertError::BadSignature { depth: 0 })
    );
}

/// Inserts a redundant 0x00 before the serial's content and fixes the enclosing lengths.
fn non_minimal_serial(cert: &[u8]) -> Vec<u8> {
    fn hdr(b: &[u8]) -> (usize, usize) {
        if b[1] < 0x80 {
            (2, b[1] as usize)
        } else {
            let n = (b[1] & 0x7f) as usize;
            (
                2 + n,
                b[2..2 + n].iter().fold(0, |a, x| (a << 8) | *x as usize),
            )
        }
    }
    fn len(n: usize) -> Vec<u8> {
        if n < 0x80 {
            vec![n as u8]
        } else if n < 0x100 {
            vec![0x81, n as u8]
        } else {
            vec![0x82, (n >> 8) as u8, n as u8]
        }
    }
    let (h, _) = hdr(cert);
    let inner = &cert[h..];
    let (th, tl) = hdr(inner);
    let tbs = &inner[th..th + tl];
    let (vh, vl) = hdr(tbs);
    let serial = &tbs[vh + vl..];
    let (sh, sl) = hdr(serial);
    let mut new_tbs = tbs[..vh + vl].to_vec();
    new_tbs.push(0x02);
    new_tbs.extend(len(sl + 1));
    new_tbs.push(0);
    new_tbs.extend_from_slice(&serial[sh..sh + sl]);
    new_tbs.extend_from_slice(&serial[sh + sl..]);
    let mut new_inner = vec![0x30];
    new_inner.extend(len(new_tbs.len()));
    new_inner.extend(new_tbs);
    new_inner.extend_from_slice(&inner[th + tl..]);
    let mut out = vec![0x30];
    out.extend(len(new_inner.len()));
    out.extend(new_inner);
    out
}
