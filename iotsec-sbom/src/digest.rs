//! The SHA-256 the inputs of a decision are bound by (FIPS 180-4), as lowercase hex: a leaf, so
//! that the parsers (SBOM, policy, VEX) record their own digest without importing the gate.

use sha2::{Digest, Sha256};

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
