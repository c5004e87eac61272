//! Policy semantics: default deny, deny beats allow, whole-level placeholders that fail closed,
//! identity binding, posture, QoS caps, subscribe modes; and the regressions where other
//! brokers allow and we must deny.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::decision::{PostureCheck, RuleOutcome};
use iotsec_mqtt_acl::template::{PlaceholderKind, ValueProblem};
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, PolicyError, Posture, Reason, Request,
    SubscribeMode, TemplateError,
};

const POLICY: &str = r##"
[[rule]]
name = "own-telemetry"
effect = "allow"
actions = ["publish", "subscribe", "receive"]
topics = ["devices/${client_id}/#"]
max_qos = 1

[[rule]]
name = "tenant"
effect = "allow"
actions = ["publish", "subscribe", "receive"]
topics = ["tenant/${username}/+/data"]

[[rule]]
name = "no-admin"
effect = "deny"
actions = ["publish", "subscribe", "receive"]
topics = ["devices/+/admin/#"]

[[rule]]
name = "commands"
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["cmd/a/+"]

[[rule]]
name = "ota"
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["ota/${attr.model}/#"]
firmware = ">=1.2.0, <2.0.0"

[[rule]]
name = "quarantine-report"
effect = "allow"
actions = ["publish"]
topics = ["quarantine/${client_id}"]
in_quarantine = true
"##;

fn compiled() -> CompiledPolicy {
    CompiledPolicy::compile(Policy::from_toml_str(POLICY).unwrap())
}

fn check(ctx: &ClientContext<'_>, action: Action, topic: &str) -> iotsec_mqtt_acl::Decision {
    compiled().check(ctx, &Request::new(action, topic))
}

#[test]
fn default_deny_and_allow_by_own_placeholder() {
    let ctx = ClientContext::new("dev1");
    let d = check(&ctx, Action::Publish, "devices/dev1/temp");
    assert_eq!(d.effect, Effect::Allow);
    assert_eq!(d.reason, Reason::AllowedBy { rule: 0 });
    assert_eq!(d.trace.entries()[0].outcome, RuleOutcome::Matched);
    let d = check(&ctx, Action::Publish, "devices/dev2/temp");
    assert_eq!((d.effect, d.reason), (Effect::Deny, Reason::NoMatchingRule));
    assert!(d.trace.entries().is_empty());
}

#[test]
fn empty_policy_denies_everything_unlike_cve_2018_12550() {
    let p = CompiledPolicy::compile(Policy::from_toml_str("").unwrap());
    let d = p.check(
        &ClientContext::new("x"),
        &Request::new(Action::Publish, "a"),
    );
    assert_eq!(d.reason, Reason::NoMatchingRule);
}

#[test]
fn deny_beats_allow() {
    let ctx = ClientContext::new("dev1");
    let d = check(&ctx, Action::Publish, "devices/dev1/admin/reboot");
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(d.reason, Reason::DeniedBy { rule: 2 });
    let rules: Vec<u32> = d.trace.entries().iter().map(|e| e.rule).collect();
    assert_eq!(rules, [0, 2], "trace shows both the allow and the deny");
}

#[test]
fn user_allow_against_deny_deny_wins() {
    let p = Policy::from_toml_str(
        r##"
[[rule]]
effect = "allow"
actions = ["publish"]
topics = ["x/secret"]
usernames = ["alice"]
[[rule]]
effect = "deny"
actions = ["publish"]
topics = ["x/${client_id}"]
"##,
    )
    .unwrap();
    let ctx = ClientContext {
        client_id: "secret",
        username: Some("alice"),
        ..Default::default()
    };
    let d = CompiledPolicy::compile(p).check(&ctx, &Request::new(Action::Publish, "x/secret"));
    assert_eq!(d.reason, Reason::DeniedBy { rule: 1 });
}

