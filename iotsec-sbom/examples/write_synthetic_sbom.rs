#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Writes the benchmark's synthetic SBOM to a file, for timing the CLI end to end and measuring
//! its peak memory: `cargo run --release -p iotsec-sbom --example write_synthetic_sbom -- OUT [N]`.

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().expect("usage: write_synthetic_sbom OUT [N]");
    let n = args.next().map_or(100_000, |n| n.parse().unwrap());
    let bytes = synthetic::synthetic_sbom(n);
    std::fs::write(&out, &bytes).unwrap();
    eprintln!("wrote {out}: {n} components, {} bytes", bytes.len());
}
