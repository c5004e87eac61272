//! Recomputing a quote's pcrDigest (TPM 2.0 Part 3 §18.4, TPM2_Quote: the hash, with the
//! signing scheme's hash, of the selected PCR values concatenated in selection order) for any
//! mix of banks.

use crate::tpm::algorithm::{DigestBytes, HashAlg};
use crate::tpm::pcr_selection::PcrSelectionList;

/// Why the supplied PCR values cannot be hashed into a pcrDigest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PcrValueError {
    /// The caller has no value for this PCR.
    #[error("no value supplied for PCR {index} of the {} bank", bank.name())]
    Missing {
        /// Bank.
        bank: HashAlg,
        /// Index.
        index: u8,
    },
    /// The value is not one digest of its bank. Refused because the digest covers the values
    /// concatenated: with free lengths, bytes could move from one PCR to the next and still
    /// hash to the quoted pcrDigest.
    #[error("the value of PCR {index} of the {} bank is {len} bytes, not one digest", bank.name())]
    WrongLength {
        /// Bank.
        bank: HashAlg,
        /// Index.
        index: u8,
        /// Length supplied (the bank's digest length is expected).
        len: usize,
    },
}

crate::error::error_codes!(PcrValueError {
    PcrValueError::Missing { .. } => "missing", BadInput;
    PcrValueError::WrongLength { .. } => "wrong_length", Refusal;
});

/// Hashes, with `hash`, the values `lookup` returns for every selected PCR in order; each must
/// be exactly one digest of its bank.
pub fn compute_pcr_digest<'v>(
    selection: &PcrSelectionList,
    hash: HashAlg,
    mut lookup: impl FnMut(HashAlg, u8) -> Option<&'v [u8]>,
) -> Result<DigestBytes, PcrValueError> {
    let mut h = hash.hasher();
    for (bank, index) in selection.selected() {
        let value = lookup(bank, index).ok_or(PcrValueError::Missing { bank, index })?;
        if value.len() != bank.digest_len() {
            return Err(PcrValueError::WrongLength {
                bank,
                index,
                len: value.len(),
            });
        }
        h.update(value);
    }
    Ok(h.finalize())
}
