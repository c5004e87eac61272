//! A CycloneDX 1.6 VEX document (`vulnerabilities[].analysis`) of the findings the gate set aside
//! as `not_affected` or `fixed` by VEX, so the decision's reasoning can be republished.

use serde_json::{Value, json};

use crate::gate::{GateDecision, Suppression};
use crate::vex::VexStatus;

/// The `urn:uuid:` serial number of the VEX document that republishes decision `d`: the first
/// 128 bits of the decision's SHA-256 in UUID text form (RFC 9562 §4), so the same decision
/// always gets the same serial and no randomness is needed (CycloneDX 1.6 `serialNumber`).
pub fn decision_vex_serial(d: &GateDecision) -> String {
    let digest = &d.binding.decision_sha256;
    let part = |range: core::ops::Range<usize>| digest.get(range).unwrap_or("");
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

/// The CycloneDX VEX of the not-affected/fixed findings; `serial` is the new document's
/// `urn:uuid:` serial number ([`decision_vex_serial`] derives it from the decision; no
/// randomness in here).
pub fn not_affected_to_cyclonedx_vex(d: &GateDecision, serial: &str) -> Value {
    let vulns: Vec<Value> = d
        .suppressed
        .iter()
        .filter_map(|s| match &s.by {
            Suppression::Vex(st) => Some((s, st)),
            Suppression::PolicyIgnore { .. } => None,
        })
        .map(|(s, st)| {
            let state = match st.status {
                VexStatus::Fixed => "resolved",
                _ => "not_affected",
            };
            let mut analysis = json!({ "state": state });
            if let Some(obj) = analysis.as_object_mut() {
                if let Some(j) = st.justification {
                    obj.insert("justification".to_owned(), json!(j.to_cyclonedx()));
                }
                if let Some(detail) = &st.detail {
                    obj.insert("detail".to_owned(), json!(detail));
                }
            }
            json!({
                "id": s.finding.id,
                "references": s.finding.aliases.iter().map(|a| json!({"id": a, "source": {"name": "alias"}})).collect::<Vec<_>>(),
                "analysis": analysis,
                "affects": [{ "ref": s.finding.component }],
            })
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial,
        "version": 1,
        "vulnerabilities": vulns,
    })
}
