//! The policy model: rules with an effect, actions, topic templates, an optional QoS cap,
//! posture conditions and an optional subject restriction; plus identity binding at CONNECT.
//!
//! Serde types ([`PolicyDocument`], [`RuleDocument`]) are the file format (TOML or JSON with the
//! `std` feature, any serde format without it); [`Policy`] is the validated form every
//! evaluator uses. Semantics: default deny, any applicable deny beats any allow.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

pub use crate::context::IdentityBinding;

use crate::context::{Action, ActionSet, ClientContext};
use crate::decision::{Effect, PostureCheck, RuleOutcome};
use crate::error::PolicyError;
use crate::template::TopicTemplate;

/// Largest number of (rule, template) pairs a policy may hold.
pub const MAX_POLICY_TEMPLATES: usize = 1_000_000;

/// A policy file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Identity binding checked at CONNECT (and on every request).
    #[serde(default)]
    pub identity_binding: IdentityBinding,
    /// The rules, in order (order only names rules; it never changes a decision).
    #[serde(default, rename = "rule", alias = "rules")]
    pub rules: Vec<RuleDocument>,
}

/// A rule as written in a policy file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDocument {
    /// A name for traces and lint output (default: `rule-N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Allow or deny.
    pub effect: Effect,
    /// Actions the rule covers.
    pub actions: Vec<Action>,
    /// Topic templates.
    pub topics: Vec<String>,
    /// Highest QoS an allow rule grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_qos: Option<u8>,
    /// Semver requirement on the firmware version (`">=1.4.0, <2"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Whether an allow rule still applies to a quarantined device.
    #[serde(default, skip_serializing_if = "is_false")]
    pub in_quarantine: bool,
    /// Maximum seconds since the device's last attestation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attestation_age_secs: Option<u64>,
    /// Only clients with one of these usernames (empty: everyone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usernames: Vec<String>,
    /// Only clients without a username.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anonymous_only: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl RuleDocument {
    /// A rule with the given effect, actions and topics and nothing else.
    pub fn new(effect: Effect, actions: &[Action], topics: &[&str]) -> Self {
        RuleDocument {
            name: None,
            effect,
            actions: actions.to_vec(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            max_qos: None,
            firmware: None,
            in_quarantine: false,
            max_attestation_age_secs: None,
            usernames: Vec::new(),
            anonymous_only: false,
        }
    }
}

/// Posture conditions of a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostureCondition {
    /// Firmware version requirement.
    pub firmware: Option<semver::VersionReq>,
    /// Whether an allow rule applies in quarantine.
    pub in_quarantine: bool,
    /// Maximum attestation age in seconds.
    pub max_attestation_age_secs: Option<u64>,
}

/// Which clients a rule is for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Subjects {
    /// Every client.
    #[default]
    Everyone,
    /// Clients with one of these usernames.
    Usernames(BTreeSet<String>),
    /// Clients without a username.
    Anonymous,
}

impl Subjects {
    /// Whether the rule is for this client.
    pub fn includes(&self, ctx: &ClientContext<'_>) -> bool {
        match self {
            Subjects::Everyone => true,
            Subjects::Usernames(names) => ctx.username.is_some_and(|u| names.contains(u)),
            Subjects::Anonymous => ctx.username.is_none(),
        }
    }
}

/// A validated rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Name for traces.
    pub name: String,
    /// Allow or deny.
    pub effect: Effect,
    /// Covered actions.
    pub actions: ActionSet,
    /// Topic templates.
    pub templates: Vec<TopicTemplate>,
    /// QoS cap (allow rules only).
    pub max_qos: Option<u8>,
    /// Posture conditions.
    pub posture: PostureCondition,
    /// Who the rule is for.
    pub subjects: Subjects,
}

impl Rule {
    /// Whether [`Rule::outcome`] may read the attestation age, i.e. depend on the clock.
    pub(crate) fn reads_time(&self) -> bool {
        self.posture.max_attestation_age_secs.is_some()
    }

    /// What this rule does with a request whose topic one of its templates matched (the
    /// placeholder check happens before). Allocates nothing.
    pub fn outcome(&self, ctx: &ClientContext<'_>, qos: u8) -> RuleOutcome {
        let deny = self.effect == Effect::Deny;
        if let Some(req) = &self.posture.firmware {
            match &ctx.posture.firmware {
                // A deny rule also covers the pre-releases inside its range (fail closed).
                Some(v)
                    if req.matches(v)
                        || (deny
                            && !v.pre.is_empty()
                            && crate::version_range::in_range(req, v)) => {}
                Some(_) => {
                    return RuleOutcome::PostureNotMet {
                        check: PostureCheck::Firmware,
                    };
                }
                None if deny => {
                    return RuleOutcome::MatchedFailClosed {
                        check: PostureCheck::Firmware,
                    };
                }
                None => {
                    return RuleOutcome::PostureUnknown {
                        check: PostureCheck::Firmware,
                    };
                }
            }
        }
        if let Some(max) = self.posture.max_attestation_age_secs {
            match ctx.posture.attestation_age_secs {
                Some(age) if age <= max => {}
                Some(_) => {
                    return RuleOutcome::PostureNotMet {
                        check: PostureCheck::AttestationAge,
                    };
                }
                None if deny => {
                    return RuleOutcome::MatchedFailClosed {
                        check: PostureCheck::AttestationAge,
                    };
                }
                None => {
                    return RuleOutcome::PostureUnknown {
                        check: PostureCheck::AttestationAge,
                    };
                }
            }
        }
        if deny {
            return RuleOutcome::Matched;
        }
        if ctx.posture.quarantined && !self.posture.in_quarantine {
            return RuleOutcome::QuarantineExcluded;
        }
        if let Some(cap) = self.max_qos.filter(|cap| qos > *cap) {
            {
                return RuleOutcome::QosAboveCap {
                    cap,
                    requested: qos,
                };
            }
        }
        RuleOutcome::Matched
    }
}

