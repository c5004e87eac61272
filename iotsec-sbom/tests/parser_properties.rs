#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Property tests for the parsers: no panics on arbitrary or mutated input, and round trips.

use iotsec_sbom::GateError;
use iotsec_sbom::advisory::parse_osv;
use iotsec_sbom::cpe::Cpe23;
use iotsec_sbom::purl::PackageUrl;
use iotsec_sbom::sbom::{MAX_NESTING, parse_sbom};
use iotsec_sbom::vex::parse_vex;
use proptest::prelude::*;

const SEED_SBOM: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"a","version":"1.0.0","purl":"pkg:cargo/a@1.0.0","hashes":[{"alg":"SHA-256","content":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}]}"#;
const SEED_OSV: &str = include_str!("data/RUSTSEC-2021-0003.json");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // Types outside the purl specification's type table (none starts with `x`): its rules
    // (namespaces required or prohibited, case folding) have their own tests in `purl`.
    #[test]
    fn purl_round_trips(ty in "x[a-z]{0,7}", ns in proptest::option::of("[a-z0-9][a-z0-9.-]{0,7}"), name in "[a-z0-9_.-]{1,12}", ver in proptest::option::of("[0-9][0-9a-z.+-]{0,8}")) {
        let mut s = format!("pkg:{ty}/");
        if let Some(ns) = &ns { s.push_str(ns); s.push('/'); }
        s.push_str(&name);
        if let Some(v) = &ver { s.push('@'); s.push_str(v); }
        let p = PackageUrl::parse(&s).unwrap();
        prop_assert_eq!(&p.ty, &ty);
        prop_assert_eq!(&p.namespace, &ns);
        prop_assert_eq!(&p.name, &name);
        prop_assert_eq!(&p.version, &ver);
        prop_assert_eq!(PackageUrl::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn purl_and_cpe_never_panic(s in "\\PC{0,64}") {
        let _ = PackageUrl::parse(&s);
        let _ = Cpe23::parse(&s);
    }

    #[test]
    fn sbom_ingest_never_panics_on_mutations(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
        let mut bytes = SEED_SBOM.as_bytes().to_vec();
        let p = pos % bytes.len();
        bytes[p] = byte;
        let _ = parse_sbom(&bytes);
        let _ = parse_sbom(&bytes[..cut.min(bytes.len())]);
    }

    #[test]
    fn osv_and_vex_never_panic_on_mutations(pos in 0usize..4000, byte in any::<u8>()) {
        let mut bytes = SEED_OSV.as_bytes().to_vec();
        let p = pos % bytes.len();
        bytes[p] = byte;
        let _ = parse_osv(&bytes, "m");
        let _ = parse_vex(&bytes, "m");
    }
}

#[test]
fn hostile_inputs_are_refused_not_crashed() {
    // Deep nesting beyond the cap.
    let mut deep = String::from(r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":["#);
    for _ in 0..40 {
        deep.push_str(r#"{"type":"library","name":"x","components":["#);
    }
    for _ in 0..40 {
        deep.push_str("]}");
    }
    deep.push_str("]}");
    // The nesting cap stops it at the first component below depth 32, not serde or the stack.
    match parse_sbom(deep.as_bytes()).unwrap_err() {
        GateError::SpecViolation {
            spec_version,
            path,
            rule,
        } => {
            assert_eq!(spec_version, "1.6");
            assert_eq!(path, vec!["components[0]"; MAX_NESTING + 2].join("."));
            assert_eq!(rule, format!("components nested deeper than {MAX_NESTING}"));
        }
        other => panic!("{other:?}"),
    }
    // XML with a DTD (entity expansion) is refused.
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]><bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components><component type="library"><name>&x;</name></component></components></bom>"#;
    match parse_sbom(xxe.as_bytes()).unwrap_err() {
        GateError::Malformed { format, reason } => {
            assert_eq!(
                (format, reason.as_str()),
                ("CycloneDX XML", "XML with DTD detected")
            );
        }
        other => panic!("{other:?}"),
    }
    // Without the DTD (and the entity) the same document is read: the DTD was the reason.
    let plain = xxe
        .replace(
            r#"<!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>"#,
            "",
        )
        .replace("&x;", "x");
    assert_eq!(parse_sbom(plain.as_bytes()).unwrap().components.len(), 1);
    // Duplicate keys in OSV ids are a database error, not a silent overwrite.
    let a = iotsec_sbom::advisory::SnapshotFile {
        path: "a.json".into(),
        bytes: SEED_OSV.as_bytes().to_vec(),
    };
    let b = iotsec_sbom::advisory::SnapshotFile {
        path: "b.json".into(),
        bytes: SEED_OSV.as_bytes().to_vec(),
    };
    match iotsec_sbom::AdvisoryDatabase::from_files(&[a, b]).unwrap_err() {
        GateError::DuplicateAdvisory { first, second, .. } => {
            assert_eq!((first.as_str(), second.as_str()), ("a.json", "b.json"));
        }
        other => panic!("{other:?}"),
    }
}
