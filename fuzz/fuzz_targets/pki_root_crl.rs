#![no_main]
//! The root CRL file `serve --root-crl` publishes (`parse_published_root_crl`), on attacker
//! bytes, against a CA made once per process. Input: `mode (1) | rest`. Mode bit 0 clear:
//! `rest` is the whole file (DER or PEM). Set: `rest` = `offset (u16 BE) | patch`, XORed into
//! this root's own valid CRL at `offset`, so that the fuzzer works near a genuine file.
//! Nothing may panic; an accepted file must carry exactly what the root signed (its TBSCertList;
//! only the signature value may differ, as ECDSA's (r, n - s) verifies too), with its number.
use std::path::Path;
use std::sync::OnceLock;

use iotsec_pki::ca_state::{CaSettings, init_state, read_pem};
use iotsec_pki::root_crl::{parse_published_root_crl, root_crl};
use libfuzzer_sys::fuzz_target;

/// (root certificate DER, a valid root CRL DER).
fn ca() -> &'static (Vec<u8>, Vec<u8>) {
    static CA: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    CA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("iotsec-fuzz-rootcrl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = CaSettings {
            organization: "Fuzz".into(),
            crl_url: "http://127.0.0.1/crl".into(),
            lifetime_secs: 3600,
        };
        let now = time::OffsetDateTime::now_utc();
        init_state(&dir, &settings, now).expect("CA for fuzzing");
        let root = read_pem(&dir.join("root.pem"), "CERTIFICATE").expect("root certificate");
        let crl = root_crl(&dir, now).expect("root CRL");
        let _ = std::fs::remove_dir_all(&dir);
        (root, crl)
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
