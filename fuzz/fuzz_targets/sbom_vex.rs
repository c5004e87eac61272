//! VEX documents come from suppliers: `parse_vex` (which dispatches to OpenVEX, CycloneDX VEX
//! JSON and CycloneDX XML) and `parse_openvex` never panic, and what they accept is usable.
//! (`parse_cyclonedx_vex` is crate-private; `parse_vex` reaches it for every input that is
//! neither OpenVEX nor XML.)
#![no_main]

use iotsec_sbom::vex::{VexStatement, parse_openvex, parse_vex};
use libfuzzer_sys::fuzz_target;

fn exercise(statements: &[VexStatement]) {
    for (i, s) in statements.iter().enumerate() {
        assert_eq!(s.source, "fuzz", "statement {i} lost its source");
        let _ = s.expired_on("2026-01-01");
        let _ = s.names_vulnerability(["CVE-2024-0001", s.vulnerability.as_str()].into_iter());
        for p in s.products.iter().chain(&s.subcomponents) {
            let _ = p.as_text();
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
