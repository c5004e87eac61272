//! SARIF 2.1.0 (OASIS SARIF v2.1.0 §3.13 run, §3.27 result, §3.49 reportingDescriptor): one rule
//! per finding id, one result per finding (`error` = fail, `warning` = warn, `note` = pass),
//! located logically at the component's purl/CPE (§3.33 logicalLocation).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::gate::GateDecision;
use crate::policy::Decision;

/// The SARIF 2.1.0 log of a decision.
pub fn decision_to_sarif(d: &GateDecision) -> Value {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    for f in &d.findings {
        rules.entry(f.id.as_str()).or_insert_with(|| {
            json!({
                "id": f.id,
                "shortDescription": { "text": f.summary.clone().unwrap_or_else(|| f.kind.as_str().to_owned()) },
                "properties": { "aliases": f.aliases, "kind": f.kind.as_str() },
            })
        });
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let results: Vec<Value> = d
        .findings
        .iter()
        .map(|f| {
            let level = match f.decision {
                Decision::Fail => "error",
                Decision::Warn => "warning",
                Decision::Pass => "note",
            };
            json!({
                "ruleId": f.id,
                "ruleIndex": index.get(f.id.as_str()).copied().unwrap_or(0),
                "level": level,
                "message": { "text": format!("{} {}: {}", f.component, f.version.as_deref().unwrap_or(""), f.explanation) },
                "locations": [{ "logicalLocations": [{ "fullyQualifiedName": f.component, "kind": "package" }] }],
                "properties": {
                    "status": f.status,
                    "severity": f.severity.as_ref().map(|s| s.to_string()),
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "iotsec-sbom",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/iotsec",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
            "properties": {
                "verdict": d.verdict.as_str(),
                "decision_sha256": d.binding.decision_sha256,
            },
        }],
    })
}
