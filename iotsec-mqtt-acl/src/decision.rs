//! Decisions and their traces: allow or deny, the reason that decided, and which rules matched
//! and why. A decision never allocates: the trace keeps the first [`TRACE_CAPACITY`] entries
//! by rule order in a fixed-capacity vector.

use serde::{Deserialize, Serialize};

use crate::context::IdentityBinding;
use crate::error::TopicError;
use crate::template::{PlaceholderKind, ValueProblem};

/// How many rule matches a trace keeps (the lowest rule indices win).
pub const TRACE_CAPACITY: usize = 16;

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses; beats every allow.
    Deny,
}

/// A posture condition of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostureCheck {
    /// The firmware version range.
    Firmware,
    /// The maximum attestation age.
    AttestationAge,
}

/// What one rule did with a request whose topic it matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RuleOutcome {
    /// The rule applies: an allow grants, a deny refuses.
    Matched,
    /// A deny rule applies because its posture condition could not be evaluated (fail closed).
    MatchedFailClosed {
        /// The condition the caller gave no data for.
        check: PostureCheck,
    },
    /// The posture condition is known to be false: the rule does not apply.
    PostureNotMet {
        /// Which condition.
        check: PostureCheck,
    },
    /// An allow rule's posture condition could not be evaluated: it does not grant.
    PostureUnknown {
        /// Which condition.
        check: PostureCheck,
    },
    /// The device is quarantined and the allow rule does not apply in quarantine.
    QuarantineExcluded,
    /// The requested QoS is above the rule's cap.
    QosAboveCap {
        /// The rule's cap.
        cap: u8,
        /// What was asked.
        requested: u8,
    },
    /// An identity value could not fill a placeholder; the request is denied (fail closed).
    PlaceholderUnusable {
        /// Which placeholder.
        placeholder: PlaceholderKind,
        /// Why.
        problem: ValueProblem,
    },
}

impl RuleOutcome {
    /// Whether this outcome refuses the request, given the rule's effect.
    pub fn denies(self, effect: Effect) -> bool {
        match self {
            RuleOutcome::PlaceholderUnusable { .. } => true,
            RuleOutcome::Matched | RuleOutcome::MatchedFailClosed { .. } => effect == Effect::Deny,
            _ => false,
        }
    }

    /// Whether this outcome grants the request, given the rule's effect.
    pub fn grants(self, effect: Effect) -> bool {
        effect == Effect::Allow && self == RuleOutcome::Matched
    }
}

/// One line of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    /// Index of the rule in the policy.
    pub rule: u32,
    /// Index of the template within the rule.
    pub template: u16,
    /// The rule's effect.
    pub effect: Effect,
    /// What it did.
    pub outcome: RuleOutcome,
}

/// Which rules matched and why, ordered by rule index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    entries: heapless::Vec<TraceEntry, TRACE_CAPACITY>,
    truncated: bool,
}

impl Trace {
    /// The entries, by rule index.
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }

    /// Whether more rules matched than the trace could keep.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    pub(crate) fn record(&mut self, entry: TraceEntry) {
        let key = (entry.rule, entry.template);
        let pos = self
            .entries
            .iter()
            .position(|e| (e.rule, e.template) >= key)
            .unwrap_or(self.entries.len());
        if self
            .entries
            .get(pos)
            .is_some_and(|e| (e.rule, e.template) == key)
        {
            return;
        }
        if self.entries.is_full() {
            self.truncated = true;
            if pos >= self.entries.len() {
                return;
            }
            self.entries.pop();
        }
        let _ = self.entries.insert(pos, entry);
    }
}

