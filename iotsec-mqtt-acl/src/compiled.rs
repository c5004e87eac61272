//! The compiled matcher: a policy compiled once into one trie per action. A check walks the
//! trie along the topic's levels and allocates nothing; its cost grows with topic depth and the
//! number of rules that share a path, never with the number of devices (placeholders are
//! compared with the client's values during the walk, not expanded per device).
//!
//! Semantics are exactly those of [`crate::reference::evaluate`] (property-tested).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::context::{Action, ClientContext, Request};
use crate::decision::{Decision, Effect, Reason, RuleOutcome, Tally};
use crate::policy::Policy;
use crate::reference;
use crate::subscribe::{SubscribeMode, decide_subscribe};
use crate::template::{Placeholder, TemplateLevel, Unusable};
use crate::topic::TopicName;

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

struct Walk<'p, 'c> {
    policy: &'p Policy,
    ctx: &'p ClientContext<'c>,
    qos: u8,
    reserved: bool,
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
        let outcome = match poison {
            Some(u) => RuleOutcome::PlaceholderUnusable {
                placeholder: u.placeholder,
                problem: u.problem,
            },
            None => rule.outcome(self.ctx, self.qos),
        };
        tally.record(leaf.rule, leaf.template, rule.effect, outcome);
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
            let mut follow: Option<(&Node, Option<Unusable>)> =
                node.literal(level, hash).map(|child| (child, poison));
            if let Some(child) = node.single.as_deref().filter(|_| wildcards_match) {
                match follow {
                    None => follow = Some((child, poison)),
                    Some(_) => self.visit(child, next, depth + 1, poison, tally),
                }
            }
            for (placeholder, child) in &node.placeholders {
                let branch = match placeholder.level_value(self.ctx, depth == 0) {
                    Ok(value) => (value == level).then_some(poison),
                    Err(problem) => wildcards_match.then_some(poison.or(Some(Unusable {
                        placeholder: placeholder.kind(),
                        problem,
                    }))),
                };
                if let Some(p) = branch {
                    match follow {
                        None => follow = Some((child, p)),
                        Some(_) => self.visit(child, next, depth + 1, p, tally),
                    }
                }
            }
            let Some((child, p)) = follow else {
                return;
            };
            node = child;
            rest = next;
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
        CompiledPolicy { policy, tries }
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

    /// Decides a request in the given mode ([`SubscribeMode::Mosquitto`] falls back to the
    /// reference evaluator, which substitutes placeholders as text).
    pub fn check_with_mode(
        &self,
        ctx: &ClientContext<'_>,
        request: &Request<'_>,
        mode: SubscribeMode,
    ) -> Decision {
        if mode == SubscribeMode::Mosquitto {
            return reference::evaluate(&self.policy, ctx, request, mode);
        }
        if request.qos > 2 {
            return Decision::deny(Reason::InvalidQos { qos: request.qos });
        }
        if !self.policy.identity_bound(ctx) {
            return Decision::deny(Reason::IdentityNotBound {
                binding: self.policy.identity_binding,
            });
        }
        if request.action == Action::Subscribe {
            return decide_subscribe(&self.policy, ctx, request, mode);
        }
        let name = match TopicName::new(request.topic) {
            Ok(n) => n,
            Err(e) => return Decision::deny(Reason::InvalidTopic(e)),
        };
        let mut tally = Tally::default();
        if let Some(trie) = self.tries.get(request.action.index()) {
            let walk = Walk {
                policy: &self.policy,
                ctx,
                qos: request.qos,
                reserved: name.is_reserved(),
            };
            walk.visit(trie, Some(name.as_str()), 0, None, &mut tally);
        }
        tally.finish()
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