#[test]
fn client_id_with_slash_cannot_escape_into_a_neighbour() {
    let ctx = ClientContext::new("dev1/x");
    for topic in ["devices/dev1/x/temp", "devices/dev1/x", "devices/dev1"] {
        let d = check(&ctx, Action::Publish, topic);
        assert_eq!(d.effect, Effect::Deny, "{topic}");
        assert_eq!(
            d.reason,
            Reason::PlaceholderUnusable {
                rule: 0,
                placeholder: PlaceholderKind::ClientId,
                problem: ValueProblem::ContainsLevelSeparator
            },
            "{topic}"
        );
    }
    // In mosquitto mode the textual substitution lets it in, as mosquitto 2.0 does.
    let d = compiled().check_with_mode(
        &ctx,
        &Request::new(Action::Publish, "devices/dev1/x/temp"),
        SubscribeMode::Mosquitto,
    );
    assert_eq!(d.effect, Effect::Allow);
}

#[test]
fn username_wildcard_cannot_widen_a_tenant() {
    let ctx = ClientContext {
        client_id: "c",
        username: Some("#"),
        ..Default::default()
    };
    let d = check(&ctx, Action::Publish, "tenant/acme/s1/data");
    assert_eq!(
        d.reason,
        Reason::PlaceholderUnusable {
            rule: 1,
            placeholder: PlaceholderKind::Username,
            problem: ValueProblem::ContainsWildcard
        }
    );
    let ctx = ClientContext {
        client_id: "c",
        username: Some(""),
        ..Default::default()
    };
    assert_eq!(
        check(&ctx, Action::Publish, "tenant//s1/data").effect,
        Effect::Deny
    );
    let ctx = ClientContext::new("c");
    let d = check(&ctx, Action::Publish, "tenant/acme/s1/data");
    assert!(matches!(
        d.reason,
        Reason::PlaceholderUnusable {
            problem: ValueProblem::Missing,
            ..
        }
    ));
}

#[test]
fn subscription_filter_containment_is_strict() {
    let ctx = ClientContext::new("dev1");
    let sub =
        |t: &str, mode| compiled().check_with_mode(&ctx, &Request::new(Action::Subscribe, t), mode);
    assert_eq!(sub("cmd/a/+", SubscribeMode::Strict).effect, Effect::Allow);
    assert_eq!(sub("cmd/a/x", SubscribeMode::Strict).effect, Effect::Allow);
    // rule a/+ vs subscription a/#: EMQX, VerneMQ, HiveMQ allow; we deny.
    assert_eq!(
        sub("cmd/a/#", SubscribeMode::Strict).reason,
        Reason::FilterNotContained
    );
    assert_eq!(
        sub("cmd/#", SubscribeMode::Strict).reason,
        Reason::FilterNotContained
    );
    // Narrow grants and leaves each delivery to `receive`; mosquitto grants everything.
    assert_eq!(sub("cmd/a/#", SubscribeMode::Narrow).effect, Effect::Allow);
    assert_eq!(
        sub("nothing/here", SubscribeMode::Narrow).effect,
        Effect::Deny
    );
    assert_eq!(
        sub("nothing/here", SubscribeMode::Mosquitto).reason,
        Reason::SubscribeGrantedByMode
    );
    // A filter that overlaps a deny is refused in strict mode.
    assert_eq!(
        sub("devices/dev1/#", SubscribeMode::Strict).reason,
        Reason::DeniedBy { rule: 2 }
    );
    // devices/dev1/+ would also deliver devices/dev1/admin (the deny's `#` matches its parent).
    assert_eq!(
        sub("devices/dev1/+", SubscribeMode::Strict).reason,
        Reason::DeniedBy { rule: 2 }
    );
    assert_eq!(
        sub("devices/dev1/temp/+", SubscribeMode::Strict).effect,
        Effect::Allow
    );
    // Shared subscriptions are judged by their filter.
    assert_eq!(
        sub("$share/g/cmd/a/x", SubscribeMode::Strict).effect,
        Effect::Allow
    );
    assert!(matches!(
        sub("$share//x", SubscribeMode::Strict).reason,
        Reason::InvalidTopic(_)
    ));
}

