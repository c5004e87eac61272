//! Real peer: what a fleet needs from the plugin inside mosquitto 2.0 on 127.0.0.1 — policy
//! reload on SIGHUP and on file change (connected clients included, a broken file keeps the
//! old policy), the posture feed (firmware conditions grant, quarantine applies to a connected
//! device) and the deny stream (operators only, rate-limited).
//!
//! Connected clients are `mosquitto_pub -l` (one connection, one PUBLISH per line, MQTT 5 QoS 1
//! so each PUBACK carries the decision: 0x87 = not authorized).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use support::{
    Broker, NOT_AUTHORIZED, Publisher, Subscriber, Tools, accepted, publish, suback_codes, tools,
};

const POLICY: &str = include_str!("data/fleet-policy.toml");

/// The policy with its first rule (own telemetry) removed: narrower.
fn narrowed() -> String {
    POLICY.replacen(
        "[[rule]]\nname = \"device-telemetry\"\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"devices/${client_id}/telemetry\"]\n",
        "",
        1,
    )
}

fn monitor(t: &Tools, broker: &Broker) -> Subscriber {
    let port = broker.port;
    let mut mon = Subscriber::start(t, port, "monitor-1", Some("monitor"), "devices/#");
    mon.ready("devices/probe/telemetry ready", || {
        publish(t, port, "probe", None, "devices/probe/telemetry", "ready");
    });
    mon
}

