//! The compiled matcher: a policy compiled once into one trie per action. A check walks the
//! trie along the topic's levels and allocates nothing; its cost grows with topic depth and the
//! number of rules that share a path, never with the number of devices (placeholders are
//! compared with the client's values during the walk, not expanded per device).
//!
//! The same trie serves `mosquitto` mode (mosquitto 2.0 `acl_file` `%c`/`%u` semantics): a
//! placeholder edge then consumes the client's value as text, one or more whole levels.
//!
//! Semantics are exactly those of [`crate::reference::evaluate`] in every mode (property-tested:
//! `tests/compiled_agreement.rs`, `tests/mosquitto_mode_agreement.rs`).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::context::{Action, ClientContext, Request};
use crate::decision::{Decision, Effect, Reason, RuleOutcome, Tally, UntracedDecision};
use crate::policy::Policy;
use crate::subscribe::{SubscribeMode, decide_subscribe};
use crate::template::{Placeholder, TemplateLevel, Unusable, ValueProblem};
use crate::topic::{MAX_TOPIC_BYTES, TopicName};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Leaf {
    rule: u32,
    template: u16,
}

/// FNV-1a over a level's bytes: computed while the level is scanned for its `/`, so a literal
/// edge is found by comparing one integer before comparing strings.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn level_hash(level: &str) -> u64 {
    level.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The first level of `rest`, what follows its `/` (if any), and the level's hash.
fn split_level(rest: &str) -> (&str, Option<&str>, u64) {
    let mut h = FNV_OFFSET;
    for (i, b) in rest.bytes().enumerate() {
        if b == b'/'
            && let Some((level, tail)) = rest.split_at_checked(i)
        {
            return (level, tail.get(1..), h);
        }
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    (rest, None, h)
}

/// A trie under construction (literal children in a map).
#[derive(Default)]
struct NodeBuilder {
    literals: BTreeMap<String, NodeBuilder>,
    single: Option<Box<NodeBuilder>>,
    placeholders: Vec<(Placeholder, NodeBuilder)>,
    multi: Vec<Leaf>,
    terminal: Vec<Leaf>,
}

impl NodeBuilder {
    fn insert(&mut self, levels: &[TemplateLevel], leaf: Leaf) {
        match levels.split_first() {
            None => self.terminal.push(leaf),
            Some((TemplateLevel::MultiWildcard, _)) => self.multi.push(leaf),
            Some((TemplateLevel::Literal(l), rest)) => self
                .literals
                .entry(l.clone())
                .or_default()
                .insert(rest, leaf),
            Some((TemplateLevel::SingleWildcard, rest)) => self
                .single
                .get_or_insert_with(Box::default)
                .insert(rest, leaf),
            Some((TemplateLevel::Placeholder(p), rest)) => {
                let idx = match self.placeholders.iter().position(|(q, _)| q == p) {
                    Some(i) => i,
                    None => {
                        self.placeholders.push((p.clone(), NodeBuilder::default()));
                        self.placeholders.len() - 1
                    }
                };
                if let Some((_, child)) = self.placeholders.get_mut(idx) {
                    child.insert(rest, leaf);
                }
            }
        }
    }

    fn freeze(self) -> Node {
        let mut literals: Vec<(u64, Box<str>, Node)> = self
            .literals
            .into_iter()
            .map(|(k, v)| (level_hash(&k), k.into_boxed_str(), v.freeze()))
            .collect();
        literals.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        Node {
            literal_hashes: literals.iter().map(|(h, _, _)| *h).collect(),
            literals: literals.into_iter().map(|(_, k, n)| (k, n)).collect(),
            single: self.single.map(|n| Box::new(n.freeze())),
            placeholders: self
                .placeholders
                .into_iter()
                .map(|(p, n)| (p, n.freeze()))
                .collect(),
            multi: self.multi,
            terminal: self.terminal,
        }
    }
}

/// A compiled trie node: literal edges sorted by (hash, text), the hashes kept apart so the
/// binary search touches few cache lines.
#[derive(Clone, Debug, Default)]
struct Node {
    literal_hashes: Vec<u64>,
    literals: Vec<(Box<str>, Node)>,
    single: Option<Box<Node>>,
    placeholders: Vec<(Placeholder, Node)>,
    multi: Vec<Leaf>,
    terminal: Vec<Leaf>,
}

impl Node {
    fn literal(&self, level: &str, hash: u64) -> Option<&Node> {
        let start = self.literal_hashes.partition_point(|h| *h < hash);
        self.literal_hashes
            .get(start..)?
            .iter()
            .zip(self.literals.get(start..)?)
            .take_while(|(h, _)| **h == hash)
            .find(|(_, (k, _))| &**k == level)
            .map(|(_, (_, n))| n)
    }
}

/// How a walk fills placeholder levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fill {
    /// Strict: a placeholder is one whole level, its value checked ([`Placeholder::level_value`]).
    Strict,
    /// Mosquitto 2.0's textual `%c`/`%u`: a usable value is pasted in as text (a `/` in it
    /// spans levels); templates with an unusable placeholder are left to [`Fill::MosquittoReach`].
    MosquittoText,
    /// The templates with a placeholder this client cannot fill in mosquitto mode: every
    /// placeholder reads as `+` and a match denies (fail closed), as the reference does.
    MosquittoReach,
}

