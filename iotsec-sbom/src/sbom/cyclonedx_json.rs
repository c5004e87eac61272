//! CycloneDX JSON 1.2-1.7 (CycloneDX specification, JSON schema `bom-1.N.schema.json`): a
//! borrowing serde model of what the gate evaluates and validates; subtrees the gate does not
//! evaluate are skipped without allocation (`IgnoredAny`) and reported in
//! [`Sbom::dropped`](super::Sbom::dropped).

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::cyclonedx_rules::{JSON_SPEC_VERSIONS, Rules, license_choice_error};
use super::{
    Collect, Component, ComponentHash, DroppedFields, MAX_NESTING, MAX_SBOM_BYTES, Sbom, SbomFormat,
};
use crate::error::GateError;
use crate::vex::cyclonedx::{CdxVulnerability, statements_from_vulnerabilities};

type Text<'a> = Cow<'a, str>;
type Skip = Option<IgnoredAny>;

/// The top-level fields except `components`, which are streamed into the [`Walker`] one at a
/// time (see [`BomSeed`]) so that the borrowed model of all components never exists at once.
#[derive(Default)]
struct CdxBom<'a> {
    schema: Skip,
    bom_format: Option<Text<'a>>,
    spec_version: Option<Text<'a>>,
    serial_number: Option<Text<'a>>,
    version: Option<i64>,
    metadata: Option<Metadata<'a>>,
    services: Option<Vec<Service<'a>>>,
    external_references: Skip,
    dependencies: Option<Vec<Dependency<'a>>>,
    compositions: Skip,
    properties: Option<Vec<Property<'a>>>,
    vulnerabilities: Option<Vec<CdxVulnerability<'a>>>,
    annotations: Skip,
    formulation: Skip,
    declarations: Skip,
    definitions: Skip,
    citations: Option<Vec<Citation<'a>>>,
    signature: Skip,
}

/// The first pass: only what selects the validation rules (`bomFormat`, `specVersion`), every
/// other value skipped without allocation. It also rejects malformed JSON anywhere.
#[derive(Deserialize)]
struct CdxHead<'a> {
    #[serde(rename = "bomFormat", borrow, default)]
    bom_format: Option<Text<'a>>,
    #[serde(rename = "specVersion", borrow, default)]
    spec_version: Option<Text<'a>>,
}

const BOM_FIELDS: &[&str] = &[
    "$schema",
    "bomFormat",
    "specVersion",
    "serialNumber",
    "version",
    "metadata",
    "components",
    "services",
    "externalReferences",
    "dependencies",
    "compositions",
    "properties",
    "vulnerabilities",
    "annotations",
    "formulation",
    "declarations",
    "definitions",
    "citations",
    "signature",
];

/// Reads one top-level value into `slot`, rejecting a duplicate key (as serde's derive does).
fn field<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(key));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Deserializes the top-level object, handing each element of `components` to the walker as
/// soon as it is read.
struct BomSeed<'w, 's> {
    walker: &'w mut Walker<'s>,
}

impl<'de> DeserializeSeed<'de> for BomSeed<'_, '_> {
    type Value = CdxBom<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BomSeed<'_, '_> {
    type Value = CdxBom<'de>;
    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a CycloneDX BOM object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut bom = CdxBom::default();
        let mut seen_components = false;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "$schema" => field(&mut map, &mut bom.schema, "$schema")?,
                "bomFormat" => field(&mut map, &mut bom.bom_format, "bomFormat")?,
                "specVersion" => field(&mut map, &mut bom.spec_version, "specVersion")?,
                "serialNumber" => field(&mut map, &mut bom.serial_number, "serialNumber")?,
                "version" => field(&mut map, &mut bom.version, "version")?,
                "metadata" => field(&mut map, &mut bom.metadata, "metadata")?,
                "components" => {
                    if seen_components {
                        return Err(de::Error::duplicate_field("components"));
                    }
                    seen_components = true;
                    map.next_value_seed(ComponentsSeed {
                        walker: &mut *self.walker,
                    })?;
                }
                "services" => field(&mut map, &mut bom.services, "services")?,
                "externalReferences" => {
                    field(&mut map, &mut bom.external_references, "externalReferences")?
                }
                "dependencies" => field(&mut map, &mut bom.dependencies, "dependencies")?,
                "compositions" => field(&mut map, &mut bom.compositions, "compositions")?,
                "properties" => field(&mut map, &mut bom.properties, "properties")?,
                "vulnerabilities" => {
                    field(&mut map, &mut bom.vulnerabilities, "vulnerabilities")?;
                }
                "annotations" => field(&mut map, &mut bom.annotations, "annotations")?,
                "formulation" => field(&mut map, &mut bom.formulation, "formulation")?,
                "declarations" => field(&mut map, &mut bom.declarations, "declarations")?,
                "definitions" => field(&mut map, &mut bom.definitions, "definitions")?,
                "citations" => field(&mut map, &mut bom.citations, "citations")?,
                "signature" => field(&mut map, &mut bom.signature, "signature")?,
                other => return Err(de::Error::unknown_field(other, BOM_FIELDS)),
            }
        }
        Ok(bom)
    }
}

