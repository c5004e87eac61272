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
//! Method: the no-ACL broker and the two plugin brokers run side by side, each is warmed up,
//! then each QoS is measured in interleaved rounds (ABC, CBA, ABC, ...); each round gives the
//! ratio plugin / no ACL of runs taken seconds apart, and the median of those ratios is the
//! figure (a single sequential run on this shared machine moved by +-50% between runs). Beside
//! the rate, the broker's own CPU time per message (`/proc/PID/stat`) is reported: it does not
//! depend on what other processes take from the machine, and for a CPU-bound broker its inverse
//! is the throughput, so no-ACL CPU / plugin CPU per round is the steadier throughput ratio.
//! mosquitto's acl_file (~100x slower) is measured once per QoS for reference. Then one more run
//! of each plugin mode with `plugin_opt_check_timing true` for the check latency inside the
//! broker (p50/p99, logged by the plugin when it unloads), and one of `strict` with the verdict
//! cache off (`plugin_opt_verdict_cache 0`): the latency of the uncached path, a cache miss.
//!
//! Before the rates, the load-independent measure: the broker's user-space instructions per
//! message, counted by `valgrind --tool=callgrind` (no ACL, both plugin modes, and `strict`
//! with the verdict cache off; QoS 0 and 1;
//! the difference between a run of M and one of M/5 messages, so start-up and shutdown cancel
//! out). Skipped, loudly, without valgrind.
//!
//! `cargo bench -p iotsec-mosquitto-plugin --bench broker_throughput` (add `-- N ROUNDS M` for the
//! messages per rate run, default 20,000, the rounds, default 5, and the messages of the larger
//! callgrind run, default 10,000; `rates` or `instructions` runs only that part). Results:
//! BENCHMARKS.md.
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
            // A QoS 0 message the broker dropped (queue full) never comes: stop after 2 s of
            // silence rather than at the outer deadline.
            match sub.next_message(deadline.min(last + Duration::from_secs(2))) {
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

/// CPU time (user, system) the process `pid` has used so far, in seconds: fields 14 and 15
/// of `/proc/PID/stat` (proc(5)), in clock ticks of 1/100 s (`getconf CLK_TCK` on Linux).
fn cpu_secs(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks = |i: usize| fields[i].parse::<u64>().unwrap() as f64 / 100.0;
    (ticks(11), ticks(12))
}

/// The median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// "[r0, r1, ...], median M (range LO-HI)" of `ratio(ours, base)` round by round.
fn per_round(ours: &[f64], base: &[f64], ratio: impl Fn(f64, f64) -> f64) -> String {
    let mut ratios: Vec<f64> = ours.iter().zip(base).map(|(o, b)| ratio(*o, *b)).collect();
    let list: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    let med = median(&mut ratios);
    format!(
        "[{}], median {med:.3} (range {:.3}-{:.3})",
        list.join(", "),
        ratios[0],
        ratios[ratios.len() - 1]
    )
}

/// No limit on the messages queued for the subscriber (mosquitto's default of 1,000 drops QoS 1
/// messages when the subscriber falls behind the publisher's window): every configuration
/// delivers every message, so rates and CPU per message count the same work.
const QUEUE: &str = "max_queued_messages 0\n";

/// A broker with the plugin, the policy and `options`, with [`QUEUE`].
fn plugin_broker(t: &support::Tools, name: &str, policy: &str, options: &[(&str, &str)]) -> Broker {
    Broker::start_in(t, support::scratch_dir(name), policy, options, QUEUE)
}

/// One configuration under test: a running broker and the rates measured on it.
struct Config {
    label: &'static str,
    broker: Broker,
    /// rates[qos][round]
    rates: [Vec<f64>; 2],
    /// The broker's CPU time per delivered message, in µs: cpu[qos][round]
    cpu: [Vec<f64>; 2],
    /// The user-space part of it (the plugin runs in user space; the kernel's share is the
    /// socket work, which no ACL changes): user[qos][round]
    user: [Vec<f64>; 2],
}

/// Starts one configuration's broker with the given tools.
type StartBroker<'a> = &'a dyn Fn(&support::Tools) -> Broker;

/// `valgrind`, for the instruction counts (`None`: that part is skipped, loudly).
fn valgrind() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("valgrind"))
        .find(|p| p.is_file())
}

