//! Decision latency of the compiled matcher, side by side with mosquitto 2.0's algorithm:
//! `mosquitto_topic_matches_sub` (Debian libmosquitto) looped over the same rules after
//! `%c`/`%u` substitution.
//!
//! (a) 50 templates, 8-level topic; (b) one template set serving 1,000,000 identities
//! (mosquitto substitutes per check, as its acl_file plugin does); (c) 1,000 and 100,000 literal
//! rules.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::ffi::CString;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use iotsec_acl_bench::mosquitto_matches;
use iotsec_mqtt_acl::policy::{PolicyDocument, RuleDocument};
use iotsec_mqtt_acl::{Action, ClientContext, CompiledPolicy, Effect, Policy, Request};

fn compile(templates: &[String]) -> CompiledPolicy {
    let rules = templates
        .iter()
        .map(|t| RuleDocument::new(Effect::Allow, &[Action::Publish], &[t.as_str()]))
        .collect();
    CompiledPolicy::compile(
        Policy::from_document(PolicyDocument {
            rules,
            ..Default::default()
        })
        .unwrap(),
    )
}

fn mosquitto_loop(subs: &[CString], topic: &CString) -> bool {
    subs.iter()
        .any(|s| mosquitto_matches(s, topic) == Some(true))
}

/// 50 templates over 8 levels; the matching one is the 37th.
fn fifty_templates() -> Vec<String> {
    (0..50)
        .map(|i| format!("fleet/site{i}/${{client_id}}/+/sensors/+/raw/#"))
        .collect()
}

fn bench_a(c: &mut Criterion) {
    let templates = fifty_templates();
    let ours = compile(&templates);
    let ctx = ClientContext::new("dev42");
    let topic = "fleet/site37/dev42/bay3/sensors/temp/raw/0";
    let req = Request::new(Action::Publish, topic);
    assert!(ours.check(&ctx, &req).is_allowed());
    let subs: Vec<CString> = templates
        .iter()
        .map(|t| CString::new(t.replace("${client_id}", "dev42")).unwrap())
        .collect();
    let ctopic = CString::new(topic).unwrap();
    assert!(mosquitto_loop(&subs, &ctopic));
    let mut g = c.benchmark_group("a_50_templates_8_levels");
    g.bench_function("iotsec_compiled", |b| {
        b.iter(|| black_box(ours.check(black_box(&ctx), black_box(&req)).effect))
    });
    g.bench_function("mosquitto_topic_matches_sub_loop", |b| {
        b.iter(|| black_box(mosquitto_loop(black_box(&subs), black_box(&ctopic))))
    });
    g.finish();
}

fn bench_b(c: &mut Criterion) {
    let templates = fifty_templates();
    let ours = compile(&templates);
    // A rotating sample of the 1,000,000 identities; the compiled policy does not depend on them.
    let ids: Vec<String> = (0..1024u32)
        .map(|i| format!("dev{}", i * 977 % 1_000_000))
        .collect();
    let topics: Vec<String> = ids
        .iter()
        .map(|id| format!("fleet/site37/{id}/bay3/sensors/temp/raw/0"))
        .collect();
    let ctopics: Vec<CString> = topics
        .iter()
        .map(|t| CString::new(t.as_str()).unwrap())
        .collect();
    let mut g = c.benchmark_group("b_1M_identities_one_template_set");
    let mut i = 0usize;
    g.bench_function("iotsec_compiled", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            let ctx = ClientContext::new(&ids[i]);
            black_box(
                ours.check(&ctx, &Request::new(Action::Publish, &topics[i]))
                    .effect,
            )
        })
    });
    // mosquitto 2.0 substitutes %c into every pattern on every check (malloc + copy), then matches.
    let patterns: Vec<String> = templates
        .iter()
        .map(|t| t.replace("${client_id}", "%c"))
        .collect();
    let mut j = 0usize;
    g.bench_function("mosquitto_substitute_and_match_loop", |b| {
        b.iter(|| {
            j = (j + 1) % ids.len();
            let id = &ids[j];
            let allowed = patterns.iter().any(|p| {
                let s = CString::new(p.replace("%c", id)).unwrap();
                mosquitto_matches(&s, &ctopics[j]) == Some(true)
            });
            black_box(allowed)
        })
    });
    g.finish();
}

fn bench_c(c: &mut Criterion) {
    for n in [1_000usize, 100_000] {
        let templates: Vec<String> = (0..n)
            .map(|i| format!("plant/line{}/cell{i}/state", i % 97))
            .collect();
        let ours = compile(&templates);
        let last = n - 1;
        let topic = format!("plant/line{}/cell{last}/state", last % 97);
        let ctx = ClientContext::new("dev1");
        let req = Request::new(Action::Publish, &topic);
        assert!(ours.check(&ctx, &req).is_allowed());
        let subs: Vec<CString> = templates
            .iter()
            .map(|t| CString::new(t.as_str()).unwrap())
            .collect();
        let ctopic = CString::new(topic.as_str()).unwrap();
        assert!(mosquitto_loop(&subs, &ctopic));
        let mut g = c.benchmark_group(format!("c_{n}_literal_rules"));
        g.bench_function("iotsec_compiled", |b| {
            b.iter(|| black_box(ours.check(black_box(&ctx), black_box(&req)).effect))
        });
        g.bench_function("mosquitto_topic_matches_sub_loop", |b| {
            b.iter(|| black_box(mosquitto_loop(black_box(&subs), black_box(&ctopic))))
        });
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_a, bench_b, bench_c
}
criterion_main!(benches);
