//! Static analysis of a policy: rules shadowed by others, denies that can never take effect,
//! templates that let two identities reach the same topic (cross-tenant overlap), rules that
//! reach `$SYS`/`$share`, wildcards that escalate past an identity placeholder, and denies that
//! make strict mode refuse a whole allowed subscription.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;

use crate::decision::Effect;
use crate::filter_algebra::{contains, overlaps};
use crate::policy::{Policy, Rule, Subjects};
use crate::template::{TemplateLevel, TopicTemplate};

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Every topic and action of the rule is already covered by another rule of the same effect.
    Shadowed,
    /// A deny that overlaps no allow: default deny already refuses what it names.
    IneffectiveDeny,
    /// Two identities can reach the same topic through allow templates.
    CrossTenantOverlap,
    /// The rule reaches server-reserved topics (`$SYS`, `$share`, other `$`).
    ReachesReserved,
    /// A wildcard before an identity placeholder, or a bare `#` for writes.
    WildcardEscalation,
    /// The policy has no rule: everything is denied.
    EmptyPolicy,
    /// A subscribe/receive deny covers part of an allowed subscription filter, so in strict
    /// mode a SUBSCRIBE to that whole filter is refused; only narrower filters are granted.
    StrictSubscribeNarrowed,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Kind.
    pub kind: FindingKind,
    /// Rule names involved.
    pub rules: Vec<String>,
    /// In words.
    pub detail: String,
}

fn unconditional(rule: &Rule) -> bool {
    rule.posture.firmware.is_none()
        && rule.posture.max_attestation_age_secs.is_none()
        && rule.subjects == Subjects::Everyone
        && rule.max_qos.is_none()
}

fn template_is_within(inner: &TopicTemplate, outer: &TopicTemplate) -> bool {
    contains(&outer.symbolic(), &inner.symbolic())
}

