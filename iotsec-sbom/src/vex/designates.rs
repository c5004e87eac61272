//! Whether a VEX reference designates a given SBOM component: purl identity (purl
//! specification: type, namespace, name; version only when the statement gives one; the
//! statement's qualifiers a subset of the component's, as go-vex matches), CycloneDX `bom-ref`
//! and BOM-Link (CycloneDX 1.5 "BOM-Link": the SBOM's serial number and version), or a strict
//! CPE 2.3 match. Kept apart from [`ProductRef`] itself because it reads the SBOM model, which
//! in turn holds the VEX statements an SBOM embeds.

use crate::cpe::Cpe23;
use crate::purl::PackageUrl;
use crate::sbom::{Component, Sbom};
use crate::vex::scope::ProductRef;

/// Whether every qualifier of the statement's purl is on the component's purl with the same
/// value (go-vex's purl matching): a statement for `?distro=debian-11` or `?arch=arm64` does not
/// cover the `debian-12` or `amd64` build; a statement without qualifiers covers every build.
fn qualifiers_subset(want: &PackageUrl, have: &PackageUrl) -> bool {
    want.qualifiers
        .iter()
        .all(|(k, v)| have.qualifier(k) == Some(v.as_str()))
}

impl ProductRef {
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
}
