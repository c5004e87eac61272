//! Signs MCUboot images as imgtool 2.5.0 `sign` does (`image.py`, `Image.create`), through the
//! crate's [`Signer`] trait so that a cloud KMS or an HSM holds the key instead of a PEM file.
//!
//! Layout produced: header, payload, protected TLVs (SEC_CNT, then DEPENDENCY in order), then
//! unprotected TLVs in imgtool's order: hash, SIG_PURE (pure only), KEYHASH or PUBKEY,
//! signature. Ed25519 signs the digest (or, pure, the hashed region); ECDSA P-256 signs the
//! hashed region with SHA-256 and is stored DER-encoded. Every image is verified with
//! [`verify_image`] before it is returned.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::mcuboot::error::McubootError;
use crate::mcuboot::header::{HEADER_LEN, ImageHeader, ImageVersion};
use crate::mcuboot::key::{KeyAlgorithm, TrustedKey};
use crate::mcuboot::source::Layout;
use crate::mcuboot::tlv::{TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC, kind};
use crate::mcuboot::verify::{Dependency, HashAlgorithm, verify_image};
use crate::signature_algorithm::Algorithm;
use crate::signer::{Ed25519Key, Es256Key, SignError, Signer};

/// How the image names its key (imgtool `--public-key-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// KEYHASH (imgtool's default `hash`).
    Hash,
    /// PUBKEY (`full`).
    Full,
}

/// The slot an image must fit, with its swap trailer (imgtool `--slot-size`, `--align`,
/// `--max-sectors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotGeometry {
    /// Slot size in bytes.
    pub slot_size: u64,
    /// Flash write alignment: 1, 2, 4, 8, 16 or 32.
    pub align: u8,
    /// Sectors the swap status area allows for (imgtool's default 128).
    pub max_sectors: u32,
}

impl SlotGeometry {
    /// Bytes of the swap trailer at the end of the slot, as imgtool's `_trailer_size` computes
    /// them for a swap (not overwrite-only), unencrypted image.
    pub fn trailer_size(&self) -> Result<u64, SignImageError> {
        if !matches!(self.align, 1 | 2 | 4 | 8 | 16 | 32) {
            return Err(SignImageError::InvalidAlign { align: self.align });
        }
        let align = u64::from(self.align);
        let max_align = align.max(8);
        let magic = 16u64.div_ceil(max_align) * max_align;
        Ok(u64::from(self.max_sectors) * 3 * align + max_align * 4 + magic)
    }
}

/// What to put in the image besides the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// `ih_ver`.
    pub version: ImageVersion,
    /// Protected security counter (imgtool `-s`).
    pub security_counter: Option<u32>,
    /// Protected dependencies (imgtool `-d`).
    pub dependencies: Vec<Dependency>,
    /// `ih_hdr_size` (imgtool `-H`, at least 32).
    pub header_size: u16,
    /// Prepend `header_size` zero bytes to the input (imgtool `--pad-header`); otherwise the
    /// input must start with `header_size` zero bytes, which the header replaces.
    pub pad_header: bool,
    /// Image hash: SHA-256, or SHA-512 (Ed25519 only; forced for pure).
    pub hash: HashAlgorithm,
    /// Sign the whole hashed region (Ed25519 only, imgtool `--pure`).
    pub pure: bool,
    /// KEYHASH or PUBKEY.
    pub key_format: KeyFormat,
    /// The slot to fit, if any.
    pub slot: Option<SlotGeometry>,
}

impl ImageSpec {
    /// imgtool's defaults: 32-byte header space already in the input, SHA-256, KEYHASH.
    pub fn new(version: ImageVersion) -> Self {
        ImageSpec {
            version,
            security_counter: None,
            dependencies: Vec::new(),
            header_size: HEADER_LEN as u16,
            pad_header: false,
            hash: HashAlgorithm::Sha256,
            pure: false,
            key_format: KeyFormat::Hash,
            slot: None,
        }
    }
}

