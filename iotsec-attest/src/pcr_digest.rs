//! Recomputing a quote's pcrDigest (TPM 2.0 Part 3 §18.4, TPM2_Quote: the hash, with the
//! signing scheme's hash, of the selected PCR values concatenated in selection order) for any
//! mix of banks.

use crate::algorithm::{DigestBytes, HashAlg};
use crate::pcr_selection::PcrSelectionList;

/// A PCR the caller has no value for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingPcr {
    /// Bank.
    pub bank: HashAlg,
    /// Index.
    pub index: u8,
}

/// Hashes, with `hash`, the values `lookup` returns for every selected PCR in order.
pub fn compute_pcr_digest<'v>(
    selection: &PcrSelectionList,
    hash: HashAlg,
    mut lookup: impl FnMut(HashAlg, u8) -> Option<&'v [u8]>,
) -> Result<DigestBytes, MissingPcr> {
    let mut h = hash.hasher();
    for (bank, index) in selection.selected() {
        let value = lookup(bank, index).ok_or(MissingPcr { bank, index })?;
        h.update(value);
    }
    Ok(h.finalize())
}
