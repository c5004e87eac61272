//! SPDX 2.3 JSON (SPDX 2.3 specification: §7 packages, §7.21 external references `purl` and
//! `cpe23Type`, §7.10 checksums, §7.13/§7.15 concluded/declared licenses, §11 `DESCRIBES`).

use serde::Deserialize;

use super::{Component, ComponentHash, DroppedFields, MAX_SBOM_BYTES, Sbom, SbomFormat};
use crate::error::GateError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxDocument {
    spdx_version: String,
    #[serde(default)]
    document_namespace: Option<String>,
    #[serde(default)]
    document_describes: Vec<String>,
    #[serde(default)]
    packages: Vec<Package>,
    #[serde(default)]
    relationships: Vec<Relationship>,
    #[serde(default)]
    files: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    snippets: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(default)]
    version_info: Option<String>,
    #[serde(default)]
    external_refs: Vec<ExternalRef>,
    #[serde(default)]
    checksums: Vec<Checksum>,
    #[serde(default)]
    license_concluded: Option<String>,
    #[serde(default)]
    license_declared: Option<String>,
    #[serde(default)]
    primary_package_purpose: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_type: String,
    reference_locator: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: String,
    checksum_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    related_spdx_element: String,
    relationship_type: String,
}

fn hash_alg(spdx: &str) -> String {
    match spdx {
        "SHA1" => "SHA-1".to_owned(),
        "SHA256" => "SHA-256".to_owned(),
        "SHA384" => "SHA-384".to_owned(),
        "SHA512" => "SHA-512".to_owned(),
        "SHA3-256" | "SHA3-384" | "SHA3-512" | "MD5" | "BLAKE3" => spdx.to_owned(),
        "BLAKE2b-256" | "BLAKE2b-384" | "BLAKE2b-512" => spdx.to_owned(),
        other => other.to_owned(),
    }
}

fn license_of(p: &Package) -> Vec<String> {
    let usable = |l: &Option<String>| {
        l.as_deref()
            .filter(|l| !matches!(*l, "NOASSERTION" | "NONE" | ""))
            .map(str::to_owned)
    };
    usable(&p.license_concluded)
        .or_else(|| usable(&p.license_declared))
        .into_iter()
        .collect()
}

/// Reads an SPDX 2.2/2.3 JSON document.
pub fn parse_spdx_json(bytes: &[u8]) -> Result<Sbom, GateError> {
    super::parse_with_digest(bytes, parse_spdx_json_body)
}

fn parse_spdx_json_body(bytes: &[u8]) -> Result<Sbom, GateError> {
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(GateError::SizeExceeded {
            what: "SBOM",
            size: bytes.len(),
            cap: MAX_SBOM_BYTES,
        });
    }
    let doc: SpdxDocument =
        serde_json::from_slice(bytes).map_err(|e| GateError::malformed("SPDX JSON", e))?;
    if !matches!(doc.spdx_version.as_str(), "SPDX-2.2" | "SPDX-2.3") {
        return Err(GateError::Unsupported(format!(
            "spdxVersion {:?} (supported: SPDX-2.2, SPDX-2.3)",
            doc.spdx_version
        )));
    }
    let mut described: Vec<&str> = doc.document_describes.iter().map(String::as_str).collect();
    for r in &doc.relationships {
        if r.relationship_type == "DESCRIBES" && r.spdx_element_id == "SPDXRef-DOCUMENT" {
            described.push(&r.related_spdx_element);
        }
    }
    let mut dropped = DroppedFields::default();
    if doc.files.is_some() {
        dropped.record("files");
    }
    if doc.snippets.is_some() {
        dropped.record("snippets");
    }
    let mut subject = None;
    let mut components = Vec::with_capacity(doc.packages.len());
    for p in &doc.packages {
        let mut purl = None;
        let mut cpe = None;
        for r in &p.external_refs {
            match r.reference_type.as_str() {
                "purl" if purl.is_none() => purl = Some(r.reference_locator.clone()),
                "cpe23Type" if cpe.is_none() => cpe = Some(r.reference_locator.clone()),
                other => dropped.record(&format!("packages[].externalRefs[{other}]")),
            }
        }
        let c = Component {
            bom_ref: Some(p.spdx_id.clone()),
            kind: p
                .primary_package_purpose
                .as_deref()
                .unwrap_or("library")
                .to_ascii_lowercase(),
            name: p.name.clone(),
            version: p.version_info.clone(),
            purl,
            cpe,
            hashes: p
                .checksums
                .iter()
                .map(|c| ComponentHash {
                    alg: hash_alg(&c.algorithm),
                    content: c.checksum_value.to_ascii_lowercase(),
                })
                .collect(),
            licenses: license_of(p),
        };
        if subject.is_none() && described.first() == Some(&p.spdx_id.as_str()) {
            // In SPDX the described package is an ordinary package: gated when it names a
            // package (purl or CPE); a bare product wrapper is not an unidentified component.
            if c.purl.is_some() || c.cpe.is_some() {
                components.push(c.clone());
            }
            subject = Some(c);
        } else {
            components.push(c);
        }
    }
    Ok(Sbom {
        format: SbomFormat::SpdxJson,
        spec_version: doc.spdx_version,
        serial_number: doc.document_namespace,
        version: None,
        subject,
        components,
        embedded_vex: Vec::new(),
        dropped,
        sha256: String::new(),
    })
}
