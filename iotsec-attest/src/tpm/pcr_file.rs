//! The PCR values file `tpm2_quote -o` / `tpm2_pcrread -o` write in tpm2-tools' "serialized"
//! format (tpm2-tools `lib/pcr.c`, `pcr_fwrite_serialized`): a little-endian dump of the C
//! structures, not TPM wire format.
//!
//! Layout: TPML_PCR_SELECTION as a C struct (u32 count, then 16 slots of {u16 hash, u8
//! sizeofSelect, `u8 pcrSelect[4]`, u8 padding}), then a u32 count of TPML_DIGEST blocks, each
//! {u32 count, 8 slots of {u16 size, `u8 buffer[64]`}}. The digests follow the selection: banks in
//! order, PCRs ascending, 8 digests per block (one TPM2_PCR_Read each).

use crate::error::ParseError;
use crate::tpm::algorithm::HashAlg;
use crate::tpm::pcr_selection::{MAX_BANKS, PCR_SELECT_MAX, PcrBankSelection, PcrSelectionList};
use crate::wire::Reader;

const SELECTION_SLOT: usize = 8;
const DIGEST_SLOT: usize = 2 + 64;
const DIGESTS_PER_BLOCK: usize = 8;
const BLOCK_LEN: usize = 4 + DIGESTS_PER_BLOCK * DIGEST_SLOT;
/// Most TPML_DIGEST blocks accepted (16 banks of 32 PCRs need 64).
pub const MAX_DIGEST_BLOCKS: usize = 64;

/// One PCR value from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcrValue<'a> {
    /// Bank.
    pub bank: HashAlg,
    /// PCR index.
    pub index: u8,
    /// The value.
    pub digest: &'a [u8],
}

/// A parsed serialized PCR file, borrowing the digests.
#[derive(Debug, Clone, Copy)]
pub struct SerializedPcrs<'a> {
    /// The selection the values belong to.
    pub selection: PcrSelectionList,
    blocks: &'a [u8],
    block_count: usize,
}

impl<'a> SerializedPcrs<'a> {
    /// Parses and validates the whole file: digest sizes match their banks, counts match the
    /// selection, nothing trails.
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(input);
        let count = r.u32_le("pcrs.TPML_PCR_SELECTION.count")?;
        if count as usize > MAX_BANKS {
            return Err(ParseError::TooManyBanks {
                count,
                cap: MAX_BANKS,
            });
        }
        let mut selection = PcrSelectionList::default();
        for slot in 0..MAX_BANKS {
            let raw = r.bytes(SELECTION_SLOT, "pcrs.TPMS_PCR_SELECTION")?;
            if slot >= count as usize {
                continue;
            }
            let mut s = Reader::new(raw);
            let alg = s.u16_le("pcrs.TPMS_PCR_SELECTION.hash")?;
            let hash = HashAlg::parse(alg, "pcrs.TPMS_PCR_SELECTION.hash")?;
            let size = s.u8("pcrs.TPMS_PCR_SELECTION.sizeofSelect")?;
            if usize::from(size) > PCR_SELECT_MAX {
                return Err(ParseError::PcrBitmapTooLarge {
                    size,
                    cap: PCR_SELECT_MAX,
                });
            }
            let mut bitmap = [0u8; PCR_SELECT_MAX];
            bitmap.copy_from_slice(s.bytes(PCR_SELECT_MAX, "pcrs.TPMS_PCR_SELECTION.pcrSelect")?);
            for (i, b) in bitmap.iter_mut().enumerate() {
                if i >= usize::from(size) {
                    *b = 0;
                }
            }
            selection.push(PcrBankSelection {
                hash,
                size_of_select: size,
                bitmap,
            })?;
        }
        let block_count = r.u32_le("pcrs.count")? as usize;
        if block_count > MAX_DIGEST_BLOCKS {
            return Err(ParseError::SizeExceeded {
                field: "pcrs.count",
                size: block_count,
                cap: MAX_DIGEST_BLOCKS,
            });
        }
        let blocks = r.bytes(block_count * BLOCK_LEN, "pcrs.TPML_DIGEST")?;
        r.finish("tpm2-tools PCR file")?;
        let file = SerializedPcrs {
            selection,
            blocks,
            block_count,
        };
        // Walk once so that later iteration cannot fail.
        let mut found = 0usize;
        let mut slots = file.slots();
        for (bank, _) in selection.selected() {
            let Some(digest) = slots.next_digest()? else {
                break;
            };
            if digest.len() != bank.digest_len() {
                return Err(ParseError::DigestLengthMismatch {
                    field: "pcrs.TPM2B_DIGEST",
                    size: digest.len(),
                    expected: bank.digest_len(),
                });
            }
            found += 1;
        }
        let expected = selection.total_selected();
        let present = slots.total_digests()?;
        if found != expected || present != expected {
            return Err(ParseError::ValueCountMismatch {
                field: "pcrs.TPML_DIGEST",
                found: present,
                expected,
            });
        }
        Ok(file)
    }

    /// The values, banks in selection order, PCRs ascending.
    pub fn values(&self) -> impl Iterator<Item = PcrValue<'a>> + '_ {
        let mut slots = self.slots();
        self.selection.selected().map_while(move |(bank, index)| {
            let digest = slots.next_digest().ok().flatten()?;
            Some(PcrValue {
                bank,
                index,
                digest,
            })
        })
    }

    /// The value of PCR `index` in `bank`: its position in the selection, then the block that
    /// holds that position (no walk over the values before it).
    pub fn get(&self, bank: HashAlg, index: u8) -> Option<&'a [u8]> {
        let pos = self
            .selection
            .selected()
            .position(|(b, i)| b == bank && i == index)?;
        self.slots().digest_at(pos).ok().flatten()
    }

    fn slots(&self) -> Slots<'a> {
        Slots {
            blocks: self.blocks,
            block_count: self.block_count,
            block: 0,
            in_block: 0,
        }
    }
}

