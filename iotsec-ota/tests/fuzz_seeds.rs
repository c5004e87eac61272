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
    let record_dir = format!("{corpus}/ota_boot_record");
    std::fs::create_dir_all(&record_dir).unwrap();
    let ticket = iotsec_ota::trial_boot::InstallTicket {
        security_counter: 3,
        sequence_number: 9,
        digest: [7; 32],
        size: 4096,
    };
    let factory = iotsec_ota::trial_boot::BootRecord::factory(ticket);
    std::fs::write(format!("{record_dir}/seed-factory"), factory.to_bytes()).unwrap();
    let (_, writing) = factory.begin_install::<()>().unwrap();
    let next = iotsec_ota::trial_boot::InstallTicket {
        security_counter: 4,
        sequence_number: 10,
        ..ticket
    };
    let trial = writing
        .finish_install::<()>(iotsec_ota::trial_boot::Slot::B, &next)
        .unwrap();
    std::fs::write(format!("{record_dir}/seed-trial"), trial.to_bytes()).unwrap();
}
