//! CycloneDX XML 1.0-1.7 (CycloneDX XML schema `bom-1.N.xsd`, namespace
//! `http://cyclonedx.org/schema/bom/1.N`), read with `roxmltree` (no DTD, no external entities,
//! node limit), normalized like the JSON encoding.

use roxmltree::{Document, Node, ParsingOptions};

use super::cyclonedx_rules::{Rules, license_choice_error};
use super::{
    Collect, Component, ComponentHash, DroppedFields, MAX_NESTING, MAX_SBOM_BYTES, Sbom, SbomFormat,
};
use crate::error::GateError;
use crate::vex::cyclonedx::{EXPIRES_PROPERTY, VulnerabilityEntry};
use crate::vex::{VersionEntry, VexStatement};

const NS_PREFIX: &str = "http://cyclonedx.org/schema/bom/";

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i: 'a>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(n: Node<'_, '_>, name: &str) -> Option<String> {
    child(n, name).map(|c| c.text().unwrap_or("").trim().to_owned())
}

/// `target/versions/version` (CycloneDX XML `versionType`: `version` or `range`, `status`).
fn target_versions(target: Node<'_, '_>) -> Vec<VersionEntry> {
    child(target, "versions")
        .into_iter()
        .flat_map(|vs| children(vs, "version"))
        .map(|v| VersionEntry {
            version: text_of(v, "version"),
            range: text_of(v, "range"),
            status: text_of(v, "status"),
        })
        .collect()
}

struct XmlWalker<'s> {
    rules: Rules<'s>,
    ns: String,
    components: Vec<Component>,
    dropped: DroppedFields,
}