/// The `summary:` line of a callgrind output file: the instructions executed (Ir) by the
/// whole process.
fn callgrind_total(out: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(out).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:"))
        .unwrap_or_else(|| panic!("no summary line in {}", out.display()));
    line.trim().parse().unwrap()
}

/// One broker run under `valgrind --tool=callgrind`: starts it with `start`, moves `n`
/// messages at `qos` with [`throughput`], stops it, and returns the instructions the broker
/// process executed in total (start-up and shutdown included).
fn instructions_of_run(
    t: &support::Tools,
    valgrind: &std::path::Path,
    dir: &std::path::Path,
    start: StartBroker<'_>,
    qos: u8,
    n: usize,
) -> u64 {
    let out = dir.join(format!("callgrind.q{qos}.n{n}.out"));
    // The broker is started through a script (Broker::spawn runs `tools.broker -c CONF`);
    // `exec` keeps the pid, so SIGTERM reaches the broker and callgrind writes its file.
    let wrapper = dir.join(format!("mosquitto-callgrind-q{qos}-n{n}.sh"));
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} --tool=callgrind --callgrind-out-file={} {} \"$@\"\n",
            valgrind.display(),
            out.display(),
            t.broker.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .unwrap();
    let tools = support::Tools {
        broker: wrapper,
        publish: t.publish.clone(),
        subscribe: t.subscribe.clone(),
        plugin: t.plugin.clone(),
    };
    let broker = start(&tools);
    let (_, got) = throughput(broker.port, qos, n);
    assert_eq!(got, n, "every message delivered");
    let (status, log) = broker.terminate();
    assert!(status.success(), "broker under callgrind: {status}\n{log}");
    callgrind_total(&out)
}

/// Broker instructions per delivered message: the difference between a run of `large` and a
/// run of `small` messages on fresh brokers, divided by the difference in messages (start-up,
/// connections, warm-up and shutdown cancel out). Unlike the CPU time, it does not depend on
/// the load of the machine.
fn instructions_per_message(
    t: &support::Tools,
    valgrind: &std::path::Path,
    name: &str,
    start: StartBroker<'_>,
    qos: u8,
    (small, large): (usize, usize),
) -> f64 {
    let dir = support::scratch_dir(&format!("callgrind-{name}"));
    let a = instructions_of_run(t, valgrind, &dir, start, qos, small);
    let b = instructions_of_run(t, valgrind, &dir, start, qos, large);
    (b as f64 - a as f64) / (large - small) as f64
}

