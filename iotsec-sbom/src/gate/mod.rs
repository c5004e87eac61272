//! The deploy gate: SBOM + advisory database + VEX + policy in, one decision out, with one
//! explanation per finding and a binding to the exact inputs. No I/O: today's date is an
//! argument, and each parsed input carries the SHA-256 of the bytes it was read from, so the
//! binding cannot name other bytes than the ones evaluated.

mod finding;
mod license_check;
mod matching;
mod vex_order;

use sha2::{Digest, Sha256};

pub use finding::{Finding, FindingKind, StaleEntry, SuppressedFinding, Suppression};

use crate::advisory::AdvisoryDatabase;
use crate::policy::{Decision, Policy};
use crate::purl::PackageUrl;
use crate::sbom::{Component, Sbom};
use crate::severity::Severity;
use crate::vex::{VexDocument, VexStatement};
use matching::{Lookup, lookup};
use time::Date;

/// Everything the decision depends on. The SBOM, the advisory snapshot, the VEX documents and
/// the policy each carry the digest of what they were parsed from ([`Sbom::sha256`],
/// [`AdvisoryDatabase::snapshot_sha256`], [`VexDocument::sha256`], [`Policy::sha256`]).
#[derive(Clone, Copy, Debug)]
pub struct GateInputs<'a> {
    /// The SBOM.
    pub sbom: &'a Sbom,
    /// The advisory database.
    pub advisories: &'a AdvisoryDatabase,
    /// Standalone VEX documents (the SBOM's embedded statements are added).
    pub vex: &'a [VexDocument],
    /// The policy.
    pub policy: &'a Policy,
    /// Hex SHA-256 of the firmware image being released, if given (the gate reads no image:
    /// it checks that the SBOM names this digest).
    pub firmware_sha256: Option<&'a str>,
    /// Today (UTC), for VEX and ignore expiry: an entry expiring on this day still holds.
    pub today: Date,
}

/// `YYYY-MM-DD`, the form expiry dates are compared in; a year outside 0..=9999 gives a text
/// that reads as no date, so every dated VEX statement and ignore counts as expired.
fn day_text(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// What the decision is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// SHA-256 of the SBOM.
    pub sbom_sha256: String,
    /// Snapshot digest of the advisory database.
    pub advisories_sha256: String,
    /// SHA-256 of the policy.
    pub policy_sha256: String,
    /// SHA-256 of the firmware image, if given.
    pub firmware_sha256: Option<String>,
    /// SHA-256 of each standalone VEX document, in the order given (statements built in code,
    /// [`VexDocument::from_statements`], have none).
    pub vex_sha256: Vec<String>,
    /// SHA-256 over the verdict and all of the above ([`Binding::decision_digest`]).
    pub decision_sha256: String,
}

impl Binding {
    /// The canonical text the decision digest is computed over:
    /// `iotsec-sbom-decision/v1\nverdict=..\nsbom=..\nadvisories=..\npolicy=..\nfirmware=..|none\nvex=a,b\n`.
    pub fn canonical_text(
        verdict: Decision,
        sbom: &str,
        advisories: &str,
        policy: &str,
        firmware: Option<&str>,
        vex: &[String],
    ) -> String {
        format!(
            "iotsec-sbom-decision/v1\nverdict={}\nsbom={sbom}\nadvisories={advisories}\npolicy={policy}\nfirmware={}\nvex={}\n",
            verdict.as_str(),
            firmware.unwrap_or("none"),
            vex.join(",")
        )
    }

