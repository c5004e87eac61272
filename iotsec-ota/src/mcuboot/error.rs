//! Why an MCUboot image was refused: one variant per distinct failure, each with a stable code
//! (`mcuboot_*`, distinct from the manifest [`crate::Error`] and [`crate::ImageError`] codes).

/// A refusal of the MCUboot image verifier (or of its key and install checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McubootError {
    /// The image source failed to deliver bytes that the header says exist.
    #[error("reading {len} bytes at offset {offset} failed")]
    Read {
        /// Where the read started.
        offset: u64,
        /// Bytes asked for.
        len: usize,
    },
    /// The image is shorter than its header and TLV area say.
    #[error("image needs {needed} bytes but {available} are there")]
    Truncated {
        /// Bytes the header and TLV info headers require.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// Not an MCUboot image (`ih_magic` is not `0x96f3b83d`).
    #[error("image magic {found:#010x} is not MCUboot's 0x96f3b83d")]
    BadMagic {
        /// The magic found.
        found: u32,
    },
    /// `ih_hdr_size` is smaller than the 32-byte header itself.
    #[error("header size {size} is smaller than the 32-byte header")]
    HeaderSize {
        /// The header size field.
        size: u16,
    },
    /// The reserved header word (`_pad1`) is not zero.
    #[error("reserved header word is {value:#x}, not zero")]
    HeaderReserved {
        /// The reserved word.
        value: u32,
    },
    /// Header flags this verifier does not act on (unknown bits, compression).
    #[error("unsupported header flags {flags:#x}")]
    UnsupportedFlags {
        /// The unsupported bits.
        flags: u32,
    },
    /// An encrypted image (flag or key-exchange TLV): recognised, not decrypted, so refused.
    #[error("encrypted image (flags {flags:#x}, TLV {tlv:#06x}): decryption is not supported")]
    Encrypted {
        /// The header flags.
        flags: u32,
        /// The encryption TLV type found (0 when only the flag was set).
        tlv: u16,
    },
    /// The protected TLV area disagrees with `ih_protect_tlv_size`.
    #[error("protected TLV area of {area} bytes, header says {header}")]
    ProtectedAreaMismatch {
        /// `ih_protect_tlv_size`.
        header: u16,
        /// The protected TLV info's total length (0: no protected area found).
        area: u16,
    },
    /// The TLV info header has the wrong magic.
    #[error("TLV info at offset {offset} has magic {found:#06x}, not {expected:#06x}")]
    TlvInfoMagic {
        /// Offset of the TLV info.
        offset: u64,
        /// Magic found.
        found: u16,
        /// Magic expected.
        expected: u16,
    },
    /// A TLV (or a TLV info's length) runs past the end of its area.
    #[error("TLV at offset {offset} runs past the end of its area")]
    TlvOverrun {
        /// Offset of the TLV.
        offset: u64,
    },
    /// Bytes after the unprotected TLV area in a file that must end there.
    #[error("{extra} bytes after the TLV area")]
    TrailingBytes {
        /// Bytes beyond the TLV area.
        extra: u64,
    },
    /// A TLV type this verifier does not know (refused, never skipped).
    #[error("unknown TLV type {kind:#06x} at offset {offset}")]
    UnknownTlv {
        /// The TLV type.
        kind: u16,
        /// Its offset.
        offset: u64,
    },
    /// A known TLV in the wrong area (say a security counter outside the signed area).
    #[error("TLV {kind:#06x} must not be in the {} area", if *.protected { "protected" } else { "unprotected" })]
    MisplacedTlv {
        /// The TLV type.
        kind: u16,
        /// True when it was found in the protected area.
        protected: bool,
    },
    /// A TLV that may appear once appears again (or a second one of its group).
    #[error("TLV {kind:#06x} appears more than once")]
    DuplicateTlv {
        /// The TLV type of the second occurrence.
        kind: u16,
    },
    /// A TLV whose length or content is wrong for its type.
    #[error("TLV {kind:#06x} has an invalid length {len} or value")]
    TlvLength {
        /// The TLV type.
        kind: u16,
        /// Its length.
        len: u16,
    },
    /// More dependencies than the verifier has room for.
    #[error("more than {cap} dependencies")]
    TooManyDependencies {
        /// The cap.
        cap: usize,
    },
    /// A required TLV is absent (image hash, key reference, signature, security counter).
    #[error("required TLV {kind:#06x} is missing")]
    MissingTlv {
        /// The missing TLV type.
        kind: u16,
    },
    /// The image's hash or signature TLV is for another algorithm than the trusted key's.
    #[error("TLV {kind:#06x} does not match the trusted key's algorithm")]
    AlgorithmMismatch {
        /// The TLV type.
        kind: u16,
    },
    /// The image names another key (KEYHASH is not the trusted key's hash).
    #[error("KEYHASH is not the hash of the trusted key")]
    KeyHashMismatch,
    /// The image names another key (PUBKEY is not the trusted key).
    #[error("PUBKEY is not the trusted key")]
    PublicKeyMismatch,
    /// Header, payload or protected TLVs changed: the digest does not match the hash TLV.
    #[error("image digest does not match the hash TLV")]
    HashMismatch,
    /// The signature does not verify under the trusted key.
    #[error("signature does not verify under the trusted key")]
    BadSignature,
    /// The trusted key is not a usable key of a supported algorithm.
    #[error("trusted key is not a usable Ed25519 or P-256 key")]
    InvalidKey,
    /// Rollback: the image's security counter is below the device's stored counter.
    #[error("rollback: security counter {offered} is below the stored {stored}")]
    Rollback {
        /// Counter stored on the device.
        stored: u64,
        /// Counter in the image.
        offered: u64,
    },
    /// The image depends on another image this device cannot check.
    #[error("dependency on image {image_id} cannot be checked on this device")]
    UnsupportedDependency {
        /// The image id depended on.
        image_id: u8,
    },
    /// The image is marked non-bootable and cannot be trial-booted.
    #[error("image is marked non-bootable")]
    NonBootable,
}

