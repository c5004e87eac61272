//! What a VEX statement points at: a purl, a CycloneDX `bom-ref`, a BOM-Link
//! (`urn:cdx:<serial>/<version>#<bom-ref>`, CycloneDX 1.5 "BOM-Link") or a CPE 2.3 name.
//! Whether a reference designates a component of a given SBOM is decided in `designates.rs`,
//! so that the statements do not depend on the SBOM model that embeds them.

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

impl ProductRef {
    /// Classifies a reference string, refusing a BOM-Link whose version is not a positive
    /// integer (CycloneDX BOM versions are integers from 1): read as "no version", a typo
    /// such as `urn:cdx:SERIAL/x#ref` would widen the statement to every version of that SBOM.
    pub fn try_from_reference(r: &str) -> Result<ProductRef, String> {
        if let Some(link) = r.strip_prefix("urn:cdx:")
            && let Some((doc, bom_ref)) = link.split_once('#')
        {
            let (serial, version) = match doc.split_once('/') {
                Some((s, v)) => match v.parse::<u64>() {
                    Ok(n) if n >= 1 && !v.starts_with('+') => (s, Some(n)),
                    _ => {
                        return Err(format!(
                            "BOM-Link {r:?}: the version {v:?} is not a positive integer"
                        ));
                    }
                },
                None => (doc, None),
            };
            return Ok(ProductRef::BomLink {
                serial: format!("urn:uuid:{serial}"),
                version,
                bom_ref: bom_ref.to_owned(),
            });
        }
        Ok(if r.starts_with("pkg:") {
            ProductRef::Purl(r.to_owned())
        } else if r.starts_with("cpe:2.3:") {
            ProductRef::Cpe(r.to_owned())
        } else {
            ProductRef::BomRef(r.to_owned())
        })
    }

    /// Classifies a reference string. A BOM-Link with a malformed version (which
    /// [`ProductRef::try_from_reference`] refuses) is kept whole as a `bom-ref`, which designates
    /// nothing, so that it never widens a statement; the VEX readers refuse it instead.
    pub fn from_reference(r: &str) -> ProductRef {
        Self::try_from_reference(r).unwrap_or_else(|_| ProductRef::BomRef(r.to_owned()))
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
