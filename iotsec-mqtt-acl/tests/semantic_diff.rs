//! Semantic diff: gained and lost access between policy versions, per identity.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_mqtt_acl::semantic_diff::semantic_diff;
use iotsec_mqtt_acl::{Action, Effect, Policy};

const OLD: &str = r##"
[[rule]]
effect = "allow"
actions = ["publish", "subscribe"]
topics = ["devices/${client_id}/#"]
[[rule]]
effect = "allow"
actions = ["receive"]
topics = ["ops/+/status"]
usernames = ["ops"]
"##;

#[test]
fn identical_policies_have_no_changes() {
    let p = Policy::from_toml_str(OLD).unwrap();
    assert!(semantic_diff(&p, &p).is_empty());
}

#[test]
fn gained_and_lost_access_are_reported_per_identity() {
    let old = Policy::from_toml_str(OLD).unwrap();
    let new = Policy::from_toml_str(&format!(
        "{OLD}\n[[rule]]\neffect = \"deny\"\nactions = [\"publish\"]\ntopics = [\"devices/+/firmware\"]\n[[rule]]\neffect = \"allow\"\nactions = [\"receive\"]\ntopics = [\"ops/#\"]\nusernames = [\"ops\"]\n"
    ))
    .unwrap();
    let changes = semantic_diff(&old, &new);
    assert!(changes.iter().any(|c| c.action == Action::Publish
        && c.topic == "devices/c1/firmware"
        && c.before == Effect::Allow
        && c.after == Effect::Deny));
    // Strict subscribe is judged against subscribe/receive denies only: a publish deny
    // changes no subscription.
    assert!(!changes.iter().any(|c| c.action == Action::Subscribe));
    let gained: Vec<_> = changes
        .iter()
        .filter(|c| c.after == Effect::Allow)
        .collect();
    assert!(!gained.is_empty());
    assert!(
        gained
            .iter()
            .all(|c| c.identity.contains("username ops") && c.action == Action::Receive),
        "{gained:?}"
    );
    assert!(
        gained.iter().any(|c| c.topic == "ops"),
        "# also matches its parent: {gained:?}"
    );
}