/// Mosquitto mode refuses a value only when it is missing or contains `+`/`#` (mosquitto denies
/// such clients); anything else, `/` and empty included, is pasted in as text.
fn mosquitto_value<'c>(
    placeholder: &Placeholder,
    ctx: &ClientContext<'c>,
) -> Result<&'c str, Unusable> {
    let unusable = |problem| Unusable {
        placeholder: placeholder.kind(),
        problem,
    };
    let value = placeholder
        .raw_value(ctx)
        .ok_or(unusable(ValueProblem::Missing))?;
    if value.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(unusable(ValueProblem::ContainsWildcard));
    }
    Ok(value)
}

/// `rest` with the pasted `value` (one or more whole levels) removed from its front: `None` if
/// the topic does not continue with exactly those levels, `Some(None)` if nothing follows.
fn strip_value<'t>(rest: &'t str, value: &str) -> Option<Option<&'t str>> {
    let tail = rest.strip_prefix(value)?;
    if tail.is_empty() {
        return Some(None);
    }
    tail.strip_prefix('/').map(Some)
}

/// A branch of the walk: the child node, the topic after the consumed level(s), the poison.
type Branch<'n, 't> = (&'n Node, Option<&'t str>, Option<Unusable>);

struct Walk<'p, 'c> {
    policy: &'p Policy,
    ctx: &'p ClientContext<'c>,
    qos: u8,
    reserved: bool,
    topic_len: usize,
    fill: Fill,
}

impl Walk<'_, '_> {
    fn hit(&self, leaf: &Leaf, poison: Option<Unusable>, tally: &mut Tally) {
        let Some(rule) = usize::try_from(leaf.rule)
            .ok()
            .and_then(|i| self.policy.rules().get(i))
        else {
            // A leaf always names a rule of the policy it was compiled from; should that ever
            // break, the match counts as a deny (fail closed), never as nothing.
            debug_assert!(
                false,
                "trie leaf names rule {} outside the policy",
                leaf.rule
            );
            tally.record(leaf.rule, leaf.template, Effect::Deny, RuleOutcome::Matched);
            return;
        };
        if !rule.subjects.includes(self.ctx) {
            return;
        }
        match self.fill {
            // Fully usable templates are decided by the text walk.
            Fill::MosquittoReach if poison.is_none() => return,
            Fill::MosquittoText if !self.substituted_fits(rule, leaf) => return,
            _ => {}
        }
        let outcome = match poison {
            Some(u) => RuleOutcome::PlaceholderUnusable {
                placeholder: u.placeholder,
                problem: u.problem,
            },
            None => {
                tally.reads_time |= rule.reads_time();
                rule.outcome(self.ctx, self.qos)
            }
        };
        tally.record(leaf.rule, leaf.template, rule.effect, outcome);
    }