/// Streams `components[]`: each element is deserialized (borrowing from the input), validated
/// and normalized, then dropped before the next one is read.
struct ComponentsSeed<'w, 's> {
    walker: &'w mut Walker<'s>,
}

impl<'de> DeserializeSeed<'de> for ComponentsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ComponentsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("an array of components")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.walker.components.reserve(n);
        }
        let mut i = 0usize;
        while let Some(c) = seq.next_element::<CdxComponent<'de>>()? {
            let at = self.walker.components.len();
            let path = format!("components[{i}]");
            match self.walker.component(&c, &path, 0, Collect::All) {
                Ok(normalized) => self.walker.components.insert(at, normalized),
                Err(e) => {
                    let msg = e.to_string();
                    self.walker.violation = Some(e);
                    return Err(de::Error::custom(msg));
                }
            }
            i += 1;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
    #[serde(default)]
    lifecycles: Skip,
    #[serde(default)]
    tools: Skip,
    #[serde(default)]
    authors: Skip,
    #[serde(borrow, default)]
    component: Option<CdxComponent<'a>>,
    #[serde(default)]
    manufacture: Skip,
    #[serde(default)]
    manufacturer: Skip,
    #[serde(default)]
    supplier: Skip,
    #[serde(borrow, default)]
    licenses: Option<Vec<LicenseEntry<'a>>>,
    #[serde(borrow, default)]
    properties: Option<Vec<Property<'a>>>,
    #[serde(rename = "distributionConstraints", default)]
    distribution_constraints: Skip,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CdxComponent<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<Text<'a>>,
    #[serde(rename = "mime-type", default)]
    mime_type: Skip,
    #[serde(rename = "bom-ref", borrow, default)]
    bom_ref: Option<Text<'a>>,
    #[serde(default)]
    supplier: Skip,
    #[serde(default)]
    manufacturer: Skip,
    #[serde(default)]
    authors: Skip,
    #[serde(default)]
    author: Skip,
    #[serde(default)]
    publisher: Skip,
    #[serde(default)]
    group: Skip,
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    version: Option<Text<'a>>,
    #[serde(rename = "versionRange", borrow, default)]
    version_range: Option<Text<'a>>,
    #[serde(rename = "isExternal", default)]
    is_external: Option<bool>,
    #[serde(default)]
    description: Skip,
    #[serde(borrow, default)]
    scope: Option<Text<'a>>,
    #[serde(borrow, default)]
    hashes: Option<Vec<Hash<'a>>>,
    #[serde(borrow, default)]
    licenses: Option<Vec<LicenseEntry<'a>>>,
    #[serde(default)]
    copyright: Skip,
    #[serde(borrow, default)]
    cpe: Option<Text<'a>>,
    #[serde(borrow, default)]
    purl: Option<Text<'a>>,
    #[serde(rename = "omniborId", default)]
    omnibor_id: Skip,
    #[serde(default)]
    swhid: Skip,
    #[serde(borrow, default)]
    swid: Option<Swid<'a>>,
    #[serde(default)]
    modified: Skip,
    #[serde(borrow, default)]
    pedigree: Option<Pedigree<'a>>,
    #[serde(rename = "externalReferences", default)]
    external_references: Skip,
    #[serde(borrow, default)]
    properties: Option<Vec<Property<'a>>>,
    #[serde(borrow, default)]
    components: Option<Vec<CdxComponent<'a>>>,
    #[serde(default)]
    evidence: Skip,
    #[serde(rename = "releaseNotes", default)]
    release_notes: Skip,
    #[serde(rename = "modelCard", default)]
    model_card: Skip,
    #[serde(default)]
    data: Skip,
    #[serde(rename = "cryptoProperties", default)]
    crypto_properties: Skip,
    #[serde(default)]
    signature: Skip,
    #[serde(default)]
    tags: Skip,
    #[serde(rename = "patentAssertions", default)]
    patent_assertions: Skip,
}

