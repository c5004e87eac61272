//! VEX: statements that a vulnerability does or does not affect a product, read from CycloneDX
//! VEX (embedded in an SBOM or standalone, CycloneDX 1.4+ `vulnerabilities[].analysis`) and
//! OpenVEX 0.2, mapped onto one status model (see the table in the crate README).

pub(crate) mod cyclonedx;
mod designates;
mod openvex;
mod scope;
mod statement;
mod status;
mod versions;

use crate::error::GateError;

pub use openvex::parse_openvex;
pub use scope::ProductRef;
pub use statement::{Justification, VexStatement, VexStatus};
pub use versions::VersionEntry;

/// A standalone VEX document: its statements and the SHA-256 of the bytes they were read from,
/// which a gate decision records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VexDocument {
    statements: Vec<VexStatement>,
    sha256: Option<String>,
}

impl VexDocument {
    /// Reads a VEX document ([`parse_vex`]) and keeps the digest of `bytes`.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<VexDocument, GateError> {
        Ok(VexDocument {
            statements: parse_vex(bytes, source_name)?,
            sha256: Some(crate::digest::sha256_hex(bytes)),
        })
    }

    /// Statements built in code rather than read from a document: they carry no digest, and a
    /// decision's binding lists none for them.
    pub fn from_statements(statements: Vec<VexStatement>) -> VexDocument {
        VexDocument {
            statements,
            sha256: None,
        }
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[VexStatement] {
        &self.statements
    }

    /// Hex SHA-256 of the document, `None` for statements built in code.
    pub fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }
}

/// Hard cap on one VEX document.
pub const MAX_VEX_BYTES: usize = 64 * 1024 * 1024;

/// Reads a VEX document (OpenVEX 0.2 or CycloneDX VEX), recognized by content.
pub fn parse_vex(bytes: &[u8], source_name: &str) -> Result<Vec<VexStatement>, GateError> {
    if bytes.len() > MAX_VEX_BYTES {
        return Err(GateError::SizeExceeded {
            what: "VEX document",
            size: bytes.len(),
            cap: MAX_VEX_BYTES,
        });
    }
    let head = bytes.get(..bytes.len().min(2048)).unwrap_or(bytes);
    let is_openvex = head.windows(10).any(|w| w == b"openvex.de");
    if is_openvex {
        parse_openvex(bytes, source_name)
    } else if head.first().is_some_and(|c| *c == b'<')
        || head.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'<')
    {
        let sbom = crate::sbom::parse_cyclonedx_xml(bytes).map_err(|e| match e {
            GateError::BadVexExpiry {
                statement, value, ..
            } => GateError::BadVexExpiry {
                source_name: source_name.to_owned(),
                statement,
                value,
            },
            other => other,
        })?;
        Ok(rename(sbom.embedded_vex, source_name))
    } else {
        cyclonedx::parse_cyclonedx_vex(bytes, source_name)
    }
}

fn rename(mut statements: Vec<VexStatement>, source: &str) -> Vec<VexStatement> {
    for s in &mut statements {
        s.source = source.to_owned();
    }
    statements
}