    /// Whether the substituted filter text is a valid filter by length, as the reference
    /// requires. A filter matching a topic is at most `2 * len + 3` bytes (`+` on empty
    /// levels, a trailing `/#`), so the sum is only computed for very long topics.
    fn substituted_fits(&self, rule: &crate::policy::Rule, leaf: &Leaf) -> bool {
        if self.topic_len.saturating_mul(2).saturating_add(3) <= MAX_TOPIC_BYTES {
            return true;
        }
        let Some(template) = rule.templates.get(usize::from(leaf.template)) else {
            return false;
        };
        let levels = template.levels();
        let len = levels
            .iter()
            .fold(levels.len().saturating_sub(1), |acc, level| {
                acc.saturating_add(match level {
                    TemplateLevel::Literal(l) => l.len(),
                    TemplateLevel::SingleWildcard | TemplateLevel::MultiWildcard => 1,
                    TemplateLevel::Placeholder(p) => p.raw_value(self.ctx).map_or(0, str::len),
                })
            });
        len <= MAX_TOPIC_BYTES
    }

    /// The branch a placeholder edge opens for the topic level `level` (followed by `next`),
    /// `rest` being the topic from that level on.
    fn placeholder_branch<'n, 't>(
        &self,
        placeholder: &Placeholder,
        child: &'n Node,
        (rest, level, next): (&'t str, &str, Option<&'t str>),
        depth: usize,
        poison: Option<Unusable>,
    ) -> Option<Branch<'n, 't>> {
        let wildcards_match = !(depth == 0 && self.reserved);
        match self.fill {
            Fill::Strict => match placeholder.level_value(self.ctx, depth == 0) {
                Ok(value) => (value == level).then_some((child, next, poison)),
                Err(problem) => wildcards_match.then_some((
                    child,
                    next,
                    poison.or(Some(Unusable {
                        placeholder: placeholder.kind(),
                        problem,
                    })),
                )),
            },
            Fill::MosquittoText => {
                let value = mosquitto_value(placeholder, self.ctx).ok()?;
                strip_value(rest, value).map(|after| (child, after, poison))
            }
            Fill::MosquittoReach => wildcards_match.then(|| {
                (
                    child,
                    next,
                    poison.or(mosquitto_value(placeholder, self.ctx).err()),
                )
            }),
        }
    }

    /// Takes `branch` as the one to continue with, or walks it now if there already is one.
    fn branch<'n, 't>(
        &self,
        follow: &mut Option<Branch<'n, 't>>,
        branch: Branch<'n, 't>,
        depth: usize,
        tally: &mut Tally,
    ) {
        match follow {
            None => *follow = Some(branch),
            Some(_) => self.visit(branch.0, branch.1, depth + 1, branch.2, tally),
        }
    }

    /// Walks the trie along the topic. The first matching branch at each level continues the
    /// loop; further branches recurse (depth bounded by the deepest template).
    fn visit(
        &self,
        mut node: &Node,
        mut rest: Option<&str>,
        mut depth: usize,
        mut poison: Option<Unusable>,
        tally: &mut Tally,
    ) {
        loop {
            // MQTT-4.7.2-1: no wildcard (nor placeholder read as one) in the first level
            // matches a `$` topic.
            let wildcards_match = !(depth == 0 && self.reserved);
            if wildcards_match {
                for leaf in &node.multi {
                    self.hit(leaf, poison, tally);
                }
            }
            let Some(r) = rest else {
                for leaf in &node.terminal {
                    self.hit(leaf, poison, tally);
                }
                return;
            };
            let (level, next, hash) = split_level(r);
            let mut follow: Option<Branch<'_, '_>> =
                node.literal(level, hash).map(|child| (child, next, poison));
            if let Some(child) = node.single.as_deref().filter(|_| wildcards_match) {
                self.branch(&mut follow, (child, next, poison), depth, tally);
            }
            for (placeholder, child) in &node.placeholders {
                if let Some(b) =
                    self.placeholder_branch(placeholder, child, (r, level, next), depth, poison)
                {
                    self.branch(&mut follow, b, depth, tally);
                }
            }
            let Some((child, n, p)) = follow else {
                return;
            };
            node = child;
            rest = n;
            depth += 1;
            poison = p;
        }
    }
}

