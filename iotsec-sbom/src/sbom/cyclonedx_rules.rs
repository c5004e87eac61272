//! The CycloneDX rules both encodings share (CycloneDX 1.7 JSON/XML schema: `hash-alg`,
//! `hash-content`, `serialNumber` pattern, `classification`, `scope`, `licenseChoice`,
//! `refType` uniqueness), checked on the parsed values.

use std::collections::HashSet;

use crate::error::GateError;

/// Specification versions read from JSON (1.0 and 1.1 had no JSON encoding).
pub(crate) const JSON_SPEC_VERSIONS: [&str; 6] = ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"];

pub(crate) struct Rules<'s> {
    /// Declared spec version.
    pub spec: &'s str,
    bom_refs: HashSet<String>,
}

impl<'s> Rules<'s> {
    pub(crate) fn new(spec: &'s str) -> Self {
        Rules {
            spec,
            bom_refs: HashSet::new(),
        }
    }

    pub(crate) fn violation(&self, path: impl Into<String>, rule: impl Into<String>) -> GateError {
        GateError::SpecViolation {
            spec_version: self.spec.to_owned(),
            path: path.into(),
            rule: rule.into(),
        }
    }

    /// At least the given minor version (`self.spec` is `1.N`).
    pub(crate) fn at_least(&self, minor: u32) -> bool {
        self.spec
            .strip_prefix("1.")
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m >= minor)
    }

    /// `bom-ref`: non-empty and unique in the whole document (`refType`, 1.5+ `minLength: 1`).
    pub(crate) fn bom_ref(&mut self, path: &str, r: &str) -> Result<(), GateError> {
        if r.is_empty() {
            return Err(self.violation(path, "bom-ref must not be empty"));
        }
        if !self.bom_refs.insert(r.to_owned()) {
            return Err(self.violation(path, format!("bom-ref {r:?} is not unique")));
        }
        Ok(())
    }

    /// Non-empty check only; uniqueness of collected components is checked in one pass at the
    /// end ([`Rules::unique_component_refs`]), which avoids an owned copy per component.
    pub(crate) fn bom_ref_deferred(&self, path: &str, r: &str) -> Result<(), GateError> {
        if r.is_empty() {
            return Err(self.violation(path, "bom-ref must not be empty"));
        }
        Ok(())
    }

    pub(crate) fn unique_component_refs(
        &self,
        components: &[super::Component],
    ) -> Result<(), GateError> {
        let mut seen: HashSet<&str> = HashSet::with_capacity(components.len());
        for r in components.iter().filter_map(|c| c.bom_ref.as_deref()) {
            if !seen.insert(r) || self.bom_refs.contains(r) {
                return Err(self.violation("components[]", format!("bom-ref {r:?} is not unique")));
            }
        }
        Ok(())
    }

    pub(crate) fn serial_number(&self, s: &str) -> Result<(), GateError> {
        let ok = s.strip_prefix("urn:uuid:").is_some_and(|u| {
            let b = u.as_bytes();
            b.len() == 36
                && b.iter().enumerate().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        *c == b'-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        });
        if ok {
            Ok(())
        } else {
            Err(self.violation("serialNumber", "must match ^urn:uuid:<RFC 4122 UUID>$"))
        }
    }

    pub(crate) fn timestamp(&self, path: &str, t: &str) -> Result<(), GateError> {
        if is_rfc3339_date_time(t) {
            Ok(())
        } else {
            Err(self.violation(path, format!("{t:?} is not an RFC 3339 date-time")))
        }
    }

    pub(crate) fn component_type(&self, path: &str, t: &str) -> Result<(), GateError> {
        let base = [
            "application",
            "framework",
            "library",
            "container",
            "operating-system",
            "device",
            "firmware",
            "file",
        ];
        let ok = base.contains(&t)
            || (self.at_least(5)
                && [
                    "platform",
                    "device-driver",
                    "machine-learning-model",
                    "data",
                ]
                .contains(&t))
            || (self.at_least(6) && t == "cryptographic-asset");
        if ok {
            Ok(())
        } else {
            Err(self.violation(path, format!("unknown component type {t:?}")))
        }
    }

    pub(crate) fn scope(&self, path: &str, s: &str) -> Result<(), GateError> {
        if ["required", "optional", "excluded"].contains(&s) {
            Ok(())
        } else {
            Err(self.violation(path, format!("unknown scope {s:?}")))
        }
    }

    /// Checks a hash and returns the algorithm's canonical (static) name.
    pub(crate) fn hash(
        &self,
        path: &str,
        alg: &str,
        content: &str,
    ) -> Result<&'static str, GateError> {
        let (name, want): (&'static str, &[usize]) = match alg {
            "MD5" => ("MD5", &[32]),
            "SHA-1" => ("SHA-1", &[40]),
            "SHA-256" => ("SHA-256", &[64]),
            "SHA3-256" => ("SHA3-256", &[64]),
            "BLAKE2b-256" => ("BLAKE2b-256", &[64]),
            "SHA-384" => ("SHA-384", &[96]),
            "SHA3-384" => ("SHA3-384", &[96]),
            "BLAKE2b-384" => ("BLAKE2b-384", &[96]),
            "SHA-512" => ("SHA-512", &[128]),
            "SHA3-512" => ("SHA3-512", &[128]),
            "BLAKE2b-512" => ("BLAKE2b-512", &[128]),
            "BLAKE3" => ("BLAKE3", &[]),
            "Streebog-256" if self.at_least(7) => ("Streebog-256", &[64]),
            "Streebog-512" if self.at_least(7) => ("Streebog-512", &[128]),
            _ => return Err(self.violation(path, format!("unknown hash algorithm {alg:?}"))),
        };
        let hex = !content.is_empty() && content.bytes().all(|c| c.is_ascii_hexdigit());
        if !hex || (!want.is_empty() && !want.contains(&content.len())) {
            return Err(self.violation(
                path,
                format!("{alg} content {content:?} has the wrong form or length"),
            ));
        }
        Ok(name)
    }

    pub(crate) fn license_id(&self, path: &str, id: &str) -> Result<(), GateError> {
        if spdx::license_id(id).is_some() || spdx::exception_id(id).is_some() {
            Ok(())
        } else {
            Err(self.violation(path, format!("{id:?} is not an SPDX license id")))
        }
    }

    pub(crate) fn encoding(&self, path: &str, enc: &str) -> Result<(), GateError> {
        if enc == "base64" {
            Ok(())
        } else {
            Err(self.violation(path, format!("unknown encoding {enc:?}")))
        }
    }

    pub(crate) fn data_flow(&self, path: &str, flow: &str) -> Result<(), GateError> {
        if ["inbound", "outbound", "bi-directional", "unknown"].contains(&flow) {
            Ok(())
        } else {
            Err(self.violation(path, format!("unknown data flow {flow:?}")))
        }
    }

    pub(crate) fn patch_type(&self, path: &str, t: &str) -> Result<(), GateError> {
        if ["unofficial", "monkey", "backport", "cherry-pick"].contains(&t) {
            Ok(())
        } else {
            Err(self.violation(path, format!("unknown patch type {t:?}")))
        }
    }

    pub(crate) fn issue_type(&self, path: &str, t: &str) -> Result<(), GateError> {
        if ["defect", "enhancement", "security"].contains(&t) {
            Ok(())
        } else {
            Err(self.violation(path, format!("unknown issue type {t:?}")))
        }
    }
}

