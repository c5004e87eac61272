//! Step 4, deploy gate (iotsec-sbom): two candidate releases with their CycloneDX SBOMs, an
//! offline OSV advisory set and a policy (`demo-data/`, invented for the demo). Firmware 1.1.0
//! ships `demo-tls` 0.9.2, which DEMO-2026-0001 (CVSS high) affects: blocked. Firmware 1.1.1
//! ships the fixed 0.9.3: it passes and goes on to the update step.

use iotsec_sbom::advisory::{AdvisoryDatabase, SnapshotFile};
use iotsec_sbom::gate::{GateDecision, GateInputs, decide, sha256_hex};
use iotsec_sbom::{Decision, Policy, parse_sbom};
use serde_json::{Value, json};

use super::{Fleet, Step, failed, firmware_image};

const NAME: &str = "deploy_gate";
const POLICY: &str = include_str!("../../demo-data/gate-policy.toml");
const ADVISORIES: [(&str, &str); 2] = [
    (
        "DEMO-2026-0001.json",
        include_str!("../../demo-data/advisories/DEMO-2026-0001.json"),
    ),
    (
        "DEMO-2026-0002.json",
        include_str!("../../demo-data/advisories/DEMO-2026-0002.json"),
    ),
];
/// The candidates in release order: (version, SBOM, the verdict the gate must give).
const CANDIDATES: [(&str, &str, Decision); 2] = [
    (
        "1.1.0",
        include_str!("../../demo-data/fw-1.1.0.cdx.json"),
        Decision::Fail,
    ),
    (
        "1.1.1",
        include_str!("../../demo-data/fw-1.1.1.cdx.json"),
        Decision::Pass,
    ),
];

/// Runs the step; the fleet learns the last release that passed.
pub fn run(fleet: &mut Fleet) -> Step {
    match gate_all(fleet) {
        Ok(step) => step,
        Err(e) => failed(NAME, e),
    }
}

fn verdict_word(d: Decision) -> &'static str {
    match d {
        Decision::Pass => "pass",
        Decision::Warn => "warn",
        Decision::Fail => "fail",
    }
}

fn gate_all(fleet: &mut Fleet) -> Result<Step, String> {
    let files: Vec<SnapshotFile> = ADVISORIES
        .iter()
        .map(|(path, text)| SnapshotFile {
            path: (*path).into(),
            bytes: text.as_bytes().to_vec(),
        })
        .collect();
    let db = AdvisoryDatabase::from_files(&files).map_err(|e| e.to_string())?;
    let policy = Policy::from_toml(POLICY).map_err(|e| format!("gate-policy.toml: {e}"))?;
    let today = fleet.now.date();
    let mut ok = true;
    let mut parts = Vec::new();
    let mut releases = Vec::new();
    for (version, sbom_text, expected) in CANDIDATES {
        let image = firmware_image(version);
        let sbom = parse_sbom(sbom_text.as_bytes()).map_err(|e| format!("SBOM {version}: {e}"))?;
        let decision = decide(&GateInputs {
            sbom: &sbom,
            advisories: &db,
            vex: &[],
            policy: &policy,
            firmware_sha256: Some(&sha256_hex(&image)),
            today,
        });
        ok &= decision.verdict == expected;
        parts.push(summary(version, &decision));
        releases.push(release_json(version, &decision, expected));
        if decision.verdict != Decision::Fail {
            fleet.released = Some((version.to_owned(), image));
        }
    }
    Ok(Step {
        name: NAME,
        ok,
        summary: parts.join("; "),
        details: json!({
            "advisories": db.advisories().len(),
            "releases": releases,
            "released": fleet.released.as_ref().map(|(v, _)| v.clone()),
        }),
    })
}

fn summary(version: &str, decision: &GateDecision) -> String {
    let blocking: Vec<String> = decision
        .findings
        .iter()
        .filter(|f| f.decision == Decision::Fail)
        .map(|f| format!("{} in {}", f.id, f.component))
        .collect();
    match blocking.is_empty() {
        true => format!("firmware {version} {}", verdict_word(decision.verdict)),
        false => format!("firmware {version} blocked by {}", blocking.join(", ")),
    }
}

fn release_json(version: &str, decision: &GateDecision, expected: Decision) -> Value {
    json!({
        "version": version,
        "verdict": verdict_word(decision.verdict),
        "expected": verdict_word(expected),
        "blocked_by": decision.findings.iter()
            .filter(|f| f.decision == Decision::Fail)
            .map(|f| f.id.clone())
            .collect::<Vec<_>>(),
        "findings": decision.findings.iter().map(|f| json!({
            "id": f.id,
            "component": f.component,
            "decision": verdict_word(f.decision),
            "explanation": f.explanation,
        })).collect::<Vec<_>>(),
        "decision_sha256": decision.binding.decision_sha256,
    })
}