/// The instruction-count part of the benchmark: no ACL and the plugin in both modes, QoS 0
/// and QoS 1, `n` messages (and `n / 5` for the baseline run).
fn instruction_counts(t: &support::Tools, policy: &str, n: usize) {
    let Some(valgrind) = valgrind() else {
        println!("\n*** instructions per message SKIPPED: valgrind is not installed ***");
        return;
    };
    let sizes = ((n / 5).max(100), n.max(500));
    println!(
        "\nbroker instructions per message (callgrind, runs of {} and {} messages)",
        sizes.0, sizes.1
    );
    // `user root`: mosquitto started as root otherwise drops to the `mosquitto` user, which
    // may not write the file callgrind created at start-up. Same line in every configuration.
    let body = format!("{QUEUE}user root\n");
    let none = |t: &support::Tools| {
        Broker::start_plain(t, support::scratch_dir("callgrind-broker-none"), &body)
    };
    let with_mode = |mode: &str, cache: &str| {
        let body = body.clone();
        let name = format!("callgrind-broker-{mode}-{cache}");
        let options = [
            ("mode", mode.to_string()),
            ("verdict_cache", cache.to_string()),
        ];
        move |t: &support::Tools| {
            let options: Vec<(&str, &str)> =
                options.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Broker::start_in(t, support::scratch_dir(&name), policy, &options, &body)
        }
    };
    let strict = with_mode("strict", "1024");
    let mosquitto = with_mode("mosquitto", "1024");
    let uncached = with_mode("strict", "0");
    let configs: [(&str, &str, StartBroker<'_>); 4] = [
        ("no ACL", "none", &none),
        ("plugin (strict), imported policy", "strict", &strict),
        (
            "plugin (mosquitto), imported policy",
            "mosquitto",
            &mosquitto,
        ),
        // Every check on the uncached path: what a miss costs.
        ("plugin (strict), verdict cache off", "uncached", &uncached),
    ];
    for qos in [0u8, 1] {
        let mut base = 0.0;
        for (label, name, start) in configs {
            let per = instructions_per_message(t, &valgrind, name, start, qos, sizes);
            if base == 0.0 {
                base = per;
            }
            println!(
                "QoS {qos}: {label:<36} {per:>8.0} instructions/msg; no ACL / this = {:.3}",
                base / per
            );
        }
    }
}

fn main() {
    // `-- N ROUNDS`: messages per run (default 20,000) and interleaved rounds (default 5);
    // `rates` or `instructions` runs only that part.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let only = |part: &str| args.iter().any(|a| a == part);
    let (rates, instructions) = match (only("rates"), only("instructions")) {
        (false, false) => (true, true),
        chosen => chosen,
    };
    let n = numbers.first().copied().unwrap_or(20_000);
    let rounds = numbers.get(1).copied().unwrap_or(5).max(1);
    let Some(t) = support::tools("broker_throughput") else {
        return;
    };
    let acl = acl_file();
    let imported = MosquittoAcl::parse(&acl).unwrap().import();
    let policy = iotsec_mqtt_acl::Policy::from_document(imported.document)
        .unwrap()
        .to_toml_string()
        .unwrap();
    if instructions {
        instruction_counts(&t, &policy, numbers.get(2).copied().unwrap_or(10_000));
    }
    if !rates {
        return;
    }

    // All brokers run for the whole measurement; the rounds alternate between them so that a
    // change of load on this shared machine hits every configuration alike.
    let mut configs = vec![
        Config {
            label: "no ACL",
            broker: Broker::start_plain(&t, support::scratch_dir("bench-none"), QUEUE),
            rates: [Vec::new(), Vec::new()],
            cpu: [Vec::new(), Vec::new()],
            user: [Vec::new(), Vec::new()],
        },
        Config {
            label: "plugin (strict), imported policy",
            broker: plugin_broker(&t, "bench-strict", &policy, &[("mode", "strict")]),
            rates: [Vec::new(), Vec::new()],
            cpu: [Vec::new(), Vec::new()],
            user: [Vec::new(), Vec::new()],
        },
        Config {
            label: "plugin (mosquitto), imported policy",
            broker: plugin_broker(&t, "bench-mosquitto", &policy, &[("mode", "mosquitto")]),
            rates: [Vec::new(), Vec::new()],
            cpu: [Vec::new(), Vec::new()],
            user: [Vec::new(), Vec::new()],
        },
    ];
    // Warm-up: a tenth of a run on each broker (page cache, allocator, branch predictors).
    for c in &configs {
        for qos in [0u8, 1] {
            throughput(c.broker.port, qos, (n / 10).max(100));
        }
    }
    println!("{n} messages per run, {rounds} interleaved rounds per QoS");
    for qos in [0u8, 1] {
        for round in 0..rounds {
            // ABC, CBA, ABC, ...: no configuration always runs first or last.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..configs.len()).collect()
            } else {
                (0..configs.len()).rev().collect()
            };
            for i in order {
                let c = &mut configs[i];
                let (user0, system0) = cpu_secs(c.broker.pid());
                let (rate, got) = throughput(c.broker.port, qos, n);
                let (user1, system1) = cpu_secs(c.broker.pid());
                let per_msg = |secs: f64| secs * 1e6 / got as f64;
                let user_us = per_msg(user1 - user0);
                let cpu_us = user_us + per_msg(system1 - system0);
                println!(
                    "round {round} QoS {qos} {:<36} {rate:>10.0} msg/s, broker CPU {cpu_us:>6.2} µs/msg (user {user_us:.2}) ({got} of {n} delivered)",
                    c.label
                );
                c.rates[usize::from(qos)].push(rate);
                c.cpu[usize::from(qos)].push(cpu_us);
                c.user[usize::from(qos)].push(user_us);
            }
        }
    }
    // mosquitto's acl_file walks 1,000 patterns per check (~100x slower): one run per QoS,
    // for reference against the median no-ACL rate.
    let dir = support::scratch_dir("bench-acl");
    std::fs::write(dir.join("acl"), &acl).unwrap();
    let body = format!("{QUEUE}acl_file {}\n", dir.join("acl").display());
    let acl_broker = Broker::start_plain(&t, dir, &body);
    let acl_rates: Vec<f64> = [0u8, 1]
        .iter()
        .map(|&qos| throughput(acl_broker.port, qos, (n / 4).max(1000)).0)
        .collect();
    drop(acl_broker);

    println!();
    for qos in [0usize, 1] {
        let none = &configs[0].rates[qos];
        println!(
            "QoS {qos}: no ACL median {:.0} msg/s (range {:.0}-{:.0})",
            median(&mut none.clone()),
            none.iter().copied().fold(f64::INFINITY, f64::min),
            none.iter().copied().fold(0.0, f64::max)
        );
        for c in &configs[1..] {
            println!(
                "QoS {qos}: {} median {:.0} msg/s; ratio to no ACL per round {}",
                c.label,
                median(&mut c.rates[qos].clone()),
                per_round(&c.rates[qos], none, |ours, base| ours / base)
            );
        }
        // The broker's own CPU time per message does not depend on how much of the machine
        // other processes take: the steadier figure on a shared host. Throughput of a
        // CPU-bound broker is its inverse, so no-ACL CPU / plugin CPU is the throughput ratio.
        let none_cpu = &configs[0].cpu[qos];
        println!(
            "QoS {qos}: no ACL broker CPU median {:.2} µs/msg (user {:.2})",
            median(&mut none_cpu.clone()),
            median(&mut configs[0].user[qos].clone())
        );
        for c in &configs[1..] {
            println!(
                "QoS {qos}: {} broker CPU median {:.2} µs/msg (user {:.2}); throughput ratio from CPU per round {}",
                c.label,
                median(&mut c.cpu[qos].clone()),
                median(&mut c.user[qos].clone()),
                per_round(&c.cpu[qos], none_cpu, |ours, base| base / ours)
            );
        }
        println!(
            "QoS {qos}: acl_file, 1,000 patterns {:.0} msg/s = {:.3} of the median no-ACL rate",
            acl_rates[qos],
            acl_rates[qos] / median(&mut none.clone())
        );
    }
    drop(configs);
    // Check latency inside the broker (separate runs: timing itself costs two clock reads and
    // a push per check).
    // With the cache every check but the first few is a hit; `verdict_cache 0` times the
    // uncached path (what a miss costs).
    for (mode, cache) in [("strict", "1024"), ("mosquitto", "1024"), ("strict", "0")] {
        let timed = plugin_broker(
            &t,
            &format!("bench-timed-{mode}-{cache}"),
            &policy,
            &[
                ("mode", mode),
                ("check_timing", "true"),
                ("verdict_cache", cache),
            ],
        );
        throughput(timed.port, 0, n);
        let (_, log) = timed.terminate();
        let line = log
            .lines()
            .find(|l| l.contains("check timing"))
            .unwrap_or_else(|| panic!("no timing line:\n{log}"));
        println!("plugin ({mode}, verdict_cache {cache}): {line}");
    }
}
