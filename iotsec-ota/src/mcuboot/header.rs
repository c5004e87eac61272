//! The 32-byte little-endian MCUboot image header (`struct image_header`, MCUboot
//! `boot/bootutil/include/bootutil/image.h`; "Image format" in MCUboot's design document).
//!
//! ```text
//! 0  ih_magic            u32  0x96f3b83d
//! 4  ih_load_addr        u32
//! 8  ih_hdr_size         u16  payload offset (>= 32)
//! 10 ih_protect_tlv_size u16  protected TLV area including its info header (0: none)
//! 12 ih_img_size         u32  payload bytes after the header
//! 16 ih_flags            u32
//! 20 ih_ver              u8 major, u8 minor, u16 revision, u32 build_num
//! 28 _pad1               u32  zero
//! ```

use crate::mcuboot::error::McubootError;

/// `ih_magic`.
pub const IMAGE_MAGIC: u32 = 0x96f3_b83d;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 32;

/// Header flag bits (`IMAGE_F_*`).
pub mod flags {
    /// Position-independent image.
    pub const PIC: u32 = 0x0000_0001;
    /// Payload encrypted with AES-128.
    pub const ENCRYPTED_AES128: u32 = 0x0000_0004;
    /// Payload encrypted with AES-256.
    pub const ENCRYPTED_AES256: u32 = 0x0000_0008;
    /// Not to be booted (a data or co-processor image).
    pub const NON_BOOTABLE: u32 = 0x0000_0010;
    /// Loaded into RAM at `ih_load_addr` before it runs.
    pub const RAM_LOAD: u32 = 0x0000_0020;
    /// Built for the flash address in `ih_load_addr`.
    pub const ROM_FIXED: u32 = 0x0000_0100;
    /// LZMA1-compressed payload.
    pub const COMPRESSED_LZMA1: u32 = 0x0000_0200;
    /// LZMA2-compressed payload.
    pub const COMPRESSED_LZMA2: u32 = 0x0000_0400;
    /// ARM Thumb filter before compression.
    pub const COMPRESSED_ARM_THUMB: u32 = 0x0000_0800;
    /// Flags reported to the caller, who decides on them; every other bit is refused.
    pub const REPORTED: u32 = PIC | NON_BOOTABLE | RAM_LOAD | ROM_FIXED;
    /// Encryption flags (refused as [`crate::mcuboot::McubootError::Encrypted`]).
    pub const ENCRYPTED: u32 = ENCRYPTED_AES128 | ENCRYPTED_AES256;
}

/// `struct image_version`: major.minor.revision+build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ImageVersion {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Revision.
    pub revision: u16,
    /// Build number.
    pub build: u32,
}

impl ImageVersion {
    /// The 8-byte little-endian encoding (header and DEPENDENCY TLV).
    pub fn to_bytes(self) -> [u8; 8] {
        let [r0, r1] = self.revision.to_le_bytes();
        let [b0, b1, b2, b3] = self.build.to_le_bytes();
        [self.major, self.minor, r0, r1, b0, b1, b2, b3]
    }

    /// Decodes [`ImageVersion::to_bytes`].
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        let [major, minor, r0, r1, b0, b1, b2, b3] = bytes;
        ImageVersion {
            major,
            minor,
            revision: u16::from_le_bytes([r0, r1]),
            build: u32::from_le_bytes([b0, b1, b2, b3]),
        }
    }

    /// The version as one number ordered as MCUboot orders versions (major, minor, revision,
    /// build): major in the top byte, build in the low 32 bits.
    pub fn ordinal(self) -> u64 {
        (u64::from(self.major) << 56)
            | (u64::from(self.minor) << 48)
            | (u64::from(self.revision) << 32)
            | u64::from(self.build)
    }
}

/// A version string that is not `major[.minor[.revision[+build]]]` in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("version must be major[.minor[.revision[+build]]] (8, 8, 16 and 32 bits)")]
pub struct VersionSyntax;

impl core::str::FromStr for ImageVersion {
    type Err = VersionSyntax;

