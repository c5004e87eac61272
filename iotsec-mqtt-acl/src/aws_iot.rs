//! Importer for a subset of AWS IoT Core policy JSON: `iot:Connect`, `iot:Publish`,
//! `iot:RetainPublish`, `iot:Subscribe`, `iot:Receive` (and `iot:*`), `Allow`/`Deny` (explicit
//! deny wins, as in AWS), and the policy variables `${iot:ClientId}`,
//! `${iot:Connection.Thing.ThingName}` (becomes `${attr.thing_name}`) and
//! `${iot:Certificate.Subject.CommonName}`.
//!
//! AWS resource wildcards are not MQTT wildcards: a trailing `/*` (every topic that starts with
//! the prefix and a `/`, but not the prefix itself) becomes `/+/#`, which matches exactly those
//! topics (`/#` would also match the parent level); a lone `*` becomes `#`. Any other `*` or `?`
//! is outside the subset (allow statements are dropped, deny statements refused).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value;

use crate::context::Action;
use crate::context::IdentityBinding;
use crate::decision::Effect;
use crate::mosquitto_acl::{ImportNote, Imported, NoteKind};
use crate::policy::{PolicyDocument, RuleDocument};

/// An AWS policy outside the supported subset in a way that cannot be dropped safely.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AwsImportError {
    /// Not JSON, or not a policy document.
    #[error("AWS policy: {0}")]
    Malformed(String),
    /// A Deny statement we cannot express: dropping it would grant more.
    #[error(
        "statement {statement}: deny with unsupported {what}; refusing to import (dropping it would grant more)"
    )]
    UnsupportedDeny {
        /// Statement index.
        statement: usize,
        /// What.
        what: String,
    },
}

impl AwsImportError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            AwsImportError::Malformed(..) => "aws_malformed",
            AwsImportError::UnsupportedDeny { .. } => "aws_unsupported_deny",
        }
    }

    /// Whether the policy was read and its import refused (a Deny that cannot be expressed:
    /// dropping it would grant more) rather than unreadable.
    pub fn is_refusal(&self) -> bool {
        matches!(self, AwsImportError::UnsupportedDeny { .. })
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => alloc::vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn translate_topic(resource_path: &str) -> Result<String, String> {
    let mut s = resource_path
        .replace("${iot:ClientId}", "${client_id}")
        .replace("${iot:Connection.Thing.ThingName}", "${attr.thing_name}")
        .replace("${iot:Certificate.Subject.CommonName}", "${cert.cn}");
    if s.contains("${iot:") {
        return Err(format!("policy variable in {resource_path:?}"));
    }
    if s == "*" {
        s = "#".to_string();
    } else if let Some(prefix) = s.strip_suffix("/*") {
        s = format!("{prefix}/+/#");
    }
    if s.contains('*') || s.contains('?') {
        return Err(format!("AWS wildcard in {resource_path:?}"));
    }
    crate::template::TopicTemplate::parse(&s).map_err(|e| format!("{e}"))?;
    Ok(s)
}

/// Imports AWS IoT policy JSON.
pub fn import_aws_policy(json: &str) -> Result<Imported, AwsImportError> {
    let doc: Value =
        serde_json::from_str(json).map_err(|e| AwsImportError::Malformed(e.to_string()))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(v @ Value::Object(_)) => alloc::vec![v.clone()],
        _ => return Err(AwsImportError::Malformed("no Statement".to_string())),
    };
    let mut out = PolicyDocument::default();
    let mut notes = Vec::new();
    for (si, st) in statements.iter().enumerate() {
        let effect = match st.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => {
                return Err(AwsImportError::Malformed(format!(
                    "statement {si}: Effect must be Allow or Deny"
                )));
            }
        };
        for unsupported in ["NotAction", "NotResource", "Condition"] {
            if st.get(unsupported).is_some() {
                if effect == Effect::Deny {
                    return Err(AwsImportError::UnsupportedDeny {
                        statement: si,
                        what: unsupported.to_string(),
                    });
                }
                notes.push(ImportNote::new(
                    si,
                    NoteKind::Unsupported,
                    &format!("{unsupported} is outside the subset; statement dropped"),
                ));
            }
        }
        if st.get("NotAction").is_some()
            || st.get("NotResource").is_some()
            || st.get("Condition").is_some()
        {
            continue;
        }
        let actions = strings(st.get("Action"));
        let resources = strings(st.get("Resource"));
        let mut topic_actions: Vec<(Action, &str)> = Vec::new();
        for a in &actions {
            match a.as_str() {
                "iot:Publish" => {
                    topic_actions.push((Action::Publish, "topic/"));
                    topic_actions.push((Action::Will, "topic/"));
                }
                "iot:RetainPublish" => topic_actions.push((Action::PublishRetained, "topic/")),
                "iot:Receive" => topic_actions.push((Action::Receive, "topic/")),
                "iot:Subscribe" => topic_actions.push((Action::Subscribe, "topicfilter/")),
                "iot:*" => {
                    topic_actions.extend([
                        (Action::Publish, "topic/"),
                        (Action::Will, "topic/"),
                        (Action::PublishRetained, "topic/"),
                        (Action::Receive, "topic/"),
                        (Action::Subscribe, "topicfilter/"),
                    ]);
                }
                "iot:Connect" => {
                    for r in &resources {
                        let client = r.split_once(":client/").map(|(_, c)| c).unwrap_or("");
                        match (effect, client) {
                            (Effect::Allow, "${iot:Certificate.Subject.CommonName}") => {
                                out.identity_binding = IdentityBinding::CertCn;
                            }
                            (Effect::Allow, "*") => {}
                            _ => notes.push(ImportNote::new(si, NoteKind::Approximated, &format!(
                                "iot:Connect on {r:?}: only client/* and client/${{iot:Certificate.Subject.CommonName}} map (identity binding); not enforced"
                            ))),
                        }
                    }
                }
                other => {
                    if effect == Effect::Deny {
                        return Err(AwsImportError::UnsupportedDeny {
                            statement: si,
                            what: format!("action {other}"),
                        });
                    }
                    notes.push(ImportNote::new(
                        si,
                        NoteKind::Unsupported,
                        &format!("action {other} ignored"),
                    ));
                }
            }
        }
        topic_actions.sort_unstable();
        topic_actions.dedup();
        for (action, kind) in topic_actions {
            let mut topics = Vec::new();
            for r in &resources {
                let path = if r == "*" {
                    Some("*")
                } else {
                    r.split_once(&format!(":{kind}")).map(|(_, p)| p)
                };
                let Some(path) = path else { continue };
                match translate_topic(path) {
                    Ok(t) => topics.push(t),
                    Err(what) if effect == Effect::Deny => {
                        return Err(AwsImportError::UnsupportedDeny {
                            statement: si,
                            what,
                        });
                    }
                    Err(what) => notes.push(ImportNote::new(
                        si,
                        NoteKind::Unsupported,
                        &format!("{what}: allow dropped"),
                    )),
                }
            }
            if action == Action::Subscribe
                && topics.iter().any(|t| t.contains('+') || t.contains('#'))
            {
                notes.push(ImportNote::new(si, NoteKind::Approximated, "AWS matches topicfilter resources literally; here `+`/`#` in them are wildcards checked by containment"));
            }
            if topics.is_empty() {
                continue;
            }
            let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
            let mut rule = RuleDocument::new(effect, &[action], &refs);
            rule.name = Some(format!("statement-{si}-{}", action.as_str()));
            out.rules.push(rule);
        }
    }
    Ok(Imported {
        document: out,
        notes,
    })
}
