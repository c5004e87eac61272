//! A second opinion from the CycloneDX project's own Rust crate, `cyclonedx-bom` 0.8.1, for the
//! specification versions it reads (1.3-1.5): its parser and its `Validate` rules (purl, SPDX
//! ids and expressions, hashes, date-times, URNs). It wrongly requires
//! `vulnerabilities[].affects[].versions[].status` in JSON, which the 1.4/1.5 schemas default to
//! `affected`; the missing defaults are added before it runs and listed in the result.

use cyclonedx_bom::models::bom::{Bom, SpecVersion};
use cyclonedx_bom::validation::Validate;
use serde_json::Value;

use crate::error::GateError;

/// What the cross-check did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrossCheck {
    /// `cyclonedx-bom` does not read this specification version (or format); nothing was checked.
    NotApplicable {
        /// Why.
        reason: String,
    },
    /// `cyclonedx-bom` parsed and validated the document.
    Passed {
        /// Defaults added for `cyclonedx-bom` (JSON paths).
        defaults_added: Vec<String>,
    },
}

fn spec_of(v: &str) -> Option<SpecVersion> {
    match v {
        "1.3" => Some(SpecVersion::V1_3),
        "1.4" => Some(SpecVersion::V1_4),
        "1.5" => Some(SpecVersion::V1_5),
        _ => None,
    }
}

fn violation(spec: &str, path: &str, rule: impl ToString) -> GateError {
    GateError::SpecViolation {
        spec_version: spec.to_owned(),
        path: path.to_owned(),
        rule: format!("cyclonedx-bom: {}", rule.to_string()),
    }
}

fn validate(bom: &Bom, spec: SpecVersion, spec_text: &str) -> Result<(), GateError> {
    let result = bom.validate_version(spec);
    if let Some((field, kind)) = result.errors().next() {
        return Err(violation(spec_text, &field, format!("{kind:?}")));
    }
    Ok(())
}

/// Cross-checks a CycloneDX document (JSON or XML) with `cyclonedx-bom` where it applies.
pub fn cross_check_with_cyclonedx_bom(bytes: &[u8]) -> Result<CrossCheck, GateError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'<') {
        let text =
            core::str::from_utf8(bytes).map_err(|e| GateError::malformed("CycloneDX XML", e))?;
        let head = text.get(..text.len().min(4096)).unwrap_or(text);
        let spec_text = ["1.3", "1.4", "1.5", "1.6", "1.7", "1.2", "1.1", "1.0"]
            .into_iter()
            .find(|v| head.contains(&format!("http://cyclonedx.org/schema/bom/{v}\"")))
            .unwrap_or("");
        let Some(spec) = spec_of(spec_text) else {
            return Ok(CrossCheck::NotApplicable {
                reason: format!("cyclonedx-bom 0.8.1 does not read XML {spec_text:?}"),
            });
        };
        let bom = Bom::parse_from_xml_with_version(bytes, spec)
            .map_err(|e| violation(spec_text, "bom", e))?;
        validate(&bom, spec, spec_text)?;
        return Ok(CrossCheck::Passed {
            defaults_added: Vec::new(),
        });
    }
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| GateError::malformed("CycloneDX JSON", e))?;
    let spec_text = value
        .get("specVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(spec) = spec_of(&spec_text) else {
        return Ok(CrossCheck::NotApplicable {
            reason: format!("cyclonedx-bom 0.8.1 does not read JSON {spec_text:?}"),
        });
    };
    let mut defaults_added = Vec::new();
    if let Some(vulns) = value
        .get_mut("vulnerabilities")
        .and_then(Value::as_array_mut)
    {
        for (i, v) in vulns.iter_mut().enumerate() {
            let Some(affects) = v.get_mut("affects").and_then(Value::as_array_mut) else {
                continue;
            };
            for (j, a) in affects.iter_mut().enumerate() {
                let Some(versions) = a.get_mut("versions").and_then(Value::as_array_mut) else {
                    continue;
                };
                for (k, ver) in versions.iter_mut().enumerate() {
                    if let Some(obj) = ver.as_object_mut()
                        && !obj.contains_key("status")
                    {
                        obj.insert("status".to_owned(), Value::from("affected"));
                        defaults_added.push(format!(
                            "vulnerabilities[{i}].affects[{j}].versions[{k}].status=affected"
                        ));
                    }
                }
            }
        }
    }
    let bom = Bom::parse_json_value(value).map_err(|e| violation(&spec_text, "bom", e))?;
    validate(&bom, spec, &spec_text)?;
    Ok(CrossCheck::Passed { defaults_added })
}