/// A validated policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyDocument", into = "PolicyDocument")]
pub struct Policy {
    /// Identity binding at CONNECT.
    pub identity_binding: IdentityBinding,
    rules: Vec<Rule>,
    document: PolicyDocument,
}

impl TryFrom<PolicyDocument> for Policy {
    type Error = PolicyError;

    fn try_from(doc: PolicyDocument) -> Result<Self, PolicyError> {
        Policy::from_document(doc)
    }
}

impl From<Policy> for PolicyDocument {
    fn from(p: Policy) -> Self {
        p.document
    }
}

impl Policy {
    /// Validates a document.
    pub fn from_document(doc: PolicyDocument) -> Result<Self, PolicyError> {
        let mut rules = Vec::with_capacity(doc.rules.len());
        let mut names = BTreeSet::new();
        let mut templates_total = 0usize;
        for (i, r) in doc.rules.iter().enumerate() {
            let name = r.name.clone().unwrap_or_else(|| format!("rule-{i}"));
            if !names.insert(name.clone()) {
                return Err(PolicyError::DuplicateRuleName { rule: name });
            }
            if r.actions.is_empty() {
                return Err(PolicyError::NoActions { rule: name });
            }
            if r.topics.is_empty() {
                return Err(PolicyError::NoTopics { rule: name });
            }
            if let Some(qos) = r.max_qos {
                if qos > 2 {
                    return Err(PolicyError::InvalidQos { rule: name, qos });
                }
                if r.effect == Effect::Deny {
                    return Err(PolicyError::QosCapOnDeny { rule: name });
                }
            }
            let firmware = match &r.firmware {
                Some(text) => Some(semver::VersionReq::parse(text).map_err(|_| {
                    PolicyError::InvalidFirmwareRequirement {
                        rule: name.clone(),
                        requirement: text.clone(),
                    }
                })?),
                None => None,
            };
            templates_total += r.topics.len();
            if templates_total > MAX_POLICY_TEMPLATES || r.topics.len() > usize::from(u16::MAX) {
                return Err(PolicyError::TooLarge {
                    count: templates_total,
                    max: MAX_POLICY_TEMPLATES,
                });
            }
            let templates = r
                .topics
                .iter()
                .map(|t| TopicTemplate::parse(t))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| PolicyError::Template {
                    rule: name.clone(),
                    source,
                })?;
            let subjects = if r.anonymous_only {
                Subjects::Anonymous
            } else if r.usernames.is_empty() {
                Subjects::Everyone
            } else {
                Subjects::Usernames(r.usernames.iter().cloned().collect())
            };
            rules.push(Rule {
                name,
                effect: r.effect,
                actions: r.actions.iter().copied().collect(),
                templates,
                max_qos: r.max_qos,
                posture: PostureCondition {
                    firmware,
                    in_quarantine: r.in_quarantine,
                    max_attestation_age_secs: r.max_attestation_age_secs,
                },
                subjects,
            });
        }
        Ok(Policy {
            identity_binding: doc.identity_binding,
            rules,
            document: doc,
        })
    }

    /// The rules in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The document the policy came from.
    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// Whether CONNECT's identity binding holds for this client. Allocates nothing.
    pub fn identity_bound(&self, ctx: &ClientContext<'_>) -> bool {
        match self.identity_binding {
            IdentityBinding::None => true,
            IdentityBinding::CertCn => ctx.cert_cn == Some(ctx.client_id),
            IdentityBinding::Username => ctx.username == Some(ctx.client_id),
        }
    }

    /// Parses and validates a TOML policy.
    #[cfg(feature = "std")]
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        let doc: PolicyDocument =
            toml::from_str(text).map_err(|e| PolicyError::Syntax(e.message().to_string()))?;
        Policy::from_document(doc)
    }

    /// Parses and validates a JSON policy.
    #[cfg(feature = "std")]
    pub fn from_json_str(text: &str) -> Result<Self, PolicyError> {
        let doc: PolicyDocument =
            serde_json::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        Policy::from_document(doc)
    }

    /// The policy as TOML.
    #[cfg(feature = "std")]
    pub fn to_toml_string(&self) -> Result<String, PolicyError> {
        toml::to_string(&self.document).map_err(|e| PolicyError::Syntax(e.to_string()))
    }
}
