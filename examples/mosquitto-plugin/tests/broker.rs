//! Real peer: mosquitto 2.0 on 127.0.0.1 loads the plugin built by this `cargo test` and
//! enforces tests/data/policy.toml; mosquitto_pub / mosquitto_sub observe what gets through.
//!
//! With `CI=true` a missing mosquitto fails; elsewhere each test skips with a loud message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use support::{
    ALL_DENIED, Broker, Subscriber, Tools, publish, publish_retained, subscribe_once, tools,
};

const POLICY: &str = include_str!("data/policy.toml");

/// A monitor (username `monitor`, allowed to read `#`) whose subscription is live.
fn monitor(t: &Tools, broker: &Broker) -> Subscriber {
    let port = broker.port;
    let mut mon = Subscriber::start(t, port, "monitor-1", Some("monitor"), "#");
    mon.ready("devices/dev0/telemetry ready", || {
        publish(t, port, "dev0", None, "devices/dev0/telemetry", "ready");
    });
    mon
}

/// Publishes the sentinel and returns what the monitor got before it.
fn drain(t: &Tools, broker: &Broker, mon: &Subscriber) -> Vec<String> {
    publish(
        t,
        broker.port,
        "dev0",
        None,
        "devices/dev0/telemetry",
        "done",
    );
    mon.until("devices/dev0/telemetry done")
}

#[test]
fn allowed_publish_is_delivered_denied_publish_is_dropped_and_logged() {
    let Some(t) = tools("allowed_publish_is_delivered_denied_publish_is_dropped_and_logged") else {
        return;
    };
    let broker = Broker::start(&t, "publish", POLICY, &[]);
    assert!(
        broker.wait_for_log("iotsec-mqtt-acl: policy "),
        "no load line:\n{}",
        broker.log_text()
    );
    let mon = monitor(&t, &broker);
    publish(
        &t,
        broker.port,
        "dev1",
        None,
        "devices/dev1/telemetry",
        "t1",
    );
    publish(
        &t,
        broker.port,
        "dev1",
        None,
        "devices/dev2/telemetry",
        "forged",
    );
    publish(
        &t,
        broker.port,
        "dev1",
        None,
        "devices/dev1/cmd/x",
        "not-a-command-sender",
    );
    // the policy grants `publish`, not `publish_retained`
    publish_retained(&t, broker.port, "dev1", "devices/dev1/telemetry", "kept");
    assert_eq!(drain(&t, &broker, &mon), ["devices/dev1/telemetry t1"]);
    for line in [
        r#"iotsec-mqtt-acl: DENY publish client_id="dev1" username=(null) topic="devices/dev2/telemetry" qos=1: no_matching_rule: no rule grants this (default deny)"#,
        r#"iotsec-mqtt-acl: DENY publish client_id="dev1" username=(null) topic="devices/dev1/cmd/x" qos=1: no_matching_rule: no rule grants this (default deny)"#,
        r#"iotsec-mqtt-acl: DENY publish_retained client_id="dev1" username=(null) topic="devices/dev1/telemetry" qos=1: no_matching_rule: no rule grants this (default deny)"#,
    ] {
        assert!(
            broker.wait_for_log(line),
            "missing {line}\n{}",
            broker.log_text()
        );
    }
}

#[test]
fn strict_mode_refuses_subscriptions_beyond_the_grant() {
    let Some(t) = tools("strict_mode_refuses_subscriptions_beyond_the_grant") else {
        return;
    };
    let broker = Broker::start(&t, "strict", POLICY, &[]);
    let own = subscribe_once(&t, broker.port, "dev1", "devices/dev1/cmd/#");
    assert!(own.status.success(), "{}", own.stderr);
    assert!(!own.stderr.contains(ALL_DENIED), "{}", own.stderr);
    for filter in ["devices/+/cmd/#", "#", "devices/dev1/#"] {
        let out = subscribe_once(&t, broker.port, "dev1", filter);
        assert!(
            out.stderr.contains(ALL_DENIED),
            "{filter}: SUBACK not refused ({}):\n{}",
            out.status,
            out.stderr
        );
        let line = format!(
            r#"iotsec-mqtt-acl: DENY subscribe client_id="dev1" username=(null) topic={filter:?} qos=1: filter_not_contained: the subscription filter reaches topics no rule lets this client receive"#
        );
        assert!(
            broker.wait_for_log(&line),
            "missing {line}\n{}",
            broker.log_text()
        );
    }
}

#[test]
fn narrow_mode_grants_the_filter_and_checks_every_delivery() {
    let Some(t) = tools("narrow_mode_grants_the_filter_and_checks_every_delivery") else {
        return;
    };
    let broker = Broker::start(&t, "narrow", POLICY, &[("mode", "narrow")]);
    let port = broker.port;
    let mut dev1 = Subscriber::start(&t, port, "dev1", None, "devices/+/cmd/#");
    dev1.ready("devices/dev1/cmd/ready go", || {
        publish(
            &t,
            port,
            "ops",
            Some("backend"),
            "devices/dev1/cmd/ready",
            "go",
        );
    });
    publish(
        &t,
        port,
        "ops",
        Some("backend"),
        "devices/dev2/cmd/reboot",
        "other",
    );
    publish(
        &t,
        port,
        "ops",
        Some("backend"),
        "devices/dev1/cmd/reboot",
        "mine",
    );
    publish(
        &t,
        port,
        "ops",
        Some("backend"),
        "devices/dev1/cmd/end",
        "x",
    );
    assert_eq!(
        dev1.until("devices/dev1/cmd/end x"),
        ["devices/dev1/cmd/reboot mine"]
    );
    let line = r#"iotsec-mqtt-acl: DENY receive client_id="dev1" username=(null) topic="devices/dev2/cmd/reboot" qos=1: no_matching_rule: no rule grants this (default deny)"#;
    assert!(
        broker.wait_for_log(line),
        "missing {line}\n{}",
        broker.log_text()
    );
}