impl XmlWalker<'_> {
    fn in_ns(&self, n: Node<'_, '_>) -> bool {
        n.tag_name().namespace() == Some(self.ns.as_str())
    }

    fn licenses(&self, path: &str, licenses: Node<'_, '_>) -> Result<Vec<String>, GateError> {
        let mut out = Vec::new();
        let has_expression = child(licenses, "expression").is_some();
        let has_license = child(licenses, "license").is_some();
        if has_expression
            && has_license
            && !self.rules.at_least(7)
            && let Some(reason) = license_choice_error(true, true)
        {
            return Err(self.rules.violation(path, reason));
        }
        for l in children(licenses, "license") {
            let ids: Vec<_> = children(l, "id").collect();
            let names: Vec<_> = children(l, "name").collect();
            match (ids.as_slice(), names.as_slice()) {
                ([id], []) => {
                    let id = id.text().unwrap_or("").trim();
                    self.rules.license_id(path, id)?;
                    out.push(id.to_owned());
                }
                ([], [name]) => out.push(name.text().unwrap_or("").trim().to_owned()),
                _ => {
                    return Err(self
                        .rules
                        .violation(path, "a license has exactly one id or one name"));
                }
            }
            if let Some(enc) = child(l, "text").and_then(|t| t.attribute("encoding")) {
                self.rules.encoding(path, enc)?;
            }
        }
        for e in children(licenses, "expression") {
            out.push(e.text().unwrap_or("").trim().to_owned());
        }
        Ok(out)
    }

    fn component(
        &mut self,
        c: Node<'_, '_>,
        path: &str,
        depth: usize,
        collect: Collect,
    ) -> Result<Component, GateError> {
        if depth > MAX_NESTING {
            return Err(self.rules.violation(path, "components nested too deep"));
        }
        let ty = c
            .attribute("type")
            .ok_or_else(|| self.rules.violation(path, "component type is required"))?;
        self.rules.component_type(path, ty)?;
        let name = text_of(c, "name")
            .ok_or_else(|| self.rules.violation(path, "component name is required"))?;
        let bom_ref = c.attribute("bom-ref").map(str::to_owned);
        if let Some(r) = &bom_ref {
            if collect == Collect::All {
                self.rules.bom_ref_deferred(path, r)?;
            } else {
                self.rules.bom_ref(path, r)?;
            }
        }
        if let Some(s) = text_of(c, "scope") {
            self.rules.scope(path, &s)?;
        }
        let version = text_of(c, "version");
        let version_range = text_of(c, "versionRange");
        if version.is_some() && version_range.is_some() {
            return Err(self
                .rules
                .violation(path, "version and versionRange are mutually exclusive"));
        }
        if version_range.is_some() && c.attribute("isExternal") != Some("true") {
            return Err(self
                .rules
                .violation(path, "versionRange is only allowed when isExternal is true"));
        }
        let mut hashes = Vec::new();
        if let Some(hs) = child(c, "hashes") {
            for h in children(hs, "hash") {
                let alg = h
                    .attribute("alg")
                    .ok_or_else(|| self.rules.violation(path, "hash alg is required"))?;
                let content = h.text().unwrap_or("").trim();
                let alg = self.rules.hash(path, alg, content)?;
                hashes.push(ComponentHash {
                    alg: alg.to_owned(),
                    content: content.to_ascii_lowercase(),
                });
            }
        }
        let licenses = match child(c, "licenses") {
            Some(l) => self.licenses(path, l)?,
            None => Vec::new(),
        };
        if let Some(swid) = child(c, "swid")
            && (swid.attribute("tagId").is_none() || swid.attribute("name").is_none())
        {
            return Err(self.rules.violation(path, "swid requires tagId and name"));
        }
        if let Some(p) = child(c, "pedigree")
            && let Some(patches) = child(p, "patches")
        {
            for patch in children(patches, "patch") {
                let t = patch
                    .attribute("type")
                    .ok_or_else(|| self.rules.violation(path, "patch type is required"))?;
                self.rules.patch_type(path, t)?;
                if let Some(res) = child(patch, "resolves") {
                    for issue in children(res, "issue") {
                        let t = issue
                            .attribute("type")
                            .ok_or_else(|| self.rules.violation(path, "issue type is required"))?;
                        self.rules.issue_type(path, t)?;
                    }
                }
            }
        }
        if collect == Collect::All {
            for el in c.children().filter(|n| n.is_element()) {
                let n = el.tag_name().name();
                if !matches!(
                    n,
                    "name" | "version" | "purl" | "cpe" | "hashes" | "licenses" | "components"
                ) {
                    self.dropped.record(&format!("components[].{n}"));
                }
            }
        }
        let out = Component {
            bom_ref,
            kind: ty.to_owned(),
            name,
            version,
            purl: text_of(c, "purl"),
            cpe: text_of(c, "cpe"),
            hashes,
            licenses,
        };
        if let Some(list) = child(c, "components") {
            for (i, sub) in children(list, "component").enumerate() {
                let at = self.components.len();
                let nested = collect.for_children();
                let normalized =
                    self.component(sub, &format!("{path}.components[{i}]"), depth + 1, nested)?;
                if nested == Collect::All {
                    self.components.insert(at, normalized);
                }
            }
        }
        Ok(out)
    }

    fn vulnerabilities(
        &self,
        list: Node<'_, '_>,
        timestamp: Option<&str>,
    ) -> Result<Vec<VexStatement>, GateError> {
        let mut out = Vec::new();
        for (index, v) in children(list, "vulnerability").enumerate() {
            let analysis = child(v, "analysis");
            let field = |name| analysis.and_then(|a| text_of(a, name));
            let (state, justification, detail) =
                (field("state"), field("justification"), field("detail"));
            let id = text_of(v, "id");
            let aliases: Vec<String> = child(v, "references")
                .into_iter()
                .flat_map(|r| children(r, "reference"))
                .filter_map(|r| text_of(r, "id"))
                .collect();
            let affects: Vec<(String, Vec<VersionEntry>)> = child(v, "affects")
                .into_iter()
                .flat_map(|a| children(a, "target"))
                .filter_map(|t| Some((text_of(t, "ref")?, target_versions(t))))
                .collect();
            let expires = child(v, "properties")
                .into_iter()
                .flat_map(|p| children(p, "property"))
                .find(|p| p.attribute("name") == Some(EXPIRES_PROPERTY))
                .and_then(|p| p.text().map(str::trim));
            let entry = VulnerabilityEntry {
                id: id.as_deref(),
                aliases: aliases.iter().map(String::as_str).collect(),
                state: state.as_deref(),
                justification: justification.as_deref(),
                detail: detail.as_deref(),
                affects: affects
                    .iter()
                    .map(|(r, versions)| (r.as_str(), versions.clone()))
                    .collect(),
                expires,
                timestamp,
            };
            out.extend(entry.statement(index, "embedded", &self.rules)?);
        }
        Ok(out)
    }
}

/// Reads a CycloneDX XML document (1.0-1.7).
pub fn parse_cyclonedx_xml(bytes: &[u8]) -> Result<Sbom, GateError> {
    super::parse_with_digest(bytes, parse_cyclonedx_xml_body)
}

