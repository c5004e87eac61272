//! Manifest verification (COSE_Sign decode, threshold check, manifest decode, every device
//! check) against the raw Ed25519 verification it wraps, in the same run.
//! `cargo bench -p iotsec-ota --bench manifest_verify`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::{Ed25519Key, Signer, sign_document};
use iotsec_ota::trust_root::{ROOT_CONTENT_TYPE, TrustRootPayload};
use iotsec_ota::{DeviceState, TrustRoot, verify};

fn bench(c: &mut Criterion) {
    let root_key = Ed25519Key::from_seed(&[1; 32]);
    let release = Ed25519Key::from_seed(&[2; 32]);
    let payload = TrustRootPayload {
        version: 1,
        keys: vec![
            (
                root_key.key_id(),
                root_key.algorithm(),
                root_key.public_key(),
            ),
            (release.key_id(), release.algorithm(), release.public_key()),
        ],
        root: (1, vec![root_key.key_id()]),
        release: (1, vec![release.key_id()]),
        expires_at: None,
    };
    let root_doc = sign_document(ROOT_CONTENT_TYPE, &payload.to_cbor(), &[&root_key]).unwrap();
    let root = TrustRoot::from_pinned(&root_doc).unwrap();
    let manifest = ManifestBuilder::new([1; 16], [2; 16], "1.2.3")
        .security_counter(5)
        .sequence_number(6)
        .component(ComponentSpec::from_image("app", b"image"))
        .expires_at(2_000_000_000)
        .rollout(10_000, b"seed-1234")
        .sign(&[&release])
        .unwrap();
    let state = DeviceState {
        vendor_id: [1; 16],
        class_id: [2; 16],
        device_id: b"device-1",
        security_counter: 1,
        last_sequence: 1,
        trusted_root_version: 1,
        slot_capacity: 1 << 20,
        now: iotsec_ota::TrustedTime::At(1_900_000_000),
    };
    assert!(verify(&manifest, &root, &state).is_ok());

    // The peer: ed25519-dalek verify_strict over a message as long as our Sig_structure.
    let raw_key = SigningKey::from_bytes(&[2; 32]);
    let raw_message = vec![0x5a; manifest.len()];
    let raw_signature: Signature = raw_key.sign(&raw_message);
    let raw_public = raw_key.verifying_key();

    let mut group = c.benchmark_group("manifest_verify");
    group.bench_function("iotsec_ota::verify (1 Ed25519 signer)", |b| {
        b.iter(|| verify(std::hint::black_box(&manifest), &root, &state).unwrap())
    });
    group.bench_function("ed25519_dalek::verify_strict (raw)", |b| {
        b.iter(|| {
            raw_public
                .verify_strict(std::hint::black_box(&raw_message), &raw_signature)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
