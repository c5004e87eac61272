//! The crate's one error type: every way an input can be refused, with the data a caller needs
//! to tell an attack or a broken producer from a typo.

use thiserror::Error;

/// Why an SBOM, advisory, VEX document or policy was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GateError {
    /// The input is larger than the hard cap for its kind.
    #[error("{what} is {size} bytes, above the cap of {cap} bytes")]
    SizeExceeded {
        /// Which input.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The cap.
        cap: usize,
    },
    /// The document is not well-formed JSON/XML/TOML or does not have the expected shape.
    #[error("{format}: malformed document: {reason}")]
    Malformed {
        /// Which format was expected.
        format: &'static str,
        /// The parser's reason.
        reason: String,
    },
    /// A CycloneDX document violates its specification (the schema rule is named).
    #[error("CycloneDX {spec_version}: {path}: {rule}")]
    SpecViolation {
        /// The declared `specVersion`.
        spec_version: String,
        /// Where in the document (JSON pointer-like path or XML element).
        path: String,
        /// The violated rule, in words.
        rule: String,
    },
    /// The document declares a format or specification version this crate does not read.
    #[error("unsupported document: {0}")]
    Unsupported(String),
    /// An OSV advisory violates the OSV schema.
    #[error("advisory {file}: {reason}")]
    BadAdvisory {
        /// The file (or `<memory>`).
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// Two advisory files claim the same id: a database that was tampered with or merged wrongly.
    #[error("advisory id {id} appears twice ({first} and {second})")]
    DuplicateAdvisory {
        /// The id.
        id: String,
        /// First file.
        first: String,
        /// Second file.
        second: String,
    },
    /// A VEX document is malformed or uses an unknown status or justification.
    #[error("VEX {source_name}: {reason}")]
    BadVex {
        /// The document's name.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// A VEX statement's expiry is not a date (RFC 3339 `full-date` or `date-time`): refused
    /// rather than read as "never expires".
    #[error(
        "VEX {source_name} statement {statement}: expires {value:?} is not a date (YYYY-MM-DD or RFC 3339 date-time)"
    )]
    BadVexExpiry {
        /// The document's name (`embedded` for the SBOM's own VEX).
        source_name: String,
        /// Position of the statement in its document.
        statement: usize,
        /// The value as written.
        value: String,
    },
    /// A VEX timestamp is not an RFC 3339 `date-time` (statements are ordered by it).
    #[error(
        "VEX {source_name} {}: timestamp {value:?} is not an RFC 3339 date-time",
        timestamp_place(*.statement)
    )]
    BadVexTimestamp {
        /// The document's name.
        source_name: String,
        /// Position of the statement in its document; `None` for the document's own timestamp.
        statement: Option<usize>,
        /// The value as written.
        value: String,
    },
    /// The policy is malformed or contradicts itself.
    #[error("policy: {0}")]
    BadPolicy(String),
    /// Reading a file or directory failed (only the `std` loaders do I/O).
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        reason: String,
    },
}

impl GateError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            GateError::SizeExceeded { .. } => "size_exceeded",
            GateError::Malformed { .. } => "malformed",
            GateError::SpecViolation { .. } => "spec_violation",
            GateError::Unsupported(..) => "unsupported",
            GateError::BadAdvisory { .. } => "bad_advisory",
            GateError::DuplicateAdvisory { .. } => "duplicate_advisory",
            GateError::BadVex { .. } => "bad_vex",
            GateError::BadVexExpiry { .. } => "bad_vex_expiry",
            GateError::BadVexTimestamp { .. } => "bad_vex_timestamp",
            GateError::BadPolicy(..) => "bad_policy",
            GateError::Io { .. } => "io",
        }
    }

    /// Never: every error is input that could not be read (or a file that could not be opened); the
    /// gate's refusals are [`crate::GateDecision`]s with findings, not errors.
    pub fn is_refusal(&self) -> bool {
        false
    }
}

impl GateError {
    pub(crate) fn malformed(format: &'static str, reason: impl ToString) -> Self {
        GateError::Malformed {
            format,
            reason: reason.to_string(),
        }
    }
}

fn timestamp_place(statement: Option<usize>) -> String {
    statement.map_or_else(|| "document".to_owned(), |i| format!("statement {i}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_snake_case_variant_names_and_no_error_is_a_refusal() {
        let error = GateError::SizeExceeded {
            what: "SBOM",
            size: 2,
            cap: 1,
        };
        assert_eq!(error.code(), "size_exceeded");
        assert!(!error.is_refusal());
        assert_eq!(GateError::BadPolicy("x".to_owned()).code(), "bad_policy");
        assert_eq!(
            crate::version::VersionError::NoOrdering { ecosystem: "x" }.code(),
            "version_no_ordering"
        );
    }
}
