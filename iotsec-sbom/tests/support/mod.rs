//! Helpers shared by the gate tests: an in-memory advisory database, and the gate run over an
//! SBOM document or over one CycloneDX component per purl.

use iotsec_sbom::advisory::{AdvisoryDatabase, SnapshotFile};
use iotsec_sbom::date::parse_day;
use iotsec_sbom::gate::{GateDecision, GateInputs, decide};
use iotsec_sbom::vex::{VexDocument, VexStatement};
use iotsec_sbom::{Policy, parse_sbom};

#[allow(dead_code)]
/// A database of the given OSV records (files `0.json`, `1.json`, ...).
pub fn memory_db(advisories: &[String]) -> AdvisoryDatabase {
    let files: Vec<SnapshotFile> = advisories
        .iter()
        .enumerate()
        .map(|(i, b)| SnapshotFile {
            path: format!("{i}.json"),
            bytes: b.as_bytes().to_vec(),
        })
        .collect();
    AdvisoryDatabase::from_files(&files).unwrap()
}

/// Gates the SBOM document `sbom` against `db` with these VEX statements, the policy `policy`
/// (TOML) and the firmware digest, on 2026-01-15.
#[allow(dead_code)]
pub fn gate_document(
    sbom: &[u8],
    db: &AdvisoryDatabase,
    vex: &[VexStatement],
    policy: &str,
    firmware: Option<&str>,
) -> GateDecision {
    let parsed = parse_sbom(sbom).unwrap();
    let policy_parsed = Policy::from_toml(policy).unwrap();
    let vex = if vex.is_empty() {
        Vec::new()
    } else {
        vec![VexDocument::from_statements(vex.to_vec())]
    };
    decide(&GateInputs {
        sbom: &parsed,
        advisories: db,
        vex: &vex,
        policy: &policy_parsed,
        firmware_sha256: firmware,
        today: parse_day("2026-01-15").unwrap(),
    })
}

/// Gates a CycloneDX 1.6 SBOM with one library component per purl under `policy` (TOML).
#[allow(dead_code)]
pub fn gate_purls(purls: &[&str], db: &AdvisoryDatabase, policy: &str) -> GateDecision {
    let components: Vec<String> = purls
        .iter()
        .map(|p| format!(r#"{{"type":"library","name":"x","purl":"{p}"}}"#))
        .collect();
    let sbom = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{}]}}"#,
        components.join(",")
    );
    gate_document(sbom.as_bytes(), db, &[], policy, None)
}
