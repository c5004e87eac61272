//! Strict SUBSCRIBE is exactly "every topic the filter can deliver would pass `receive`":
//! checked against brute-force enumeration of topics over a small alphabet (3 literals incl. a
//! `$` one, plus one fresh value, up to 5 levels) on random policies whose rules cover both
//! `subscribe` and `receive`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::policy::{PolicyDocument, RuleDocument};
use iotsec_mqtt_acl::topic::matches_levels;
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Request, TopicFilter,
};
use proptest::prelude::*;

const VALUES: [&str; 4] = ["a", "b", "$s", "z"];

fn all_topics() -> Vec<String> {
    let mut out = Vec::new();
    let mut layer: Vec<String> = VALUES.iter().map(|v| v.to_string()).collect();
    for _ in 0..5 {
        out.extend(layer.iter().cloned());
        layer = layer
            .iter()
            .flat_map(|t| VALUES.iter().map(move |v| format!("{t}/{v}")))
            .collect();
    }
    out
}

fn levels(with_placeholder: bool) -> impl Strategy<Value = String> {
    let level = if with_placeholder {
        prop_oneof![
            Just("a"),
            Just("b"),
            Just("$s"),
            Just("+"),
            Just("${client_id}")
        ]
        .boxed()
    } else {
        prop_oneof![Just("a"), Just("b"), Just("$s"), Just("+")].boxed()
    };
    (prop::collection::vec(level, 1..=4), any::<bool>()).prop_map(|(mut v, hash)| {
        if hash {
            v.pop();
            v.push("#");
        }
        v.join("/")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn strict_grant_iff_every_deliverable_topic_is_receivable(
        rules in prop::collection::vec((any::<bool>(), levels(true)), 0..5),
        filter in levels(false),
        client in prop_oneof![Just("a"), Just("b/a")],
    ) {
        let docs = rules
            .iter()
            .map(|(deny, t)| {
                let effect = if *deny { Effect::Deny } else { Effect::Allow };
                RuleDocument::new(effect, &[Action::Subscribe, Action::Receive], &[t.as_str()])
            })
            .collect();
        let policy = CompiledPolicy::compile(Policy::from_document(PolicyDocument { rules: docs, ..Default::default() }).unwrap());
        let ctx = ClientContext::new(client);
        let granted = policy.check(&ctx, &Request::new(Action::Subscribe, &filter)).effect == Effect::Allow;
        let f = TopicFilter::new(&filter).unwrap();
        let brute = all_topics()
            .iter()
            .filter(|t| matches_levels(f.levels(), t))
            .all(|t| policy.check(&ctx, &Request::new(Action::Receive, t)).effect == Effect::Allow);
        prop_assert_eq!(granted, brute, "filter {} client {} rules {:?}", filter, client, rules);
    }
}
