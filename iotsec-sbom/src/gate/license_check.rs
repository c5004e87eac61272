//! License rules over SPDX license expressions (SPDX 2.3 Annex D), evaluated with the `spdx`
//! crate: an expression passes when some choice of its `OR` branches uses only allowed, not
//! denied licenses.

use super::finding::{Finding, FindingKind};
use crate::policy::{Decision, Policy};
use crate::sbom::Component;

pub(super) fn check(policy: &Policy, c: &Component, findings: &mut Vec<Finding>) {
    let Some(rules) = &policy.licenses else {
        return;
    };
    let label = || {
        c.purl
            .clone()
            .or_else(|| c.cpe.clone())
            .unwrap_or_else(|| c.name.clone())
    };
    let mut push = |decision: Decision, explanation: String| {
        findings.push(Finding {
            id: "license".to_owned(),
            aliases: Vec::new(),
            kind: FindingKind::License,
            component: label(),
            version: c.version.clone(),
            severity: None,
            status: "policy",
            decision,
            explanation,
            summary: None,
        });
    };
    if c.licenses.is_empty() {
        push(
            rules.unknown,
            format!(
                "no license declared; policy licenses.unknown = {}",
                rules.unknown.as_str()
            ),
        );
        return;
    }
    for text in &c.licenses {
        let expr = match spdx::Expression::parse_mode(text, spdx::ParseMode::LAX) {
            Ok(e) => e,
            Err(_) => {
                push(
                    rules.unknown,
                    format!(
                        "license {text:?} is not an SPDX expression; policy licenses.unknown = {}",
                        rules.unknown.as_str()
                    ),
                );
                continue;
            }
        };
        let allowed = |req: &spdx::LicenseReq| {
            let name = match &req.license {
                spdx::LicenseItem::Spdx { id, .. } => id.name.to_owned(),
                spdx::LicenseItem::Other(r) => format!("LicenseRef-{}", r.lic_ref),
            };
            !rules.deny.contains(&name) && (rules.allow.is_empty() || rules.allow.contains(&name))
        };
        if !expr.evaluate(allowed) {
            push(
                Decision::Fail,
                format!(
                    "license {text:?} cannot be satisfied with the allowed, non-denied licenses"
                ),
            );
        }
    }
}
