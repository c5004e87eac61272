//! One `mosquitto`-mode publish decision on the policy imported from a 1,000-line acl_file (999
//! `pattern readwrite fleet/%c/p{i}/#`, then `pattern readwrite bench/#`: the file the mosquitto
//! plugin's broker bench serves), compiled trie vs the reference evaluator, with strict mode on
//! the same policy for scale. `cargo bench -p iotsec-mqtt-acl --bench mosquitto_mode`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use iotsec_mqtt_acl::mosquitto_acl::MosquittoAcl;
use iotsec_mqtt_acl::reference::evaluate;
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Policy, Request, SubscribeMode};

fn acl_file() -> String {
    let mut text = String::new();
    for i in 0..999 {
        text.push_str(&format!("pattern readwrite fleet/%c/p{i}/#\n"));
    }
    text.push_str("pattern readwrite bench/#\n");
    text
}

fn bench(c: &mut Criterion) {
    let imported = MosquittoAcl::parse(&acl_file()).unwrap().import();
    let policy = Policy::from_document(imported.document).unwrap();
    let compiled = CompiledPolicy::compile(policy.clone());
    let ctx = ClientContext {
        client_id: "bench-pub",
        ..Default::default()
    };
    let mut group = c.benchmark_group("mosquitto_mode_1000_patterns");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, topic) in [
        ("bench_t", "bench/t"),
        ("fleet_own_p500", "fleet/bench-pub/p500/x"),
    ] {
        let req = Request {
            action: Action::Publish,
            topic,
            qos: 0,
        };
        let fast = compiled.check_with_mode(&ctx, &req, SubscribeMode::Mosquitto);
        assert_eq!(
            fast,
            evaluate(&policy, &ctx, &req, SubscribeMode::Mosquitto)
        );
        assert!(fast.is_allowed(), "{topic}: {fast:?}");
        group.bench_function(format!("compiled/{name}"), |b| {
            b.iter(|| {
                compiled.check_with_mode(black_box(&ctx), black_box(&req), SubscribeMode::Mosquitto)
            })
        });
        group.bench_function(format!("reference/{name}"), |b| {
            b.iter(|| {
                evaluate(
                    black_box(&policy),
                    black_box(&ctx),
                    black_box(&req),
                    SubscribeMode::Mosquitto,
                )
            })
        });
        group.bench_function(format!("compiled_strict/{name}"), |b| {
            b.iter(|| compiled.check(black_box(&ctx), black_box(&req)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