/// Why a decision came out as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The lowest-numbered allow rule that granted (no deny applied).
    AllowedBy {
        /// Rule index.
        rule: u32,
    },
    /// The lowest-numbered deny rule that applied (deny beats allow).
    DeniedBy {
        /// Rule index.
        rule: u32,
    },
    /// A placeholder could not be filled for this client (fail closed).
    PlaceholderUnusable {
        /// Rule index.
        rule: u32,
        /// Which placeholder.
        placeholder: PlaceholderKind,
        /// Why.
        problem: ValueProblem,
    },
    /// Nothing granted: default deny.
    NoMatchingRule,
    /// Strict subscribe: the filter reaches topics no rule lets this client receive.
    FilterNotContained,
    /// More allow (or deny) templates overlap the subscription than one check analyses
    /// without allocating: denied (fail closed). Split the subscription or the rules.
    TooManyOverlappingRules {
        /// The limit ([`crate::filter_algebra::SET_CAPACITY`]).
        limit: u16,
    },
    /// The client id is not bound to the identity the policy requires.
    IdentityNotBound {
        /// The required binding.
        binding: IdentityBinding,
    },
    /// The topic or filter is malformed.
    InvalidTopic(TopicError),
    /// QoS above 2.
    InvalidQos {
        /// The value.
        qos: u8,
    },
    /// Mosquitto mode grants every SUBSCRIBE and checks only at delivery.
    SubscribeGrantedByMode,
    /// CONNECT without a will: the identity binding (if any) holds.
    ConnectAccepted,
}

impl Reason {
    /// A stable snake_case name for the reason, for logs and machine-readable output
    /// (`"denied_by"`, `"no_matching_rule"`, ...). New reasons get new names; names never change.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::AllowedBy { .. } => "allowed_by",
            Reason::DeniedBy { .. } => "denied_by",
            Reason::PlaceholderUnusable { .. } => "placeholder_unusable",
            Reason::NoMatchingRule => "no_matching_rule",
            Reason::FilterNotContained => "filter_not_contained",
            Reason::TooManyOverlappingRules { .. } => "too_many_overlapping_rules",
            Reason::IdentityNotBound { .. } => "identity_not_bound",
            Reason::InvalidTopic(_) => "invalid_topic",
            Reason::InvalidQos { .. } => "invalid_qos",
            Reason::SubscribeGrantedByMode => "subscribe_granted_by_mode",
            Reason::ConnectAccepted => "connect_accepted",
        }
    }
}

/// One line for an operator's log: what decided, with rule indices (the caller adds rule names,
/// which only the policy knows).
impl core::fmt::Display for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Reason::AllowedBy { rule } => write!(f, "allowed by rule {rule}"),
            Reason::DeniedBy { rule } => write!(f, "denied by rule {rule}"),
            Reason::PlaceholderUnusable {
                rule,
                placeholder,
                problem,
            } => write!(
                f,
                "rule {rule}: placeholder {placeholder} unusable for this client: {problem}"
            ),
            Reason::NoMatchingRule => f.write_str("no rule grants this (default deny)"),
            Reason::FilterNotContained => f.write_str(
                "the subscription filter reaches topics no rule lets this client receive",
            ),
            Reason::TooManyOverlappingRules { limit } => write!(
                f,
                "more than {limit} rule templates overlap the subscription (denied; split it)"
            ),
            Reason::IdentityNotBound { binding } => {
                write!(f, "the client id is not bound to {binding}")
            }
            Reason::InvalidTopic(e) => write!(f, "invalid topic: {e}"),
            Reason::InvalidQos { qos } => write!(f, "invalid QoS {qos} (above 2)"),
            Reason::SubscribeGrantedByMode => {
                f.write_str("mosquitto mode grants every SUBSCRIBE and checks at delivery")
            }
            Reason::ConnectAccepted => f.write_str("CONNECT accepted"),
        }
    }
}

/// The answer to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// What decided.
    pub reason: Reason,
    /// Which rules matched and why.
    pub trace: Trace,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// A denial with an empty trace.
    pub fn deny(reason: Reason) -> Self {
        Decision {
            effect: Effect::Deny,
            reason,
            trace: Trace::default(),
        }
    }
}

