//! Property test: the plugin with its verdict cache decides every check exactly as the uncached
//! decision function does with the policy and posture feed in force at that moment, over random
//! sequences of checks, policy reloads, posture-feed reloads (quarantine, firmware, revocation,
//! attestation times) and a moving clock (attestation-age conditions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use iotsec_mosquitto_plugin::options::DenyStream;
use iotsec_mosquitto_plugin::plugin::{load_policy, load_posture};
use iotsec_mosquitto_plugin::{AclRequest, Context, Options, Plugin, authorize_in};
use iotsec_mqtt_acl::{CompiledPolicy, SubscribeMode};
use proptest::prelude::*;

/// Policies the sequence swaps between: age-conditioned grants, quarantine-tolerant grants,
/// firmware ranges, per-client templates, deny rules, username subjects.
const POLICIES: [&str; 3] = [
    r#"
[[rule]]
effect = "allow"
actions = ["publish", "subscribe", "receive"]
topics = ["d/${client_id}/#"]

[[rule]]
effect = "allow"
actions = ["publish", "receive"]
topics = ["fresh/#"]
max_attestation_age_secs = 10

[[rule]]
effect = "allow"
actions = ["publish", "publish_retained", "receive", "subscribe"]
topics = ["shared/#"]
in_quarantine = true

[[rule]]
effect = "deny"
actions = ["publish"]
topics = ["shared/locked"]
max_attestation_age_secs = 5
"#,
    r#"
[[rule]]
effect = "allow"
actions = ["publish", "receive", "subscribe"]
topics = ["shared/#", "fresh/#"]
max_qos = 1
firmware = ">=1.0.0"

[[rule]]
effect = "allow"
actions = ["receive"]
topics = ["d/+/#"]
usernames = ["ops"]
"#,
    r#"
[[rule]]
effect = "allow"
actions = ["publish", "receive", "subscribe"]
topics = ["d/${username}/#", "shared/+"]

[[rule]]
effect = "deny"
actions = ["receive"]
topics = ["shared/locked"]
"#,
];

/// Posture feeds: attestation times around the moving clock, quarantine, firmware, revocation.
const FEEDS: [&str; 3] = [
    r#"
[[device]]
client_id = "dev1"
attested_at = 1000
firmware = "1.2.0"

[[device]]
client_id = "dev2"
quarantined = true
attested_at = 1008
"#,
    r#"
[[device]]
client_id = "dev1"
attested_at = 1004
quarantined = true

[[device]]
client_id = "dev2"
revoked = true
"#,
    r#"
[[device]]
client_id = "dev2"
firmware = "0.9.0"
attested_at = 1012
"#,
];

/// Indices into the tables below, and the access value, QoS and retain flag.
type Spec = (usize, usize, i32, usize, u8, bool);

#[derive(Clone, Debug)]
enum Step {
    /// A check of one of the case's requests (a small pool, so that requests repeat).
    Check(usize),
    Policy(usize),
    Feed(usize),
    Clock(u64),
}