    /// Recomputes the decision digest (what the OTA side checks before a release).
    pub fn decision_digest(verdict: Decision, b: &Binding) -> String {
        let text = Binding::canonical_text(
            verdict,
            &b.sbom_sha256,
            &b.advisories_sha256,
            &b.policy_sha256,
            b.firmware_sha256.as_deref(),
            &b.vex_sha256,
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// The gate's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateDecision {
    /// pass, warn or fail: the worst decision over the findings.
    pub verdict: Decision,
    /// Findings that count, in component order.
    pub findings: Vec<Finding>,
    /// Findings set aside by VEX or policy ignores, with what set them aside.
    pub suppressed: Vec<SuppressedFinding>,
    /// VEX statements and ignore entries that did nothing (expired or matched nothing).
    pub stale: Vec<StaleEntry>,
    /// Components evaluated.
    pub components: usize,
    /// What the decision is bound to.
    pub binding: Binding,
}

pub use crate::digest::sha256_hex;

fn component_purl_base(c: &Component) -> Option<PackageUrl> {
    c.purl.as_deref().and_then(|p| PackageUrl::parse(p).ok())
}

fn statement_applies(s: &VexStatement, c: &Component, sbom: &Sbom) -> bool {
    if s.subcomponents.is_empty() {
        s.products
            .iter()
            .enumerate()
            .any(|(i, p)| p.designates(c, sbom) && s.covers_version(i, c))
    } else {
        let product_is_subject = sbom
            .subject
            .as_ref()
            .is_some_and(|subj| s.products.iter().any(|p| p.designates(subj, sbom)));
        product_is_subject && s.subcomponents.iter().any(|p| p.designates(c, sbom))
    }
}

fn vulnerability_decision(
    policy: &Policy,
    severity: &Severity,
    informational: Option<&str>,
) -> (Decision, String) {
    if let Some(kind) = informational {
        return (
            policy.informational,
            format!(
                "informational advisory ({kind}); policy informational = {}",
                policy.informational.as_str()
            ),
        );
    }
    match severity.level() {
        None => (
            policy.unscored,
            format!(
                "no CVSS v3/v4 score; policy unscored = {}",
                policy.unscored.as_str()
            ),
        ),
        Some(level) if level > policy.max_severity => (
            Decision::Fail,
            format!(
                "severity {severity} is above max_severity {}",
                policy.max_severity.as_str()
            ),
        ),
        Some(_) => (
            Decision::Warn,
            format!(
                "severity {severity} is within max_severity {}",
                policy.max_severity.as_str()
            ),
        ),
    }
}

/// Evaluates the gate.
pub fn decide(inputs: &GateInputs<'_>) -> GateDecision {
    let GateInputs { sbom, policy, .. } = *inputs;
    let today_text = day_text(inputs.today);
    let today = today_text.as_str();
    let db = inputs.advisories;
    let standalone = inputs.vex.iter().flat_map(VexDocument::statements);
    let mut statements: Vec<&VexStatement> = sbom.embedded_vex.iter().chain(standalone).collect();
    statements.sort_by(|a, b| (&a.source, a.index).cmp(&(&b.source, b.index)));
    let mut statement_used = vec![false; statements.len()];
    let mut ignore_used = vec![false; policy.ignore.len()];
    let mut findings = Vec::new();
    let mut suppressed = Vec::new();

    for c in &sbom.components {
        let (label, version, groups, note) = match lookup(db, c) {
            Lookup::Unidentified { label, reason } => {
                findings.push(Finding {
                    id: "unidentified-component".to_owned(),
                    aliases: Vec::new(),
                    kind: FindingKind::Unidentified,
                    component: label,
                    version: c.version.clone(),
                    severity: None,
                    status: "unknown",
                    decision: policy.unidentified,
                    explanation: format!(
                        "{reason}; policy unidentified = {}",
                        policy.unidentified.as_str()
                    ),
                    summary: None,
                });
                license_check::check(policy, c, &mut findings);
                hash_check(policy, c, &mut findings);
                continue;
            }
            Lookup::Identified {
                label,
                version,
                groups,
                note,
            } => (label, version, groups, note),
        };
        for g in groups {
            let aliases: Vec<String> = g.ids.iter().filter(|i| **i != g.primary).cloned().collect();
            let (decision, mut explanation) = match g.undetermined.as_deref() {
                Some(why) => (
                    policy.unidentified,
                    format!(
                        "{why}; policy unidentified = {}",
                        policy.unidentified.as_str()
                    ),
                ),
                None => vulnerability_decision(policy, &g.severity, g.informational.as_deref()),
            };
            if let Some(note) = &note {
                explanation.push_str("; ");
                explanation.push_str(note);
            }
            let mut finding = Finding {
                id: g.primary.clone(),
                aliases,
                kind: if g.undetermined.is_some() {
                    FindingKind::Undetermined
                } else if g.informational.is_some() {
                    FindingKind::Informational
                } else {
                    FindingKind::Vulnerability
                },
                component: label.clone(),
                version: Some(version.clone()),
                severity: Some(g.severity.clone()),
                status: if g.undetermined.is_some() {
                    "unknown"
                } else {
                    "affected"
                },
                decision,
                explanation,
                summary: g.summary.clone(),
            };
            // VEX first: a statement about the product is stronger than a blanket ignore.
            let applicable: Vec<usize> = statements
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.names_vulnerability(g.ids.iter().map(String::as_str))
                        && statement_applies(s, c, sbom)
                        && !s.expired_on(today)
                })
                .map(|(i, _)| i)
                .collect();
            for i in &applicable {
                if let Some(used) = statement_used.get_mut(*i) {
                    *used = true;
                }
            }
            let in_force = vex_order::effective(&statements, &applicable);
            let suppressor = in_force.suppressor(&statements);
            if let Some((status, note)) = in_force.standing(&statements) {
                finding.status = status.as_str();
                finding.explanation.push_str(&note);
            }
            if let Some(i) = suppressor.and_then(|i| statements.get(i)) {
                finding.status = i.status.as_str();
                finding.explanation = format!(
                    "suppressed by VEX {}#{} ({}{})",
                    i.source,
                    i.index,
                    i.status.as_str(),
                    i.justification
                        .map(|j| format!(", {}", j.as_str()))
                        .unwrap_or_default()
                );
                finding.decision = Decision::Pass;
                suppressed.push(SuppressedFinding {
                    finding,
                    by: Suppression::Vex((*i).clone()),
                });
                continue;
            }
            let purl_base = component_purl_base(c);
            let ignore = policy.ignore.iter().enumerate().find(|(_, ig)| {
                g.ids.iter().any(|id| id.eq_ignore_ascii_case(&ig.id))
                    && ig.component.as_deref().is_none_or(|want| {
                        let want = PackageUrl::parse(want).ok();
                        match (want, &purl_base) {
                            (Some(w), Some(h)) => {
                                w.ty == h.ty && w.namespace == h.namespace && w.name == h.name
                            }
                            _ => false,
                        }
                    })
            });
            if let Some((n, ig)) = ignore {
                if !crate::date::expired(&ig.expires, today) {
                    if let Some(u) = ignore_used.get_mut(n) {
                        *u = true;
                    }
                    finding.status = "ignored";
                    finding.decision = Decision::Pass;
                    finding.explanation =
                        format!("ignored by policy until {}: {}", ig.expires, ig.reason);
                    suppressed.push(SuppressedFinding {
                        finding,
                        by: Suppression::PolicyIgnore {
                            reason: ig.reason.clone(),
                            expires: ig.expires.clone(),
                        },
                    });
                    continue;
                }
                finding
                    .explanation
                    .push_str(&format!("; policy ignore expired on {}", ig.expires));
            }
            findings.push(finding);
        }
        license_check::check(policy, c, &mut findings);
        hash_check(policy, c, &mut findings);
    }