/// Why an image could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignImageError {
    /// The signer failed.
    #[error("signer failed: {0}")]
    Signer(#[from] SignError),
    /// The key file is not a PKCS#8 Ed25519 or P-256 private key.
    #[error("not a PKCS#8 PEM Ed25519 or P-256 private key")]
    KeyFile,
    /// Header size below 32 bytes.
    #[error("header size {size} is below the 32-byte header")]
    HeaderSize {
        /// The size asked for.
        size: u16,
    },
    /// Without header padding the input must start with `header_size` zero bytes.
    #[error("the input does not start with {size} zero bytes (use header padding)")]
    HeaderNotZero {
        /// The header size.
        size: u16,
    },
    /// The image does not fit the format's 32-bit size (or its 16-bit TLV areas).
    #[error("image too large for the MCUboot format")]
    TooLarge,
    /// The key and the requested hash or pure mode do not go together.
    #[error("{0}")]
    Unsupported(&'static str),
    /// Two dependencies on the same image, or more than the verifier accepts.
    #[error("dependencies must name distinct images, at most {cap}")]
    Dependencies {
        /// The cap.
        cap: usize,
    },
    /// Alignment is not a power of two up to 32.
    #[error("alignment {align} is not 1, 2, 4, 8, 16 or 32")]
    InvalidAlign {
        /// The alignment asked for.
        align: u8,
    },
    /// Image and trailer exceed the slot.
    #[error("image of {image} bytes plus trailer of {trailer} bytes exceeds the slot of {slot}")]
    SlotTooSmall {
        /// Image bytes.
        image: u64,
        /// Trailer bytes.
        trailer: u64,
        /// Slot size.
        slot: u64,
    },
    /// The signed image does not verify (a signer returned a wrong signature).
    #[error("the signed image does not verify: {0}")]
    SelfCheck(McubootError),
}

impl SignImageError {
    /// A stable snake_case code for machine-readable output.
    pub fn code(&self) -> &'static str {
        match self {
            SignImageError::Signer(_) => "mcuboot_sign_signer",
            SignImageError::KeyFile => "mcuboot_sign_key_file",
            SignImageError::HeaderSize { .. } => "mcuboot_sign_header_size",
            SignImageError::HeaderNotZero { .. } => "mcuboot_sign_header_not_zero",
            SignImageError::TooLarge => "mcuboot_sign_too_large",
            SignImageError::Unsupported(_) => "mcuboot_sign_unsupported",
            SignImageError::Dependencies { .. } => "mcuboot_sign_dependencies",
            SignImageError::InvalidAlign { .. } => "mcuboot_sign_invalid_align",
            SignImageError::SlotTooSmall { .. } => "mcuboot_sign_slot_too_small",
            SignImageError::SelfCheck(_) => "mcuboot_sign_self_check",
        }
    }
}

/// A signer for a PKCS#8 `PRIVATE KEY` PEM (RFC 5208, RFC 7468 §10) of an Ed25519 or P-256
/// key, as `imgtool keygen -t ed25519|ecdsa-p256` writes it.
pub fn load_signer_pem(text: &str) -> Result<Box<dyn Signer>, SignImageError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(text) {
        let seed = zeroize::Zeroizing::new(key.to_bytes());
        return Ok(Box::new(Ed25519Key::from_seed(&seed)));
    }
    if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(text) {
        let scalar: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(key.to_bytes().into());
        return Es256Key::from_scalar(&scalar)
            .map(|k| Box::new(k) as Box<dyn Signer>)
            .map_err(|_| SignImageError::KeyFile);
    }
    Err(SignImageError::KeyFile)
}

fn push_tlv(out: &mut Vec<u8>, tlv_kind: u16, value: &[u8]) -> Result<(), SignImageError> {
    let len = u16::try_from(value.len()).map_err(|_| SignImageError::TooLarge)?;
    out.extend_from_slice(&tlv_kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value);
    Ok(())
}