impl CdxComponent<'_> {
    fn skipped_fields(&self) -> impl Iterator<Item = &'static str> {
        [
            ("components[].mime-type", self.mime_type.is_some()),
            ("components[].supplier", self.supplier.is_some()),
            ("components[].manufacturer", self.manufacturer.is_some()),
            ("components[].authors", self.authors.is_some()),
            ("components[].author", self.author.is_some()),
            ("components[].publisher", self.publisher.is_some()),
            ("components[].group", self.group.is_some()),
            ("components[].versionRange", self.version_range.is_some()),
            ("components[].description", self.description.is_some()),
            ("components[].scope", self.scope.is_some()),
            ("components[].copyright", self.copyright.is_some()),
            ("components[].omniborId", self.omnibor_id.is_some()),
            ("components[].swhid", self.swhid.is_some()),
            ("components[].swid", self.swid.is_some()),
            ("components[].modified", self.modified.is_some()),
            ("components[].pedigree", self.pedigree.is_some()),
            (
                "components[].externalReferences",
                self.external_references.is_some(),
            ),
            ("components[].properties", self.properties.is_some()),
            ("components[].evidence", self.evidence.is_some()),
            ("components[].releaseNotes", self.release_notes.is_some()),
            ("components[].modelCard", self.model_card.is_some()),
            ("components[].data", self.data.is_some()),
            (
                "components[].cryptoProperties",
                self.crypto_properties.is_some(),
            ),
            ("components[].signature", self.signature.is_some()),
            ("components[].tags", self.tags.is_some()),
            (
                "components[].patentAssertions",
                self.patent_assertions.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hash<'a> {
    #[serde(borrow)]
    alg: Text<'a>,
    #[serde(borrow)]
    content: Text<'a>,
}

#[derive(Deserialize)]
struct LicenseEntry<'a> {
    #[serde(borrow, default)]
    license: Option<License<'a>>,
    #[serde(borrow, default)]
    expression: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct License<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    text: Option<Attachment<'a>>,
    #[serde(borrow, default)]
    properties: Option<Vec<Property<'a>>>,
}

#[derive(Deserialize)]
struct Attachment<'a> {
    #[serde(borrow, default)]
    encoding: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Property<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(default, rename = "value")]
    _value: Skip,
}

#[derive(Deserialize)]
struct Swid<'a> {
    #[serde(rename = "tagId", borrow, default)]
    tag_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Pedigree<'a> {
    #[serde(borrow, default)]
    patches: Option<Vec<Patch<'a>>>,
    #[serde(borrow, default)]
    ancestors: Option<Vec<CdxComponent<'a>>>,
    #[serde(borrow, default)]
    descendants: Option<Vec<CdxComponent<'a>>>,
    #[serde(borrow, default)]
    variants: Option<Vec<CdxComponent<'a>>>,
}

#[derive(Deserialize)]
struct Patch<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<Text<'a>>,
    #[serde(borrow, default)]
    resolves: Option<Vec<Issue<'a>>>,
}

#[derive(Deserialize)]
struct Issue<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Service<'a> {
    #[serde(rename = "bom-ref", borrow, default)]
    bom_ref: Option<Text<'a>>,
    #[serde(borrow, default)]
    data: Option<Vec<DataFlow<'a>>>,
    #[serde(borrow, default)]
    services: Option<Vec<Service<'a>>>,
}

#[derive(Deserialize)]
struct DataFlow<'a> {
    #[serde(borrow, default)]
    flow: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Dependency<'a> {
    #[serde(rename = "ref", borrow, default)]
    reference: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Citation<'a> {
    #[serde(rename = "bom-ref", borrow, default)]
    bom_ref: Option<Text<'a>>,
    #[serde(default)]
    pointers: Skip,
    #[serde(default)]
    expressions: Skip,
    #[serde(rename = "attributedTo", default)]
    attributed_to: Skip,
    #[serde(default)]
    process: Skip,
}