    if policy.require_firmware_digest {
        firmware_check(inputs, &mut findings);
    }

    let mut stale = Vec::new();
    for (i, s) in statements.iter().enumerate() {
        if s.expired_on(today) {
            stale.push(StaleEntry {
                origin: format!("VEX {}#{}", s.source, s.index),
                vulnerability: s.vulnerability.clone(),
                reason: "expired",
            });
        } else if !statement_used.get(i).copied().unwrap_or(false) {
            stale.push(StaleEntry {
                origin: format!("VEX {}#{}", s.source, s.index),
                vulnerability: s.vulnerability.clone(),
                reason: "matches no finding",
            });
        }
    }
    for (i, ig) in policy.ignore.iter().enumerate() {
        if crate::date::expired(&ig.expires, today) {
            stale.push(StaleEntry {
                origin: format!("policy ignore[{i}]"),
                vulnerability: ig.id.clone(),
                reason: "expired",
            });
        } else if !ignore_used.get(i).copied().unwrap_or(false) {
            stale.push(StaleEntry {
                origin: format!("policy ignore[{i}]"),
                vulnerability: ig.id.clone(),
                reason: "matches no finding",
            });
        }
    }

    let verdict = findings
        .iter()
        .map(|f| f.decision)
        .max()
        .unwrap_or(Decision::Pass);
    let mut binding = Binding {
        sbom_sha256: sbom.sha256().to_owned(),
        advisories_sha256: db.snapshot_sha256().to_owned(),
        policy_sha256: policy.sha256().to_owned(),
        firmware_sha256: inputs.firmware_sha256.map(str::to_owned),
        vex_sha256: inputs
            .vex
            .iter()
            .filter_map(VexDocument::sha256)
            .map(str::to_owned)
            .collect(),
        decision_sha256: String::new(),
    };
    binding.decision_sha256 = Binding::decision_digest(verdict, &binding);
    GateDecision {
        verdict,
        findings,
        suppressed,
        stale,
        components: sbom.components.len(),
        binding,
    }
}