const CLIENTS: [&[u8]; 4] = [b"dev1", b"dev2", b"ops", b"dev\xff"];
const USERS: [Option<&[u8]>; 4] = [None, Some(b"dev1"), Some(b"ops"), Some(b"")];
const TOPICS: [&[u8]; 10] = [
    b"d/dev1/t",
    b"d/dev2/t",
    b"d/ops/x",
    b"fresh/a",
    b"shared/locked",
    b"shared/a",
    b"shared/#",
    b"$iotsec/deny",
    b"shared/\0",
    b"d/+/#",
];

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..CLIENTS.len(),
        0..USERS.len(),
        prop_oneof![Just(1), Just(2), Just(4), Just(8), Just(3)],
        0..TOPICS.len(),
        prop_oneof![4 => Just(0u8), 4 => Just(1), 1 => Just(2), 1 => Just(3)],
        any::<bool>(),
    )
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0usize..8).prop_map(Step::Check),
        1 => (0..POLICIES.len()).prop_map(Step::Policy),
        1 => (0..FEEDS.len()).prop_map(Step::Feed),
        2 => (0u64..6).prop_map(Step::Clock),
    ]
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("iotsec-cache-agreement-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The watcher sees a change by modification time, length or inode: lengths that differ make
/// every swap visible even within one timestamp tick.
#[test]
fn swapped_files_differ_in_length() {
    for set in [POLICIES, FEEDS] {
        let mut lens: Vec<usize> = set.iter().map(|t| t.len()).collect();
        lens.sort_unstable();
        lens.dedup();
        assert_eq!(lens.len(), set.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn cached_plugin_decides_as_the_uncached_function(
        pool in prop::collection::vec(spec(), 1..8),
        steps in prop::collection::vec(step(), 1..80),
        entries in prop_oneof![Just(2usize), Just(4), Just(1024)],
        mode in prop_oneof![Just(SubscribeMode::Strict), Just(SubscribeMode::Narrow), Just(SubscribeMode::Mosquitto)],
        username_is_cert_cn in any::<bool>(),
        case in any::<u64>(),
    ) {
        let dir = dir();
        let policy_path = dir.join(format!("policy-{case}.toml"));
        let feed_path = dir.join(format!("posture-{case}.toml"));
        std::fs::write(&policy_path, POLICIES[0]).unwrap();
        std::fs::write(&feed_path, FEEDS[0]).unwrap();
        let mut options = Options::new(&policy_path, mode);
        options.posture = Some(feed_path.clone());
        options.username_is_cert_cn = username_is_cert_cn;
        // Swaps go through the watcher, which reloads only the file that changed (`reload`
        // re-reads both).
        options.watch = true;
        options.verdict_cache = entries;
        options.deny_stream = Some(DenyStream {
            topic: "$iotsec/deny".into(),
            readers: vec!["ops".into()],
            rate: 5,
            rate_total: 50,
        });
        let plugin = Plugin::load(&options).unwrap();
        let (mut policy, mut feed) = (POLICIES[0], FEEDS[0]);
        let mut now = 1000u64;
        let mut checks = 0;
        let mut look = std::time::Instant::now();
        let mut watch = |plugin: &Plugin| {
            look += 2 * iotsec_mosquitto_plugin::plugin::WATCH_INTERVAL;
            plugin.watch(look);
        };
        for step in steps {
            match step {
                Step::Policy(i) => {
                    policy = POLICIES[i];
                    std::fs::write(&policy_path, policy).unwrap();
                    watch(&plugin);
                }
                Step::Feed(i) => {
                    feed = FEEDS[i];
                    std::fs::write(&feed_path, feed).unwrap();
                    watch(&plugin);
                }
                Step::Clock(d) => now += d,
                Step::Check(i) => {
                    let (client, user, access, topic, qos, retain) = pool[i % pool.len()];
                    let req = AclRequest {
                        client_id: Some(CLIENTS[client]),
                        username: USERS[user],
                        access,
                        topic: Some(TOPICS[topic]),
                        qos,
                        retain,
                    };
                    // Twice: the second is answered from the cache when the first was a
                    // cacheable allow.
                    for _ in 0..2 {
                        checks += 1;
                        let compiled = CompiledPolicy::compile(load_policy(&policy_path).unwrap());
                        let posture = load_posture(&feed_path).unwrap();
                        let cx = Context {
                            posture: Some(&posture),
                            now,
                            username_is_cert_cn,
                            deny_stream: options.deny_stream.as_ref(),
                        };
                        let expected = authorize_in(&compiled, mode, &req, &cx);
                        prop_assert_eq!(
                            plugin.check_at(&req, now), expected,
                            "check {} {:?} at {} (policy {:?}, feed {:?})", checks, req, now, policy, feed
                        );
                    }
                }
            }
        }
        let _ = std::fs::remove_file(&policy_path);
        let _ = std::fs::remove_file(&feed_path);
    }
}
