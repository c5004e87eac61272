//! The EST core without I/O (`est::service`): over a CA whose records are in memory
//! (`ca::issuer::StoreCa` + `store::MemoryStore`), with the time and the random source given,
//! the same requests get the same bytes: serials, certificates, serverkeygen keys, CRLs. A
//! clock, a file or the OS random source read anywhere in the decision would make two runs
//! differ.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
mod peers;

use std::collections::HashMap;

use iotsec_pki::KeyAlgorithm;
use iotsec_pki::ca::authority::{Authority, create_hierarchy};
use iotsec_pki::ca::issuer::StoreCa;
use iotsec_pki::ca::profile::IssuanceProfile;
use iotsec_pki::est::service::{EstRequest, EstResponse, EstService, LabelPolicy, TlsFacts};
use iotsec_pki::keys::signer::SoftwareSigner;
use iotsec_pki::store::MemoryStore;
use time::OffsetDateTime;

/// A deterministic stand-in for a CSPRNG (SHA-256 in counter mode over a seed): only what
/// makes a run reproducible matters here.
struct Seeded {
    seed: u64,
    counter: u64,
}

impl rand_core::RngCore for Seeded {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use sha2::Digest;
        for chunk in dest.chunks_mut(32) {
            self.counter += 1;
            let block = sha2::Sha256::new()
                .chain_update(self.seed.to_be_bytes())
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Seeded {}

/// The CA's keys and certificates, made once (at random) and shared by every run.
struct CaMaterial {
    key_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    root_der: Vec<u8>,
}

fn material(now: OffsetDateTime) -> CaMaterial {
    let h = create_hierarchy("Acme", now).unwrap();
    CaMaterial {
        key_der: h.intermediate_key.to_pkcs8_der().unwrap().to_vec(),
        intermediate_der: h.intermediate_der,
        root_der: h.root_der,
    }
}

/// A fresh service over an empty in-memory store, drawing from `Seeded(seed)`.
fn service(ca: &CaMaterial, seed: u64) -> EstService {
    let authority = Authority::new(
        "Acme",
        Box::new(SoftwareSigner::from_pkcs8_der(&ca.key_der).unwrap()),
        ca.intermediate_der.clone(),
        ca.root_der.clone(),
        IssuanceProfile::short_lived("http://127.0.0.1/crl.der"),
    );
    let mut labels = HashMap::new();
    labels.insert(
        String::new(),
        LabelPolicy {
            basic: Some(("u".into(), "p".into())),
            ..Default::default()
        },
    );
    EstService::from_parts(
        StoreCa::new(authority, MemoryStore::new()),
        labels,
        Seeded { seed, counter: 0 },
    )
}

fn get(path: &str) -> EstRequest {
    EstRequest {
        method: "GET".into(),
        path: path.into(),
        ..Default::default()
    }
}

/// One run of the same requests at the same time; every answer as bytes.
fn run(service: &EstService, now: OffsetDateTime) -> Vec<EstResponse> {
    let tls = TlsFacts {
        exporter: Some([7; 32]),
        ..Default::default()
    };
    let csr = common::csr_for(KeyAlgorithm::P256, 1, "dev-1");
    let other = common::csr_for(KeyAlgorithm::Ed25519, 2, "dev-2");
    vec![
        service.handle(&get("/.well-known/est/cacerts"), &tls, now),
        service.handle(&get("/.well-known/est/csrattrs"), &tls, now),
        service.handle(&common::est_post("", "simpleenroll", &csr), &tls, now),
        // Re-submitted: the certificate already issued.
        service.handle(&common::est_post("", "simpleenroll", &csr), &tls, now),
        service.handle(&common::est_post("", "simpleenroll", &other), &tls, now),
        service.handle(&common::est_post("", "serverkeygen", &csr), &tls, now),
        service.handle_crl_at(&get("/crl.der"), now),
    ]
}

#[test]
fn the_same_time_and_random_source_give_byte_identical_answers() {
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let ca = material(now);
    let first = run(&service(&ca, 42), now);
    let second = run(&service(&ca, 42), now);
    let statuses: Vec<u16> = first.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200]);
    assert_eq!(first, second);
    // Answered from the in-memory store: the re-submission got the first certificate.
    assert_eq!(first[2].body, first[3].body);
    assert_ne!(first[2].body, first[4].body);
    let multipart = String::from_utf8(first[5].body.to_vec()).unwrap();
    assert!(multipart.contains("Content-Type: application/pkcs8"));
}

#[test]
fn another_random_source_gives_other_serials_and_keys() {
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let ca = material(now);
    let a = run(&service(&ca, 1), now);
    let b = run(&service(&ca, 2), now);
    // cacerts and csrattrs draw nothing; the certificates and the generated key do.
    assert_eq!((&a[0], &a[1]), (&b[0], &b[1]));
    assert_ne!(a[2].body, b[2].body);
    assert_ne!(a[5].body, b[5].body);
    // Another time, same source: other validity dates, so other bytes.
    let later = run(&service(&ca, 1), now + time::Duration::minutes(1));
    assert_ne!(a[2].body, later[2].body);
}
