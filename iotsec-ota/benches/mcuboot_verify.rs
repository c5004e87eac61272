//! MCUboot image verification of a 1 MiB Ed25519 image (SHA-256, security counter) signed by
//! imgtool 2.5.0 with the test key of `tests/fixtures/mcuboot`: our `verify_image` (whole
//! file, read at offsets in 512-byte chunks from memory) against `imgtool verify` on the same
//! file in the same run, as a process (what a build pipeline runs) and, printed before the
//! criterion lines, imgtool's `Image.verify` in-process (without the interpreter start).
//! `cargo bench -p iotsec-ota --bench mcuboot_verify` (needs target/venv from .ci/install.sh).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iotsec_ota::mcuboot::{Layout, TrustedKey, verify_image};

const SIZE: usize = 1 << 20;

fn bench(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("../target/venv/bin");
    let fixtures = root.join("tests/fixtures/mcuboot");
    let dir = root.join("../target/ota-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let payload: Vec<u8> = (0..SIZE as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("mcuboot-payload.bin"), &payload).unwrap();
    let image_path = dir.join("mcuboot-1MiB.bin");
    let signed = Command::new(venv.join("imgtool"))
        .args(["sign", "-k"])
        .arg(fixtures.join("ed25519.pem"))
        .args([
            "-v",
            "1.0.0",
            "-s",
            "1",
            "-H",
            "0x20",
            "--pad-header",
            "-S",
            "0x200000",
        ])
        .arg(dir.join("mcuboot-payload.bin"))
        .arg(&image_path)
        .output()
        .expect("imgtool 2.5.0 in target/venv (run .ci/install.sh)");
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let image = std::fs::read(&image_path).unwrap();
    let public = fixtures.join("ed25519.pub.pem");
    let key = TrustedKey::from_pem(&std::fs::read_to_string(&public).unwrap()).unwrap();

    let in_process = Command::new(venv.join("python"))
        .arg("-c")
        .arg(
            "import sys, timeit\nfrom imgtool import image, main\nkey = main.load_key(sys.argv[1])\n\
             r = image.Image.verify(sys.argv[2], key)\nassert r[0] == image.VerifyResult.OK, r\n\
             print(min(timeit.repeat(lambda: image.Image.verify(sys.argv[2], key), number=5, repeat=5)) / 5)",
        )
        .arg(&public)
        .arg(&image_path)
        .output()
        .unwrap();
    assert!(
        in_process.status.success(),
        "{}",
        String::from_utf8_lossy(&in_process.stderr)
    );
    let seconds: f64 = String::from_utf8_lossy(&in_process.stdout)
        .trim()
        .parse()
        .unwrap();
    eprintln!(
        "imgtool 2.5.0 Image.verify in-process (best of 5x5): {:.3} ms",
        seconds * 1e3
    );

    let mut group = c.benchmark_group("mcuboot_verify_1MiB");
    group.throughput(Throughput::Bytes(image.len() as u64));
    group.sample_size(20);
    group.bench_function("iotsec_ota::mcuboot::verify_image", |b| {
        b.iter(|| verify_image(&mut image.as_slice(), &key, Layout::File).unwrap())
    });
    group.bench_function("imgtool verify (process)", |b| {
        b.iter(|| {
            let out = Command::new(venv.join("imgtool"))
                .arg("verify")
                .arg("-k")
                .arg(&public)
                .arg(&image_path)
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
