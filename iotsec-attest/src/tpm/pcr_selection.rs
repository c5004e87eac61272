//! TPML_PCR_SELECTION and TPMS_PCR_SELECTION (TPM 2.0 Part 2 §10.6.2, §10.9.7): which PCRs of
//! which banks a quote covers.
//!
//! Bounded: at most [`MAX_BANKS`] banks, bitmaps of at most [`PCR_SELECT_MAX`] bytes (32 PCRs),
//! every bank at most once. A repeated bank would let an attacker make a verifier hash the same
//! values again and again, or have two parties read the selection differently.

use crate::error::ParseError;
use crate::tpm::algorithm::HashAlg;
use crate::wire::Reader;

/// Most banks a selection may list (TPM2_NUM_PCR_BANKS in tpm2-tss is 16).
pub const MAX_BANKS: usize = 16;
/// Longest PCR bitmap (PCR_SELECT_MAX for 32 PCRs).
pub const PCR_SELECT_MAX: usize = 4;

/// The selected PCRs of one bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcrBankSelection {
    /// The bank's hash.
    pub hash: HashAlg,
    /// sizeofSelect: bytes of the bitmap that are significant.
    pub size_of_select: u8,
    /// The bitmap, bit `i % 8` of byte `i / 8` selects PCR `i`; bytes past `size_of_select` are 0.
    pub bitmap: [u8; PCR_SELECT_MAX],
}

impl PcrBankSelection {
    /// A bank selection of `pcrs` with a 3-byte bitmap (the PC Client size), or `None` if an index
    /// is 32 or more.
    pub fn new(hash: HashAlg, pcrs: &[u8]) -> Option<Self> {
        let mut bitmap = [0u8; PCR_SELECT_MAX];
        let mut size = 3u8;
        for &p in pcrs {
            let byte = bitmap.get_mut(usize::from(p / 8))?;
            *byte |= 1 << (p % 8);
            size = size.max(p / 8 + 1);
        }
        Some(PcrBankSelection {
            hash,
            size_of_select: size,
            bitmap,
        })
    }

    /// Whether PCR `index` is selected.
    pub fn is_selected(&self, index: u8) -> bool {
        self.bitmap
            .get(usize::from(index / 8))
            .is_some_and(|b| b & (1 << (index % 8)) != 0)
    }

    /// The selected PCR indices in ascending order (the order a TPM hashes them).
    pub fn pcrs(&self) -> impl Iterator<Item = u8> + '_ {
        (0..(self.size_of_select.saturating_mul(8))).filter(|&i| self.is_selected(i))
    }

    /// Number of selected PCRs.
    pub fn count(&self) -> usize {
        self.bitmap.iter().map(|b| b.count_ones() as usize).sum()
    }
}

/// A TPML_PCR_SELECTION: up to [`MAX_BANKS`] distinct banks, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcrSelectionList {
    banks: [Option<PcrBankSelection>; MAX_BANKS],
    len: usize,
}

impl Default for PcrSelectionList {
    fn default() -> Self {
        PcrSelectionList {
            banks: [None; MAX_BANKS],
            len: 0,
        }
    }
}

impl PcrSelectionList {
    /// Parses a complete TPML_PCR_SELECTION; trailing bytes are an error.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(input);
        let list = Self::decode(&mut r)?;
        r.finish("TPML_PCR_SELECTION")?;
        Ok(list)
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let count = r.u32("TPML_PCR_SELECTION.count")?;
        let mut list = PcrSelectionList::default();
        if count as usize > MAX_BANKS {
            return Err(ParseError::TooManyBanks {
                count,
                cap: MAX_BANKS,
            });
        }
        for _ in 0..count {
            let alg = r.u16("TPMS_PCR_SELECTION.hash")?;
            let hash = HashAlg::parse(alg, "TPMS_PCR_SELECTION.hash")?;
            let size = r.u8("TPMS_PCR_SELECTION.sizeofSelect")?;
            if usize::from(size) > PCR_SELECT_MAX {
                return Err(ParseError::PcrBitmapTooLarge {
                    size,
                    cap: PCR_SELECT_MAX,
                });
            }
            let bits = r.bytes(usize::from(size), "TPMS_PCR_SELECTION.pcrSelect")?;
            let mut bitmap = [0u8; PCR_SELECT_MAX];
            if let Some(dst) = bitmap.get_mut(..bits.len()) {
                dst.copy_from_slice(bits);
            }
            list.push(PcrBankSelection {
                hash,
                size_of_select: size,
                bitmap,
            })?;
        }
        Ok(list)
    }

    /// Appends a bank; refuses a repeated bank or a 17th one.
    pub fn push(&mut self, bank: PcrBankSelection) -> Result<(), ParseError> {
        if self.banks().any(|b| b.hash == bank.hash) {
            return Err(ParseError::DuplicateBank {
                alg: bank.hash.id(),
            });
        }
        let slot = self
            .banks
            .get_mut(self.len)
            .ok_or(ParseError::TooManyBanks {
                count: (self.len + 1) as u32,
                cap: MAX_BANKS,
            })?;
        *slot = Some(bank);
        self.len += 1;
        Ok(())
    }

    /// The banks in order.
    pub fn banks(&self) -> impl Iterator<Item = &PcrBankSelection> + '_ {
        self.banks.iter().take(self.len).flatten()
    }

    /// The bank of `hash`, if selected.
    pub fn bank(&self, hash: HashAlg) -> Option<&PcrBankSelection> {
        self.banks().find(|b| b.hash == hash)
    }

    /// Every selected (bank, PCR) pair, banks in order, PCRs ascending: the order of a quote's
    /// pcrDigest and of TPM2_PCR_Read's output.
    pub fn selected(&self) -> impl Iterator<Item = (HashAlg, u8)> + '_ {
        self.banks()
            .flat_map(|b| b.pcrs().map(move |i| (b.hash, i)))
    }

    /// Number of selected PCRs over all banks.
    pub fn total_selected(&self) -> usize {
        self.banks().map(PcrBankSelection::count).sum()
    }

    /// Number of banks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bank is listed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Marshals the list (big-endian TPM wire format).
    #[cfg(feature = "alloc")]
    pub fn to_bytes(&self) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::with_capacity(4 + self.len * 7);
        out.extend_from_slice(&(self.len as u32).to_be_bytes());
        for b in self.banks() {
            out.extend_from_slice(&b.hash.id().to_be_bytes());
            out.push(b.size_of_select);
            out.extend_from_slice(b.bitmap.get(..usize::from(b.size_of_select)).unwrap_or(&[]));
        }
        out
    }
}
