//! Random extension sets on a recorded swtpm EK certificate: validation never panics, a
//! duplicated extension or an unprocessed critical one is refused with its exact typed error
//! (the first offender in certificate order), and processed extensions are never refused for
//! being critical.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use iotsec_attest::PublicArea;
use iotsec_attest::identity::ek_certificate::{EkCertError, EkQuirks, validate_ek_certificate_at};
use proptest::prelude::*;
use x509_cert::Certificate;
use x509_cert::ext::Extension;

const CERT: &[u8] = include_bytes!("data/swtpm-ekcert-ecc384.der");
const EK: &[u8] = include_bytes!("data/swtpm-ek-ecc384.pub");

/// Extensions we process, with a well-formed value each (from the recorded certificate where
/// it has one).
fn processed() -> Vec<(&'static str, Vec<u8>)> {
    let cert = Certificate::from_der(CERT).unwrap();
    let own = |oid: &str| {
        cert.tbs_certificate
            .extensions
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.extn_id.to_string() == oid)
            .unwrap()
            .extn_value
            .as_bytes()
            .to_vec()
    };
    vec![
        ("2.5.29.19", own("2.5.29.19")),
        ("2.5.29.15", own("2.5.29.15")),
        ("2.5.29.37", own("2.5.29.37")),
        ("2.5.29.17", own("2.5.29.17")),
        ("2.5.29.9", own("2.5.29.9")),
        // certificatePolicies: anyPolicy (2.5.29.32.0).
        (
            "2.5.29.32",
            vec![0x30, 0x08, 0x30, 0x06, 0x06, 0x04, 0x55, 0x1d, 0x20, 0x00],
        ),
        // nameConstraints with an excluded dNSName subtree.
        (
            "2.5.29.30",
            vec![0x30, 0x07, 0xa1, 0x05, 0x30, 0x03, 0x82, 0x01, 0x78],
        ),
    ]
}

/// Extensions we do not process: AKI, SKI, policyConstraints, policyMappings,
/// inhibitAnyPolicy, AIA, private OIDs.
const UNPROCESSED: &[&str] = &[
    "2.5.29.35",
    "2.5.29.14",
    "2.5.29.36",
    "2.5.29.33",
    "2.5.29.54",
    "1.3.6.1.5.5.7.1.1",
    "1.2.3.4",
    "2.23.133.99",
];

#[derive(Debug, Clone)]
struct Ext {
    /// Index into processed() ++ UNPROCESSED.
    which: usize,
    critical: bool,
    /// Replace the value with these bytes (garbage for processed ones).
    garbage: Option<Vec<u8>>,
}

fn ext() -> impl Strategy<Value = Ext> {
    (
        0usize..15,
        any::<bool>(),
        proptest::option::weighted(0.2, proptest::collection::vec(any::<u8>(), 0..12)),
    )
        .prop_map(|(which, critical, garbage)| Ext {
            which,
            critical,
            garbage,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_extension_sets_are_judged_in_order(exts in proptest::collection::vec(ext(), 0..10)) {
        let known = processed();
        let mut cert = Certificate::from_der(CERT).unwrap();
        let mut built = Vec::new();
        // The first offence in certificate order, while the model can still tell.
        let mut expected: Option<EkCertError> = None;
        let mut model_blind = false;
        let mut seen: Vec<String> = Vec::new();
        for e in &exts {
            let (oid, good, is_known) = match known.get(e.which) {
                Some((oid, value)) => (oid.to_string(), value.clone(), true),
                None => (UNPROCESSED[(e.which - known.len()) % UNPROCESSED.len()].to_string(), vec![0x05, 0x00], false),
            };
            let value = e.garbage.clone().unwrap_or(good);
            if expected.is_none() && !model_blind {
                if seen.contains(&oid) {
                    expected = Some(EkCertError::DuplicateExtension { depth: 0, oid: oid.clone() });
                } else if !is_known && e.critical {
                    expected = Some(EkCertError::UnknownCriticalExtension { depth: 0, oid: oid.clone() });
                } else if is_known && e.garbage.is_some() {
                    // Garbage may or may not decode: the model stops predicting here.
                    model_blind = true;
                }
            }
            seen.push(oid.clone());
            built.push(Extension {
                extn_id: ObjectIdentifier::new(&oid).unwrap(),
                critical: e.critical,
                extn_value: OctetString::new(value).unwrap(),
            });
        }
        cert.tbs_certificate.extensions = if built.is_empty() { None } else { Some(built) };
        let der = cert.to_der().unwrap();
        let ek = PublicArea::parse_tpm2b(EK).unwrap();
        let at = cert.tbs_certificate.validity.not_before.to_unix_duration().as_secs();
        // No roots: whatever passes the extension rules ends at the chain (never Ok).
        let result = validate_ek_certificate_at(&der, &ek, &[], &[], &EkQuirks::default(), at);
        match expected {
            Some(e) => prop_assert_eq!(result, Err(e)),
            None => {
                prop_assert!(result.is_err());
                if !model_blind {
                    let refused_for_extensions = matches!(
                        result,
                        Err(EkCertError::UnknownCriticalExtension { .. })
                            | Err(EkCertError::DuplicateExtension { .. })
                            | Err(EkCertError::MalformedExtension { .. })
                    );
                    prop_assert!(!refused_for_extensions, "{:?}", result);
                }
            }
        }
    }
}
