#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The CycloneDX VEX document the gate republishes (`--vex-out`): its serial number is derived
//! from the decision digest, so the same decision always gets the same serial.

mod support;

use iotsec_sbom::report::{decision_vex_serial, not_affected_to_cyclonedx_vex};

#[test]
fn the_serial_is_the_decision_digest_in_uuid_form() {
    let db = support::memory_db(&[]);
    let decision = support::gate_purls(&["pkg:cargo/serde@1.0.0"], &db, "");
    let digest = &decision.binding.decision_sha256;
    assert_eq!(digest.len(), 64, "{digest}");
    let serial = decision_vex_serial(&decision);
    assert_eq!(
        serial,
        format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &digest[0..8],
            &digest[8..12],
            &digest[12..16],
            &digest[16..20],
            &digest[20..32]
        )
    );
    let document = not_affected_to_cyclonedx_vex(&decision, &serial);
    assert_eq!(document["serialNumber"], serial.as_str());

    // The same decision, the same serial; another decision (another policy), another serial.
    let again = support::gate_purls(&["pkg:cargo/serde@1.0.0"], &db, "");
    assert_eq!(decision_vex_serial(&again), serial);
    let other = support::gate_purls(&["pkg:cargo/serde@1.0.0"], &db, "max_severity = \"high\"\n");
    assert_ne!(decision_vex_serial(&other), serial);
}
