//! VEX: statements that a vulnerability does or does not affect a product, read from CycloneDX
//! VEX (embedded in an SBOM or standalone, CycloneDX 1.4+ `vulnerabilities[].analysis`) and
//! OpenVEX 0.2, mapped onto one status model (see the table in the crate README).

pub(crate) mod cyclonedx;
mod openvex;
mod scope;
mod statement;
mod versions;

use crate::error::GateError;

pub use openvex::parse_openvex;
pub use scope::ProductRef;
pub use statement::{Justification, VexStatement, VexStatus};
pub use versions::VersionEntry;

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