#[test]
fn rule_plus_never_admits_hash() {
    let p = Policy::from_toml_str(
        "[[rule]]\neffect = \"allow\"\nactions = [\"subscribe\"]\ntopics = [\"+\"]\n",
    )
    .unwrap();
    let c = CompiledPolicy::compile(p);
    let ctx = ClientContext::new("a");
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Subscribe, "#")).effect,
        Effect::Deny
    );
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Subscribe, "x")).effect,
        Effect::Allow
    );
}

#[test]
fn trailing_slash_is_a_different_topic() {
    let p = Policy::from_toml_str(
        "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"t\"]\n",
    )
    .unwrap();
    let c = CompiledPolicy::compile(p);
    let ctx = ClientContext::new("a");
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Publish, "t")).effect,
        Effect::Allow
    );
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Publish, "t/")).effect,
        Effect::Deny
    );
}

#[test]
fn qos_cap_and_invalid_input() {
    let ctx = ClientContext::new("dev1");
    let c = compiled();
    let mut req = Request::new(Action::Publish, "devices/dev1/t");
    req.qos = 2;
    let d = c.check(&ctx, &req);
    assert_eq!(d.reason, Reason::NoMatchingRule);
    assert_eq!(
        d.trace.entries()[0].outcome,
        RuleOutcome::QosAboveCap {
            cap: 1,
            requested: 2
        }
    );
    req.qos = 3;
    assert_eq!(c.check(&ctx, &req).reason, Reason::InvalidQos { qos: 3 });
    assert!(matches!(
        c.check(&ctx, &Request::new(Action::Publish, "devices/dev1/#"))
            .reason,
        Reason::InvalidTopic(_)
    ));
}

#[test]
fn posture_firmware_and_quarantine() {
    let attrs = [("model", "m7")];
    let mut ctx = ClientContext {
        client_id: "dev1",
        attributes: &attrs,
        ..Default::default()
    };
    let c = compiled();
    let sub = Request::new(Action::Receive, "ota/m7/image");
    let d = c.check(&ctx, &sub);
    assert_eq!(
        d.trace.entries()[0].outcome,
        RuleOutcome::PostureUnknown {
            check: PostureCheck::Firmware
        }
    );
    assert_eq!(d.effect, Effect::Deny);
    ctx.posture.firmware = Some(semver::Version::new(1, 4, 0));
    assert_eq!(c.check(&ctx, &sub).effect, Effect::Allow);
    ctx.posture.firmware = Some(semver::Version::new(2, 0, 0));
    assert_eq!(
        c.check(&ctx, &sub).trace.entries()[0].outcome,
        RuleOutcome::PostureNotMet {
            check: PostureCheck::Firmware
        }
    );
    ctx.posture = Posture {
        quarantined: true,
        ..Default::default()
    };
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Publish, "devices/dev1/t"))
            .effect,
        Effect::Deny
    );
    assert_eq!(
        c.check(&ctx, &Request::new(Action::Publish, "quarantine/dev1"))
            .effect,
        Effect::Allow
    );
}

#[test]
fn deny_with_unknown_posture_fails_closed() {
    let p = Policy::from_toml_str(
        r##"
[[rule]]
effect = "allow"
actions = ["publish"]
topics = ["#"]
[[rule]]
effect = "deny"
actions = ["publish"]
topics = ["fleet/#"]
max_attestation_age_secs = 60
"##,
    )
    .unwrap();
    let c = CompiledPolicy::compile(p);
    let mut ctx = ClientContext::new("d");
    let req = Request::new(Action::Publish, "fleet/x");
    assert_eq!(c.check(&ctx, &req).reason, Reason::DeniedBy { rule: 1 });
    ctx.posture.attestation_age_secs = Some(120);
    assert_eq!(
        c.check(&ctx, &req).effect,
        Effect::Allow,
        "deny applies only to fresh attestations"
    );
    ctx.posture.attestation_age_secs = Some(10);
    assert_eq!(c.check(&ctx, &req).effect, Effect::Deny);
}