/// The effect and the reason of a decision without its trace, and whether it read the time
/// ([`crate::CompiledPolicy::decide_untraced`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UntracedDecision {
    /// Allow or deny.
    pub effect: Effect,
    /// What decided it.
    pub reason: Reason,
    /// Whether a rule with a `max_attestation_age_secs` condition was evaluated for this
    /// request: the attestation age is measured against the caller's clock, so the same
    /// request with the same posture may be decided differently later. `false` means the
    /// decision is a function of the policy, the client context without its attestation age,
    /// and the request alone (a caller may then remember it until either changes).
    pub reads_time: bool,
}

/// Folds rule outcomes into a decision: any deny beats any allow; default deny.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    deny: Option<(u32, u16)>,
    poison: Option<(u32, u16, PlaceholderKind, ValueProblem)>,
    allow: Option<(u32, u16)>,
    trace: Trace,
    /// Keep no trace (a caller that needs only the effect and the reason): the sorted insert
    /// into the trace is most of the cost of a match.
    untraced: bool,
    /// A rule with an attestation-age condition was evaluated: the outcome may change with
    /// the clock alone ([`UntracedDecision::reads_time`]).
    pub(crate) reads_time: bool,
}

fn keep_min(slot: &mut Option<(u32, u16)>, key: (u32, u16)) {
    if slot.is_none_or(|k| key < k) {
        *slot = Some(key);
    }
}

impl Tally {
    pub(crate) fn record(
        &mut self,
        rule: u32,
        template: u16,
        effect: Effect,
        outcome: RuleOutcome,
    ) {
        let key = (rule, template);
        if let RuleOutcome::PlaceholderUnusable {
            placeholder,
            problem,
        } = outcome
        {
            if self.poison.is_none_or(|(r, t, _, _)| key < (r, t)) {
                self.poison = Some((rule, template, placeholder, problem));
            }
        } else if outcome.denies(effect) {
            keep_min(&mut self.deny, key);
        } else if outcome.grants(effect) {
            keep_min(&mut self.allow, key);
        }
        if self.untraced {
            return;
        }
        self.trace.record(TraceEntry {
            rule,
            template,
            effect,
            outcome,
        });
    }

    /// A tally that keeps no trace ([`Tally::verdict`] is then the whole answer).
    pub(crate) fn untraced() -> Self {
        Tally {
            untraced: true,
            ..Tally::default()
        }
    }

    pub(crate) fn has_denial(&self) -> bool {
        self.deny.is_some() || self.poison.is_some()
    }

    pub(crate) fn finish(self) -> Decision {
        let (effect, reason) = self.verdict();
        Decision {
            effect,
            reason,
            trace: self.trace,
        }
    }

    /// The effect and the reason of [`Tally::finish`], without the trace.
    pub(crate) fn verdict(&self) -> (Effect, Reason) {
        if let Some((rule, _)) = self.deny {
            (Effect::Deny, Reason::DeniedBy { rule })
        } else if let Some((rule, _, placeholder, problem)) = self.poison {
            (
                Effect::Deny,
                Reason::PlaceholderUnusable {
                    rule,
                    placeholder,
                    problem,
                },
            )
        } else if let Some((rule, _)) = self.allow {
            (Effect::Allow, Reason::AllowedBy { rule })
        } else {
            (Effect::Deny, Reason::NoMatchingRule)
        }
    }