    /// Parses imgtool's version syntax (`decode_version`): `1`, `1.2`, `1.2.3`, `1.2.3+4`.
    fn from_str(text: &str) -> Result<Self, VersionSyntax> {
        fn number<T: core::str::FromStr>(part: Option<&str>) -> Result<T, VersionSyntax> {
            match part {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| VersionSyntax)
                }
                _ => Err(VersionSyntax),
            }
        }
        let (dotted, build) = match text.split_once('+') {
            Some((dotted, build)) => (dotted, Some(build)),
            None => (text, None),
        };
        let mut parts = dotted.split('.');
        let major = number(parts.next())?;
        let minor = parts.next().map_or(Ok(0), |p| number(Some(p)))?;
        let revision = parts.next().map_or(Ok(0), |p| number(Some(p)))?;
        if parts.next().is_some() || (build.is_some() && dotted.split('.').count() != 3) {
            return Err(VersionSyntax);
        }
        let build = build.map_or(Ok(0), |b| number(Some(b)))?;
        Ok(ImageVersion {
            major,
            minor,
            revision,
            build,
        })
    }
}

impl core::fmt::Display for ImageVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}.{}.{}+{}",
            self.major, self.minor, self.revision, self.build
        )
    }
}

/// A decoded header whose fields passed their own checks (not yet against the image length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// `ih_load_addr`.
    pub load_address: u32,
    /// `ih_hdr_size`: the payload starts here.
    pub header_size: u16,
    /// `ih_protect_tlv_size`.
    pub protected_tlv_size: u16,
    /// `ih_img_size`: payload bytes.
    pub image_size: u32,
    /// `ih_flags` (only [`flags::REPORTED`] bits can be set in a decoded header).
    pub flags: u32,
    /// `ih_ver`.
    pub version: ImageVersion,
}

fn le32(bytes: &[u8; HEADER_LEN], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

fn le16(bytes: &[u8; HEADER_LEN], at: usize) -> u16 {
    let mut half = [0u8; 2];
    if let Some(src) = bytes.get(at..at + 2) {
        half.copy_from_slice(src);
    }
    u16::from_le_bytes(half)
}

impl ImageHeader {
    /// Decodes and checks the fixed header: magic, header size, reserved word, flags.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Self, McubootError> {
        let magic = le32(bytes, 0);
        if magic != IMAGE_MAGIC {
            return Err(McubootError::BadMagic { found: magic });
        }
        let header_size = le16(bytes, 8);
        if usize::from(header_size) < HEADER_LEN {
            return Err(McubootError::HeaderSize { size: header_size });
        }
        let reserved = le32(bytes, 28);
        if reserved != 0 {
            return Err(McubootError::HeaderReserved { value: reserved });
        }
        let image_flags = le32(bytes, 16);
        if image_flags & flags::ENCRYPTED != 0 {
            return Err(McubootError::Encrypted {
                flags: image_flags,
                tlv: 0,
            });
        }
        if image_flags & !flags::REPORTED != 0 {
            return Err(McubootError::UnsupportedFlags {
                flags: image_flags & !flags::REPORTED,
            });
        }
        let mut version = [0u8; 8];
        if let Some(src) = bytes.get(20..28) {
            version.copy_from_slice(src);
        }
        Ok(ImageHeader {
            load_address: le32(bytes, 4),
            header_size,
            protected_tlv_size: le16(bytes, 10),
            image_size: le32(bytes, 12),
            flags: image_flags,
            version: ImageVersion::from_bytes(version),
        })
    }

    /// Encodes the header (the inverse of [`ImageHeader::parse`]).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let fields: [(usize, &[u8]); 7] = [
            (0, &IMAGE_MAGIC.to_le_bytes()),
            (4, &self.load_address.to_le_bytes()),
            (8, &self.header_size.to_le_bytes()),
            (10, &self.protected_tlv_size.to_le_bytes()),
            (12, &self.image_size.to_le_bytes()),
            (16, &self.flags.to_le_bytes()),
            (20, &self.version.to_bytes()),
        ];
        for (at, bytes) in fields {
            if let Some(dst) = out.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        out
    }

    /// Offset of the protected TLV area (or of the unprotected one when there is none).
    pub fn payload_end(&self) -> u64 {
        u64::from(self.header_size) + u64::from(self.image_size)
    }
}
