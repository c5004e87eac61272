//! Certificate issuance (CSR parse + proof-of-possession verify + sign) per second, ours
//! (rcgen builds the certificate, RustCrypto `p256` signs it) against Python `cryptography`
//! (OpenSSL) issuing the same profile in the same run. Run: `cargo bench -p iotsec-pki --bench issuance -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use iotsec_pki::authority::{Authority, create_hierarchy};
use iotsec_pki::csr_check::verify_csr;
use iotsec_pki::profile::IssuanceProfile;
use iotsec_pki::{CsrRequest, DeviceKey, DeviceName, KeyAlgorithm, build_csr};
use time::OffsetDateTime;

fn python() -> Option<String> {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/venv/bin/python");
    if std::path::Path::new(venv).exists() {
        Some(venv.to_owned())
    } else {
        None
    }
}

fn bench(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let h = create_hierarchy("Bench", now).unwrap();
    let ca = Authority::new(
        "Bench",
        Box::new(h.intermediate_key),
        h.intermediate_der,
        h.root_der,
        IssuanceProfile::short_lived("http://127.0.0.1/crl.der"),
    );
    let key = DeviceKey::from_secret_bytes(KeyAlgorithm::P256, &[1u8; 32]).unwrap();
    let names = [DeviceName::Dns("dev-0001.devices.invalid")];
    let csr = build_csr(
        &key,
        &CsrRequest {
            common_name: "dev-0001",
            device_names: &names,
            ..Default::default()
        },
    )
    .unwrap();
    let issue = || {
        let v = verify_csr(&csr).unwrap();
        ca.issue(&v, now).unwrap()
    };
    c.bench_function("issuance/iotsec-pki (RustCrypto p256)", |b| b.iter(issue));

    // Same-run ratio against the peer.
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(issue());
    }
    let ours = f64::from(n) / t.elapsed().as_secs_f64();
    match python() {
        Some(py) => {
            let out = Command::new(py)
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/benches/pyca_issue.py"
                ))
                .arg(n.to_string())
                .output()
                .unwrap();
            let peer: f64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(f64::NAN);
            eprintln!(
                "issuance/s: iotsec-pki {ours:.0}, python-cryptography {peer:.0}, ratio {:.2}",
                ours / peer
            );
        }
        None => eprintln!(
            "issuance/s: iotsec-pki {ours:.0}; python venv missing (run .ci/install.sh) so no peer figure"
        ),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
