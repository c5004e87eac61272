#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
//! Times the phases of a 100k-component gate and prints the peak RSS (`VmHWM`), which includes
//! the 72 MB SBOM bytes themselves:
//! `cargo run --release -p iotsec-sbom --example gate_phases`.
#[path = "../benches/support/synthetic.rs"]
mod synthetic;
fn main() {
    let bytes = synthetic::synthetic_sbom(100_000);
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/rustsec-osv/crates"
    );
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let db = iotsec_sbom::advisory::load_advisory_dir(std::path::Path::new(dir)).unwrap();
        let t_db = t.elapsed();
        let t = std::time::Instant::now();
        let s = iotsec_sbom::parse_sbom(&bytes).unwrap();
        let t_parse = t.elapsed();
        let t = std::time::Instant::now();
        let policy = iotsec_sbom::Policy::default();
        let d = iotsec_sbom::decide(&iotsec_sbom::GateInputs {
            sbom: &s,
            advisories: &db,
            vex: &[],
            policy: &policy,
            firmware_sha256: None,
            today: iotsec_sbom::date::parse_day("2026-01-15").unwrap(),
        });
        let t_gate = t.elapsed();
        let t = std::time::Instant::now();
        let sha = iotsec_sbom::gate::sha256_hex(&bytes);
        let t_sha = t.elapsed();
        eprintln!(
            "db {t_db:?} parse {t_parse:?} gate {t_gate:?} sha256 {t_sha:?} findings {} {}",
            d.findings.len(),
            sha.len()
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    eprintln!("SBOM {} bytes; peak RSS {hwm}", bytes.len());
}
