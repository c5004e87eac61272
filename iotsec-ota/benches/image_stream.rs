//! Streaming image verification of a 256 MiB file (64 KiB reads) against `sha256sum` on the
//! same file, in the same run. The file is generated under target/.
//! `cargo bench -p iotsec-ota --bench image_stream`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iotsec_ota::ImageVerifier;
use sha2::{Digest, Sha256};

const SIZE: usize = 256 << 20;

fn image_file() -> (PathBuf, [u8; 32]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ota-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("image-256MiB.bin");
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 20];
    let fresh = std::fs::metadata(&path).map(|m| m.len() as usize).ok() != Some(SIZE);
    let mut file = fresh.then(|| std::fs::File::create(&path).unwrap());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..SIZE / chunk.len() {
        for byte in chunk.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        hasher.update(&chunk);
        if let Some(file) = file.as_mut() {
            file.write_all(&chunk).unwrap();
        }
    }
    (path, hasher.finalize().into())
}

fn bench(c: &mut Criterion) {
    let (path, digest) = image_file();
    let expected_hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut group = c.benchmark_group("image_stream_256MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.sample_size(10);
    group.bench_function("iotsec_ota::ImageVerifier (64 KiB reads)", |b| {
        let mut buffer = vec![0u8; 64 << 10];
        b.iter(|| {
            let mut file = std::fs::File::open(&path).unwrap();
            let mut verifier = ImageVerifier::with_expectation(digest, SIZE as u64);
            loop {
                let n = file.read(&mut buffer).unwrap();
                if n == 0 {
                    break;
                }
                verifier.update(&buffer[..n]).unwrap();
            }
            verifier.finish().unwrap();
        })
    });
    group.bench_function("sha256sum (coreutils)", |b| {
        b.iter(|| {
            let out = Command::new("sha256sum").arg(&path).output().unwrap();
            assert!(out.status.success());
            assert!(String::from_utf8_lossy(&out.stdout).starts_with(&expected_hex));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
