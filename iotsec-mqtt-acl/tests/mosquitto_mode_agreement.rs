//! In `mosquitto` mode the compiled trie decides exactly as the reference evaluator (effect,
//! reason and trace): on policies imported from random acl_files (`topic`/`pattern` lines with
//! `%c`/`%u`, deny/read/write/readwrite, user sections) and on random policies written directly,
//! with client ids and usernames that are empty, contain `/`, `+`, `#` or start with `$`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::mosquitto_acl::MosquittoAcl;
use iotsec_mqtt_acl::policy::{PolicyDocument, RuleDocument};
use iotsec_mqtt_acl::reference::evaluate;
use iotsec_mqtt_acl::topic::MAX_TOPIC_BYTES;
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Reason, Request, SubscribeMode,
};
use proptest::prelude::*;

const ACTIONS: [Action; 5] = [
    Action::Publish,
    Action::PublishRetained,
    Action::Receive,
    Action::Will,
    Action::Subscribe,
];

fn acl_level() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("$SYS"),
        Just(""),
        Just("+"),
        Just("%c"),
        Just("%u"),
        Just("x%c"),
        Just("dev"),
    ]
}

fn acl_line() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("topic"),
            Just("pattern"),
            Just("user a"),
            Just("user b")
        ],
        prop_oneof![
            Just(""),
            Just("read "),
            Just("write "),
            Just("readwrite "),
            Just("deny ")
        ],
        prop::collection::vec(acl_level(), 1..4),
        any::<bool>(),
    )
        .prop_map(|(word, access, levels, hash)| {
            if word.starts_with("user") {
                return word.to_string();
            }
            let mut topic = levels.join("/");
            if hash {
                topic.push_str("/#");
            }
            format!("{word} {access}{topic}")
        })
}

fn identity() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("dev"),
        Just("a"),
        Just("a/b"),
        Just("dev/a"),
        Just("/"),
        Just(""),
        Just("+"),
        Just("#"),
        Just("a/+"),
        Just("$SYS"),
        Just("$SYS/a"),
    ]
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a"),
            Just("b"),
            Just("$SYS"),
            Just(""),
            Just("dev"),
            Just("xdev"),
            Just("a/b"),
        ],
        1..6,
    )
    .prop_map(|v| v.join("/"))
}

fn template_level() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("$SYS"),
        Just(""),
        Just("+"),
        Just("${client_id}"),
        Just("${username}"),
        Just("${attr.t}"),
        Just("${cert.cn}"),
    ]
}

fn rule() -> impl Strategy<Value = RuleDocument> {
    (
        any::<bool>(),
        prop::sample::subsequence(ACTIONS.to_vec(), 1..=5),
        prop::collection::vec(
            (prop::collection::vec(template_level(), 1..4), any::<bool>()),
            1..3,
        ),
        prop::option::of(0u8..=2),
        0u8..3,
    )
        .prop_map(|(deny, actions, topics, qos, subjects)| {
            let topics: Vec<String> = topics
                .into_iter()
                .map(|(levels, hash)| {
                    let mut s = levels.join("/");
                    if hash {
                        s.push_str("/#");
                    }
                    s
                })
                .collect();
            let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            let mut r = RuleDocument::new(
                if deny { Effect::Deny } else { Effect::Allow },
                &actions,
                &topics,
            );
            if !deny {
                r.max_qos = qos;
            }
            match subjects {
                1 => r.usernames = vec!["a".to_string()],
                2 => r.anonymous_only = true,
                _ => {}
            }
            r
        })
}

