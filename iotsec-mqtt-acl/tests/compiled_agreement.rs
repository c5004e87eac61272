//! The compiled trie agrees with the plain reference evaluator on random policies, identities
//! and topics (effect, reason and trace).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::policy::{PolicyDocument, RuleDocument};
use iotsec_mqtt_acl::reference::evaluate;
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Request, SubscribeMode,
};
use proptest::prelude::*;

fn level() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("$s"),
        Just(""),
        Just("+"),
        Just("${client_id}"),
        Just("${username}"),
        Just("${attr.t}"),
    ]
}

fn template() -> impl Strategy<Value = String> {
    (prop::collection::vec(level(), 1..4), any::<bool>()).prop_map(|(levels, hash)| {
        let mut s = levels.join("/");
        if hash {
            s.push_str("/#");
        }
        s
    })
}

fn rule() -> impl Strategy<Value = RuleDocument> {
    (
        any::<bool>(),
        prop::sample::subsequence(vec![Action::Publish, Action::Receive, Action::Will], 1..=3),
        prop::collection::vec(template(), 1..3),
        prop::option::of(0u8..=2),
        any::<bool>(),
        (0u8..3, any::<bool>()),
    )
        .prop_map(
            |(deny, actions, topics, qos, quarantine, (subjects, firmware))| {
                let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                let mut r = RuleDocument::new(
                    if deny { Effect::Deny } else { Effect::Allow },
                    &actions,
                    &topics,
                );
                if !deny {
                    r.max_qos = qos;
                    r.in_quarantine = quarantine;
                }
                match subjects {
                    1 => r.usernames = vec!["a".to_string()],
                    2 => r.anonymous_only = true,
                    _ => {}
                }
                if firmware {
                    r.firmware = Some(">=1.0.0".to_string());
                }
                r
            },
        )
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a"),
            Just("b"),
            Just("$s"),
            Just(""),
            Just("dev"),
            Just("x/y")
        ],
        1..5,
    )
    .prop_map(|v| v.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn compiled_matches_reference(
        rules in prop::collection::vec(rule(), 0..6),
        client in prop_oneof![Just("dev"), Just("a"), Just("x/y"), Just("#"), Just(""), Just("$s")],
        username in prop::option::of(prop_oneof![Just("a"), Just("b"), Just("+")]),
        attr in prop::option::of(prop_oneof![Just("a"), Just("dev")]),
        quarantined in any::<bool>(),
        firmware in prop::option::of(prop_oneof![Just((0u64, 9u64)), Just((1, 2))]),
        action in prop_oneof![Just(Action::Publish), Just(Action::Receive), Just(Action::Will)],
        topic in topic(),
        qos in 0u8..=2,
    ) {
        let policy = Policy::from_document(PolicyDocument { rules, ..Default::default() });
        prop_assume!(policy.is_ok());
        let policy = policy.unwrap();
        let compiled = CompiledPolicy::compile(policy.clone());
        let attrs: Vec<(&str, &str)> = attr.iter().map(|v| ("t", *v)).collect();
        let mut ctx = ClientContext { client_id: client, username, attributes: &attrs, ..Default::default() };
        ctx.posture.quarantined = quarantined;
        ctx.posture.firmware = firmware.map(|(major, minor)| semver::Version::new(major, minor, 0));
        let req = Request { action, topic: &topic, qos };
        let fast = compiled.check(&ctx, &req);
        let slow = evaluate(&policy, &ctx, &req, SubscribeMode::Strict);
        // The untraced decision (the mosquitto plugin's) says the same without the trace.
        let untraced = compiled.decide_with_mode(&ctx, &req, SubscribeMode::Strict);
        prop_assert_eq!(untraced, (slow.effect, slow.reason));
        prop_assert_eq!(fast, slow);
    }
}
