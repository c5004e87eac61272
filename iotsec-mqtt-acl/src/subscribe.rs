//! SUBSCRIBE authorization and its three modes (MQTT 5.0 §3.8, §4.7, §4.8.2).
//!
//! - [`SubscribeMode::Strict`]: grant only if the requested filter is contained in the union of
//!   filters the client's `subscribe` allow rules grant, and shares no topic with any applicable
//!   `subscribe`/`receive` deny (so `a/+` never admits `a/#`, and `+` never admits `#`).
//! - [`SubscribeMode::Narrow`]: grant if some allow rule overlaps the filter and the denies do not
//!   cover all of it; the broker must then check `receive` for every delivered message.
//! - [`SubscribeMode::Mosquitto`]: mosquitto 2.0's `acl_file` behaviour, for migration: every
//!   SUBSCRIBE is granted and placeholders are substituted as text (`%c` style).

use crate::context::{Action, ClientContext, Request};
use crate::decision::{Decision, Effect, Reason, RuleOutcome, Tally};
use crate::filter_algebra::{FilterSet, SET_CAPACITY, is_covered_by_set, overlaps_with};
use crate::policy::Policy;
use crate::template::{MAX_TEMPLATE_LEVELS, TopicTemplate};
use crate::topic::{FilterLevel, Subscription, TopicFilter};

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

/// The rules' templates that overlap a subscription, instantiated for one client level by level
/// (no allocation).
struct ClientTemplates<'a, 'c> {
    policy: &'a Policy,
    ctx: &'c ClientContext<'a>,
    picks: heapless::Vec<(usize, usize), SET_CAPACITY>,
}

impl<'a> ClientTemplates<'a, '_> {
    fn template(&self, rule: usize, template: usize) -> Option<&'a TopicTemplate> {
        self.policy.rules().get(rule)?.templates.get(template)
    }
}

impl<'a> FilterSet<'a> for ClientTemplates<'a, '_> {
    fn count(&self) -> usize {
        self.picks.len()
    }
    fn level(&self, i: usize, k: usize) -> Option<FilterLevel<'a>> {
        let &(rule, template) = self.picks.get(i)?;
        self.template(rule, template)?.partial_level(self.ctx, k)
    }
}

/// The levels the analysis reads: the filter itself, or for a filter deeper than any template can
/// reach (more than `MAX_TEMPLATE_LEVELS + 1` levels) its first `MAX_TEMPLATE_LEVELS` levels and
/// then `+/#`. Every template has at most `MAX_TEMPLATE_LEVELS` levels, so one matches a topic
/// that deep only through a trailing `#` after at most `MAX_TEMPLATE_LEVELS - 1` levels: the
/// templates cover and overlap the shortened filter exactly when they cover and overlap the
/// filter.
fn analysed_levels<'a>(
    filter: &TopicFilter<'a>,
) -> heapless::Vec<FilterLevel<'a>, { MAX_TEMPLATE_LEVELS + 2 }> {
    let mut out = heapless::Vec::new();
    if filter.levels().nth(MAX_TEMPLATE_LEVELS + 1).is_some() {
        out.extend(filter.levels().take(MAX_TEMPLATE_LEVELS));
        out.extend([FilterLevel::SingleWildcard, FilterLevel::MultiWildcard]);
    } else {
        out.extend(filter.levels());
    }
    out
}

/// Decides a SUBSCRIBE (identity binding and QoS range already checked by the caller). Allocates
/// nothing: templates are read level by level and at most [`SET_CAPACITY`] allow and as many
/// deny templates may overlap one subscription (more is denied: fail closed).
pub(crate) fn decide_subscribe(
    policy: &Policy,
    ctx: &ClientContext<'_>,
    request: &Request<'_>,
    mode: SubscribeMode,
    reads_time: &mut bool,
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
    let filter = analysed_levels(&subscription.filter);
    let mut tally = Tally::default();
    let mut grants = ClientTemplates {
        policy,
        ctx,
        picks: heapless::Vec::new(),
    };
    let mut denials = ClientTemplates {
        policy,
        ctx,
        picks: heapless::Vec::new(),
    };
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
        let rule_index = u32::try_from(ri).unwrap_or(u32::MAX);
        for (ti, template) in rule.templates.iter().enumerate() {
            if !overlaps_with(|k| template.partial_level(ctx, k), &filter) {
                continue;
            }
            let outcome = match template.first_unusable(ctx) {
                Some(u) => RuleOutcome::PlaceholderUnusable {
                    placeholder: u.placeholder,
                    problem: u.problem,
                },
                None => {
                    *reads_time |= rule.reads_time();
                    rule.outcome(ctx, request.qos)
                }
            };
            tally.record(
                rule_index,
                u16::try_from(ti).unwrap_or(u16::MAX),
                rule.effect,
                outcome,
            );
            let set = if outcome.denies(rule.effect) {
                &mut denials
            } else if outcome.grants(rule.effect) {
                first_grant.get_or_insert(rule_index);
                &mut grants
            } else {
                continue;
            };
            if set.picks.push((ri, ti)).is_err() {
                return tally.finish_with(
                    Effect::Deny,
                    Reason::TooManyOverlappingRules {
                        limit: SET_CAPACITY as u16,
                    },
                );
            }
        }
    }
    match mode {
        SubscribeMode::Strict => {
            if tally.has_denial() || is_covered_by_set(&filter, &grants) {
                tally.finish()
            } else if grants.picks.is_empty() {
                tally.finish_with(Effect::Deny, Reason::NoMatchingRule)
            } else {
                tally.finish_with(Effect::Deny, Reason::FilterNotContained)
            }
        }
        _ => {
            if !denials.picks.is_empty() && is_covered_by_set(&filter, &denials) {
                tally.finish()
            } else if let Some(rule) = first_grant {
                tally.finish_with(Effect::Allow, Reason::AllowedBy { rule })
            } else {
                tally.finish_with(Effect::Deny, Reason::NoMatchingRule)
            }
        }
    }
}
