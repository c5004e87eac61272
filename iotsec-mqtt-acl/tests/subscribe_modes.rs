//! The SUBSCRIBE modes by name and by effect: the names a command line or a broker
//! configuration gives, the safe default, and the one difference between the modes on the same
//! policy (MQTT 5.0 §3.8, §4.7).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::policy::{PolicyDocument, RuleDocument};
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Reason, Request, SubscribeMode,
};

#[test]
fn modes_are_named_exactly() {
    assert_eq!(
        SubscribeMode::from_name("strict"),
        Some(SubscribeMode::Strict)
    );
    assert_eq!(
        SubscribeMode::from_name("narrow"),
        Some(SubscribeMode::Narrow)
    );
    assert_eq!(
        SubscribeMode::from_name("mosquitto"),
        Some(SubscribeMode::Mosquitto)
    );
    // A misspelt mode is refused, never read as the default (or as the permissive one).
    for name in [
        "", "Strict", "STRICT", "strict ", "narro", "mosquito", "none",
    ] {
        assert_eq!(SubscribeMode::from_name(name), None, "{name:?}");
    }
    assert_eq!(SubscribeMode::default(), SubscribeMode::Strict);
}

/// `allow subscribe+receive sensors/+/temp` for everyone.
fn policy() -> CompiledPolicy {
    compiled(vec![RuleDocument::new(
        Effect::Allow,
        &[Action::Subscribe, Action::Receive],
        &["sensors/+/temp"],
    )])
}

fn subscribe(policy: &CompiledPolicy, filter: &str, mode: SubscribeMode) -> (Effect, Reason) {
    let d = policy.check_with_mode(
        &ClientContext::new("dev-1"),
        &Request::new(Action::Subscribe, filter),
        mode,
    );
    (d.effect, d.reason)
}

#[test]
fn the_modes_differ_only_where_they_say() {
    let p = policy();
    // Contained: every mode grants.
    for mode in [
        SubscribeMode::Strict,
        SubscribeMode::Narrow,
        SubscribeMode::Mosquitto,
    ] {
        assert_eq!(
            subscribe(&p, "sensors/a/temp", mode).0,
            Effect::Allow,
            "{mode:?}"
        );
    }
    // Broader than the grant: strict refuses, narrow grants (delivery is checked), mosquitto
    // grants every SUBSCRIBE.
    assert_eq!(
        subscribe(&p, "sensors/#", SubscribeMode::Strict),
        (Effect::Deny, Reason::FilterNotContained)
    );
    assert_eq!(
        subscribe(&p, "sensors/#", SubscribeMode::Narrow),
        (Effect::Allow, Reason::AllowedBy { rule: 0 })
    );
    assert_eq!(
        subscribe(&p, "sensors/#", SubscribeMode::Mosquitto),
        (Effect::Allow, Reason::SubscribeGrantedByMode)
    );
    // Disjoint: strict and narrow find no rule; mosquitto still grants.
    assert_eq!(
        subscribe(&p, "actuators/#", SubscribeMode::Strict),
        (Effect::Deny, Reason::NoMatchingRule)
    );
    assert_eq!(
        subscribe(&p, "actuators/#", SubscribeMode::Narrow),
        (Effect::Deny, Reason::NoMatchingRule)
    );
    assert_eq!(
        subscribe(&p, "actuators/#", SubscribeMode::Mosquitto).0,
        Effect::Allow
    );
}

#[test]
fn a_filter_one_level_deeper_than_any_template_keeps_its_parent_level() {
    use iotsec_mqtt_acl::template::MAX_TEMPLATE_LEVELS;
    // A template of the greatest depth, and a filter one level deeper ending in `#`: the filter
    // also matches the template's own topic (`#` matches its parent level, MQTT 5.0 §4.7.1.2),
    // so they overlap. Shortening the filter (as is done only for deeper filters) would lose it.
    let deepest = vec!["l"; MAX_TEMPLATE_LEVELS].join("/");
    let p = compiled(vec![RuleDocument::new(
        Effect::Allow,
        &[Action::Subscribe, Action::Receive],
        &[deepest.as_str()],
    )]);
    let filter = format!("{deepest}/#");
    assert_eq!(
        subscribe(&p, &filter, SubscribeMode::Strict),
        (Effect::Deny, Reason::FilterNotContained)
    );
    assert_eq!(
        subscribe(&p, &filter, SubscribeMode::Narrow),
        (Effect::Allow, Reason::AllowedBy { rule: 0 })
    );
}

fn compiled(rules: Vec<RuleDocument>) -> CompiledPolicy {
    CompiledPolicy::compile(
        Policy::from_document(PolicyDocument {
            rules,
            ..Default::default()
        })
        .unwrap(),
    )
}

#[test]
fn a_deny_of_subscribe_alone_refuses_the_subscription() {
    // The deny names `subscribe` but not `receive`: it still applies to SUBSCRIBE.
    let p = compiled(vec![
        RuleDocument::new(Effect::Allow, &[Action::Subscribe], &["sensors/#"]),
        RuleDocument::new(Effect::Deny, &[Action::Subscribe], &["sensors/secret/#"]),
    ]);
    for mode in [SubscribeMode::Strict, SubscribeMode::Narrow] {
        assert_eq!(
            subscribe(&p, "sensors/secret/key", mode).0,
            Effect::Deny,
            "{mode:?}"
        );
        assert_eq!(
            subscribe(&p, "sensors/a", mode).0,
            Effect::Allow,
            "{mode:?}"
        );
    }
}

#[test]
fn narrow_refuses_only_what_the_denies_cover() {
    let p = compiled(vec![
        RuleDocument::new(
            Effect::Allow,
            &[Action::Subscribe, Action::Receive],
            &["sensors/#"],
        ),
        RuleDocument::new(Effect::Deny, &[Action::Receive], &["sensors/secret/#"]),
    ]);
    // Partly denied: narrow grants (each delivery is checked), strict refuses.
    assert_eq!(
        subscribe(&p, "sensors/#", SubscribeMode::Narrow),
        (Effect::Allow, Reason::AllowedBy { rule: 0 })
    );
    assert_eq!(
        subscribe(&p, "sensors/#", SubscribeMode::Strict).0,
        Effect::Deny
    );
    // Wholly denied: both refuse.
    assert_eq!(
        subscribe(&p, "sensors/secret/+", SubscribeMode::Narrow).0,
        Effect::Deny
    );
    assert_eq!(
        subscribe(&p, "sensors/secret/+", SubscribeMode::Strict).0,
        Effect::Deny
    );
}

#[test]
fn only_a_filter_without_wildcards_is_exact() {
    use iotsec_mqtt_acl::TopicFilter;
    for (filter, exact) in [
        ("a/b", true),
        ("a", true),
        ("a/+", false),
        ("+/b", false),
        ("a/#", false),
        ("#", false),
    ] {
        assert_eq!(
            TopicFilter::new(filter).unwrap().is_exact(),
            exact,
            "{filter}"
        );
    }
}

#[test]
fn only_subscribe_rules_grant_a_subscription() {
    // `publish` and `receive` allows say nothing about SUBSCRIBE.
    let p = compiled(vec![RuleDocument::new(
        Effect::Allow,
        &[Action::Publish, Action::Receive],
        &["sensors/#"],
    )]);
    for mode in [SubscribeMode::Strict, SubscribeMode::Narrow] {
        assert_eq!(
            subscribe(&p, "sensors/a", mode),
            (Effect::Deny, Reason::NoMatchingRule),
            "{mode:?}"
        );
    }
}
