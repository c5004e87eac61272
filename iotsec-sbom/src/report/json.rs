//! The JSON report: `verdict`, `findings[]` (`id`, `aliases`, `kind`, `component`, `version`,
//! `severity`, `status`, `decision`, `explanation`), `suppressed[]` with the suppressing
//! statement, `stale[]`, `dropped_fields` and `binding`.

use serde_json::{Value, json};

use crate::gate::{Finding, GateDecision, Suppression};
use crate::sbom::Sbom;
use crate::severity::Severity;

fn severity_json(s: Option<&Severity>) -> Value {
    match s {
        None => Value::Null,
        Some(Severity::Unscored) => json!("unscored"),
        Some(sev @ Severity::Scored { vector, .. }) => json!({
            "score": sev.score(),
            "level": sev.level().map(|l| l.as_str()),
            "vector": vector,
        }),
    }
}

pub(crate) fn finding_json(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "aliases": f.aliases,
        "kind": f.kind.as_str(),
        "component": f.component,
        "version": f.version,
        "severity": severity_json(f.severity.as_ref()),
        "status": f.status,
        "decision": f.decision.as_str(),
        "explanation": f.explanation,
        "summary": f.summary,
    })
}

/// The JSON report of a decision (`sbom` gives the dropped-field report).
pub fn decision_to_json(d: &GateDecision, sbom: &Sbom) -> Value {
    let suppressed: Vec<Value> = d
        .suppressed
        .iter()
        .map(|s| {
            let mut v = finding_json(&s.finding);
            let by = match &s.by {
                Suppression::Vex(st) => json!({
                    "type": "vex",
                    "source": st.source,
                    "index": st.index,
                    "vulnerability": st.vulnerability,
                    "status": st.status.as_str(),
                    "justification": st.justification.map(|j| j.as_str()),
                    "detail": st.detail,
                    "expires": st.expires,
                }),
                Suppression::PolicyIgnore { reason, expires } => json!({
                    "type": "policy-ignore", "reason": reason, "expires": expires,
                }),
            };
            if let Some(obj) = v.as_object_mut() {
                obj.insert("suppressed_by".to_owned(), by);
            }
            v
        })
        .collect();
    json!({
        "verdict": d.verdict.as_str(),
        "components": d.components,
        "findings": d.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "suppressed": suppressed,
        "stale": d.stale.iter().map(|s| json!({
            "origin": s.origin, "vulnerability": s.vulnerability, "reason": s.reason,
        })).collect::<Vec<_>>(),
        "dropped_fields": sbom.dropped.0,
        "binding": {
            "sbom_sha256": d.binding.sbom_sha256,
            "advisories_sha256": d.binding.advisories_sha256,
            "policy_sha256": d.binding.policy_sha256,
            "firmware_sha256": d.binding.firmware_sha256,
            "vex_sha256": d.binding.vex_sha256,
            "decision_sha256": d.binding.decision_sha256,
        },
    })
}
