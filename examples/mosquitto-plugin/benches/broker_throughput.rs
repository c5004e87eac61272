//! Broker throughput and in-broker check latency: mosquitto 2.0 on 127.0.0.1, one publisher,
//! one subscriber, QoS 0 and QoS 1 (publisher window 20 = mosquitto's default receive
//! maximum), in three configurations of the same broker build in the same run:
//!
//! 1. no ACL;
//! 2. mosquitto's own `acl_file` with 1,000 `pattern` lines (999 that do not match, then the
//!    one that grants `bench/#`): every check walks them all;
//! 3. this plugin on the policy `MosquittoAcl::import` makes of that file, in `strict` mode
//!    (the compiled trie; for these client ids and topics it decides exactly as `mosquitto`
//!    mode) and in `mosquitto` mode (the same trie, placeholders pasted in as text).
//!
//! Then one more run of each plugin mode with `plugin_opt_check_timing true` for the check
//! latency inside the broker (p50/p99, logged by the plugin when it unloads).
//!
//! `cargo bench -p iotsec-mosquitto-plugin --bench broker_throughput` (add `-- N` for the
//! number of messages per run, default 20,000). Results: BENCHMARKS.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use iotsec_mqtt_acl::mosquitto_acl::MosquittoAcl;
use support::Broker;
use support::mqtt5::Client;

const TOPIC: &str = "bench/t";
const WINDOW: usize = 20;

fn acl_file() -> String {
    let mut text = String::new();
    for i in 0..999 {
        text.push_str(&format!("pattern readwrite fleet/%c/p{i}/#\n"));
    }
    text.push_str("pattern readwrite bench/#\n");
    text
}

/// Messages per second delivered to the subscriber (time from the first send to the last
/// delivery), and how many arrived.
fn throughput(port: u16, qos: u8, n: usize) -> (f64, usize) {
    let (mut sub, rc) = Client::connect(port, "bench-sub", None).unwrap();
    assert_eq!(rc, 0);
    assert_eq!(sub.subscribe_qos(TOPIC, qos), qos, "SUBACK");
    let (mut publisher, rc) = Client::connect(port, "bench-pub", None).unwrap();
    assert_eq!(rc, 0);
    // warm-up message, also proves the path is open
    assert!(publisher.publish_qos1(TOPIC, b"warm") < 0x80);
    let first = sub
        .next_message(Instant::now() + Duration::from_secs(10))
        .expect("warm-up message");
    assert_eq!(first.payload, b"warm");
    let receiver = std::thread::spawn(move || {
        let mut got = 0;
        let mut last = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(120);
        while got < n {
            match sub.next_message(deadline) {
                Some(_) => {
                    got += 1;
                    last = Instant::now();
                }
                None => break,
            }
        }
        (got, last)
    });
    let payload = [0x55u8; 64];
    let start = Instant::now();
    if qos == 0 {
        for _ in 0..n {
            publisher.publish_qos0(TOPIC, &payload);
        }
    } else {
        let mut inflight = 0;
        for _ in 0..n {
            if inflight == WINDOW {
                let (_, rc) = publisher.next_ack();
                assert!(rc < 0x80, "PUBACK {rc:#x}");
                inflight -= 1;
            }
            publisher.send_qos1(TOPIC, &payload);
            inflight += 1;
        }
        for _ in 0..inflight {
            publisher.next_ack();
        }
    }
    let (got, last) = receiver.join().unwrap();
    let secs = last.saturating_duration_since(start).as_secs_f64();
    (got as f64 / secs, got)
}

fn run(label: &str, broker: Broker, n: usize) -> [f64; 2] {
    let mut rates = [0.0; 2];
    for qos in [0u8, 1] {
        let (rate, got) = throughput(broker.port, qos, n);
        println!("{label:<32} QoS {qos}: {rate:>10.0} msg/s ({got} of {n} delivered)");
        rates[usize::from(qos)] = rate;
    }
    rates
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let Some(t) = support::tools("broker_throughput") else {
        return;
    };
    let acl = acl_file();
    let imported = MosquittoAcl::parse(&acl).unwrap().import();
    let policy = iotsec_mqtt_acl::Policy::from_document(imported.document)
        .unwrap()
        .to_toml_string()
        .unwrap();

    let none = run(
        "no ACL",
        Broker::start_plain(&t, support::scratch_dir("bench-none"), ""),
        n,
    );
    let dir = support::scratch_dir("bench-acl");
    std::fs::write(dir.join("acl"), &acl).unwrap();
    let body = format!("acl_file {}\n", dir.join("acl").display());
    let file = run(
        "acl_file, 1,000 patterns",
        Broker::start_plain(&t, dir, &body),
        n,
    );
    let mut plugin = Vec::new();
    for mode in ["strict", "mosquitto"] {
        let rates = run(
            &format!("plugin ({mode}), imported policy"),
            Broker::start(&t, &format!("bench-{mode}"), &policy, &[("mode", mode)]),
            n,
        );
        plugin.push((mode, rates));
    }
    for (qos, i) in [(0, 0), (1, 1)] {
        println!(
            "QoS {qos}: acl_file {:.1}% of no-ACL",
            100.0 * file[i] / none[i]
        );
        for (mode, rates) in &plugin {
            println!(
                "QoS {qos}: plugin ({mode}) {:.1}% of no-ACL, {:.1}x acl_file",
                100.0 * rates[i] / none[i],
                rates[i] / file[i]
            );
        }
    }
    // Check latency inside the broker (separate runs: timing itself costs two clock reads and
    // a push per check).
    for mode in ["strict", "mosquitto"] {
        let timed = Broker::start(
            &t,
            &format!("bench-timed-{mode}"),
            &policy,
            &[("mode", mode), ("check_timing", "true")],
        );
        throughput(timed.port, 0, n);
        let (_, log) = timed.terminate();
        let line = log
            .lines()
            .find(|l| l.contains("check timing"))
            .unwrap_or_else(|| panic!("no timing line:\n{log}"));
        println!("plugin ({mode}): {line}");
    }
}