#[test]
fn identity_binding_to_certificate_cn() {
    let p = Policy::from_toml_str(
        "identity_binding = \"cert_cn\"\n[[rule]]\neffect = \"allow\"\nactions = [\"publish\", \"will\"]\ntopics = [\"d/${cert.cn}/#\"]\n",
    )
    .unwrap();
    let c = CompiledPolicy::compile(p);
    let good = ClientContext {
        client_id: "dev1",
        cert_cn: Some("dev1"),
        ..Default::default()
    };
    let bad = ClientContext {
        client_id: "dev2",
        cert_cn: Some("dev1"),
        ..Default::default()
    };
    assert_eq!(
        c.authorize_connect(&good, Some(("d/dev1/lwt", 0, false)))
            .effect,
        Effect::Allow
    );
    assert_eq!(
        c.authorize_connect(&good, Some(("d/dev2/lwt", 0, false)))
            .effect,
        Effect::Deny
    );
    assert!(matches!(
        c.authorize_connect(&bad, None).reason,
        Reason::IdentityNotBound { .. }
    ));
    assert!(matches!(
        c.check(&bad, &Request::new(Action::Publish, "d/dev1/x"))
            .reason,
        Reason::IdentityNotBound { .. }
    ));
}

/// A will with Will Retain set becomes a retained message (MQTT-3.1.2-17): `will` alone does not
/// authorize it, `publish_retained` on the topic is needed too, and a deny on either refuses it.
#[test]
fn retained_will_needs_publish_retained_too() {
    let ctx = ClientContext {
        client_id: "dev1",
        ..Default::default()
    };
    let will_only = CompiledPolicy::compile(
        Policy::from_toml_str(
            "[[rule]]\neffect = \"allow\"\nactions = [\"publish\", \"will\"]\ntopics = [\"devices/${client_id}/#\"]\n",
        )
        .unwrap(),
    );
    let status = "devices/dev1/status";
    assert_eq!(
        will_only
            .authorize_connect(&ctx, Some((status, 1, false)))
            .effect,
        Effect::Allow
    );
    let retained = will_only.authorize_connect(&ctx, Some((status, 1, true)));
    assert_eq!(retained.effect, Effect::Deny);
    assert_eq!(
        retained,
        will_only.check(&ctx, &Request::new(Action::PublishRetained, status)),
        "the refusal is publish_retained's"
    );
    let both = CompiledPolicy::compile(
        Policy::from_toml_str(
            "[[rule]]\neffect = \"allow\"\nactions = [\"will\", \"publish_retained\"]\ntopics = [\"devices/${client_id}/#\"]\n\n[[rule]]\neffect = \"deny\"\nactions = [\"publish_retained\"]\ntopics = [\"devices/+/status\"]\n",
        )
        .unwrap(),
    );
    assert_eq!(
        both.authorize_connect(&ctx, Some(("devices/dev1/lwt", 1, true)))
            .effect,
        Effect::Allow
    );
    assert_eq!(
        both.authorize_connect(&ctx, Some((status, 1, true))).effect,
        Effect::Deny,
        "a deny on publish_retained refuses the retained will"
    );
    assert_eq!(
        both.authorize_connect(&ctx, Some((status, 1, false)))
            .effect,
        Effect::Allow
    );
}

