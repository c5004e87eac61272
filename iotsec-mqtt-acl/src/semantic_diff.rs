//! Semantic diff of two policy versions: which identity / action / topic combinations gain or
//! lose access.
//!
//! The diff is witness-based: it builds representative identities (anonymous, a generic client,
//! every username a rule names) and representative topics (every template of both policies
//! instantiated for the identity, wildcards filled with every literal the policies use at that
//! level plus a fresh value, `#` also as its parent and one level deeper), then evaluates both
//! policies on every combination. Every reported change is real; a change that needs a topic
//! outside the witnesses would be missed (none can exist when both policies use only the
//! literals the witnesses draw from, but we do not claim a proof).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use crate::context::{Action, ClientContext, Request};
use crate::decision::Effect;
use crate::policy::{Policy, Subjects};
use crate::reference::evaluate;
use crate::subscribe::SubscribeMode;
use crate::template::{Placeholder, TemplateLevel};

/// Witness topics generated per template at most.
const WITNESSES_PER_TEMPLATE: usize = 64;

/// One combination whose decision differs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AccessChange {
    /// The witness identity, described.
    pub identity: String,
    /// The action.
    pub action: Action,
    /// The topic (or filter for subscribe).
    pub topic: String,
    /// Decision under the old policy.
    pub before: Effect,
    /// Decision under the new policy.
    pub after: Effect,
}

struct Identity {
    label: String,
    client_id: String,
    username: Option<String>,
}

fn identities(policies: &[&Policy]) -> Vec<Identity> {
    let mut out = alloc::vec![
        Identity {
            label: "anonymous client c1".into(),
            client_id: "c1".into(),
            username: None
        },
        Identity {
            label: "client c1 with username u1".into(),
            client_id: "c1".into(),
            username: Some("u1".into())
        },
    ];
    let mut names = BTreeSet::new();
    for p in policies {
        for r in p.rules() {
            if let Subjects::Usernames(u) = &r.subjects {
                names.extend(u.iter().cloned());
            }
        }
    }
    for n in names {
        out.push(Identity {
            label: format!("client c1 with username {n}"),
            client_id: "c1".into(),
            username: Some(n),
        });
    }
    out
}

/// Literals used at each level index by any template.
fn literals_by_level(policies: &[&Policy]) -> BTreeMap<usize, BTreeSet<String>> {
    let mut m: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for p in policies {
        for r in p.rules() {
            for t in &r.templates {
                for (i, l) in t.levels().iter().enumerate() {
                    if let TemplateLevel::Literal(s) = l {
                        m.entry(i).or_default().insert(s.clone());
                    }
                }
            }
        }
    }
    m
}

fn witnesses(
    levels: &[String],
    literals: &BTreeMap<usize, BTreeSet<String>>,
    identity_values: &[&str],
) -> Vec<String> {
    let mut partial: Vec<Vec<String>> = alloc::vec![Vec::new()];
    let mut out = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let options: Vec<String> = match level.as_str() {
            "+" => {
                let mut o: Vec<String> = literals
                    .get(&i)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                o.extend(identity_values.iter().map(|v| v.to_string()));
                o.push("w".into());
                o.sort();
                o.dedup();
                o
            }
            "#" => {
                for p in &partial {
                    if !p.is_empty() {
                        out.push(p.join("/"));
                    }
                    let mut deeper = p.clone();
                    deeper.push("w".into());
                    out.push(deeper.join("/"));
                }
                return finish(out);
            }
            other => alloc::vec![other.to_string()],
        };
        let mut next = Vec::new();
        for p in &partial {
            for o in &options {
                if next.len() >= WITNESSES_PER_TEMPLATE {
                    break;
                }
                let mut q = p.clone();
                q.push(o.clone());
                next.push(q);
            }
        }
        partial = next;
    }
    out.extend(partial.iter().map(|p| p.join("/")));
    finish(out)
}

fn finish(mut v: Vec<String>) -> Vec<String> {
    v.retain(|t| !t.is_empty());
    v.truncate(WITNESSES_PER_TEMPLATE);
    v
}

/// The combinations whose decision differs between `old` and `new`.
pub fn semantic_diff(old: &Policy, new: &Policy) -> Vec<AccessChange> {
    let both = [old, new];
    let literals = literals_by_level(&both);
    let mut attr_names = BTreeSet::new();
    for p in &both {
        for r in p.rules() {
            for t in &r.templates {
                for l in t.levels() {
                    if let TemplateLevel::Placeholder(Placeholder::Attribute(n)) = l {
                        attr_names.insert(n.clone());
                    }
                }
            }
        }
    }
    let attr_values: Vec<(String, String)> = attr_names
        .iter()
        .map(|n| (n.clone(), format!("{n}1")))
        .collect();
    let attrs: Vec<(&str, &str)> = attr_values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut changes = BTreeSet::new();
    for id in identities(&both) {
        let ctx = ClientContext {
            client_id: &id.client_id,
            username: id.username.as_deref(),
            cert_cn: Some(&id.client_id),
            attributes: &attrs,
            ..Default::default()
        };
        let mut identity_values: Vec<&str> = alloc::vec![id.client_id.as_str()];
        identity_values.extend(id.username.as_deref());
        identity_values.extend(attrs.iter().map(|(_, v)| *v));
        let mut topics = BTreeSet::new();
        let mut filters = BTreeSet::new();
        for p in &both {
            for r in p.rules() {
                for t in &r.templates {
                    let (levels, _) = t.instantiate_partial(&ctx);
                    let text: Vec<String> = levels
                        .iter()
                        .map(|l| match l {
                            crate::topic::FilterLevel::Literal(s) => s.to_string(),
                            crate::topic::FilterLevel::SingleWildcard => "+".into(),
                            crate::topic::FilterLevel::MultiWildcard => "#".into(),
                        })
                        .collect();
                    filters.insert(text.join("/"));
                    topics.extend(witnesses(&text, &literals, &identity_values));
                }
            }
        }
        for action in Action::ALL {
            let none = BTreeSet::new();
            let extra = if action == Action::Subscribe {
                &filters
            } else {
                &none
            };
            let candidates = extra.iter().chain(topics.iter());
            for topic in candidates {
                let req = Request::new(action, topic);
                let before = evaluate(old, &ctx, &req, SubscribeMode::Strict).effect;
                let after = evaluate(new, &ctx, &req, SubscribeMode::Strict).effect;
                if before != after {
                    changes.insert(AccessChange {
                        identity: id.label.clone(),
                        action,
                        topic: topic.clone(),
                        before,
                        after,
                    });
                }
            }
        }
    }
    changes.into_iter().collect()
}
