//! The `info` subcommand both tools share: which iotsec crates a binary composes.

use serde::Serialize;

use crate::{Outcome, Report};

/// One crate of the workspace as this binary links it.
#[derive(Serialize)]
struct CrateInfo {
    name: &'static str,
    job: &'static str,
    device_build: &'static str,
}

const CRATES: &[CrateInfo] = &[
    CrateInfo {
        name: "iotsec-pki",
        job: "device keys and CSRs, CA hierarchy, EST enrollment, revocation",
        device_build: "no_std + alloc (features = [\"alloc\"])",
    },
    CrateInfo {
        name: "iotsec-ota",
        job: "signed manifests, anti-rollback, threshold signatures, A/B trial boot",
        device_build: "no_std, no alloc",
    },
    CrateInfo {
        name: "iotsec-sbom",
        job: "SBOM + OSV + VEX + policy deploy gate",
        device_build: "cloud and CI only (std)",
    },
    CrateInfo {
        name: "iotsec-mqtt-acl",
        job: "MQTT topic authorization, deny by default",
        device_build: "no_std + alloc",
    },
    CrateInfo {
        name: "iotsec-attest",
        job: "TPM 2.0 quote and secure-element evidence, appraisal",
        device_build: "no_std + alloc",
    },
];

/// The `info` report of a tool: its name and version and the crates (by name) it composes.
pub fn report(tool: &str, version: &str, composes: &[&str]) -> Report {
    let crates: Vec<&CrateInfo> = CRATES
        .iter()
        .filter(|c| composes.contains(&c.name))
        .collect();
    let json = serde_json::json!({
        "tool": tool,
        "version": version,
        "crates": crates,
    });
    let mut text = format!("{tool} {version}\n");
    for c in &crates {
        text.push_str(&format!(
            "{:<16} {:<36} {}\n",
            c.name, c.device_build, c.job
        ));
    }
    Report {
        outcome: Outcome::Accepted,
        json,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_only_the_composed_crates() {
        let r = report("t", "1.0", &["iotsec-ota", "iotsec-attest"]);
        let names: Vec<&str> = r.json["crates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["iotsec-ota", "iotsec-attest"]);
        assert_eq!(r.outcome, Outcome::Accepted);
        assert!(r.text.starts_with("t 1.0\n"));
    }
}