impl McubootError {
    /// A stable snake_case code (`"mcuboot_hash_mismatch"`, ...) for logs and machine-readable
    /// output. New variants get new codes; codes never change.
    pub fn code(&self) -> &'static str {
        match self {
            McubootError::Read { .. } => "mcuboot_read",
            McubootError::Truncated { .. } => "mcuboot_truncated",
            McubootError::BadMagic { .. } => "mcuboot_bad_magic",
            McubootError::HeaderSize { .. } => "mcuboot_header_size",
            McubootError::HeaderReserved { .. } => "mcuboot_header_reserved",
            McubootError::UnsupportedFlags { .. } => "mcuboot_unsupported_flags",
            McubootError::Encrypted { .. } => "mcuboot_encrypted",
            McubootError::ProtectedAreaMismatch { .. } => "mcuboot_protected_area_mismatch",
            McubootError::TlvInfoMagic { .. } => "mcuboot_tlv_info_magic",
            McubootError::TlvOverrun { .. } => "mcuboot_tlv_overrun",
            McubootError::TrailingBytes { .. } => "mcuboot_trailing_bytes",
            McubootError::UnknownTlv { .. } => "mcuboot_unknown_tlv",
            McubootError::MisplacedTlv { .. } => "mcuboot_misplaced_tlv",
            McubootError::DuplicateTlv { .. } => "mcuboot_duplicate_tlv",
            McubootError::TlvLength { .. } => "mcuboot_tlv_length",
            McubootError::TooManyDependencies { .. } => "mcuboot_too_many_dependencies",
            McubootError::MissingTlv { .. } => "mcuboot_missing_tlv",
            McubootError::AlgorithmMismatch { .. } => "mcuboot_algorithm_mismatch",
            McubootError::KeyHashMismatch => "mcuboot_key_hash_mismatch",
            McubootError::PublicKeyMismatch => "mcuboot_public_key_mismatch",
            McubootError::HashMismatch => "mcuboot_hash_mismatch",
            McubootError::BadSignature => "mcuboot_bad_signature",
            McubootError::InvalidKey => "mcuboot_invalid_key",
            McubootError::Rollback { .. } => "mcuboot_rollback",
            McubootError::UnsupportedDependency { .. } => "mcuboot_unsupported_dependency",
            McubootError::NonBootable => "mcuboot_non_bootable",
        }
    }

    /// True when the error is about the caller's input (an unreadable source, an unusable
    /// trusted key) rather than a refusal of the image: a CLI maps it to "bad input".
    pub fn is_bad_input(&self) -> bool {
        matches!(self, McubootError::Read { .. } | McubootError::InvalidKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_prefixed() {
        let all = [
            McubootError::Read { offset: 0, len: 1 },
            McubootError::Truncated {
                needed: 1,
                available: 0,
            },
            McubootError::BadMagic { found: 0 },
            McubootError::HeaderSize { size: 0 },
            McubootError::HeaderReserved { value: 1 },
            McubootError::UnsupportedFlags { flags: 0x400 },
            McubootError::Encrypted { flags: 4, tlv: 0 },
            McubootError::ProtectedAreaMismatch { header: 0, area: 0 },
            McubootError::TlvInfoMagic {
                offset: 0,
                found: 0,
                expected: 0,
            },
            McubootError::TlvOverrun { offset: 0 },
            McubootError::TrailingBytes { extra: 1 },
            McubootError::UnknownTlv {
                kind: 0xa0,
                offset: 0,
            },
            McubootError::MisplacedTlv {
                kind: 0x50,
                protected: false,
            },
            McubootError::DuplicateTlv { kind: 0x24 },
            McubootError::TlvLength { kind: 0x50, len: 3 },
            McubootError::TooManyDependencies { cap: 4 },
            McubootError::MissingTlv { kind: 0x10 },
            McubootError::AlgorithmMismatch { kind: 0x22 },
            McubootError::KeyHashMismatch,
            McubootError::PublicKeyMismatch,
            McubootError::HashMismatch,
            McubootError::BadSignature,
            McubootError::InvalidKey,
            McubootError::Rollback {
                stored: 2,
                offered: 1,
            },
            McubootError::UnsupportedDependency { image_id: 1 },
            McubootError::NonBootable,
        ];
        let mut codes: heapless::Vec<&str, 32> = heapless::Vec::new();
        for error in &all {
            assert!(error.code().starts_with("mcuboot_"), "{}", error.code());
            assert!(!codes.contains(&error.code()), "{}", error.code());
            codes.push(error.code()).unwrap();
        }
        let bad_input: heapless::Vec<&str, 4> = all
            .iter()
            .filter(|e| e.is_bad_input())
            .map(|e| e.code())
            .collect();
        assert_eq!(
            bad_input.as_slice(),
            ["mcuboot_read", "mcuboot_invalid_key"]
        );
    }
}
