//! Regenerates the fuzz seed corpora from the test fixtures (not a test; run on demand):
//! `cargo test -p iotsec-ota --test fuzz_seeds -- --ignored`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;

#[test]
#[ignore = "writes files under fuzz/corpus; run on demand"]
fn write_fuzz_seeds() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus");
    let manifest_dir = format!("{corpus}/ota_manifest");
    let cose_dir = format!("{corpus}/ota_cose_sign");
    std::fs::create_dir_all(&manifest_dir).unwrap();
    std::fs::create_dir_all(&cose_dir).unwrap();
    let plain = release().payload().unwrap();
    let full = release()
        .device(DEVICE)
        .rollout(500, b"seed-seed-seed")
        .payload()
        .unwrap();
    std::fs::write(format!("{manifest_dir}/seed-minimal"), plain).unwrap();
    std::fs::write(format!("{manifest_dir}/seed-full"), full).unwrap();
    std::fs::write(format!("{cose_dir}/seed-root"), root_v1()).unwrap();
    std::fs::write(format!("{cose_dir}/seed-manifest"), signed(&release())).unwrap();
}
