//! Step 3, authorization (iotsec-mqtt-acl): the fleet policy (`demo-data/acl-policy.toml`)
//! grants a device its own telemetry topic (while its attestation is fresh) and its own
//! command subtree. The enrolled device connects with its certificate CN from step 1 and the
//! attestation age from step 2; its own telemetry is allowed, another device's is denied, and
//! the wildcard subscription `devices/+/cmd/#` is denied in strict mode.

use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Posture, Request, SubscribeMode,
};
use serde_json::{Value, json};

use super::{DEVICE_ID, Fleet, Step, failed};

const NAME: &str = "authorization";
const POLICY: &str = include_str!("../../demo-data/acl-policy.toml");

/// One request of the step with the effect the policy must give.
struct Case {
    action: Action,
    topic: String,
    expected: Effect,
}

/// Runs the step.
pub fn run(fleet: &Fleet) -> Step {
    match authorize(fleet) {
        Ok(step) => step,
        Err(e) => failed(NAME, e),
    }
}

fn effect_word(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

fn authorize(fleet: &Fleet) -> Result<Step, String> {
    let policy = Policy::from_toml_str(POLICY).map_err(|e| format!("acl-policy.toml: {e}"))?;
    let acl = CompiledPolicy::compile(policy);
    let ctx = ClientContext {
        cert_cn: fleet.cert_cn.as_deref(),
        posture: Posture {
            attestation_age_secs: fleet.attestation_age,
            ..Posture::default()
        },
        ..ClientContext::new(DEVICE_ID)
    };
    let cases = [
        Case {
            action: Action::Publish,
            topic: format!("devices/{DEVICE_ID}/telemetry"),
            expected: Effect::Allow,
        },
        Case {
            action: Action::Publish,
            topic: "devices/dev-0007/telemetry".into(),
            expected: Effect::Deny,
        },
        Case {
            action: Action::Subscribe,
            topic: "devices/+/cmd/#".into(),
            expected: Effect::Deny,
        },
    ];
    let mut ok = true;
    let mut parts = Vec::new();
    let mut checks = Vec::new();
    for case in &cases {
        let request = Request::new(case.action, &case.topic);
        let decision = acl.check_with_mode(&ctx, &request, SubscribeMode::Strict);
        ok &= decision.effect == case.expected;
        let kind = decision.reason.kind();
        let trace: Vec<(String, Value)> = decision
            .trace
            .entries()
            .iter()
            .map(|e| {
                let rule = acl.policy().rules().get(e.rule as usize);
                let name = rule.map(|r| r.name.clone()).unwrap_or_default();
                (name, json!(e.outcome))
            })
            .collect();
        let matched: Vec<&str> = trace.iter().map(|(name, _)| name.as_str()).collect();
        parts.push(format!(
            "{} {} {} ({kind}; rules matched: {})",
            case.action.as_str(),
            case.topic,
            effect_word(decision.effect),
            if matched.is_empty() {
                "none".to_owned()
            } else {
                matched.join(",")
            }
        ));
        let trace: Vec<Value> = trace
            .into_iter()
            .map(|(rule, outcome)| json!({ "rule": rule, "outcome": outcome }))
            .collect();
        checks.push(json!({
            "action": case.action.as_str(),
            "topic": case.topic,
            "decision": effect_word(decision.effect),
            "expected": effect_word(case.expected),
            "reason": kind,
            "trace": trace,
        }));
    }
    Ok(Step {
        name: NAME,
        ok,
        summary: parts.join("; "),
        details: json!({ "client_id": DEVICE_ID, "mode": "strict", "checks": checks }),
    })
}
