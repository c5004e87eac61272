#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`, CycloneDX 1.5) names one version of one
//! SBOM. A version that is not a positive integer is refused by both VEX readers: read as "no
//! version", it would make the statement name every version of that SBOM.

use iotsec_sbom::vex::{ProductRef, parse_vex};

const SERIAL: &str = "3e671687-395b-41f5-a30f-a58921a69b79";

fn cyclonedx(reference: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"vulnerabilities":[
        {{"id":"RUSTSEC-2021-0003","analysis":{{"state":"not_affected","justification":"code_not_reachable"}},
          "affects":[{{"ref":"{reference}"}}]}}]}}"#
    )
}

fn openvex(reference: &str) -> String {
    format!(
        r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1",
        "author":"a","timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[
        {{"vulnerability":{{"name":"RUSTSEC-2021-0003"}},"products":[{{"@id":"{reference}"}}],
          "status":"not_affected","justification":"vulnerable_code_not_present"}}]}}"#
    )
}

#[test]
fn a_bom_link_with_a_numeric_version_is_read() {
    let link = format!("urn:cdx:{SERIAL}/2#smallvec-ref");
    assert_eq!(
        ProductRef::try_from_reference(&link),
        Ok(ProductRef::from_reference(&link))
    );
    for doc in [cyclonedx(&link), openvex(&link)] {
        let statements = parse_vex(doc.as_bytes(), "vex").unwrap();
        assert_eq!(statements.len(), 1);
    }
}

#[test]
fn a_bom_link_whose_version_is_not_a_positive_integer_is_refused() {
    for version in ["x", "", "0", "-1", "+2", "1.0", "18446744073709551616"] {
        let link = format!("urn:cdx:{SERIAL}/{version}#smallvec-ref");
        let err = ProductRef::try_from_reference(&link).unwrap_err();
        assert!(err.contains("not a positive integer"), "{version}: {err}");
        // The lenient reader keeps it whole as a bom-ref: it designates nothing.
        assert_eq!(
            ProductRef::from_reference(&link),
            ProductRef::BomRef(link.clone())
        );
        for doc in [cyclonedx(&link), openvex(&link)] {
            let err = parse_vex(doc.as_bytes(), "vex").unwrap_err().to_string();
            assert!(err.contains("not a positive integer"), "{version}: {err}");
        }
    }
}