/// Lints a policy.
pub fn lint(policy: &Policy) -> Vec<Finding> {
    let rules = policy.rules();
    let mut out = Vec::new();
    if rules.is_empty() {
        out.push(Finding {
            kind: FindingKind::EmptyPolicy,
            rules: Vec::new(),
            detail: "no rules: every request is denied".into(),
        });
    }
    for (i, r) in rules.iter().enumerate() {
        // Shadowed: another unconditional rule of the same effect covers each action and template.
        for (j, o) in rules.iter().enumerate() {
            if i == j || o.effect != r.effect || !unconditional(o) {
                continue;
            }
            let actions_covered = r.actions.iter().all(|a| o.actions.contains(a));
            let topics_covered = r
                .templates
                .iter()
                .all(|t| o.templates.iter().any(|ot| template_is_within(t, ot)));
            let identical = o.templates == r.templates && o.actions == r.actions;
            if actions_covered && topics_covered && (!identical || j < i) {
                out.push(Finding {
                    kind: FindingKind::Shadowed,
                    rules: alloc::vec![r.name.clone(), o.name.clone()],
                    detail: format!("{:?} adds nothing: {:?} already covers it", r.name, o.name),
                });
                break;
            }
        }
        if r.effect == Effect::Deny {
            let effective = rules.iter().any(|a| {
                a.effect == Effect::Allow
                    && a.actions.intersects(r.actions)
                    && a.templates.iter().any(|at| {
                        r.templates
                            .iter()
                            .any(|dt| overlaps(&at.reach(), &dt.reach()))
                    })
            });
            if !effective {
                out.push(Finding {
                    kind: FindingKind::IneffectiveDeny,
                    rules: alloc::vec![r.name.clone()],
                    detail: format!(
                        "deny {:?} overlaps no allow; default deny already covers it",
                        r.name
                    ),
                });
            }
        }
        for t in &r.templates {
            if let Some(TemplateLevel::Literal(l)) = t.levels().first()
                && l.starts_with('$')
            {
                {
                    out.push(Finding {
                        kind: FindingKind::ReachesReserved,
                        rules: alloc::vec![r.name.clone()],
                        detail: format!("{:?} reaches server-reserved topics ({l})", t.as_str()),
                    });
                }
            }
            if r.effect == Effect::Allow {
                let first_placeholder = t
                    .levels()
                    .iter()
                    .position(|l| matches!(l, TemplateLevel::Placeholder(_)));
                let first_wildcard = t.levels().iter().position(|l| {
                    matches!(
                        l,
                        TemplateLevel::SingleWildcard | TemplateLevel::MultiWildcard
                    )
                });
                if let (Some(p), Some(w)) = (first_placeholder, first_wildcard)
                    && w < p
                {
                    {
                        out.push(Finding {
                            kind: FindingKind::WildcardEscalation,
                            rules: alloc::vec![r.name.clone()],
                            detail: format!("{:?}: a wildcard before the identity level lets a client act in every tenant's subtree", t.as_str()),
                        });
                    }
                }
                let writes = r.actions.contains(crate::Action::Publish)
                    || r.actions.contains(crate::Action::PublishRetained);
                if writes && matches!(t.levels().first(), Some(TemplateLevel::MultiWildcard)) {
                    out.push(Finding {
                        kind: FindingKind::WildcardEscalation,
                        rules: alloc::vec![r.name.clone()],
                        detail: format!(
                            "{:?} lets every client publish to every topic",
                            t.as_str()
                        ),
                    });
                }
            }
        }
    }
    out.extend(strict_subscribe_narrowed(rules));
    // Cross-tenant overlap between allow templates where one is scoped by a placeholder.
    for (i, a) in rules.iter().enumerate() {
        if a.effect != Effect::Allow {
            continue;
        }
        for (j, b) in rules.iter().enumerate().skip(i) {
            if b.effect != Effect::Allow || !a.actions.intersects(b.actions) {
                continue;
            }
            for (ti, ta) in a.templates.iter().enumerate() {
                for (tj, tb) in b.templates.iter().enumerate() {
                    if i == j && tj < ti {
                        continue;
                    }
                    if !(ta.has_placeholder() || tb.has_placeholder()) {
                        continue;
                    }
                    if i == j && ti == tj {
                        continue;
                    }
                    if cross_identity_overlap(ta, tb) {
                        out.push(Finding {
                            kind: FindingKind::CrossTenantOverlap,
                            rules: alloc::vec![a.name.clone(), b.name.clone()],
                            detail: format!(
                                "{:?} and {:?}: two different identities can reach the same topic",
                                ta.as_str(),
                                tb.as_str()
                            ),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Strict mode grants a SUBSCRIBE only if everything the filter reaches may be received: a
/// subscribe/receive deny that overlaps part (not all) of an allowed subscription filter makes
/// that whole filter refused, which surprises policy authors; say so.
fn strict_subscribe_narrowed(rules: &[Rule]) -> Vec<Finding> {
    use crate::Action;
    let mut out = Vec::new();
    for a in rules.iter().filter(|r| r.effect == Effect::Allow) {
        if !a.actions.contains(Action::Subscribe) {
            continue;
        }
        for d in rules.iter().filter(|r| r.effect == Effect::Deny) {
            if !(d.actions.contains(Action::Subscribe) || d.actions.contains(Action::Receive)) {
                continue;
            }
            for at in &a.templates {
                let narrowed_by = d
                    .templates
                    .iter()
                    .find(|dt| overlaps(&at.reach(), &dt.reach()) && !template_is_within(at, dt));
                if let Some(dt) = narrowed_by {
                    out.push(Finding {
                        kind: FindingKind::StrictSubscribeNarrowed,
                        rules: alloc::vec![a.name.clone(), d.name.clone()],
                        detail: format!(
                            "strict mode refuses SUBSCRIBE {:?} because deny {:?} removes {:?} from it; clients must subscribe to narrower filters (or use narrow mode)",
                            at.as_str(),
                            d.name,
                            dt.as_str()
                        ),
                    });
                }
            }
        }
    }
    out
}

/// Whether a topic reachable by identity X through `a` is reachable by a different identity Y
/// through `b`: the templates overlap (placeholders read as `+`) and at some level where one
/// has a placeholder the other does not have the very same placeholder.
fn cross_identity_overlap(a: &TopicTemplate, b: &TopicTemplate) -> bool {
    if !overlaps(&a.reach(), &b.reach()) {
        return false;
    }
    let (la, lb) = (a.levels(), b.levels());
    for k in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(k), lb.get(k));
        let is_ph = |l: Option<&TemplateLevel>| matches!(l, Some(TemplateLevel::Placeholder(_)));
        if (is_ph(x) || is_ph(y)) && x != y {
            return true;
        }
        if matches!(x, Some(TemplateLevel::MultiWildcard))
            || matches!(y, Some(TemplateLevel::MultiWildcard))
        {
            // A `#` before the other's placeholder level reaches every identity's subtree.
            return la
                .iter()
                .skip(k)
                .any(|l| matches!(l, TemplateLevel::Placeholder(_)))
                || lb
                    .iter()
                    .skip(k)
                    .any(|l| matches!(l, TemplateLevel::Placeholder(_)));
        }
    }
    false
}