/// RFC 3339 §5.6 `date-time` (JSON schema `format: date-time`).
pub(crate) fn is_rfc3339_date_time(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |r: core::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|s| !s.is_empty() && s.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(digits(0..4) && at(4, b'-') && digits(5..7) && at(7, b'-') && digits(8..10)) {
        return false;
    }
    if !(matches!(b.get(10), Some(b'T' | b't' | b' '))
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19))
    {
        return false;
    }
    let num = |r: core::ops::Range<usize>| -> u32 {
        b.get(r)
            .and_then(|s| core::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(99)
    };
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            digits(i + 1..i + 3) && at(i + 3, b':') && digits(i + 4..i + 6) && i + 6 == b.len()
        }
        _ => false,
    }
}

/// Mutual exclusion inside one `licenses[]` entry and the per-spec shape rules.
pub(crate) fn license_choice_error(
    has_license: bool,
    has_expression: bool,
) -> Option<&'static str> {
    match (has_license, has_expression) {
        (true, true) => {
            Some("a licenses[] entry holds either a license or an expression, not both")
        }
        (false, false) => Some("a licenses[] entry must hold a license or an expression"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert!(is_rfc3339_date_time("2020-04-13T20:20:39+00:00"));
        assert!(is_rfc3339_date_time("2020-04-13T20:20:39.123Z"));
        assert!(!is_rfc3339_date_time("2020-04-13"));
        assert!(!is_rfc3339_date_time("2020-13-13T20:20:39Z"));
        assert!(!is_rfc3339_date_time("April 1st"));
    }
}
