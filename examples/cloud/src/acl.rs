//! `iotsec-cloud acl`: check a request against a policy (or a mosquitto acl_file), lint a
//! policy, diff two policy versions, import mosquitto / AWS IoT policies.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use iotsec_cli_contract::input::{InputKind, read_input_text};
use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_mqtt_acl::aws_iot::import_aws_policy;
use iotsec_mqtt_acl::decision::{Decision, Reason};
use iotsec_mqtt_acl::lint::lint;
use iotsec_mqtt_acl::mosquitto_acl::{Imported, MosquittoAcl, MosquittoOperation};
use iotsec_mqtt_acl::semantic_diff::semantic_diff;
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Posture, Request, SubscribeMode,
};
use serde_json::{Value, json};

/// MQTT topic authorization.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decide one request: exit 0 allow, 1 deny, 2 bad input.
    Check(Box<CheckArgs>),
    /// Static analysis of a policy: exit 0 clean, 1 findings.
    Lint {
        /// Policy file (TOML, or JSON if it ends in .json).
        #[arg(long)]
        policy: PathBuf,
    },
    /// Which identity/action/topic combinations gain or lose access: exit 0 none, 1 some.
    Diff {
        /// The policy in force.
        old: PathBuf,
        /// The proposed policy.
        new: PathBuf,
    },
    /// Convert a mosquitto acl_file or an AWS IoT policy into a policy (TOML on stdout in text
    /// format), listing each construct whose meaning changes.
    Import {
        /// Source format.
        #[arg(long, value_parser = ["mosquitto", "aws"])]
        from: String,
        /// The file.
        file: PathBuf,
    },
}

/// Arguments of `acl check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Policy file (TOML, or JSON if it ends in .json).
    #[arg(
        long,
        conflicts_with = "mosquitto_acl",
        required_unless_present = "mosquitto_acl"
    )]
    policy: Option<PathBuf>,
    /// A mosquitto 2.0 acl_file: `--mode mosquitto` (the default here) evaluates it with
    /// mosquitto's semantics (client id, username, action and topic only: the posture,
    /// certificate, attribute and QoS flags are refused); `strict` and `narrow` decide on the
    /// policy `acl import` makes of it.
    #[arg(long)]
    mosquitto_acl: Option<PathBuf>,
    /// MQTT client identifier.
    #[arg(long)]
    client_id: String,
    /// MQTT username.
    #[arg(long)]
    username: Option<String>,
    /// Client certificate subject CN.
    #[arg(long)]
    cert_cn: Option<String>,
    /// Attribute for `${attr.NAME}`, as NAME=VALUE (repeatable).
    #[arg(long = "attr")]
    attrs: Vec<String>,
    /// Firmware version (semver) for posture conditions.
    #[arg(long)]
    firmware: Option<String>,
    /// The device is quarantined.
    #[arg(long)]
    quarantined: bool,
    /// Seconds since the last attestation.
    #[arg(long)]
    attestation_age: Option<u64>,
    /// publish, publish_retained, subscribe, receive or will.
    #[arg(long)]
    action: String,
    /// Topic name, or filter for subscribe.
    #[arg(long)]
    topic: String,
    /// Requested QoS (default 0).
    #[arg(long)]
    qos: Option<u8>,
    /// Subscribe mode: strict, narrow or mosquitto (default: strict with --policy, mosquitto
    /// with --mosquitto-acl).
    #[arg(long)]
    mode: Option<String>,
}