/// A policy compiled for fast checks.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    policy: Policy,
    tries: [Node; 5],
    /// Every distinct placeholder of the policy: mosquitto mode walks the trie a second time
    /// only for a client that cannot fill one of them.
    placeholders: Vec<Placeholder>,
}

impl CompiledPolicy {
    /// Compiles a validated policy.
    pub fn compile(policy: Policy) -> Self {
        let mut builders: [NodeBuilder; 5] = Default::default();
        for (ri, rule) in policy.rules().iter().enumerate() {
            let rule_index = u32::try_from(ri).unwrap_or(u32::MAX);
            for (ti, template) in rule.templates.iter().enumerate() {
                let leaf = Leaf {
                    rule: rule_index,
                    template: u16::try_from(ti).unwrap_or(u16::MAX),
                };
                for action in rule.actions.iter() {
                    if let Some(trie) = builders.get_mut(action.index()) {
                        trie.insert(template.levels(), leaf);
                    }
                }
            }
        }
        let tries = builders.map(NodeBuilder::freeze);
        let mut placeholders: Vec<Placeholder> = policy
            .rules()
            .iter()
            .flat_map(|r| r.templates.iter())
            .flat_map(|t| t.levels())
            .filter_map(|l| match l {
                TemplateLevel::Placeholder(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        placeholders.sort();
        placeholders.dedup();
        CompiledPolicy {
            policy,
            tries,
            placeholders,
        }
    }

    /// The policy this was compiled from.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides a request in strict mode.
    ///
    /// No check allocates: publish, retained publish, receive and will walk the trie; SUBSCRIBE
    /// reads the overlapping templates level by level (at most
    /// [`crate::filter_algebra::SET_CAPACITY`] of each effect; more is denied).
    pub fn check(&self, ctx: &ClientContext<'_>, request: &Request<'_>) -> Decision {
        self.check_with_mode(ctx, request, SubscribeMode::Strict)
    }

    /// Decides a request in the given mode. [`SubscribeMode::Mosquitto`] substitutes
    /// placeholders as text, as mosquitto 2.0 does with `%c`/`%u`, still by one trie walk (a
    /// second one, with placeholders read as `+`, only for a client that cannot fill one).
    /// Allocates nothing (SUBSCRIBE in strict and narrow mode: see [`Self::check`]).
    pub fn check_with_mode(
        &self,
        ctx: &ClientContext<'_>,
        request: &Request<'_>,
        mode: SubscribeMode,
    ) -> Decision {
        let mut tally = Tally::default();
        match self.walk(ctx, request, mode, &mut tally) {
            Some(early) => early,
            None => tally.finish(),
        }
    }

    /// The effect and the reason of [`Self::check_with_mode`], without the trace: the same
    /// walk, minus recording (and copying out) which rules matched. For a caller that decides
    /// per message and logs only the reason (the mosquitto plugin).
    pub fn decide_with_mode(
        &self,
        ctx: &ClientContext<'_>,
        request: &Request<'_>,
        mode: SubscribeMode,
    ) -> (Effect, Reason) {
        let d = self.decide_untraced(ctx, request, mode);
        (d.effect, d.reason)
    }

    /// [`Self::decide_with_mode`], and whether the decision read the time: `reads_time` is
    /// set when a rule with a `max_attestation_age_secs` condition was evaluated (the walk
    /// reached it and its topic matched), so the same request may be decided differently once
    /// the attestation ages. A caller that caches decisions must not cache those.
    pub fn decide_untraced(
        &self,
        ctx: &ClientContext<'_>,
        request: &Request<'_>,
        mode: SubscribeMode,
    ) -> UntracedDecision {
        let mut tally = Tally::untraced();
        let (effect, reason) = match self.walk(ctx, request, mode, &mut tally) {
            Some(early) => (early.effect, early.reason),
            None => tally.verdict(),
        };
        UntracedDecision {
            effect,
            reason,
            reads_time: tally.reads_time,
        }
    }

    /// The body of [`Self::check_with_mode`]: a decision reached before or instead of the
    /// trie walk (bad QoS, unbound identity, SUBSCRIBE, bad topic), or `None` when `tally`
    /// holds the walk's outcome.
    fn walk(
        &self,
        ctx: &ClientContext<'_>,
        request: &Request<'_>,
        mode: SubscribeMode,
        tally: &mut Tally,
    ) -> Option<Decision> {
        if request.qos > 2 {
            return Some(Decision::deny(Reason::InvalidQos { qos: request.qos }));
        }
        if !self.policy.identity_bound(ctx) {
            return Some(Decision::deny(Reason::IdentityNotBound {
                binding: self.policy.identity_binding,
            }));
        }
        if request.action == Action::Subscribe {
            return Some(decide_subscribe(
                &self.policy,
                ctx,
                request,
                mode,
                &mut tally.reads_time,
            ));
        }
        let name = match TopicName::new(request.topic) {
            Ok(n) => n,
            Err(e) => return Some(Decision::deny(Reason::InvalidTopic(e))),
        };
        if let Some(trie) = self.tries.get(request.action.index()) {
            let mut walk = Walk {
                policy: &self.policy,
                ctx,
                qos: request.qos,
                reserved: name.is_reserved(),
                topic_len: name.as_str().len(),
                fill: Fill::Strict,
            };
            if mode == SubscribeMode::Mosquitto {
                walk.fill = Fill::MosquittoText;
                walk.visit(trie, Some(name.as_str()), 0, None, tally);
                if self
                    .placeholders
                    .iter()
                    .any(|p| mosquitto_value(p, ctx).is_err())
                {
                    walk.fill = Fill::MosquittoReach;
                    walk.visit(trie, Some(name.as_str()), 0, None, tally);
                }
            } else {
                walk.visit(trie, Some(name.as_str()), 0, None, tally);
            }
        }
        None
    }

    /// CONNECT: the identity binding and the will message (if any), given as (topic, QoS,
    /// Will Retain). A will with Will Retain set is published retained (MQTT 5.0 §3.1.2.7,
    /// MQTT-3.1.2-17), so it needs `publish_retained` on its topic as well as `will`: the
    /// first refusal of the two is the answer.
    pub fn authorize_connect(
        &self,
        ctx: &ClientContext<'_>,
        will: Option<(&str, u8, bool)>,
    ) -> Decision {
        if !self.policy.identity_bound(ctx) {
            return Decision::deny(Reason::IdentityNotBound {
                binding: self.policy.identity_binding,
            });
        }
        match will {
            None => Decision {
                effect: crate::decision::Effect::Allow,
                reason: Reason::ConnectAccepted,
                trace: Default::default(),
            },
            Some((topic, qos, retain)) => {
                let will = self.check(
                    ctx,
                    &Request {
                        action: Action::Will,
                        topic,
                        qos,
                    },
                );
                if !retain || will.effect != crate::decision::Effect::Allow {
                    return will;
                }
                self.check(
                    ctx,
                    &Request {
                        action: Action::PublishRetained,
                        topic,
                        qos,
                    },
                )
            }
        }
    }
}
