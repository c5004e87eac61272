#![no_main]
//! The root CRL file `serve --root-crl` publishes (`parse_published_root_crl`), on attacker
//! bytes, against a CA made once per process. Input: `mode (1) | rest`. Mode bit 0 clear:
//! `rest` is the whole file (DER or PEM). Set: `rest` = `offset (u16 BE) | patch`, XORed into
//! this root's own valid CRL at `offset`, so that the fuzzer works near a genuine file.
//! Nothing may panic; an accepted file must carry exactly what the root signed (its TBSCertList;
//! only the signature value may differ, as ECDSA's (r, n - s) verifies too), with its number.
//! The CA lives in memory: the target writes nothing (no state directory in the system's
//! temporary directory, which a fuzzer killed mid-run would leave behind).
use std::path::Path;
use std::sync::OnceLock;

use iotsec_pki::ca::authority::{RevokedEntry, create_hierarchy, sign_root_crl};
use iotsec_pki::ca::root_crl::{ROOT_CRL_VALIDITY, parse_published_root_crl};
use libfuzzer_sys::fuzz_target;

/// (root certificate DER, a valid root CRL DER revoking the intermediate, as `pki revoke
/// --intermediate` makes it).
fn ca() -> &'static (Vec<u8>, Vec<u8>) {
    static CA: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    CA.get_or_init(|| {
        use der::Decode;
        let now = time::OffsetDateTime::now_utc();
        let hierarchy = create_hierarchy("Fuzz", now).expect("CA for fuzzing");
        let intermediate = x509_cert::Certificate::from_der(&hierarchy.intermediate_der)
            .expect("intermediate certificate");
        let revoked = [RevokedEntry {
            serial: intermediate
                .tbs_certificate
                .serial_number
                .as_bytes()
                .to_vec(),
            revoked_at: now,
            reason: 4,
        }];
        let crl = sign_root_crl(
            &hierarchy.root_der,
            &hierarchy.root_key,
            &revoked,
            1,
            now,
            now + ROOT_CRL_VALIDITY,
        )
        .expect("root CRL");
        (hierarchy.root_der, crl)
    })
}

fuzz_target!(|data: &[u8]| {
    let (root, valid) = ca();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let Some((offset, patch)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let mut file = valid.clone();
        let at = usize::from(u16::from_be_bytes(*offset));
        for (i, b) in patch.iter().enumerate() {
            if let Some(byte) = file.get_mut(at + i) {
                *byte ^= b;
            }
        }
        file
    };
    if let Ok(published) = parse_published_root_crl(Path::new("root.crl"), file.clone(), root) {
        use der::Decode;
        let tbs = |d: &[u8]| {
            x509_cert::crl::CertificateList::from_der(d)
                .expect("accepted DER")
                .tbs_cert_list
        };
        assert_eq!(
            tbs(&published.der),
            tbs(valid),
            "accepted a CRL the root did not sign"
        );
        let again = parse_published_root_crl(Path::new("root.crl"), valid.clone(), root)
            .expect("the root's own CRL");
        assert_eq!(published.number, again.number);
    }
});