fn assert_agree(policy: &Policy, ctx: &ClientContext<'_>, req: &Request<'_>) {
    let compiled = CompiledPolicy::compile(policy.clone());
    let fast = compiled.check_with_mode(ctx, req, SubscribeMode::Mosquitto);
    let slow = evaluate(policy, ctx, req, SubscribeMode::Mosquitto);
    assert_eq!(
        compiled.decide_with_mode(ctx, req, SubscribeMode::Mosquitto),
        (slow.effect, slow.reason),
        "untraced: {ctx:?} {req:?}"
    );
    assert_eq!(fast, slow, "{ctx:?} {req:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn imported_acl_files_agree(
        lines in prop::collection::vec(acl_line(), 0..8),
        client in identity(),
        username in prop::option::of(identity()),
        action in prop::sample::select(ACTIONS.to_vec()),
        topic in topic(),
        qos in 0u8..=2,
    ) {
        let acl = MosquittoAcl::parse(&lines.join("\n"));
        prop_assume!(acl.is_ok());
        let policy = Policy::from_document(acl.unwrap().import().document);
        prop_assume!(policy.is_ok());
        let ctx = ClientContext { client_id: client, username, ..Default::default() };
        assert_agree(&policy.unwrap(), &ctx, &Request { action, topic: &topic, qos });
    }

    #[test]
    fn written_policies_agree(
        rules in prop::collection::vec(rule(), 0..6),
        client in identity(),
        username in prop::option::of(identity()),
        cert_cn in prop::option::of(identity()),
        attr in prop::option::of(identity()),
        action in prop::sample::select(ACTIONS.to_vec()),
        topic in topic(),
        qos in 0u8..=3,
    ) {
        let policy = Policy::from_document(PolicyDocument { rules, ..Default::default() });
        prop_assume!(policy.is_ok());
        let attrs: Vec<(&str, &str)> = attr.iter().map(|v| ("t", *v)).collect();
        let ctx = ClientContext {
            client_id: client,
            username,
            cert_cn,
            attributes: &attrs,
            ..Default::default()
        };
        assert_agree(&policy.unwrap(), &ctx, &Request { action, topic: &topic, qos });
    }
}

fn one_rule(topic: &str) -> Policy {
    Policy::from_document(PolicyDocument {
        rules: vec![RuleDocument::new(
            Effect::Allow,
            &[Action::Publish],
            &[topic],
        )],
        ..Default::default()
    })
    .unwrap()
}

fn decide(policy: &Policy, client_id: &str, topic: &str) -> Reason {
    let ctx = ClientContext {
        client_id,
        ..Default::default()
    };
    let req = Request {
        action: Action::Publish,
        topic,
        qos: 0,
    };
    assert_agree(policy, &ctx, &req);
    CompiledPolicy::compile(policy.clone())
        .check_with_mode(&ctx, &req, SubscribeMode::Mosquitto)
        .reason
}

/// Exact decisions for ids mosquitto pastes in as text: a `/` adds levels, an empty id an empty
/// level, a `$` id reaches `$` topics literally; the substituted filter must still be a valid
/// filter by length (`id/+/#` for a 65,533-byte id is 65,537 bytes: it matches nothing,
/// although its levels would match the topic).
#[test]
fn ids_are_pasted_in_as_text() {
    let long_id = "a".repeat(MAX_TOPIC_BYTES - 2);
    let long_topic = format!("{long_id}/");
    let allowed = Reason::AllowedBy { rule: 0 };
    let none = Reason::NoMatchingRule;
    let cases: [(&str, &str, &str, Reason); 8] = [
        (
            "devices/${client_id}/#",
            "dev1/x",
            "devices/dev1/x/t",
            allowed,
        ),
        ("devices/${client_id}/#", "dev1/x", "devices/dev1/t", none),
        ("devices/${client_id}/#", "", "devices//t", allowed),
        ("${client_id}/#", "$SYS", "$SYS/broker", allowed),
        ("${client_id}/#", "dev", "$SYS/broker", none),
        ("+/#", "dev", "$SYS/broker", none),
        ("${client_id}/+/#", &long_id, &long_topic, none),
        ("${client_id}/#", &long_id, &long_topic, allowed),
    ];
    for (template, id, topic, expected) in cases {
        assert_eq!(
            decide(&one_rule(template), id, topic),
            expected,
            "{template} {id:.20} {topic:.20}"
        );
    }
}

#[test]
fn wildcard_client_ids_never_widen_a_template() {
    let policy = one_rule("devices/${client_id}/t");
    for id in ["+", "#", "a/+", "a#"] {
        assert!(matches!(
            decide(&policy, id, "devices/zzz/t"),
            Reason::PlaceholderUnusable { rule: 0, .. }
        ));
    }
}