fn hash_check(policy: &Policy, c: &Component, findings: &mut Vec<Finding>) {
    for alg in &policy.require_hashes {
        if !c.hashes.iter().any(|h| h.alg.eq_ignore_ascii_case(alg)) {
            findings.push(Finding {
                id: format!("missing-hash:{alg}"),
                aliases: Vec::new(),
                kind: FindingKind::MissingHash,
                component: c
                    .purl
                    .clone()
                    .or_else(|| c.cpe.clone())
                    .unwrap_or_else(|| c.name.clone()),
                version: c.version.clone(),
                severity: None,
                status: "policy",
                decision: Decision::Fail,
                explanation: format!(
                    "policy require_hashes includes {alg}, which the component lacks"
                ),
                summary: None,
            });
        }
    }
}

fn firmware_check(inputs: &GateInputs<'_>, findings: &mut Vec<Finding>) {
    let named = |fw: &str| {
        inputs
            .sbom
            .subject
            .iter()
            .chain(
                inputs
                    .sbom
                    .components
                    .iter()
                    .filter(|c| c.kind == "firmware"),
            )
            .flat_map(|c| c.hashes.iter())
            .any(|h| h.alg.eq_ignore_ascii_case("SHA-256") && h.content.eq_ignore_ascii_case(fw))
    };
    let (ok, why) = match inputs.firmware_sha256 {
        None => (
            false,
            "policy require_firmware_digest is set but no firmware image was given".to_owned(),
        ),
        Some(fw) if named(fw) => (true, String::new()),
        Some(fw) => (
            false,
            format!("the SBOM names no SHA-256 {fw} on its subject or a firmware component"),
        ),
    };
    if !ok {
        findings.push(Finding {
            id: "firmware-digest".to_owned(),
            aliases: Vec::new(),
            kind: FindingKind::FirmwareDigest,
            component: inputs
                .sbom
                .subject
                .as_ref()
                .map_or_else(|| "(no metadata.component)".to_owned(), |s| s.name.clone()),
            version: None,
            severity: None,
            status: "policy",
            decision: Decision::Fail,
            explanation: why,
            summary: None,
        });
    }
}
