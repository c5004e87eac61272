#![no_main]
//! CycloneDX ingest (JSON and XML, recognized by content) never panics; what it accepts it
//! accepts consistently, and accepted SBOMs can be gated.

use iotsec_sbom::sbom::parse_sbom;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sbom) = parse_sbom(data) {
        for c in &sbom.components {
            let _ = c.purl.as_deref().map(iotsec_sbom::purl::PackageUrl::parse);
            let _ = c.cpe.as_deref().map(iotsec_sbom::cpe::Cpe23::parse);
        }
    }
    let _ = iotsec_sbom::sbom::parse_cyclonedx_xml(data);
});