/// The digest slots of the TPML_DIGEST blocks, in order; each block holds its own count.
struct Slots<'a> {
    blocks: &'a [u8],
    block_count: usize,
    block: usize,
    in_block: usize,
}

impl<'a> Slots<'a> {
    fn block_len(&self, block: usize) -> Result<usize, ParseError> {
        let raw = self
            .blocks
            .get(block * BLOCK_LEN..block * BLOCK_LEN + 4)
            .ok_or(ParseError::Truncated {
                field: "pcrs.TPML_DIGEST.count",
                needed: 4,
                remaining: 0,
            })?;
        let n = Reader::new(raw).u32_le("pcrs.TPML_DIGEST.count")? as usize;
        if n > DIGESTS_PER_BLOCK {
            return Err(ParseError::SizeExceeded {
                field: "pcrs.TPML_DIGEST.count",
                size: n,
                cap: DIGESTS_PER_BLOCK,
            });
        }
        Ok(n)
    }

    fn total_digests(&self) -> Result<usize, ParseError> {
        let mut n = 0;
        for b in 0..self.block_count {
            n += self.block_len(b)?;
        }
        Ok(n)
    }

    /// The digest at overall position `pos`, `None` past the last one.
    fn digest_at(mut self, mut pos: usize) -> Result<Option<&'a [u8]>, ParseError> {
        for b in 0..self.block_count {
            let n = self.block_len(b)?;
            if pos < n {
                self.block = b;
                self.in_block = pos;
                return self.next_digest();
            }
            pos -= n;
        }
        Ok(None)
    }

    fn next_digest(&mut self) -> Result<Option<&'a [u8]>, ParseError> {
        while self.block < self.block_count && self.in_block >= self.block_len(self.block)? {
            self.block += 1;
            self.in_block = 0;
        }
        if self.block >= self.block_count {
            return Ok(None);
        }
        let start = self.block * BLOCK_LEN + 4 + self.in_block * DIGEST_SLOT;
        let slot = self
            .blocks
            .get(start..start + DIGEST_SLOT)
            .ok_or(ParseError::Truncated {
                field: "pcrs.TPM2B_DIGEST",
                needed: DIGEST_SLOT,
                remaining: 0,
            })?;
        let mut s = Reader::new(slot);
        let size = usize::from(s.u16_le("pcrs.TPM2B_DIGEST.size")?);
        if size > 64 {
            return Err(ParseError::SizeExceeded {
                field: "pcrs.TPM2B_DIGEST.size",
                size,
                cap: 64,
            });
        }
        let digest = s.bytes(size, "pcrs.TPM2B_DIGEST.buffer")?;
        self.in_block += 1;
        Ok(Some(digest))
    }
}

/// Writes the serialized format (what tpm2-tools writes) for tests and tools.
#[cfg(feature = "alloc")]
pub fn serialize_pcrs(selection: &PcrSelectionList, values: &[&[u8]]) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec::Vec::new();
    out.extend_from_slice(&(selection.len() as u32).to_le_bytes());
    let mut slots = 0;
    for b in selection.banks() {
        out.extend_from_slice(&b.hash.id().to_le_bytes());
        out.push(b.size_of_select);
        out.extend_from_slice(&b.bitmap);
        out.push(0);
        slots += 1;
    }
    out.resize(out.len() + (MAX_BANKS - slots) * SELECTION_SLOT, 0);
    let blocks: alloc::vec::Vec<&[&[u8]]> = values.chunks(DIGESTS_PER_BLOCK).collect();
    out.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    for block in blocks {
        out.extend_from_slice(&(block.len() as u32).to_le_bytes());
        for i in 0..DIGESTS_PER_BLOCK {
            let d = block.get(i).copied().unwrap_or(&[]);
            out.extend_from_slice(&(d.len() as u16).to_le_bytes());
            let mut buf = [0u8; 64];
            if let Some(dst) = buf.get_mut(..d.len()) {
                dst.copy_from_slice(d);
            }
            out.extend_from_slice(&buf);
        }
    }
    out
}
