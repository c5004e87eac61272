//! The synthetic 100,000-component CycloneDX 1.5 SBOM of the benchmark (about 78 MB): every
//! tenth component is a real crate name from RustSec at a vulnerable version, the rest are
//! unique names; each carries hashes, a license, a description and references like real
//! generator output.

/// Crates with RustSec advisories, and a vulnerable version of each.
const VULNERABLE: [(&str, &str); 5] = [
    ("smallvec", "1.6.0"),
    ("time", "0.1.43"),
    ("openssl", "0.8.0"),
    ("hyper", "0.14.9"),
    ("tokio", "1.8.0"),
];

/// Builds the SBOM with `n` components.
pub fn synthetic_sbom(n: usize) -> Vec<u8> {
    let mut out = String::with_capacity(n * 800 + 1024);
    out.push_str(
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,"metadata":{"timestamp":"2026-01-01T00:00:00Z","component":{"type":"firmware","bom-ref":"fw","name":"sensor-fw","version":"2.1.0"}},"components":["#,
    );
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let (name, version) = if i % 10 == 0 {
            let (n, v) = VULNERABLE[(i / 10) % VULNERABLE.len()];
            (n.to_owned(), v.to_owned())
        } else {
            (
                format!("synthetic-crate-{i:06}"),
                format!("{}.{}.{}", i % 7, i % 13, i % 29),
            )
        };
        let h = format!("{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        out.push_str(&format!(
            r#"{{"type":"library","bom-ref":"c{i}","name":"{name}","version":"{version}","description":"Synthetic component {i} for the 100k-component gate benchmark","scope":"required","hashes":[{{"alg":"SHA-256","content":"{h}{h}{h}{h}"}},{{"alg":"SHA-512","content":"{h}{h}{h}{h}{h}{h}{h}{h}"}}],"licenses":[{{"expression":"MIT OR Apache-2.0"}}],"purl":"pkg:cargo/{name}@{version}","externalReferences":[{{"type":"website","url":"https://example.invalid/crates/{name}"}},{{"type":"vcs","url":"https://example.invalid/git/{name}.git"}}]}}"#
        ));
    }
    out.push_str("]}");
    out.into_bytes()
}