fn parse_cyclonedx_xml_body(bytes: &[u8]) -> Result<Sbom, GateError> {
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(GateError::SizeExceeded {
            what: "SBOM",
            size: bytes.len(),
            cap: MAX_SBOM_BYTES,
        });
    }
    let text = core::str::from_utf8(bytes).map_err(|e| GateError::malformed("CycloneDX XML", e))?;
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: 50_000_000,
        // No external entities: nothing is ever fetched or read (with no DTD there are none).
        entity_resolver: None,
    };
    let doc = Document::parse_with_options(text, opts)
        .map_err(|e| GateError::malformed("CycloneDX XML", e))?;
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or("");
    let spec = ns
        .strip_prefix(NS_PREFIX)
        .filter(|v| ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"].contains(v))
        .ok_or_else(|| {
            GateError::Unsupported(format!(
                "XML namespace {ns:?} is not a CycloneDX 1.0-1.7 namespace"
            ))
        })?;
    if root.tag_name().name() != "bom" {
        return Err(GateError::malformed(
            "CycloneDX XML",
            "root element is not <bom>",
        ));
    }
    let mut w = XmlWalker {
        rules: Rules::new(spec),
        ns: ns.to_owned(),
        components: Vec::new(),
        dropped: DroppedFields::default(),
    };
    let serial = root.attribute("serialNumber").map(str::to_owned);
    if let Some(s) = &serial {
        w.rules.serial_number(s)?;
    }
    let version = match root.attribute("version") {
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| w.rules.violation("bom/@version", "must be an integer >= 1"))?,
        ),
        None => None,
    };
    if w.rules.at_least(6) {
        for p in root
            .descendants()
            .filter(|n| n.is_element() && w.in_ns(*n) && n.tag_name().name() == "property")
        {
            if p.attribute("name").is_none() {
                return Err(w.rules.violation("property", "a property must have a name"));
            }
        }
    }
    if let Some(citations) = child(root, "citations") {
        for c in children(citations, "citation") {
            if let Some(r) = c.attribute("bom-ref") {
                w.rules.bom_ref("citations/citation", r)?;
            }
            let attributed = children(c, "attributedTo").count();
            if attributed > 1 {
                return Err(w
                    .rules
                    .violation("citations/citation", "at most one attributedTo"));
            }
            if attributed == 0 && child(c, "process").is_none() {
                return Err(w.rules.violation(
                    "citations/citation",
                    "a citation needs attributedTo or process",
                ));
            }
            if child(c, "pointers").is_some() && child(c, "expressions").is_some() {
                return Err(w
                    .rules
                    .violation("citations/citation", "pointers or expressions, not both"));
            }
        }
    }
    let mut subject = None;
    let mut timestamp = None;
    if let Some(m) = child(root, "metadata") {
        for el in m.children().filter(|n| n.is_element() && w.in_ns(*n)) {
            let n = el.tag_name().name();
            if !matches!(
                n,
                "timestamp"
                    | "lifecycles"
                    | "tools"
                    | "authors"
                    | "component"
                    | "manufacture"
                    | "manufacturer"
                    | "supplier"
                    | "licenses"
                    | "properties"
                    | "distributionConstraints"
            ) {
                return Err(w
                    .rules
                    .violation("metadata", format!("unknown element <{n}>")));
            }
        }
        if let Some(t) = text_of(m, "timestamp") {
            w.rules.timestamp("metadata/timestamp", &t)?;
            timestamp = Some(t);
        }
        if let Some(l) = child(m, "licenses") {
            w.licenses("metadata/licenses", l)?;
        }
        if let Some(c) = child(m, "component") {
            // The subject's assemblies are parts of the shipped product: gated like `components`.
            subject = Some(w.component(c, "metadata/component", 0, Collect::Children)?);
        }
    }
    if let Some(list) = child(root, "components") {
        for (i, c) in children(list, "component").enumerate() {
            let at = w.components.len();
            let normalized = w.component(c, &format!("components[{i}]"), 0, Collect::All)?;
            w.components.insert(at, normalized);
        }
    }
    if let Some(services) = child(root, "services") {
        w.dropped.record("services");
        for d in services
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "classification")
        {
            if let Some(flow) = d.attribute("flow") {
                w.rules.data_flow("services/service/data", flow)?;
            } else {
                return Err(w
                    .rules
                    .violation("services/service/data", "data flow is required"));
            }
        }
        for s in services
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "service")
        {
            if let Some(r) = s.attribute("bom-ref") {
                w.rules.bom_ref("services/service", r)?;
            }
        }
    }
    if let Some(deps) = child(root, "dependencies") {
        w.dropped.record("dependencies");
        for d in deps
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "dependency")
        {
            if d.attribute("ref").is_none_or(str::is_empty) {
                return Err(w
                    .rules
                    .violation("dependencies/dependency", "ref is required and non-empty"));
            }
        }
    }
    w.rules.unique_component_refs(&w.components)?;
    let mut embedded_vex = Vec::new();
    for el in root.children().filter(|n| n.is_element()) {
        if !w.in_ns(el) {
            continue;
        }
        match el.tag_name().name() {
            "metadata" | "components" | "services" | "dependencies" | "citations" => {}
            "vulnerabilities" => embedded_vex = w.vulnerabilities(el, timestamp.as_deref())?,
            other => w.dropped.record(other),
        }
    }
    Ok(Sbom {
        format: SbomFormat::CycloneDxXml,
        spec_version: spec.to_owned(),
        serial_number: serial,
        version,
        subject,
        components: w.components,
        embedded_vex,
        dropped: w.dropped,
        sha256: String::new(),
    })
}