#[test]
fn sighup_narrows_a_connected_client_and_a_broken_policy_changes_nothing() {
    let Some(t) = tools("sighup_narrows_a_connected_client_and_a_broken_policy_changes_nothing")
    else {
        return;
    };
    let broker = Broker::start(&t, "sighup", POLICY, &[("watch", "false")]);
    assert_ne!(narrowed(), POLICY);
    let mon = monitor(&t, &broker);
    let mut dev1 = Publisher::connect(&t, broker.port, "dev1", None, "devices/dev1/telemetry");
    assert!(accepted(dev1.publish("before")));

    // A broken policy on SIGHUP: logged at WARNING, the old policy stays, dev1 keeps its rights.
    broker.replace_file("policy.toml", "[[rule]]\neffect = \"maybe\"\n");
    broker.hup();
    assert!(
        broker.wait_for_log(
            "iotsec-mqtt-acl: policy not reloaded, the previous one stays in force: "
        ),
        "{}",
        broker.log_text()
    );
    assert!(accepted(dev1.publish("after-broken")));

    // A valid narrower policy: dev1's next PUBLISH on the same connection is refused.
    broker.replace_file("policy.toml", &narrowed());
    broker.hup();
    assert!(
        broker.wait_for_log("iotsec-mqtt-acl: policy ")
            && broker.wait_for_log(" reloaded (3 rules)"),
        "{}",
        broker.log_text()
    );
    assert_eq!(dev1.publish("after-narrowing"), NOT_AUTHORIZED);
    assert_eq!(
        broker.count_log(" as dev1 "),
        1,
        "dev1 reconnected:\n{}",
        broker.log_text()
    );
    drop(dev1);
    publish(
        &t,
        broker.port,
        "probe",
        None,
        "devices/probe/quarantine",
        "end",
    );
    assert_eq!(
        mon.until("devices/probe/quarantine end"),
        [
            "devices/dev1/telemetry before",
            "devices/dev1/telemetry after-broken"
        ]
    );
    assert!(
        broker.wait_for_log(r#"DENY publish client_id="dev1" username=(null) topic="devices/dev1/telemetry" qos=1: no_matching_rule"#),
        "{}",
        broker.log_text()
    );
}

/// The verdict cache remembers dev1's allowed PUBLISH (and the monitor's deliveries); the
/// reload that takes the topic away must refuse the very next PUBLISH on the same connection,
/// not a later one.
#[test]
fn a_reload_refuses_the_next_publish_of_a_cached_allow() {
    let Some(t) = tools("a_reload_refuses_the_next_publish_of_a_cached_allow") else {
        return;
    };
    let broker = Broker::start(
        &t,
        "cached-allow",
        POLICY,
        &[("watch", "false"), ("verdict_cache", "1024")],
    );
    let mon = monitor(&t, &broker);
    let mut dev1 = Publisher::connect(&t, broker.port, "dev1", None, "devices/dev1/telemetry");
    // The first is decided and remembered, the others are answered from the cache.
    for n in ["one", "two", "three"] {
        assert!(accepted(dev1.publish(n)), "{n}");
    }
    broker.replace_file("policy.toml", &narrowed());
    broker.hup();
    assert!(
        broker.wait_for_log(" reloaded (3 rules)"),
        "{}",
        broker.log_text()
    );
    assert_eq!(dev1.publish("four"), NOT_AUTHORIZED);
    assert_eq!(dev1.publish("five"), NOT_AUTHORIZED);
    assert_eq!(
        broker.count_log(" as dev1 "),
        1,
        "dev1 reconnected:\n{}",
        broker.log_text()
    );
    // Still granted after the reload: the monitor's (re-decided) deliveries.
    publish(
        &t,
        broker.port,
        "probe",
        None,
        "devices/probe/quarantine",
        "end",
    );
    assert_eq!(
        mon.until("devices/probe/quarantine end"),
        [
            "devices/dev1/telemetry one",
            "devices/dev1/telemetry two",
            "devices/dev1/telemetry three"
        ]
    );
    let refused = r#"DENY publish client_id="dev1" username=(null) topic="devices/dev1/telemetry" qos=1: no_matching_rule"#;
    assert!(
        broker.wait_for_count(refused, 2) && broker.count_log(refused) == 2,
        "each refused PUBLISH is logged once:\n{}",
        broker.log_text()
    );
}

#[test]
fn a_changed_policy_file_is_picked_up_without_sighup() {
    let Some(t) = tools("a_changed_policy_file_is_picked_up_without_sighup") else {
        return;
    };
    let broker = Broker::start(&t, "watch", POLICY, &[]);
    let mut dev1 = Publisher::connect(&t, broker.port, "dev1", None, "devices/dev1/telemetry");
    assert!(accepted(dev1.publish("before")));
    broker.replace_file("policy.toml", &narrowed());
    assert!(
        broker.wait_for_log(" reloaded (3 rules)"),
        "{}",
        broker.log_text()
    );
    assert_eq!(dev1.publish("after"), NOT_AUTHORIZED);
    // broken on disk: one WARNING per change, not one per second
    broker.replace_file("policy.toml", "not toml at all = = =");
    assert!(
        broker.wait_for_log("policy not reloaded"),
        "{}",
        broker.log_text()
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(
        broker.count_log("policy not reloaded"),
        1,
        "{}",
        broker.log_text()
    );
    assert_eq!(dev1.publish("still-narrow"), NOT_AUTHORIZED);
    broker.replace_file("policy.toml", POLICY);
    assert!(
        broker.wait_for_log(" reloaded (4 rules)"),
        "{}",
        broker.log_text()
    );
    assert!(accepted(dev1.publish("widened-again")));
}

const HEALTHY: &str = r#"
[[device]]
client_id = "dev1"
firmware = "1.3.0"
quarantined = false

[[device]]
client_id = "dev2"
firmware = "1.1.9"
"#;

#[test]
fn posture_feed_grants_by_firmware_and_quarantines_a_connected_device() {
    let Some(t) = tools("posture_feed_grants_by_firmware_and_quarantines_a_connected_device")
    else {
        return;
    };
    let dir = support::scratch_dir("posture");
    std::fs::write(dir.join("posture.toml"), HEALTHY).unwrap();
    let posture = dir.join("posture.toml").display().to_string();
    let broker = Broker::start_in(
        &t,
        dir,
        POLICY,
        &[("posture", posture.as_str()), ("watch", "false")],
        "",
    );
    assert!(
        broker.wait_for_log("posture feed ") && broker.wait_for_log("with 2 entries"),
        "{}",
        broker.log_text()
    );
    let port = broker.port;
    // firmware condition: dev1 (1.3.0) granted, dev2 (1.1.9) not, dev3 (not in the feed) not
    let mut ota1 = Publisher::connect(&t, port, "dev1", None, "devices/dev1/ota/status");
    assert!(accepted(ota1.publish("ok")));
    let mut ota2 = Publisher::connect(&t, port, "dev2", None, "devices/dev2/ota/status");
    assert_eq!(ota2.publish("old-firmware"), NOT_AUTHORIZED);
    let mut ota3 = Publisher::connect(&t, port, "dev3", None, "devices/dev3/ota/status");
    assert_eq!(ota3.publish("unknown-posture"), NOT_AUTHORIZED);
    drop((ota1, ota2, ota3));

    let mut tel = Publisher::connect(&t, port, "dev1", None, "devices/dev1/telemetry");
    assert!(accepted(tel.publish("healthy")));

    // quarantine dev1 while it stays connected
    broker.replace_file(
        "posture.toml",
        &HEALTHY.replacen("quarantined = false", "quarantined = true", 1),
    );
    broker.hup();
    assert!(
        broker.wait_for_count("posture feed ", 2),
        "{}",
        broker.log_text()
    );
    assert_eq!(tel.publish("quarantined"), NOT_AUTHORIZED);
    let line = r#"DENY publish client_id="dev1" username=(null) topic="devices/dev1/telemetry" qos=1: no_matching_rule: no rule grants this (default deny); posture: quarantined"#;
    assert!(
        broker.wait_for_log(line),
        "missing {line}\n{}",
        broker.log_text()
    );

    // a broken posture feed (unknown key) keeps the previous one: dev1 stays quarantined
    broker.replace_file(
        "posture.toml",
        "[[device]]\nclient_id = \"dev1\"\nhealthy = true\n",
    );
    broker.hup();
    assert!(
        broker.wait_for_log("posture feed not reloaded, the previous one stays in force: ")
            && broker.wait_for_log("posture_feed_syntax"),
        "{}",
        broker.log_text()
    );
    assert_eq!(tel.publish("still-quarantined"), NOT_AUTHORIZED);

    // lifted again
    broker.replace_file("posture.toml", HEALTHY);
    broker.hup();
    assert!(
        broker.wait_for_count(" reloaded (2 entries)", 2),
        "{}",
        broker.log_text()
    );
    assert!(accepted(tel.publish("released")));
}

#[test]
fn quarantined_device_keeps_only_in_quarantine_rules() {
    let Some(t) = tools("quarantined_device_keeps_only_in_quarantine_rules") else {
        return;
    };
    let dir = support::scratch_dir("quarantine-rules");
    std::fs::write(
        dir.join("posture.json"),
        r#"{"devices": [{"client_id": "dev1", "quarantined": true, "firmware": "1.3.0"}]}"#,
    )
    .unwrap();
    let posture = dir.join("posture.json").display().to_string();
    let broker = Broker::start_in(&t, dir, POLICY, &[("posture", posture.as_str())], "");
    let port = broker.port;
    let mut q = Publisher::connect(&t, port, "dev1", None, "devices/dev1/quarantine");
    assert!(accepted(q.publish("here")));
    let mut ota = Publisher::connect(&t, port, "dev1", None, "devices/dev1/ota/status");
    assert_eq!(ota.publish("x"), NOT_AUTHORIZED);
}

/// A broker with the deny stream on `$iotsec/deny` for `ops`, 5 events per second per client
/// (the stream as a whole takes the default 10 x 5), and `ops` subscribed to it: the first
/// event (dev9's probe) has arrived.
fn deny_stream_broker(t: &Tools, name: &str) -> (Broker, Subscriber) {
    let broker = Broker::start(
        t,
        name,
        POLICY,
        &[
            ("deny_topic", "$iotsec/deny"),
            ("deny_readers", "ops"),
            ("deny_rate", "5"),
        ],
    );
    let port = broker.port;
    let mut ops = Subscriber::start(t, port, "ops-1", Some("ops"), "$iotsec/deny");
    let first = r#"$iotsec/deny {"action":"publish","client_id":"dev9","reason":"no_matching_rule: no rule grants this (default deny)","suppressed":0,"suppressed_total":0,"topic":"devices/dev8/telemetry","username":null}"#;
    ops.ready(first, || {
        publish(t, port, "dev9", None, "devices/dev8/telemetry", "probe");
    });
    (broker, ops)
}

#[test]
fn deny_stream_reaches_operators_only_and_is_rate_limited() {
    let Some(t) = tools("deny_stream_reaches_operators_only_and_is_rate_limited") else {
        return;
    };
    let (broker, ops) = deny_stream_broker(&t, "deny-stream");
    let port = broker.port;

    // Nobody else may read it, whatever the policy grants (monitor may read `#`).
    for (id, user) in [("monitor-2", Some("monitor")), ("dev1", None)] {
        assert_eq!(
            suback_codes(&t, port, id, user, "mqttv5", &["$iotsec/deny"], &[]),
            [0x87],
            "{id}"
        );
    }
    // Nobody may write it.
    let mut forger = Publisher::connect(&t, port, "dev1", Some("ops"), "$iotsec/deny");
    assert_eq!(forger.publish(r#"{"action":"fake"}"#), NOT_AUTHORIZED);
    drop(forger);

    // A flood of 300 denials in well under a second gives at most burst + rate x time events.
    std::thread::sleep(std::time::Duration::from_millis(1200)); // refill the bucket
    let start = std::time::Instant::now();
    let mut flood = Publisher::connect(&t, port, "dev7", None, "devices/dev6/telemetry");
    for i in 0..300 {
        assert_eq!(flood.publish(&format!("f{i}")), NOT_AUTHORIZED);
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(flood);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    publish(&t, port, "dev5", None, "devices/end/telemetry", "sentinel");
    let (seen, sentinel) =
        ops.until_prefix(r#"$iotsec/deny {"action":"publish","client_id":"dev5""#);
    assert!(
        seen.iter().all(|l| l.contains(r#""client_id":"dev7""#)),
        "only flood events expected (no forged or subscribe-denial events): {seen:?}"
    );
    let limit = 5.0 + 5.0 * elapsed + 1.0;
    assert!(
        !seen.is_empty() && (seen.len() as f64) <= limit,
        "{} flood events in {elapsed:.2} s (limit {limit:.1})",
        seen.len()
    );
    // Every flood denial is an event, or counted in a later dev7 event's `suppressed` (its own
    // drops), or in the next event's `suppressed_total` (the stream's drops since then).
    let counted: u64 = seen.iter().map(|l| count(l, "suppressed")).sum::<u64>()
        + count(&sentinel, "suppressed_total")
        + seen.len() as u64;
    assert_eq!(count(&sentinel, "suppressed"), 0, "{sentinel}");
    assert_eq!(counted, 300, "{seen:?}\n{sentinel}");
}

/// The number after `"key":` in a deny-stream line.
fn count(line: &str, key: &str) -> u64 {
    line.split(&format!(r#""{key}":"#))
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key} count in {line}"))
}

#[test]
fn a_flooding_client_does_not_crowd_another_out_of_the_deny_stream() {
    let Some(t) = tools("a_flooding_client_does_not_crowd_another_out_of_the_deny_stream") else {
        return;
    };
    let (broker, ops) = deny_stream_broker(&t, "deny-stream-per-client");
    let port = broker.port;
    let mut flood = Publisher::connect(&t, port, "dev7", None, "devices/dev6/telemetry");
    let mut other = Publisher::connect(&t, port, "dev4", None, "devices/dev3/telemetry");
    let start = std::time::Instant::now();
    for i in 0..300 {
        assert_eq!(flood.publish(&format!("f{i}")), NOT_AUTHORIZED);
        if i == 150 {
            // dev7 has used its share long ago: dev4's one denial still goes out.
            assert_eq!(other.publish("probe-dev3"), NOT_AUTHORIZED);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop((flood, other));
    publish(&t, port, "dev5", None, "devices/end/telemetry", "sentinel");
    let (seen, _) = ops.until_prefix(r#"$iotsec/deny {"action":"publish","client_id":"dev5""#);
    let from = |id: &str| -> Vec<&String> {
        seen.iter()
            .filter(|l| l.contains(&format!(r#""client_id":"{id}""#)))
            .collect()
    };
    assert_eq!(from("dev4").len(), 1, "{seen:?}");
    assert!(
        from("dev4")[0].contains(r#""topic":"devices/dev3/telemetry""#),
        "{seen:?}"
    );
    let flood_events = from("dev7").len();
    let limit = 5.0 + 5.0 * elapsed + 1.0;
    assert!(
        flood_events >= 5 && (flood_events as f64) <= limit,
        "{flood_events} flood events in {elapsed:.2} s (limit {limit:.1})"
    );
    assert_eq!(flood_events + 1, seen.len(), "{seen:?}");
}
