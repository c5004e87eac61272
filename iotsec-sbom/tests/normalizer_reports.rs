#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The normalizer reports what it drops, and what it adds for `cyclonedx-bom`.

use iotsec_sbom::sbom::parse_sbom;
#[cfg(feature = "cyclonedx-cross-check")]
use iotsec_sbom::sbom::{CrossCheck, cross_check_with_cyclonedx_bom};

#[test]
fn dropped_fields_are_counted() {
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
      "metadata":{"tools":{"components":[]}},
      "components":[
        {"type":"library","name":"a","version":"1","evidence":{"identity":[]},"description":"x"},
        {"type":"library","name":"b","version":"1","description":"y",
         "components":[{"type":"file","name":"c","pedigree":{}}]}],
      "services":[{"name":"s"}],
      "compositions":[]}"#;
    let sbom = parse_sbom(doc).unwrap();
    let dropped: Vec<(&str, usize)> = sbom
        .dropped
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        dropped,
        vec![
            ("components[].description", 2),
            ("components[].evidence", 1),
            ("components[].pedigree", 1),
            ("compositions", 1),
            ("metadata.tools", 1),
            ("services", 1),
        ]
    );
    let names: Vec<_> = sbom.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
#[cfg(feature = "cyclonedx-cross-check")]
fn cyclonedx_bom_gets_the_schema_default_it_wrongly_requires() {
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
      "components":[{"type":"library","bom-ref":"a","name":"a","version":"1.0.0"}],
      "vulnerabilities":[{"id":"CVE-2030-0001","affects":[{"ref":"a","versions":[{"version":"1.0.0"}]}]}]}"#;
    // Our reader accepts the omitted status; without an `analysis` the entry is no VEX statement.
    let sbom = parse_sbom(doc).unwrap();
    let refs: Vec<_> = sbom
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.version.as_deref()))
        .collect();
    assert_eq!(refs, [("a", Some("1.0.0"))]);
    assert_eq!(sbom.embedded_vex.len(), 0);
    match cross_check_with_cyclonedx_bom(doc).unwrap() {
        CrossCheck::Passed { defaults_added } => {
            assert_eq!(
                defaults_added,
                ["vulnerabilities[0].affects[0].versions[0].status=affected"]
            );
        }
        other => panic!("{other:?}"),
    }
    let v16 = String::from_utf8(doc.to_vec())
        .unwrap()
        .replace("\"1.5\"", "\"1.6\"");
    assert!(matches!(
        cross_check_with_cyclonedx_bom(v16.as_bytes()).unwrap(),
        CrossCheck::NotApplicable { .. }
    ));
}
