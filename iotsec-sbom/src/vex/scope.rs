//! What a VEX statement points at, and whether that is a given SBOM component: purl identity
//! (purl specification: type, namespace, name; version only when the statement gives one; the
//! statement's qualifiers a subset of the component's, as go-vex matches),
//! CycloneDX `bom-ref` and BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`, CycloneDX 1.5
//! "BOM-Link"), or a strict CPE 2.3 match.

use crate::cpe::Cpe23;
use crate::purl::PackageUrl;
use crate::sbom::{Component, Sbom};

/// A reference from a VEX statement to a product or component.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProductRef {
    /// A package URL.
    Purl(String),
    /// A `bom-ref` in the SBOM being gated.
    BomRef(String),
    /// A BOM-Link into a specific SBOM (serial number and optional version).
    BomLink {
        /// `urn:uuid:...` of the SBOM.
        serial: String,
        /// BOM version, when given.
        version: Option<u64>,
        /// The `bom-ref` inside it.
        bom_ref: String,
    },
    /// A CPE 2.3 name.
    Cpe(String),
}

/// Whether every qualifier of the statement's purl is on the component's purl with the same
/// value (go-vex's purl matching): a statement for `?distro=debian-11` or `?arch=arm64` does not
/// cover the `debian-12` or `amd64` build; a statement without qualifiers covers every build.
fn qualifiers_subset(want: &PackageUrl, have: &PackageUrl) -> bool {
    want.qualifiers
        .iter()
        .all(|(k, v)| have.qualifier(k) == Some(v.as_str()))
}

impl ProductRef {
    /// Classifies a reference string.
    pub fn from_reference(r: &str) -> ProductRef {
        if let Some(link) = r.strip_prefix("urn:cdx:")
            && let Some((doc, bom_ref)) = link.split_once('#')
        {
            let (serial, version) = match doc.split_once('/') {
                Some((s, v)) => (s, v.parse().ok()),
                None => (doc, None),
            };
            return ProductRef::BomLink {
                serial: format!("urn:uuid:{serial}"),
                version,
                bom_ref: bom_ref.to_owned(),
            };
        }
        if r.starts_with("pkg:") {
            ProductRef::Purl(r.to_owned())
        } else if r.starts_with("cpe:2.3:") {
            ProductRef::Cpe(r.to_owned())
        } else {
            ProductRef::BomRef(r.to_owned())
        }
    }

    /// Whether this reference designates component `c` of `sbom`.
    pub fn designates(&self, c: &Component, sbom: &Sbom) -> bool {
        match self {
            ProductRef::Purl(p) => {
                let (Ok(want), Some(Ok(have))) = (
                    PackageUrl::parse(p),
                    c.purl.as_deref().map(PackageUrl::parse),
                ) else {
                    return false;
                };
                want.ty == have.ty
                    && want.namespace == have.namespace
                    && want.name == have.name
                    && want
                        .version
                        .as_deref()
                        .is_none_or(|v| Some(v) == have.version.as_deref().or(c.version.as_deref()))
                    && qualifiers_subset(&want, &have)
            }
            ProductRef::BomRef(r) => c.bom_ref.as_deref() == Some(r.as_str()),
            ProductRef::BomLink {
                serial,
                version,
                bom_ref,
            } => {
                sbom.serial_number
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(serial))
                    && version.is_none_or(|v| sbom.version == Some(v))
                    && c.bom_ref.as_deref() == Some(bom_ref.as_str())
            }
            ProductRef::Cpe(s) => {
                let (Some(want), Some(have)) =
                    (Cpe23::parse(s), c.cpe.as_deref().and_then(Cpe23::parse))
                else {
                    return false;
                };
                want.names_same_product(&have)
                    && (matches!(want.version.as_str(), "*" | "-") || want.version == have.version)
            }
        }
    }

    /// The reference as text.
    pub fn as_text(&self) -> String {
        match self {
            ProductRef::Purl(s) | ProductRef::BomRef(s) | ProductRef::Cpe(s) => s.clone(),
            ProductRef::BomLink {
                serial,
                version,
                bom_ref,
            } => {
                let serial = serial.strip_prefix("urn:uuid:").unwrap_or(serial);
                match version {
                    Some(v) => format!("urn:cdx:{serial}/{v}#{bom_ref}"),
                    None => format!("urn:cdx:{serial}#{bom_ref}"),
                }
            }
        }
    }
}