struct Walker<'s> {
    rules: Rules<'s>,
    components: Vec<Component>,
    dropped: DroppedFields,
    /// The rule violation that stopped the streaming pass (reported instead of serde's error).
    violation: Option<GateError>,
}

impl Walker<'_> {
    fn properties(&self, path: &str, props: &[Property<'_>]) -> Result<(), GateError> {
        if self.rules.at_least(6) && props.iter().any(|p| p.name.is_none()) {
            return Err(self.rules.violation(path, "a property must have a name"));
        }
        Ok(())
    }

    fn licenses(&self, path: &str, entries: &[LicenseEntry<'_>]) -> Result<Vec<String>, GateError> {
        let mut out = Vec::with_capacity(entries.len());
        let expressions = entries.iter().filter(|e| e.expression.is_some()).count();
        if expressions > 0 && entries.len() > 1 && !self.rules.at_least(7) {
            return Err(self.rules.violation(
                path,
                "an expression must be the only entry of licenses[] before CycloneDX 1.7",
            ));
        }
        for e in entries {
            if let Some(reason) = license_choice_error(e.license.is_some(), e.expression.is_some())
            {
                return Err(self.rules.violation(path, reason));
            }
            if let Some(x) = &e.expression {
                out.push(x.to_string());
            }
            if let Some(l) = &e.license {
                match (&l.id, &l.name) {
                    (Some(id), None) => {
                        self.rules.license_id(path, id)?;
                        out.push(id.to_string());
                    }
                    (None, Some(name)) => out.push(name.to_string()),
                    (Some(_), Some(_)) => {
                        return Err(self
                            .rules
                            .violation(path, "a license has an id or a name, not both"));
                    }
                    (None, None) => {
                        return Err(self
                            .rules
                            .violation(path, "a license needs an id or a name"));
                    }
                }
                if let Some(enc) = l.text.as_ref().and_then(|t| t.encoding.as_ref()) {
                    self.rules.encoding(path, enc)?;
                }
                if let Some(props) = &l.properties {
                    self.properties(path, props)?;
                }
            }
        }
        Ok(out)
    }

    fn component(
        &mut self,
        c: &CdxComponent<'_>,
        path: &str,
        depth: usize,
        collect: Collect,
    ) -> Result<Component, GateError> {
        if depth > MAX_NESTING {
            return Err(self
                .rules
                .violation(path, format!("components nested deeper than {MAX_NESTING}")));
        }
        let ty =
            c.ty.as_deref()
                .ok_or_else(|| self.rules.violation(path, "component type is required"))?;
        self.rules.component_type(path, ty)?;
        let name = c
            .name
            .as_deref()
            .ok_or_else(|| self.rules.violation(path, "component name is required"))?;
        if let Some(r) = &c.bom_ref {
            if collect == Collect::All {
                self.rules.bom_ref_deferred(path, r)?;
            } else {
                self.rules.bom_ref(path, r)?;
            }
        }
        if let Some(s) = &c.scope {
            self.rules.scope(path, s)?;
        }
        if c.version.is_some() && c.version_range.is_some() {
            return Err(self
                .rules
                .violation(path, "version and versionRange are mutually exclusive"));
        }
        if c.version_range.is_some() && c.is_external != Some(true) {
            return Err(self
                .rules
                .violation(path, "versionRange is only allowed when isExternal is true"));
        }
        let mut hashes = Vec::new();
        for h in c.hashes.iter().flatten() {
            let alg = self.rules.hash(path, &h.alg, &h.content)?;
            hashes.push(ComponentHash {
                alg: alg.to_owned(),
                content: h.content.to_ascii_lowercase(),
            });
        }
        let licenses = match &c.licenses {
            Some(l) => self.licenses(path, l)?,
            None => Vec::new(),
        };
        if let Some(swid) = &c.swid
            && (swid.tag_id.is_none() || swid.name.is_none())
        {
            return Err(self.rules.violation(path, "swid requires tagId and name"));
        }
        if let Some(props) = &c.properties {
            self.properties(path, props)?;
        }
        if let Some(p) = &c.pedigree {
            for patch in p.patches.iter().flatten() {
                let t = patch
                    .ty
                    .as_deref()
                    .ok_or_else(|| self.rules.violation(path, "patch type is required"))?;
                self.rules.patch_type(path, t)?;
                for issue in patch.resolves.iter().flatten() {
                    let t = issue
                        .ty
                        .as_deref()
                        .ok_or_else(|| self.rules.violation(path, "issue type is required"))?;
                    self.rules.issue_type(path, t)?;
                }
            }
            for (i, a) in [&p.ancestors, &p.descendants, &p.variants]
                .into_iter()
                .flatten()
                .flatten()
                .enumerate()
            {
                self.component(
                    a,
                    &format!("{path}.pedigree[{i}]"),
                    depth + 1,
                    Collect::Nothing,
                )?;
            }
        }
        if collect == Collect::All {
            for f in c.skipped_fields() {
                self.dropped.record(f);
            }
        }
        let out = Component {
            bom_ref: c.bom_ref.as_deref().map(str::to_owned),
            kind: ty.to_owned(),
            name: name.to_owned(),
            version: c.version.as_deref().map(str::to_owned),
            purl: c.purl.as_deref().map(str::to_owned),
            cpe: c.cpe.as_deref().map(str::to_owned),
            hashes,
            licenses,
        };
        for (i, child) in c.components.iter().flatten().enumerate() {
            let child_path = format!("{path}.components[{i}]");
            // Parent before its descendants: insert at the position it had before recursing.
            let at = self.components.len();
            let nested = collect.for_children();
            let normalized = self.component(child, &child_path, depth + 1, nested)?;
            if nested == Collect::All {
                self.components.insert(at, normalized);
            }
        }
        Ok(out)
    }

    fn services(&mut self, services: &[Service<'_>], depth: usize) -> Result<(), GateError> {
        if depth > MAX_NESTING {
            return Err(self.rules.violation("services", "services nested too deep"));
        }
        for s in services {
            if let Some(r) = &s.bom_ref {
                self.rules.bom_ref("services[]", r)?;
            }
            for d in s.data.iter().flatten() {
                let flow = d.flow.as_deref().ok_or_else(|| {
                    self.rules
                        .violation("services[].data[]", "data flow is required")
                })?;
                self.rules.data_flow("services[].data[]", flow)?;
            }
            if let Some(nested) = &s.services {
                self.services(nested, depth + 1)?;
            }
        }
        Ok(())
    }
}

fn check_format(bom_format: Option<&str>) -> Result<(), GateError> {
    match bom_format {
        Some("CycloneDX") => Ok(()),
        Some(other) => Err(GateError::Unsupported(format!(
            "bomFormat {other:?} is not CycloneDX"
        ))),
        None => Err(GateError::malformed(
            "CycloneDX JSON",
            "bomFormat is required",
        )),
    }
}

/// Reads a CycloneDX JSON document (1.2-1.7), validating the rules of `cyclonedx_rules`.
///
/// Two passes over the bytes: the first reads only `bomFormat` and `specVersion` (which select
/// the rules; they may come after `components`), the second streams `components[]` through the
/// validation and normalization one element at a time, so memory stays near the input size.
pub fn parse_cyclonedx_json(bytes: &[u8]) -> Result<Sbom, GateError> {
    super::parse_with_digest(bytes, parse_cyclonedx_json_body)
}

fn parse_cyclonedx_json_body(bytes: &[u8]) -> Result<Sbom, GateError> {
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(GateError::SizeExceeded {
            what: "SBOM",
            size: bytes.len(),
            cap: MAX_SBOM_BYTES,
        });
    }
    let head: CdxHead<'_> =
        serde_json::from_slice(bytes).map_err(|e| GateError::malformed("CycloneDX JSON", e))?;
    check_format(head.bom_format.as_deref())?;
    let spec = head
        .spec_version
        .as_deref()
        .ok_or_else(|| GateError::malformed("CycloneDX JSON", "specVersion is required"))?;
    if !JSON_SPEC_VERSIONS.contains(&spec) {
        return Err(GateError::Unsupported(format!(
            "CycloneDX JSON specVersion {spec:?} (supported: 1.2-1.7)"
        )));
    }
    let mut w = Walker {
        rules: Rules::new(spec),
        components: Vec::new(),
        dropped: DroppedFields::default(),
        violation: None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let streamed = BomSeed { walker: &mut w }
        .deserialize(&mut de)
        .and_then(|bom| de.end().map(|()| bom));
    let bom = match streamed {
        Ok(bom) => bom,
        Err(e) => {
            return Err(match w.violation.take() {
                Some(v) => v,
                None => GateError::malformed("CycloneDX JSON", e),
            });
        }
    };
    if let Some(s) = &bom.serial_number {
        w.rules.serial_number(s)?;
    }
    if let Some(v) = bom.version
        && v < 1
    {
        return Err(w
            .rules
            .violation("version", "BOM version must be at least 1"));
    }
    let mut subject = None;
    if let Some(m) = &bom.metadata {
        if let Some(t) = &m.timestamp {
            w.rules.timestamp("metadata.timestamp", t)?;
        }
        if let Some(l) = &m.licenses {
            w.licenses("metadata.licenses", l)?;
        }
        if let Some(p) = &m.properties {
            w.properties("metadata.properties", p)?;
        }
        if let Some(c) = &m.component {
            // The subject's assemblies are parts of the shipped product: they are gated like
            // `components[]` and, as in the XML schema order, listed before them.
            let top_level = w.components.len();
            subject = Some(w.component(c, "metadata.component", 0, Collect::Children)?);
            let assemblies = w.components.len().saturating_sub(top_level);
            w.components.rotate_right(assemblies);
        }
        for (f, present) in [
            ("metadata.lifecycles", m.lifecycles.is_some()),
            ("metadata.tools", m.tools.is_some()),
            ("metadata.authors", m.authors.is_some()),
            ("metadata.manufacture", m.manufacture.is_some()),
            ("metadata.manufacturer", m.manufacturer.is_some()),
            ("metadata.supplier", m.supplier.is_some()),
            (
                "metadata.distributionConstraints",
                m.distribution_constraints.is_some(),
            ),
        ] {
            if present {
                w.dropped.record(f);
            }
        }
    }
    if let Some(s) = &bom.services {
        w.services(s, 0)?;
        w.dropped.record("services");
    }
    for d in bom.dependencies.iter().flatten() {
        match d.reference.as_deref() {
            Some(r) if !r.is_empty() => {}
            _ => {
                return Err(w
                    .rules
                    .violation("dependencies[]", "ref is required and non-empty"));
            }
        }
    }
    if let Some(p) = &bom.properties {
        w.properties("properties", p)?;
    }
    for c in bom.citations.iter().flatten() {
        if let Some(r) = &c.bom_ref {
            w.rules.bom_ref("citations[]", r)?;
        }
        if c.attributed_to.is_none() && c.process.is_none() {
            return Err(w
                .rules
                .violation("citations[]", "a citation needs attributedTo or process"));
        }
        if c.pointers.is_some() && c.expressions.is_some() {
            return Err(w.rules.violation(
                "citations[]",
                "a citation has pointers or expressions, not both",
            ));
        }
    }
    for (f, present) in [
        ("externalReferences", bom.external_references.is_some()),
        ("dependencies", bom.dependencies.is_some()),
        ("compositions", bom.compositions.is_some()),
        ("annotations", bom.annotations.is_some()),
        ("formulation", bom.formulation.is_some()),
        ("declarations", bom.declarations.is_some()),
        ("definitions", bom.definitions.is_some()),
        ("citations", bom.citations.is_some()),
        ("signature", bom.signature.is_some()),
    ] {
        if present {
            w.dropped.record(f);
        }
    }
    let _ = (&bom.schema, &bom.bom_format, &bom.spec_version);
    w.rules.unique_component_refs(&w.components)?;
    let embedded_vex = match &bom.vulnerabilities {
        Some(v) => {
            let timestamp = bom.metadata.as_ref().and_then(|m| m.timestamp.as_deref());
            statements_from_vulnerabilities(v, "embedded", timestamp, &w.rules)?
        }
        None => Vec::new(),
    };
    Ok(Sbom {
        format: SbomFormat::CycloneDxJson,
        spec_version: spec.to_owned(),
        serial_number: bom.serial_number.as_deref().map(str::to_owned),
        version: bom.version.and_then(|v| u64::try_from(v).ok()),
        subject,
        components: w.components,
        embedded_vex,
        dropped: w.dropped,
        sha256: String::new(),
    })
}
