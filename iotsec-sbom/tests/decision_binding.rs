#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! A decision's binding names exactly the bytes that were evaluated: each parsed input carries
//! the SHA-256 of what it was read from, so a caller cannot record other digests than the ones
//! of the objects it passed.

#[allow(dead_code)] // gate_purls serves the matching tests
mod support;

use iotsec_sbom::date::parse_day;
use iotsec_sbom::gate::{GateInputs, decide, sha256_hex};
use iotsec_sbom::vex::VexDocument;
use iotsec_sbom::{Policy, parse_sbom};

const SBOM: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"a","version":"1.0.0","purl":"pkg:cargo/a@1.0.0"}]}"#;
const POLICY: &str = "max_severity = \"high\"\n";
const OPENVEX: &str = r#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.org/vex/1","author":"a","timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2030-0001"},"products":[{"@id":"pkg:cargo/a@1.0.0"}],"status":"not_affected","justification":"component_not_present"}]}"#;

#[test]
fn binding_is_the_digest_of_each_parsed_input() {
    let sbom = parse_sbom(SBOM.as_bytes()).unwrap();
    let policy = Policy::from_toml(POLICY).unwrap();
    let vex = VexDocument::parse(OPENVEX.as_bytes(), "a.openvex.json").unwrap();
    let in_code = VexDocument::from_statements(vex.statements().to_vec());
    assert_eq!(vex.statements().len(), 1);
    let db = support::memory_db(&[]);
    let fw = "ab".repeat(32);
    let d = decide(&GateInputs {
        sbom: &sbom,
        advisories: &db,
        vex: &[vex.clone(), in_code],
        policy: &policy,
        firmware_sha256: Some(&fw),
        today: parse_day("2026-01-15").unwrap(),
    });
    assert_eq!(d.binding.sbom_sha256, sha256_hex(SBOM.as_bytes()));
    assert_eq!(d.binding.policy_sha256, sha256_hex(POLICY.as_bytes()));
    // Statements built in code have no bytes, so only the parsed document is listed.
    assert_eq!(d.binding.vex_sha256, [sha256_hex(OPENVEX.as_bytes())]);
    assert_eq!(d.binding.advisories_sha256, db.snapshot_sha256());
    assert_eq!(d.binding.firmware_sha256.as_deref(), Some(fw.as_str()));
    assert_eq!(
        Policy::default().sha256(),
        // SHA-256 of the empty text: the default policy is what an empty policy file reads as.
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(Policy::from_toml("").unwrap(), Policy::default());
}

#[test]
fn a_different_byte_gives_a_different_binding() {
    let db = support::memory_db(&[]);
    let policy = Policy::default();
    let gate = |text: &str| {
        let sbom = parse_sbom(text.as_bytes()).unwrap();
        decide(&GateInputs {
            sbom: &sbom,
            advisories: &db,
            vex: &[],
            policy: &policy,
            firmware_sha256: None,
            today: parse_day("2026-01-15").unwrap(),
        })
    };
    let a = gate(SBOM);
    // Same components, one more space: same findings, another document.
    let b = gate(&SBOM.replace(",\"version\":1", ", \"version\":1"));
    assert_eq!(a.findings.len(), b.findings.len());
    assert_ne!(a.binding.sbom_sha256, b.binding.sbom_sha256);
    assert_ne!(a.binding.decision_sha256, b.binding.decision_sha256);
}

#[test]
fn a_large_sboms_digest_is_its_own_too() {
    // Above 1 MiB the digest is computed beside the parse: it must still be the document's.
    let padded = format!("{SBOM}{}", " ".repeat(2 * 1024 * 1024));
    let sbom = parse_sbom(padded.as_bytes()).unwrap();
    assert_eq!(sbom.sha256(), sha256_hex(padded.as_bytes()));
    assert_ne!(sbom.sha256(), sha256_hex(SBOM.as_bytes()));
    let xml = format!(
        "<?xml version=\"1.0\"?><bom xmlns=\"http://cyclonedx.org/schema/bom/1.6\" version=\"1\"><components/></bom>{}",
        "\n".repeat(2 * 1024 * 1024)
    );
    let sbom = parse_sbom(xml.as_bytes()).unwrap();
    assert_eq!(sbom.sha256(), sha256_hex(xml.as_bytes()));
}
