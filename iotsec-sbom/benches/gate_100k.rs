#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
//! Gate a synthetic 100,000-component SBOM against the full RustSec database, side by side with
//! parsing the same bytes with `cyclonedx-bom` alone and with serde_json into `IgnoredAny` (the
//! parse floor). `cargo bench -p iotsec-sbom --bench gate_100k`.

#[path = "support/synthetic.rs"]
mod synthetic;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iotsec_sbom::advisory::load_advisory_dir;
use iotsec_sbom::gate::{GateInputs, decide};
use iotsec_sbom::{Policy, parse_sbom};

const RUSTSEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/rustsec-osv/crates"
);

fn bench(c: &mut Criterion) {
    let n = std::env::var("SBOM_BENCH_COMPONENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let bytes = synthetic::synthetic_sbom(n);
    eprintln!("synthetic SBOM: {n} components, {} bytes", bytes.len());
    let policy = Policy::default();
    let mut g = c.benchmark_group("gate_100k");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("ours: load RustSec + parse + gate", |b| {
        b.iter(|| {
            let db = load_advisory_dir(std::path::Path::new(RUSTSEC)).unwrap();
            let sbom = parse_sbom(&bytes).unwrap();
            let d = decide(&GateInputs {
                sbom: &sbom,
                advisories: &db,
                vex: &[],
                policy: &policy,
                firmware_sha256: None,
                today: iotsec_sbom::date::parse_day("2026-01-15").unwrap(),
            });
            assert!(!d.findings.is_empty());
            d.findings.len()
        })
    });
    g.bench_function("ours: parse only (parse_sbom)", |b| {
        b.iter(|| parse_sbom(&bytes).unwrap().components.len())
    });
    g.bench_function("peer: cyclonedx-bom 0.8.1 parse_from_json_v1_5", |b| {
        b.iter(|| cyclonedx_bom::models::bom::Bom::parse_from_json_v1_5(&bytes[..]).unwrap())
    });
    g.bench_function("floor: serde_json IgnoredAny", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
