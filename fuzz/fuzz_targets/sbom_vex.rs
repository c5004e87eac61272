//! VEX documents come from suppliers: `parse_vex` (which dispatches to OpenVEX, CycloneDX VEX
//! JSON and CycloneDX XML) and `parse_openvex` never panic, and what they accept is usable.
//! (`parse_cyclonedx_vex` is crate-private; `parse_vex` reaches it for every input that is
//! neither OpenVEX nor XML.) Every product's `affects[].versions[]` (exact versions and VERS
//! ranges, read by vers-rs) is evaluated against a fixed component.
#![no_main]

use std::sync::OnceLock;

use iotsec_sbom::Sbom;
use iotsec_sbom::vex::{VexStatement, parse_openvex, parse_vex};
use libfuzzer_sys::fuzz_target;

fn sbom() -> &'static Sbom {
    static SBOM: OnceLock<Sbom> = OnceLock::new();
    SBOM.get_or_init(|| {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
            {"type":"library","name":"smallvec","version":"1.6.0","purl":"pkg:cargo/smallvec@1.6.0"}]}"#;
        iotsec_sbom::parse_sbom(doc).expect("fixed SBOM")
    })
}

fn exercise(statements: &[VexStatement]) {
    for (i, s) in statements.iter().enumerate() {
        assert_eq!(s.source, "fuzz", "statement {i} lost its source");
        let _ = s.expired_on("2026-01-01");
        let _ = s.names_vulnerability(["CVE-2024-0001", s.vulnerability.as_str()].into_iter());
        for p in s.products.iter().chain(&s.subcomponents) {
            let _ = p.as_text();
        }
        for c in &sbom().components {
            for product in 0..s.products.len() {
                let _ = s.covers_version(product, c);
            }
        }
        let _ = s.status.suppresses();
        let _ = s.justification.map(|j| (j.as_str(), j.to_cyclonedx()));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(statements) = parse_vex(data, "fuzz") {
        exercise(&statements);
    }
    if let Ok(statements) = parse_openvex(data, "fuzz") {
        exercise(&statements);
    }
});
