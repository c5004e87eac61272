//! Deny rules with a firmware condition catch the pre-releases inside their range; allow rules
//! keep Cargo's stricter reading. `version_range::in_range` agrees with `semver`'s own bounds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use iotsec_mqtt_acl::decision::{PostureCheck, RuleOutcome};
use iotsec_mqtt_acl::semver::{Version, VersionReq};
use iotsec_mqtt_acl::version_range::in_range;
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Effect, Policy, Posture, Request};
use proptest::prelude::*;

const POLICY: &str = r#"
[[rule]]
effect = "allow"
actions = ["publish"]
topics = ["devices/${client_id}/#"]

[[rule]]
effect = "deny"
actions = ["publish"]
topics = ["devices/#"]
firmware = "<1.4.0"

[[rule]]
effect = "allow"
actions = ["subscribe"]
topics = ["ota/stable"]
firmware = ">=1.4.0"
"#;

fn effect(firmware: &str, action: Action, topic: &str) -> Effect {
    let c = CompiledPolicy::compile(Policy::from_toml_str(POLICY).unwrap());
    let ctx = ClientContext {
        client_id: "dev1",
        posture: Posture {
            firmware: Some(Version::parse(firmware).unwrap()),
            ..Default::default()
        },
        ..Default::default()
    };
    c.check(&ctx, &Request::new(action, topic)).effect
}

#[test]
fn deny_below_a_version_covers_its_pre_releases() {
    let publish = |v| effect(v, Action::Publish, "devices/dev1/t");
    assert_eq!(publish("1.3.0"), Effect::Deny);
    assert_eq!(publish("1.3.0-rc.1"), Effect::Deny, "1.3.0-rc.1 < 1.4.0");
    assert_eq!(publish("1.0.0-beta"), Effect::Deny);
    assert_eq!(publish("1.4.0-dev"), Effect::Deny, "1.4.0-dev < 1.4.0");
    assert_eq!(publish("1.4.0"), Effect::Allow);
    assert_eq!(publish("1.4.1-rc.1"), Effect::Allow);
    assert_eq!(publish("2.0.0+build.7"), Effect::Allow);
}

#[test]
fn allow_keeps_cargos_reading_of_pre_releases() {
    let subscribe = |v| effect(v, Action::Subscribe, "ota/stable");
    assert_eq!(subscribe("1.4.0"), Effect::Allow);
    assert_eq!(
        subscribe("1.5.0-rc.1"),
        Effect::Deny,
        "no comparator names 1.5.0-*"
    );
    let c = CompiledPolicy::compile(Policy::from_toml_str(POLICY).unwrap());
    let ctx = ClientContext {
        client_id: "dev1",
        posture: Posture {
            firmware: Some(Version::parse("1.5.0-rc.1").unwrap()),
            ..Default::default()
        },
        ..Default::default()
    };
    let d = c.check(&ctx, &Request::new(Action::Subscribe, "ota/stable"));
    assert_eq!(
        d.trace.entries()[0].outcome,
        RuleOutcome::PostureNotMet {
            check: PostureCheck::Firmware
        }
    );
}

fn comparator() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec!["=", ">", ">=", "<", "<=", "~", "^", ""]);
    let pre = prop::sample::select(vec!["", "-0", "-1", "-alpha", "-alpha.1", "-beta", "-rc.1"]);
    (
        op,
        0u64..3,
        prop::option::of(0u64..3),
        prop::option::of(0u64..3),
        pre,
        any::<bool>(),
    )
        .prop_map(
            |(op, major, minor, patch, pre, wildcard)| match (minor, patch) {
                (Some(minor), Some(patch)) => format!("{op}{major}.{minor}.{patch}{pre}"),
                (Some(minor), None) if wildcard => format!("{major}.{minor}.*"),
                (Some(minor), None) => format!("{op}{major}.{minor}"),
                (None, _) if wildcard => format!("{major}.*"),
                (None, _) => format!("{op}{major}"),
            },
        )
}

fn version() -> impl Strategy<Value = String> {
    let pre = prop::sample::select(vec!["", "-0", "-1", "-alpha", "-alpha.1", "-beta", "-rc.1"]);
    (0u64..3, 0u64..3, 0u64..3, pre).prop_map(|(a, b, c, pre)| format!("{a}.{b}.{c}{pre}"))
}

proptest! {
    /// `semver` gates pre-releases only when no comparator names their major.minor.patch with a
    /// pre-release; adding `>=M.m.p-0` (true for every M.m.p pre-release and for M.m.p itself)
    /// lifts the gate and leaves `semver`'s bounds: `in_range` must agree with that exactly.
    #[test]
    fn in_range_is_semvers_bounds_without_the_pre_release_gate(
        comparators in prop::collection::vec(comparator(), 1..3),
        v in version(),
    ) {
        let req_text = comparators.join(", ");
        let req = VersionReq::parse(&req_text);
        prop_assume!(req.is_ok());
        let req = req.unwrap();
        let v = Version::parse(&v).unwrap();
        let lifted = VersionReq::parse(&format!("{req_text}, >={}.{}.{}-0", v.major, v.minor, v.patch)).unwrap();
        prop_assert_eq!(in_range(&req, &v), lifted.matches(&v), "{} vs {}", req_text, v);
        if v.pre.is_empty() {
            prop_assert_eq!(in_range(&req, &v), req.matches(&v));
        }
    }
}
