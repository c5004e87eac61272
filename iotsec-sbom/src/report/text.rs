//! Plain-text rendering for people.

use core::fmt::Write;

use crate::gate::{GateDecision, Suppression};

/// A few lines per finding, then suppressed and stale entries, then the binding.
pub fn decision_to_text(d: &GateDecision) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "verdict: {} ({} components, {} findings, {} suppressed, {} stale)",
        d.verdict.as_str(),
        d.components,
        d.findings.len(),
        d.suppressed.len(),
        d.stale.len()
    );
    for f in &d.findings {
        let aliases = if f.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", f.aliases.join(", "))
        };
        let _ = writeln!(
            out,
            "{:<4} {}{} {} {}: {}",
            f.decision.as_str().to_uppercase(),
            f.id,
            aliases,
            f.component,
            f.version.as_deref().unwrap_or("-"),
            f.explanation
        );
    }
    for s in &d.suppressed {
        let by = match &s.by {
            Suppression::Vex(st) => {
                format!("VEX {}#{} {}", st.source, st.index, st.status.as_str())
            }
            Suppression::PolicyIgnore { reason, expires } => {
                format!("ignore until {expires}: {reason}")
            }
        };
        let _ = writeln!(
            out,
            "SUPPRESSED {} {}: {by}",
            s.finding.id, s.finding.component
        );
    }
    for s in &d.stale {
        let _ = writeln!(out, "STALE {} {}: {}", s.origin, s.vulnerability, s.reason);
    }
    let _ = writeln!(out, "decision sha256: {}", d.binding.decision_sha256);
    out
}
