//! The two TLV areas after the payload (MCUboot design document, "Image format"; imgtool
//! `image.py`): the protected area (info magic `0x6908`, covered by the image hash and
//! signature) and the unprotected one (`0x6907`). Each starts with a 4-byte info header
//! (magic, total length including the info header) and holds TLVs of a 16-bit type, a 16-bit
//! length and the value, all little endian.
//!
//! Hand-written: the layout is four fixed little-endian fields; what needs care is bounding
//! every offset against the area and the source, done here once.

use crate::mcuboot::error::McubootError;
use crate::mcuboot::source::ImageSource;

/// Magic of the unprotected TLV info header.
pub const TLV_INFO_MAGIC: u16 = 0x6907;
/// Magic of the protected TLV info header.
pub const TLV_PROT_INFO_MAGIC: u16 = 0x6908;
/// Length of a TLV info header and of a TLV header.
pub const TLV_HEADER_LEN: u64 = 4;

/// TLV types (`IMAGE_TLV_*`).
pub mod kind {
    /// Hash of the signing public key (same hash as the image).
    pub const KEYHASH: u16 = 0x01;
    /// The signing public key (SubjectPublicKeyInfo DER).
    pub const PUBKEY: u16 = 0x02;
    /// SHA-256 of header, payload and protected TLVs.
    pub const SHA256: u16 = 0x10;
    /// SHA-384 of the same.
    pub const SHA384: u16 = 0x11;
    /// SHA-512 of the same.
    pub const SHA512: u16 = 0x12;
    /// ECDSA signature (DER).
    pub const ECDSA_SIG: u16 = 0x22;
    /// Ed25519 signature.
    pub const ED25519: u16 = 0x24;
    /// Marks a pure signature (over the whole hashed region, not its digest).
    pub const SIG_PURE: u16 = 0x25;
    /// First encryption key-exchange TLV (`ENC_RSA2048`).
    pub const ENC_FIRST: u16 = 0x30;
    /// Last encryption key-exchange TLV (`ENC_X25519_SHA512`).
    pub const ENC_LAST: u16 = 0x34;
    /// Dependency on another image's minimum version.
    pub const DEPENDENCY: u16 = 0x40;
    /// Security counter.
    pub const SEC_CNT: u16 = 0x50;
}

/// One TLV's header: its type, length and where its value starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv {
    /// TLV type.
    pub kind: u16,
    /// Value length.
    pub len: u16,
    /// Offset of the TLV header in the source.
    pub offset: u64,
}

impl Tlv {
    /// Offset of the value.
    pub fn value_offset(&self) -> u64 {
        self.offset + TLV_HEADER_LEN
    }
}

pub(crate) fn read<S: ImageSource, const N: usize>(
    source: &mut S,
    offset: u64,
) -> Result<[u8; N], McubootError> {
    let mut buffer = [0u8; N];
    read_into(source, offset, &mut buffer)?;
    Ok(buffer)
}

pub(crate) fn read_into<S: ImageSource>(
    source: &mut S,
    offset: u64,
    buffer: &mut [u8],
) -> Result<(), McubootError> {
    let end = offset
        .checked_add(buffer.len() as u64)
        .ok_or(McubootError::Truncated {
            needed: u64::MAX,
            available: source.len(),
        })?;
    if end > source.len() {
        return Err(McubootError::Truncated {
            needed: end,
            available: source.len(),
        });
    }
    source
        .read_exact_at(offset, buffer)
        .map_err(|_| McubootError::Read {
            offset,
            len: buffer.len(),
        })
}

/// Reads the 4-byte info header at `offset`: its magic and total length.
pub fn read_info<S: ImageSource>(source: &mut S, offset: u64) -> Result<(u16, u16), McubootError> {
    let [m0, m1, l0, l1] = read::<S, 4>(source, offset)?;
    Ok((u16::from_le_bytes([m0, m1]), u16::from_le_bytes([l0, l1])))
}

/// Walks the TLVs of one area, each bounded by the area's end.
#[derive(Debug, Clone)]
pub struct TlvWalker {
    next: u64,
    end: u64,
}

impl TlvWalker {
    /// The TLVs of the area whose info header is at `info_offset` and whose total length
    /// (info header included) is `total`.
    pub fn new(info_offset: u64, total: u16) -> Result<Self, McubootError> {
        if u64::from(total) < TLV_HEADER_LEN {
            return Err(McubootError::TlvOverrun {
                offset: info_offset,
            });
        }
        Ok(TlvWalker {
            next: info_offset + TLV_HEADER_LEN,
            end: info_offset + u64::from(total),
        })
    }

    /// Offset just past the area.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The next TLV, or `None` at the exact end of the area.
    pub fn next_tlv<S: ImageSource>(
        &mut self,
        source: &mut S,
    ) -> Result<Option<Tlv>, McubootError> {
        if self.next == self.end {
            return Ok(None);
        }
        let offset = self.next;
        let value_start = offset + TLV_HEADER_LEN;
        if value_start > self.end {
            return Err(McubootError::TlvOverrun { offset });
        }
        let [k0, k1, l0, l1] = read::<S, 4>(source, offset)?;
        let tlv = Tlv {
            kind: u16::from_le_bytes([k0, k1]),
            len: u16::from_le_bytes([l0, l1]),
            offset,
        };
        let value_end = value_start + u64::from(tlv.len);
        if value_end > self.end {
            return Err(McubootError::TlvOverrun { offset });
        }
        self.next = value_end;
        Ok(Some(tlv))
    }
}
