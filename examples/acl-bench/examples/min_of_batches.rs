//! Scenario (a) of the decision-latency bench (50 templates, 8-level topic), timed as the
//! minimum over 3,000 short batches: on a shared, loaded machine the fastest batch is the one
//! the scheduler did not interrupt, so the minimum approximates the unloaded cost that
//! criterion's mean cannot show there. Run: `cargo run --release -p iotsec-acl-bench --example
//! min_of_batches`.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]
use std::ffi::CString;
use std::hint::black_box;
use std::time::Instant;

use iotsec_acl_bench::mosquitto_matches;
use iotsec_mqtt_acl::policy::{PolicyDocument, RuleDocument};
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Effect, Policy, Request};

fn main() {
    let templates: Vec<String> = (0..50)
        .map(|i| format!("fleet/site{i}/${{client_id}}/+/sensors/+/raw/#"))
        .collect();
    let rules = templates
        .iter()
        .map(|t| RuleDocument::new(Effect::Allow, &[Action::Publish], &[t.as_str()]))
        .collect();
    let ours = CompiledPolicy::compile(
        Policy::from_document(PolicyDocument {
            rules,
            ..Default::default()
        })
        .unwrap(),
    );
    let ctx = ClientContext::new("dev42");
    let topic = "fleet/site37/dev42/bay3/sensors/temp/raw/0";
    let req = Request::new(Action::Publish, topic);
    let subs: Vec<CString> = templates
        .iter()
        .map(|t| CString::new(t.replace("${client_id}", "dev42")).unwrap())
        .collect();
    let ct = CString::new(topic).unwrap();
    let (mut best_ours, mut best_mosq) = (f64::MAX, f64::MAX);
    for _ in 0..3000 {
        let t = Instant::now();
        for _ in 0..200 {
            black_box(ours.check(black_box(&ctx), black_box(&req)).effect);
        }
        best_ours = best_ours.min(t.elapsed().as_nanos() as f64 / 200.0);
        let t = Instant::now();
        for _ in 0..20 {
            black_box(subs.iter().any(|s| mosquitto_matches(s, &ct) == Some(true)));
        }
        best_mosq = best_mosq.min(t.elapsed().as_nanos() as f64 / 20.0);
    }
    println!(
        "min-of-batches: ours {best_ours:.1} ns, mosquitto loop {best_mosq:.1} ns, ratio {:.3}",
        best_ours / best_mosq
    );
}