#[test]
fn malformed_policies_are_typed_errors() {
    let mid = Policy::from_toml_str(
        "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"d/dev-${client_id}\"]\n",
    );
    assert!(matches!(
        mid,
        Err(PolicyError::Template {
            source: TemplateError::PlaceholderNotWholeLevel { level: 1, .. },
            ..
        })
    ));
    let unknown = Policy::from_toml_str(
        "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"d/${nope}\"]\n",
    );
    assert!(matches!(
        unknown,
        Err(PolicyError::Template {
            source: TemplateError::UnknownPlaceholder { .. },
            ..
        })
    ));
    assert!(matches!(
        Policy::from_toml_str("[[rule]]\neffect = \"allow\"\nactions = []\ntopics = [\"a\"]\n"),
        Err(PolicyError::NoActions { .. })
    ));
    assert!(matches!(
        Policy::from_toml_str(
            "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a\"]\nfirmware = \"not a version\"\n"
        ),
        Err(PolicyError::InvalidFirmwareRequirement { .. })
    ));
    assert!(matches!(
        Policy::from_toml_str(
            "[[rule]]\neffect = \"deny\"\nactions = [\"publish\"]\ntopics = [\"a\"]\nmax_qos = 1\n"
        ),
        Err(PolicyError::QosCapOnDeny { .. })
    ));
    assert!(matches!(
        Policy::from_toml_str("[[rule]]\neffect = \"maybe\"\n"),
        Err(PolicyError::Syntax(_))
    ));
    assert!(matches!(
        Policy::from_json_str(
            "{\"rules\": [{\"effect\": \"allow\", \"actions\": [\"publish\"], \"topics\": [\"a/#/b\"]}]}"
        ),
        Err(PolicyError::Template { .. })
    ));
}

#[test]
fn json_and_toml_load_the_same_policy() {
    let p = Policy::from_toml_str(POLICY).unwrap();
    let json = serde_json::to_string(&p).unwrap();
    let q = Policy::from_json_str(&json).unwrap();
    assert_eq!(p, q);
    let toml = p.to_toml_string().unwrap();
    assert_eq!(Policy::from_toml_str(&toml).unwrap(), p);
}

/// A subscription deeper than any template (64 levels) is decided through its first 64 levels
/// and `+/#`, exactly: `#` templates still grant it, `+` templates never do, denies still bite.
#[test]
fn subscriptions_deeper_than_any_template_are_decided_exactly() {
    let policy = Policy::from_toml_str(
        r##"
[[rule]]
effect = "allow"
actions = ["subscribe", "receive"]
topics = ["devices/${client_id}/#", "wide/+/+"]
[[rule]]
effect = "deny"
actions = ["receive"]
topics = ["devices/${client_id}/secret/#"]
"##,
    )
    .unwrap();
    let acl = CompiledPolicy::compile(policy);
    let dev1 = ClientContext::new("dev1");
    let deep = |prefix: &str| format!("{prefix}/{}", ["x"; 200].join("/"));
    let sub = |topic: &str| {
        acl.check(&dev1, &Request::new(Action::Subscribe, topic))
            .effect
    };
    assert_eq!(sub(&deep("devices/dev1")), Effect::Allow);
    assert_eq!(sub(&format!("{}/#", deep("devices/dev1"))), Effect::Allow);
    assert_eq!(sub(&deep("devices/dev2")), Effect::Deny);
    assert_eq!(sub(&deep("wide")), Effect::Deny);
    assert_eq!(sub(&deep("devices/dev1/secret")), Effect::Deny);
    assert_eq!(sub(&deep("devices/+")), Effect::Deny);
}

/// More than 64 overlapping allow templates cannot be analysed without allocating: denied with
/// a reason that says so (fail closed), never granted by accident.
#[test]
fn too_many_overlapping_templates_fail_closed() {
    let topics: Vec<String> = (0..65).map(|i| format!("\"fleet/+/t{i}\"")).collect();
    let toml = format!(
        "[[rule]]\neffect = \"allow\"\nactions = [\"subscribe\"]\ntopics = [{}]\n",
        topics.join(", ")
    );
    let acl = CompiledPolicy::compile(Policy::from_toml_str(&toml).unwrap());
    let d = acl.check(
        &ClientContext::new("dev1"),
        &Request::new(Action::Subscribe, "fleet/#"),
    );
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(d.reason, Reason::TooManyOverlappingRules { limit: 64 });
    let d = acl.check(
        &ClientContext::new("dev1"),
        &Request::new(Action::Subscribe, "fleet/a/t3"),
    );
    assert_eq!(d.effect, Effect::Allow);
}
