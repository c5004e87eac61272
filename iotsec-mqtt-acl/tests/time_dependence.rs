//! `CompiledPolicy::decide_untraced` says whether a decision read the time (an attestation-age
//! condition was evaluated): exact cases, and the property a verdict cache relies on — a
//! decision that did not read the time is the same at every attestation age.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::policy::{PolicyDocument, RuleDocument};
use iotsec_mqtt_acl::{
    Action, ClientContext, CompiledPolicy, Effect, Policy, Request, SubscribeMode,
};
use proptest::prelude::*;

fn compile(rules: Vec<RuleDocument>) -> CompiledPolicy {
    CompiledPolicy::compile(
        Policy::from_document(PolicyDocument {
            rules,
            ..Default::default()
        })
        .unwrap(),
    )
}

/// `fresh/#` needs an attestation at most 60 s old; `plain/#` needs nothing.
fn policy() -> CompiledPolicy {
    let all = [Action::Publish, Action::Receive, Action::Subscribe];
    let mut fresh = RuleDocument::new(Effect::Allow, &all, &["fresh/#"]);
    fresh.max_attestation_age_secs = Some(60);
    let mut deny_stale = RuleDocument::new(Effect::Deny, &[Action::Publish], &["guarded/#"]);
    deny_stale.max_attestation_age_secs = Some(10);
    let guarded = RuleDocument::new(Effect::Allow, &[Action::Publish], &["guarded/#"]);
    let plain = RuleDocument::new(Effect::Allow, &all, &["plain/#"]);
    compile(vec![fresh, deny_stale, guarded, plain])
}

fn ctx(age: Option<u64>) -> ClientContext<'static> {
    let mut ctx = ClientContext::new("dev1");
    ctx.posture.attestation_age_secs = age;
    ctx
}

fn decide(
    p: &CompiledPolicy,
    age: Option<u64>,
    action: Action,
    topic: &str,
    mode: SubscribeMode,
) -> (Effect, bool) {
    let d = p.decide_untraced(&ctx(age), &Request::new(action, topic), mode);
    (d.effect, d.reads_time)
}

#[test]
fn flags_exactly_the_decisions_that_evaluated_an_age_condition() {
    let p = policy();
    let strict = SubscribeMode::Strict;
    // No age condition on the way: time-independent, allowed or not.
    assert_eq!(
        decide(&p, Some(5), Action::Publish, "plain/x", strict),
        (Effect::Allow, false)
    );
    assert_eq!(
        decide(&p, None, Action::Publish, "other/x", strict),
        (Effect::Deny, false)
    );
    assert_eq!(
        decide(&p, Some(5), Action::Subscribe, "plain/#", strict),
        (Effect::Allow, false)
    );
    // The age condition decided: allowed while fresh, refused once stale or unknown.
    assert_eq!(
        decide(&p, Some(60), Action::Publish, "fresh/x", strict),
        (Effect::Allow, true)
    );
    assert_eq!(
        decide(&p, Some(61), Action::Publish, "fresh/x", strict),
        (Effect::Deny, true)
    );
    assert_eq!(
        decide(&p, None, Action::Receive, "fresh/x", strict),
        (Effect::Deny, true)
    );
    assert_eq!(
        decide(&p, Some(1), Action::Subscribe, "fresh/a", strict),
        (Effect::Allow, true)
    );
    // A deny rule with an age condition: evaluated, so time-dependent even when it allows.
    assert_eq!(
        decide(&p, Some(11), Action::Publish, "guarded/x", strict),
        (Effect::Allow, true)
    );
    assert_eq!(
        decide(&p, Some(10), Action::Publish, "guarded/x", strict),
        (Effect::Deny, true)
    );
    // A subscription overlapping the age-conditioned templates reads the time.
    assert!(decide(&p, Some(1), Action::Subscribe, "+/x", SubscribeMode::Narrow).1);
    // mosquitto mode grants SUBSCRIBE without rules: nothing read.
    assert_eq!(
        decide(
            &p,
            None,
            Action::Subscribe,
            "fresh/#",
            SubscribeMode::Mosquitto
        ),
        (Effect::Allow, false)
    );
    // A bad QoS is refused before any rule.
    let d = p.decide_untraced(
        &ctx(Some(1)),
        &Request {
            action: Action::Publish,
            topic: "fresh/x",
            qos: 3,
        },
        strict,
    );
    assert_eq!((d.effect, d.reads_time), (Effect::Deny, false));
    // `decide_with_mode` is the same effect and reason.
    for topic in ["fresh/x", "plain/x", "guarded/x", "other"] {
        let d = p.decide_untraced(
            &ctx(Some(30)),
            &Request::new(Action::Publish, topic),
            strict,
        );
        assert_eq!(
            p.decide_with_mode(
                &ctx(Some(30)),
                &Request::new(Action::Publish, topic),
                strict
            ),
            (d.effect, d.reason)
        );
    }
}

fn level() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("+"),
        Just("${client_id}"),
        Just("${username}")
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
        prop::sample::subsequence(
            vec![Action::Publish, Action::Receive, Action::Subscribe],
            1..=3,
        ),
        prop::collection::vec(template(), 1..3),
        prop::option::of(0u64..4),
        any::<bool>(),
    )
        .prop_map(|(deny, actions, topics, age, quarantine)| {
            let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            let mut r = RuleDocument::new(
                if deny { Effect::Deny } else { Effect::Allow },
                &actions,
                &topics,
            );
            r.max_attestation_age_secs = age;
            if !deny {
                r.in_quarantine = quarantine;
            }
            r
        })
}

fn request_topic() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("dev"), Just("+"), Just("#")],
        1..4,
    )
    .prop_map(|v| v.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(800))]
    /// What a cache of decisions relies on: a decision that did not read the time is the same
    /// (effect and reason) at every attestation age, unknown included.
    #[test]
    fn decisions_that_did_not_read_the_time_do_not_change_with_it(
        rules in prop::collection::vec(rule(), 0..6),
        username in prop::option::of(prop_oneof![Just("a"), Just("dev")]),
        quarantined in any::<bool>(),
        age in prop::option::of(0u64..6),
        action in prop_oneof![Just(Action::Publish), Just(Action::Receive), Just(Action::Subscribe)],
        topic in request_topic(),
        mode in prop_oneof![Just(SubscribeMode::Strict), Just(SubscribeMode::Narrow), Just(SubscribeMode::Mosquitto)],
    ) {
        let policy = Policy::from_document(PolicyDocument { rules, ..Default::default() });
        prop_assume!(policy.is_ok());
        let compiled = CompiledPolicy::compile(policy.unwrap());
        let at = |age: Option<u64>| {
            let mut ctx = ClientContext { client_id: "dev", username, ..Default::default() };
            ctx.posture.quarantined = quarantined;
            ctx.posture.attestation_age_secs = age;
            compiled.decide_untraced(&ctx, &Request::new(action, &topic), mode)
        };
        let first = at(age);
        let any_age_rule = compiled.policy().rules().iter().any(|r| r.posture.max_attestation_age_secs.is_some());
        if !any_age_rule {
            prop_assert!(!first.reads_time);
        }
        let mut changed = false;
        for other in [None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(u64::MAX)] {
            let d = at(other);
            changed |= (d.effect, &d.reason) != (first.effect, &first.reason);
            if !first.reads_time {
                prop_assert_eq!(&d, &first, "age {:?} vs {:?}", other, age);
            }
        }
        // Conversely, a decision that changes with the age says it read the time.
        prop_assert!(!changed || first.reads_time);
    }
}
