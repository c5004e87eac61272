//! One component of an SBOM as the gate sees it (CycloneDX 1.6 §components, SPDX 2.3 §7
//! packages): a leaf, so that VEX statements can scope themselves to a component's version
//! without importing the document parsers.

/// One component hash (`alg` as CycloneDX spells it: `SHA-256`, `SHA-512`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentHash {
    /// Algorithm name.
    pub alg: String,
    /// Lower-case hex digest.
    pub content: String,
}

/// One component of the SBOM, as the gate sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Component {
    /// CycloneDX `bom-ref` / SPDX `SPDXID`.
    pub bom_ref: Option<String>,
    /// CycloneDX `type` / SPDX `primaryPackagePurpose` (lower case).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: Option<String>,
    /// Package URL.
    pub purl: Option<String>,
    /// CPE 2.3 name.
    pub cpe: Option<String>,
    /// Hashes.
    pub hashes: Vec<ComponentHash>,
    /// License expressions (SPDX ids, expressions, or `LicenseRef-` names).
    pub licenses: Vec<String>,
}