#[test]
fn client_ids_with_separators_or_wildcards_get_nothing() {
    let Some(t) = tools("client_ids_with_separators_or_wildcards_get_nothing") else {
        return;
    };
    let broker = Broker::start(&t, "client-ids", POLICY, &[]);
    let mon = monitor(&t, &broker);
    // CVE-2017-7650 class: with mosquitto's `pattern ... devices/%c/...` these ids would
    // reach other devices' topics.
    for id in ["dev1/x", "+", "#"] {
        for filter in ["devices/+/cmd/#", "devices/dev1/x/cmd/#", "devices/+/cmd/+"] {
            let out = subscribe_once(&t, broker.port, id, filter);
            assert!(
                out.stderr.contains(ALL_DENIED),
                "{id} {filter}: SUBACK not refused ({}):\n{}",
                out.status,
                out.stderr
            );
        }
        publish(
            &t,
            broker.port,
            id,
            None,
            "devices/dev1/x/telemetry",
            "escape",
        );
        publish(
            &t,
            broker.port,
            id,
            None,
            "devices/dev1/telemetry",
            "escape",
        );
    }
    assert_eq!(drain(&t, &broker, &mon), Vec::<String>::new());
    let line = r#"DENY publish client_id="dev1/x" username=(null) topic="devices/dev1/telemetry" qos=1: rule 0 ("device-telemetry"): placeholder"#;
    assert!(
        broker.wait_for_log(line),
        "missing {line}\n{}",
        broker.log_text()
    );
}

#[test]
fn will_is_checked_as_publish_when_the_broker_sends_it() {
    let Some(t) = tools("will_is_checked_as_publish_when_the_broker_sends_it") else {
        return;
    };
    let broker = Broker::start(&t, "will", POLICY, &[]);
    let mon = monitor(&t, &broker);
    // mosquitto 2.0 checks a will with MOSQ_ACL_WRITE when it is about to publish it (after
    // an unexpected disconnect), not at CONNECT.
    let mut forged = support::connect_with_will(
        &t,
        broker.port,
        "dev1",
        "devices/dev2/telemetry",
        "forged-will",
    );
    let mut honest =
        support::connect_with_will(&t, broker.port, "dev3", "devices/dev3/telemetry", "gone");
    for id in ["dev1", "dev3"] {
        assert!(
            broker.wait_for_log(&format!(" as {id} ")),
            "{id} never connected:\n{}",
            broker.log_text()
        );
    }
    for child in [&mut forged, &mut honest] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    for id in ["dev1", "dev3"] {
        assert!(
            broker.wait_for_log(&format!("Client {id} closed its connection")),
            "{}",
            broker.log_text()
        );
    }
    assert_eq!(drain(&t, &broker, &mon), ["devices/dev3/telemetry gone"]);
    let line = r#"iotsec-mqtt-acl: DENY publish client_id="dev1" username=(null) topic="devices/dev2/telemetry" qos=0: no_matching_rule: no rule grants this (default deny)"#;
    assert!(
        broker.wait_for_log(line),
        "missing {line}\n{}",
        broker.log_text()
    );
}

/// (name, policy text or `None` for a missing file, extra `plugin_opt_*` options)
type RefusalCase = (
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

#[test]
fn missing_or_broken_policy_refuses_to_start() {
    let Some(t) = tools("missing_or_broken_policy_refuses_to_start") else {
        return;
    };
    let cases: [RefusalCase; 5] = [
        ("missing", None, &[]),
        ("broken-toml", Some("[[rule]]\neffect = \"maybe\"\n"), &[]),
        (
            "bad-template",
            Some(
                "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a/x${client_id}\"]\n",
            ),
            &[],
        ),
        ("bad-mode", Some(POLICY), &[("mode", "lenient")]),
        // Not 0 or a power of two: refused, not rounded.
        ("bad-cache-size", Some(POLICY), &[("verdict_cache", "1000")]),
    ];
    for (name, policy, extra) in cases {
        let dir = support::scratch_dir(&format!("refuse-{name}"));
        let policy_path = dir.join("policy.toml");
        if let Some(text) = policy {
            std::fs::write(&policy_path, text).unwrap();
        }
        let p = policy_path.display().to_string();
        let mut options = vec![("policy", p.as_str())];
        options.extend_from_slice(extra);
        let conf = support::write_config(&dir, support::free_port(), &t.plugin, &options);
        let mut cmd = std::process::Command::new(&t.broker);
        cmd.arg("-c").arg(&conf);
        let out = support::run_bounded(cmd);
        assert!(
            !out.status.success(),
            "{name}: mosquitto started:\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("iotsec-mqtt-acl: refusing to start: "),
            "{name}: no log line:\n{}",
            out.stderr
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn sigterm_unloads_the_plugin_cleanly() {
    let Some(t) = tools("sigterm_unloads_the_plugin_cleanly") else {
        return;
    };
    let broker = Broker::start(&t, "sigterm", POLICY, &[]);
    publish(&t, broker.port, "dev1", None, "devices/dev2/telemetry", "x");
    assert!(broker.wait_for_log("DENY publish"));
    let (status, log) = broker.terminate();
    assert!(
        status.success(),
        "mosquitto exited with {status} after cleanup:\n{log}"
    );
    assert!(log.contains("terminating"), "{log}");
}