fn area(magic: u16, body: &[u8]) -> Result<Vec<u8>, SignImageError> {
    let total = u16::try_from(body.len() + 4).map_err(|_| SignImageError::TooLarge)?;
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Signs `input` (the binary, with `spec.header_size` zero bytes in front unless
/// `spec.pad_header`) with `signer`, and returns the image.
pub fn sign_image(
    input: &[u8],
    spec: &ImageSpec,
    signer: &dyn Signer,
) -> Result<Vec<u8>, SignImageError> {
    let algorithm = match signer.algorithm() {
        Algorithm::EdDsa => KeyAlgorithm::Ed25519,
        Algorithm::Es256 => KeyAlgorithm::EcdsaP256,
    };
    let key =
        TrustedKey::from_raw(algorithm, &signer.public_key()).map_err(|_| SignError::InvalidKey)?;
    match (algorithm, spec.hash, spec.pure) {
        (KeyAlgorithm::Ed25519, HashAlgorithm::Sha512, true)
        | (KeyAlgorithm::Ed25519, _, false)
        | (KeyAlgorithm::EcdsaP256, HashAlgorithm::Sha256, false) => {}
        (KeyAlgorithm::Ed25519, _, true) => {
            return Err(SignImageError::Unsupported(
                "pure Ed25519 images use SHA-512",
            ));
        }
        (KeyAlgorithm::EcdsaP256, _, true) => {
            return Err(SignImageError::Unsupported("pure signatures need Ed25519"));
        }
        (KeyAlgorithm::EcdsaP256, _, false) => {
            return Err(SignImageError::Unsupported("P-256 images use SHA-256"));
        }
    }
    if usize::from(spec.header_size) < HEADER_LEN {
        return Err(SignImageError::HeaderSize {
            size: spec.header_size,
        });
    }
    let header_size = usize::from(spec.header_size);
    let mut image = Vec::with_capacity(input.len() + header_size + 512);
    if spec.pad_header {
        image.resize(header_size, 0);
        image.extend_from_slice(input);
    } else {
        if input
            .get(..header_size)
            .is_none_or(|h| h.iter().any(|&b| b != 0))
        {
            return Err(SignImageError::HeaderNotZero {
                size: spec.header_size,
            });
        }
        image.extend_from_slice(input);
    }
    let image_size =
        u32::try_from(image.len() - header_size).map_err(|_| SignImageError::TooLarge)?;

    let mut protected_body = Vec::new();
    if let Some(counter) = spec.security_counter {
        push_tlv(&mut protected_body, kind::SEC_CNT, &counter.to_le_bytes())?;
    }
    if spec.dependencies.len() > crate::mcuboot::MAX_DEPENDENCIES {
        return Err(SignImageError::Dependencies {
            cap: crate::mcuboot::MAX_DEPENDENCIES,
        });
    }
    for (i, dependency) in spec.dependencies.iter().enumerate() {
        let seen = spec.dependencies.get(..i).unwrap_or(&[]);
        if seen.iter().any(|d| d.image_id == dependency.image_id) {
            return Err(SignImageError::Dependencies {
                cap: crate::mcuboot::MAX_DEPENDENCIES,
            });
        }
        let mut value = [0u8; 12];
        value[0] = dependency.image_id;
        value[4..].copy_from_slice(&dependency.min_version.to_bytes());
        push_tlv(&mut protected_body, kind::DEPENDENCY, &value)?;
    }
    let protected = if protected_body.is_empty() {
        Vec::new()
    } else {
        area(TLV_PROT_INFO_MAGIC, &protected_body)?
    };
    let header = ImageHeader {
        load_address: 0,
        header_size: spec.header_size,
        protected_tlv_size: u16::try_from(protected.len()).map_err(|_| SignImageError::TooLarge)?,
        image_size,
        flags: 0,
        version: spec.version,
    };
    if let Some(dst) = image.get_mut(..HEADER_LEN) {
        dst.copy_from_slice(&header.to_bytes());
    }
    image.extend_from_slice(&protected);

    let digest = spec.hash.digest(&image);
    let mut unprotected = Vec::new();
    push_tlv(&mut unprotected, spec.hash.tlv_kind(), digest.as_bytes())?;
    if spec.pure {
        push_tlv(&mut unprotected, kind::SIG_PURE, &[1])?;
    }
    match spec.key_format {
        KeyFormat::Hash => push_tlv(
            &mut unprotected,
            kind::KEYHASH,
            spec.hash.digest(key.spki()).as_bytes(),
        )?,
        KeyFormat::Full => push_tlv(&mut unprotected, kind::PUBKEY, key.spki())?,
    }
    match algorithm {
        KeyAlgorithm::Ed25519 => {
            let message = if spec.pure {
                image.as_slice()
            } else {
                digest.as_bytes()
            };
            push_tlv(&mut unprotected, kind::ED25519, &signer.sign(message)?)?;
        }
        KeyAlgorithm::EcdsaP256 => {
            // The signer hashes with SHA-256 itself: signing the region signs its digest.
            let raw = signer.sign(&image)?;
            let signature = p256::ecdsa::Signature::from_slice(&raw)
                .map_err(|_| SignError::Backend("not an r||s P-256 signature".into()))?;
            push_tlv(
                &mut unprotected,
                kind::ECDSA_SIG,
                signature.to_der().as_bytes(),
            )?;
        }
    }
    image.extend_from_slice(&area(TLV_INFO_MAGIC, &unprotected)?);

    if let Some(slot) = spec.slot {
        let trailer = slot.trailer_size()?;
        let needed = image.len() as u64 + trailer;
        if needed > slot.slot_size {
            return Err(SignImageError::SlotTooSmall {
                image: image.len() as u64,
                trailer,
                slot: slot.slot_size,
            });
        }
    }
    verify_image(&mut image.as_slice(), &key, Layout::File).map_err(SignImageError::SelfCheck)?;
    Ok(image)
}
