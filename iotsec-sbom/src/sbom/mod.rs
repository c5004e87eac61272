//! The software bill of materials the gate evaluates, normalized from CycloneDX (JSON 1.2-1.7,
//! XML 1.0-1.7) and SPDX 2.3 JSON, with a report of every field the normalization drops.

pub(crate) mod component;
#[cfg(feature = "cyclonedx-cross-check")]
mod cyclonedx_bom_check;
mod cyclonedx_json;
pub(crate) mod cyclonedx_rules;
mod cyclonedx_xml;
mod spdx_json;

use std::collections::BTreeMap;

use crate::error::GateError;
use crate::vex::VexStatement;

pub use component::{Component, ComponentHash};
#[cfg(feature = "cyclonedx-cross-check")]
pub use cyclonedx_bom_check::{CrossCheck, cross_check_with_cyclonedx_bom};
pub use cyclonedx_json::parse_cyclonedx_json;
pub use cyclonedx_xml::parse_cyclonedx_xml;
pub use spdx_json::parse_spdx_json;

/// Hard cap on an SBOM document (the 100,000-component benchmark file is about 78 MB).
pub const MAX_SBOM_BYTES: usize = 512 * 1024 * 1024;
/// Hard cap on component nesting (CycloneDX `components[].components[]`).
pub const MAX_NESTING: usize = 32;

/// What a CycloneDX component walk stores into [`Sbom::components`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Collect {
    /// Validate only: pedigree ancestors, descendants and variants are not shipped.
    Nothing,
    /// The SBOM's subject: kept out of the list, but its nested components (CycloneDX
    /// assemblies, the parts of the shipped product) are stored and gated.
    Children,
    /// Store the component and everything nested under it.
    All,
}

impl Collect {
    /// How the components nested under one walked with `self` are walked.
    pub(crate) fn for_children(self) -> Collect {
        match self {
            Collect::Nothing => Collect::Nothing,
            Collect::Children | Collect::All => Collect::All,
        }
    }
}

/// The document format an SBOM was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SbomFormat {
    /// CycloneDX JSON.
    CycloneDxJson,
    /// CycloneDX XML.
    CycloneDxXml,
    /// SPDX 2.3 JSON.
    SpdxJson,
}

/// Fields present in the document that the gate does not evaluate, with their count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DroppedFields(pub BTreeMap<String, usize>);

impl DroppedFields {
    pub(crate) fn record(&mut self, path: &str) {
        match self.0.get_mut(path) {
            Some(n) => *n += 1,
            None => {
                self.0.insert(path.to_owned(), 1);
            }
        }
    }
}

/// A normalized SBOM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sbom {
    /// Source format.
    pub format: SbomFormat,
    /// Declared specification version (`1.6`, `SPDX-2.3`).
    pub spec_version: String,
    /// `serialNumber` (CycloneDX) / `documentNamespace` (SPDX).
    pub serial_number: Option<String>,
    /// BOM `version` (CycloneDX).
    pub version: Option<u64>,
    /// What the SBOM describes (`metadata.component` / SPDX `documentDescribes`).
    pub subject: Option<Component>,
    /// Every component, nested ones flattened (depth-first, document order).
    pub components: Vec<Component>,
    /// VEX statements embedded in the SBOM (CycloneDX `vulnerabilities[].analysis`).
    pub embedded_vex: Vec<VexStatement>,
    /// Fields the normalization did not carry over.
    pub dropped: DroppedFields,
    /// Hex SHA-256 of the document this was read from (what a gate decision binds).
    sha256: String,
}

impl Sbom {
    /// Hex SHA-256 of the bytes this SBOM was parsed from; a gate decision records it, so the
    /// binding names exactly the document that was evaluated.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// Above this size the SHA-256 of an SBOM is computed on a second thread beside the parse: for
/// the 72.5 MB benchmark file (BENCHMARKS.md, gate_100k) hashing takes about 0.2 s of CPU on the
/// CI host (`sha256sum`) next to a parse of about 0.46 s.
const PARALLEL_DIGEST_BYTES: usize = 1024 * 1024;

/// Runs a format's parser and records the SHA-256 of `bytes` in the result ([`Sbom::sha256`]).
fn parse_with_digest(
    bytes: &[u8],
    parse: fn(&[u8]) -> Result<Sbom, GateError>,
) -> Result<Sbom, GateError> {
    if bytes.len() < PARALLEL_DIGEST_BYTES {
        let mut sbom = parse(bytes)?;
        sbom.sha256 = crate::digest::sha256_hex(bytes);
        return Ok(sbom);
    }
    std::thread::scope(|s| {
        let digest = s.spawn(|| crate::digest::sha256_hex(bytes));
        let mut sbom = parse(bytes)?;
        // Hashing cannot panic; should the thread fail anyway, hash here rather than record nothing.
        sbom.sha256 = digest
            .join()
            .unwrap_or_else(|_| crate::digest::sha256_hex(bytes));
        Ok(sbom)
    })
}

/// Reads an SBOM, recognizing CycloneDX JSON, CycloneDX XML and SPDX JSON by content.
pub fn parse_sbom(bytes: &[u8]) -> Result<Sbom, GateError> {
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(GateError::SizeExceeded {
            what: "SBOM",
            size: bytes.len(),
            cap: MAX_SBOM_BYTES,
        });
    }
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF)
        .unwrap_or(0);
    match bytes.get(start) {
        Some(b'<') => parse_cyclonedx_xml(bytes),
        Some(b'{') => {
            // SPDX documents carry `spdxVersion`; look only at the head to stay O(1).
            let head = bytes.get(..bytes.len().min(4096)).unwrap_or(bytes);
            let spdx_key = |b: &[u8]| b.windows(13).any(|w| w == b"\"spdxVersion\"");
            if spdx_key(head) {
                return parse_spdx_json(bytes);
            }
            match parse_cyclonedx_json(bytes) {
                // `spdxVersion` may come late in a document whose keys are not ordered.
                Err(GateError::Malformed { .. }) if spdx_key(bytes) => parse_spdx_json(bytes),
                other => other,
            }
        }
        _ => Err(GateError::Unsupported(
            "not a JSON or XML document".to_owned(),
        )),
    }
}
