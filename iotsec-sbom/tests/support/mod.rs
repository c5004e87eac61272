//! Helpers shared by the matching tests: an in-memory advisory database and a gate run over
//! one CycloneDX component per purl.

use iotsec_sbom::advisory::{AdvisoryDatabase, SnapshotFile};
use iotsec_sbom::date::parse_day;
use iotsec_sbom::gate::{GateDecision, GateInputs, decide};
use iotsec_sbom::{Policy, parse_sbom};

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

/// Gates a CycloneDX 1.6 SBOM with one library component per purl under `policy` (TOML).
pub fn gate_purls(purls: &[&str], db: &AdvisoryDatabase, policy: &str) -> GateDecision {
    let components: Vec<String> = purls
        .iter()
        .map(|p| format!(r#"{{"type":"library","name":"x","purl":"{p}"}}"#))
        .collect();
    let sbom = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{}]}}"#,
        components.join(",")
    );
    let parsed = parse_sbom(sbom.as_bytes()).unwrap();
    let policy_parsed = Policy::from_toml(policy).unwrap();
    decide(&GateInputs {
        sbom: &parsed,
        advisories: db,
        vex: &[],
        policy: &policy_parsed,
        firmware_sha256: None,
        today: parse_day("2026-01-15").unwrap(),
    })
}
