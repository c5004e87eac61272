//! SUBSCRIBE authorization and its three modes (MQTT 5.0 §3.8, §4.7, §4.8.2).
//!
//! - [`SubscribeMode::Strict`]: grant only if the requested filter is contained in the union of
//!   filters the client's `subscribe` allow rules grant, and shares no topic with any applicable
//!   `subscribe`/`receive` deny (so `a/+` never admits `a/#`, and `+` never admits `#`).
//! - [`SubscribeMode::Narrow`]: grant if some allow rule overlaps the filter and the denies do not
//!   cover all of it; the broker must then check `receive` for every delivered message.
//! - [`SubscribeMode::Mosquitto`]: mosquitto 2.0's `acl_file` behaviour, for migration: every
//!   SUBSCRIBE is granted and placeholders are substituted as text (`%c` style).

use alloc::vec::Vec;

use crate::context::{Action, ClientContext, Request};
use crate::decision::{Decision, Effect, Reason, RuleOutcome, Tally};
use crate::filter_algebra::{is_covered, overlaps};
use crate::policy::Policy;
use crate::topic::{FilterLevel, Subscription};

/// How SUBSCRIBE requests are decided (and, for `Mosquitto`, how placeholders are filled).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SubscribeMode {
    /// Containment: the safe default.
    #[default]
    Strict,
    /// Grant broad filters, check each delivery.
    Narrow,
    /// Mosquitto 2.0 compatibility (unsafe; for migration only).
    Mosquitto,
}

impl SubscribeMode {
    /// Parses `strict`, `narrow` or `mosquitto`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "strict" => Some(SubscribeMode::Strict),
            "narrow" => Some(SubscribeMode::Narrow),
            "mosquitto" => Some(SubscribeMode::Mosquitto),
            _ => None,
        }
    }
}

/// Decides a SUBSCRIBE (identity binding and QoS range already checked by the caller).
pub(crate) fn decide_subscribe(
    policy: &Policy,
    ctx: &ClientContext<'_>,
    request: &Request<'_>,
    mode: SubscribeMode,
) -> Decision {
    let subscription = match Subscription::parse(request.topic) {
        Ok(s) => s,
        Err(e) => return Decision::deny(Reason::InvalidTopic(e)),
    };
    if mode == SubscribeMode::Mosquitto {
        return Decision {
            effect: Effect::Allow,
            reason: Reason::SubscribeGrantedByMode,
            trace: Default::default(),
        };
    }
    let filter: Vec<FilterLevel<'_>> = subscription.filter.levels().collect();
    let mut tally = Tally::default();
    let mut grants: Vec<Vec<FilterLevel<'_>>> = Vec::new();
    let mut denials: Vec<Vec<FilterLevel<'_>>> = Vec::new();
    let mut first_grant: Option<u32> = None;
    for (ri, rule) in policy.rules().iter().enumerate() {
        let relevant = match rule.effect {
            Effect::Allow => rule.actions.contains(Action::Subscribe),
            Effect::Deny => {
                rule.actions.contains(Action::Subscribe) || rule.actions.contains(Action::Receive)
            }
        };
        if !relevant || !rule.subjects.includes(ctx) {
            continue;
        }
        let ri = u32::try_from(ri).unwrap_or(u32::MAX);
        for (ti, template) in rule.templates.iter().enumerate() {
            let ti = u16::try_from(ti).unwrap_or(u16::MAX);
            let (levels, unusable) = template.instantiate_partial(ctx);
            if !overlaps(&levels, &filter) {
                continue;
            }
            let outcome = match unusable {
                Some(u) => RuleOutcome::PlaceholderUnusable {
                    placeholder: u.placeholder,
                    problem: u.problem,
                },
                None => rule.outcome(ctx, request.qos),
            };
            tally.record(ri, ti, rule.effect, outcome);
            if outcome.denies(rule.effect) {
                denials.push(levels);
            } else if outcome.grants(rule.effect) {
                first_grant.get_or_insert(ri);
                grants.push(levels);
            }
        }
    }
    let grant_refs: Vec<&[FilterLevel<'_>]> = grants.iter().map(Vec::as_slice).collect();
    match mode {
        SubscribeMode::Strict => {
            if tally.has_denial() || is_covered(&filter, &grant_refs) {
                tally.finish()
            } else if grants.is_empty() {
                tally.finish_with(Effect::Deny, Reason::NoMatchingRule)
            } else {
                tally.finish_with(Effect::Deny, Reason::FilterNotContained)
            }
        }
        _ => {
            let deny_refs: Vec<&[FilterLevel<'_>]> = denials.iter().map(Vec::as_slice).collect();
            if !deny_refs.is_empty() && is_covered(&filter, &deny_refs) {
                tally.finish()
            } else if let Some(rule) = first_grant {
                tally.finish_with(Effect::Allow, Reason::AllowedBy { rule })
            } else {
                tally.finish_with(Effect::Deny, Reason::NoMatchingRule)
            }
        }
    }
}