    pub(crate) fn finish_with(self, effect: Effect, reason: Reason) -> Decision {
        Decision {
            effect,
            reason,
            trace: self.trace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rule: u32) -> TraceEntry {
        TraceEntry {
            rule,
            template: 0,
            effect: Effect::Allow,
            outcome: RuleOutcome::Matched,
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn reasons_read_as_one_line_and_have_distinct_stable_kinds() {
        use std::string::ToString;
        let cases = [
            (
                Reason::AllowedBy { rule: 2 },
                "allowed_by",
                "allowed by rule 2",
            ),
            (
                Reason::DeniedBy { rule: 7 },
                "denied_by",
                "denied by rule 7",
            ),
            (
                Reason::PlaceholderUnusable {
                    rule: 1,
                    placeholder: PlaceholderKind::ClientId,
                    problem: ValueProblem::ContainsWildcard,
                },
                "placeholder_unusable",
                "rule 1: placeholder ${client_id} unusable for this client: contains a wildcard ('+' or '#')",
            ),
            (
                Reason::NoMatchingRule,
                "no_matching_rule",
                "no rule grants this (default deny)",
            ),
            (
                Reason::IdentityNotBound {
                    binding: IdentityBinding::CertCn,
                },
                "identity_not_bound",
                "the client id is not bound to the certificate CN",
            ),
            (
                Reason::InvalidQos { qos: 3 },
                "invalid_qos",
                "invalid QoS 3 (above 2)",
            ),
            (
                Reason::FilterNotContained,
                "filter_not_contained",
                "the subscription filter reaches topics no rule lets this client receive",
            ),
        ];
        for (reason, kind, text) in cases {
            assert_eq!(reason.kind(), kind);
            assert_eq!(reason.to_string(), text);
            assert!(!reason.to_string().contains('\n'));
        }
        let all = [
            Reason::AllowedBy { rule: 0 },
            Reason::DeniedBy { rule: 0 },
            Reason::PlaceholderUnusable {
                rule: 0,
                placeholder: PlaceholderKind::Username,
                problem: ValueProblem::Missing,
            },
            Reason::NoMatchingRule,
            Reason::FilterNotContained,
            Reason::TooManyOverlappingRules { limit: 1 },
            Reason::IdentityNotBound {
                binding: IdentityBinding::Username,
            },
            Reason::InvalidTopic(TopicError::Empty),
            Reason::InvalidQos { qos: 9 },
            Reason::SubscribeGrantedByMode,
            Reason::ConnectAccepted,
        ];
        let mut kinds: std::vec::Vec<&str> = all.iter().map(Reason::kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), all.len());
    }

    #[test]
    fn trace_keeps_the_lowest_rules_whatever_the_visit_order() {
        let mut forward = Trace::default();
        let mut backward = Trace::default();
        for r in 0..40 {
            forward.record(entry(r));
            backward.record(entry(39 - r));
        }
        assert_eq!(forward, backward);
        assert!(forward.is_truncated());
        let rules: Vec<u32> = forward.entries().iter().map(|e| e.rule).collect();
        assert_eq!(rules, (0..16).collect::<Vec<_>>());
        let mut dup = Trace::default();
        dup.record(entry(3));
        dup.record(entry(3));
        assert_eq!(dup.entries().len(), 1);
        assert!(!dup.is_truncated());
    }

    #[test]
    fn tally_prefers_deny_then_placeholder_then_allow() {
        let mut t = Tally::default();
        t.record(5, 0, Effect::Allow, RuleOutcome::Matched);
        assert_eq!(t.finish().reason, Reason::AllowedBy { rule: 5 });
        let mut t = Tally::default();
        t.record(5, 0, Effect::Allow, RuleOutcome::Matched);
        t.record(
            9,
            0,
            Effect::Allow,
            RuleOutcome::PlaceholderUnusable {
                placeholder: PlaceholderKind::ClientId,
                problem: ValueProblem::Empty,
            },
        );
        assert!(matches!(
            t.finish().reason,
            Reason::PlaceholderUnusable { rule: 9, .. }
        ));
        let mut t = Tally::default();
        t.record(
            7,
            0,
            Effect::Deny,
            RuleOutcome::PostureNotMet {
                check: PostureCheck::Firmware,
            },
        );
        assert_eq!(t.finish().reason, Reason::NoMatchingRule);
        let mut t = Tally::default();
        t.record(
            7,
            0,
            Effect::Deny,
            RuleOutcome::MatchedFailClosed {
                check: PostureCheck::Firmware,
            },
        );
        t.record(1, 0, Effect::Allow, RuleOutcome::Matched);
        assert_eq!(t.finish().reason, Reason::DeniedBy { rule: 7 });
    }
}