impl CheckArgs {
    /// The flags given that mosquitto's own evaluation has no use for.
    fn unused_by_mosquitto(&self) -> Vec<&'static str> {
        [
            ("--cert-cn", self.cert_cn.is_some()),
            ("--attr", !self.attrs.is_empty()),
            ("--firmware", self.firmware.is_some()),
            ("--quarantined", self.quarantined),
            ("--attestation-age", self.attestation_age.is_some()),
            ("--qos", self.qos.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

/// Runs an `acl` subcommand.
pub fn run(command: Command) -> Result<Report, BadInput> {
    match command {
        Command::Check(args) => check(*args),
        Command::Lint { policy } => run_lint(&policy),
        Command::Diff { old, new } => run_diff(&old, &new),
        Command::Import { from, file } => run_import(&from, &file),
    }
}

fn load_policy(path: &Path) -> Result<Policy, BadInput> {
    let text = read_input_text(path, InputKind::Policy)?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        Policy::from_json_str(&text)
    } else {
        Policy::from_toml_str(&text)
    };
    parsed.map_err(|e| BadInput::new(format!("policy file {}: {e}", path.display())))
}

fn decision_word(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

fn outcome(effect: Effect) -> Outcome {
    match effect {
        Effect::Allow => Outcome::Accepted,
        Effect::Deny => Outcome::Rejected,
    }
}

fn reason_json(reason: &Reason, policy: &Policy) -> Value {
    let name = |rule: u32| {
        policy
            .rules()
            .get(rule as usize)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    match reason {
        Reason::AllowedBy { rule } => {
            json!({"kind": "allowed_by", "rule": rule, "name": name(*rule)})
        }
        Reason::DeniedBy { rule } => {
            json!({"kind": "denied_by", "rule": rule, "name": name(*rule)})
        }
        Reason::PlaceholderUnusable {
            rule,
            placeholder,
            problem,
        } => json!({
            "kind": "placeholder_unusable", "rule": rule, "name": name(*rule),
            "placeholder": placeholder, "problem": problem,
        }),
        Reason::NoMatchingRule => json!({"kind": "no_matching_rule"}),
        Reason::FilterNotContained => json!({"kind": "filter_not_contained"}),
        Reason::TooManyOverlappingRules { limit } => {
            json!({"kind": "too_many_overlapping_rules", "limit": limit})
        }
        Reason::IdentityNotBound { binding } => {
            json!({"kind": "identity_not_bound", "binding": binding})
        }
        Reason::InvalidTopic(e) => json!({"kind": "invalid_topic", "error": e.to_string()}),
        Reason::InvalidQos { qos } => json!({"kind": "invalid_qos", "qos": qos}),
        Reason::SubscribeGrantedByMode => json!({"kind": "subscribe_granted_by_mode"}),
        Reason::ConnectAccepted => json!({"kind": "connect_accepted"}),
        _ => json!({"kind": reason.kind(), "text": reason.to_string()}),
    }
}

fn decision_report(decision: &Decision, policy: &Policy, mode: &str, req: &Request<'_>) -> Report {
    let trace: Vec<Value> = decision
        .trace
        .entries()
        .iter()
        .map(|e| {
            let rule = policy.rules().get(e.rule as usize);
            json!({
                "rule": e.rule,
                "name": rule.map(|r| r.name.clone()),
                "template": rule.and_then(|r| r.templates.get(usize::from(e.template))).map(|t| t.as_str().to_string()),
                "effect": e.effect,
                "outcome": e.outcome,
            })
        })
        .collect();
    let reason = reason_json(&decision.reason, policy);
    let word = decision_word(decision.effect);
    let mut text = format!(
        "{word}: {} {} ({})\n",
        req.action.as_str(),
        req.topic,
        reason.get("kind").and_then(Value::as_str).unwrap_or("")
    );
    for t in &trace {
        let field = |k: &str| t.get(k).cloned().unwrap_or(Value::Null);
        text.push_str(&format!(
            "  rule {} {} {} -> {}\n",
            field("rule"),
            field("name"),
            field("template"),
            field("outcome")
        ));
    }
    Report {
        outcome: outcome(decision.effect),
        json: json!({
            "decision": word,
            "reason": reason,
            "mode": mode,
            "action": req.action.as_str(),
            "topic": req.topic,
            "trace": trace,
            "trace_truncated": decision.trace.is_truncated(),
        }),
        text,
    }
}

fn check(args: CheckArgs) -> Result<Report, BadInput> {
    let action = Action::from_name(&args.action).ok_or_else(|| {
        BadInput::new(format!(
            "unknown action {:?} (publish, publish_retained, subscribe, receive, will)",
            args.action
        ))
    })?;
    let default_mode = if args.mosquitto_acl.is_some() {
        "mosquitto"
    } else {
        "strict"
    };
    let mode_name = args.mode.as_deref().unwrap_or(default_mode);
    let mode = SubscribeMode::from_name(mode_name).ok_or_else(|| {
        BadInput::new(format!(
            "unknown mode {mode_name:?} (strict, narrow, mosquitto)"
        ))
    })?;
    let qos = args.qos.unwrap_or(0);
    if qos > 2 {
        return Err(BadInput::new(format!("QoS {qos} is not 0, 1 or 2")));
    }
    let request = Request {
        action,
        topic: &args.topic,
        qos,
    };
    if let Some(path) = &args.mosquitto_acl
        && mode_name == "mosquitto"
    {
        let unused = args.unused_by_mosquitto();
        if !unused.is_empty() {
            return Err(BadInput::new(format!(
                "{} cannot be used with --mosquitto-acl in mosquitto mode (mosquitto decides on \
                 client id, username, action and topic only); pass --mode strict or narrow to \
                 decide on the imported policy",
                unused.join(", ")
            )));
        }
        let acl = load_mosquitto_acl(path)?;
        let why = acl.check(
            &args.client_id,
            args.username.as_deref(),
            MosquittoOperation::from_action(action),
            &args.topic,
        );
        let effect = if why.is_allowed() {
            Effect::Allow
        } else {
            Effect::Deny
        };
        let word = decision_word(effect);
        return Ok(Report {
            outcome: outcome(effect),
            json: json!({
                "decision": word,
                "mode": "mosquitto",
                "action": action.as_str(),
                "topic": args.topic,
                "reason": why,
                "trace": [why],
            }),
            text: format!("{word}: {} {} ({why:?})", action.as_str(), args.topic),
        });
    }
    let policy = match (&args.policy, &args.mosquitto_acl) {
        (Some(path), _) => load_policy(path)?,
        (None, Some(path)) => imported_policy(&load_mosquitto_acl(path)?.import())?,
        (None, None) => return Err(BadInput::new("--policy or --mosquitto-acl is required")),
    };
    let mut attrs = Vec::new();
    for a in &args.attrs {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| BadInput::new(format!("--attr {a:?} is not NAME=VALUE")))?;
        attrs.push((k, v));
    }
    let firmware = match &args.firmware {
        Some(v) => Some(
            iotsec_mqtt_acl::semver::Version::parse(v)
                .map_err(|e| BadInput::new(format!("--firmware {v:?}: {e}")))?,
        ),
        None => None,
    };
    let ctx = ClientContext {
        client_id: &args.client_id,
        username: args.username.as_deref(),
        cert_cn: args.cert_cn.as_deref(),
        attributes: &attrs,
        posture: Posture {
            firmware,
            quarantined: args.quarantined,
            attestation_age_secs: args.attestation_age,
        },
    };
    let compiled = CompiledPolicy::compile(policy);
    let decision = compiled.check_with_mode(&ctx, &request, mode);
    Ok(decision_report(
        &decision,
        compiled.policy(),
        mode_name,
        &request,
    ))
}

fn load_mosquitto_acl(path: &Path) -> Result<MosquittoAcl, BadInput> {
    MosquittoAcl::parse(&read_input_text(path, InputKind::AclFile)?)
        .map_err(|e| BadInput::new(format!("ACL file {}: {e}", path.display())))
}

fn imported_policy(imported: &Imported) -> Result<Policy, BadInput> {
    Policy::from_document(imported.document.clone())
        .map_err(|e| BadInput::new(format!("imported policy is invalid: {e}")))
}

fn run_lint(path: &Path) -> Result<Report, BadInput> {
    let policy = load_policy(path)?;
    let findings = lint(&policy);
    let mut text = format!("{} finding(s)\n", findings.len());
    for f in &findings {
        text.push_str(&format!("{:?}: {}\n", f.kind, f.detail));
    }
    Ok(Report {
        outcome: if findings.is_empty() {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        },
        json: json!({"findings": findings, "clean": findings.is_empty()}),
        text,
    })
}

fn run_diff(old: &Path, new: &Path) -> Result<Report, BadInput> {
    let (old_p, new_p) = (load_policy(old)?, load_policy(new)?);
    let changes = semantic_diff(&old_p, &new_p);
    let gained: Vec<_> = changes
        .iter()
        .filter(|c| c.after == Effect::Allow)
        .collect();
    let lost: Vec<_> = changes.iter().filter(|c| c.after == Effect::Deny).collect();
    let mut text = format!("{} gained, {} lost\n", gained.len(), lost.len());
    for c in &changes {
        let sign = if c.after == Effect::Allow { '+' } else { '-' };
        text.push_str(&format!(
            "{sign} {} {} {}\n",
            c.identity,
            c.action.as_str(),
            c.topic
        ));
    }
    Ok(Report {
        outcome: if changes.is_empty() {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        },
        json: json!({"gained": gained, "lost": lost, "identical": changes.is_empty()}),
        text,
    })
}

fn run_import(from: &str, path: &Path) -> Result<Report, BadInput> {
    let imported: Imported = match from {
        "mosquitto" => load_mosquitto_acl(path)?.import(),
        _ => import_aws_policy(&read_input_text(path, InputKind::Policy)?)
            .map_err(|e| BadInput::new(format!("policy file {}: {e}", path.display())))?,
    };
    let policy = imported_policy(&imported)?;
    let toml = policy.to_toml_string().map_err(BadInput::new)?;
    let mut out = String::new();
    for n in &imported.notes {
        out.push_str(&format!(
            "# NOTE ({:?}, at {}): {}\n",
            n.kind, n.location, n.detail
        ));
    }
    out.push_str(&toml);
    Ok(Report {
        outcome: Outcome::Accepted,
        json: json!({"policy": imported.document, "notes": imported.notes}),
        text: out,
    })
}
