//! MCUboot images (MCUboot design document, "Image format"; imgtool 2.5.0 `image.py`):
//! verification against a trusted key on the device (no_std, no alloc, constant RAM over a
//! read-at-offset source), the install decision that feeds the security counter into the
//! A/B trial-boot flow, and signing through [`crate::signer::Signer`] (`std`).
//!
//! An image is a 32-byte header, the payload, an optional protected TLV area (covered by the
//! hash and the signature: security counter, dependencies) and the unprotected TLV area (hash,
//! key reference, signature). Unknown, misplaced and duplicate TLVs are refused, unlike
//! imgtool's `verify`, which skips them; KEYHASH and PUBKEY must name the trusted key.

mod error;
mod header;
mod install;
mod key;
#[cfg(feature = "std")]
mod sign;
mod source;
pub mod tlv;
mod verify;

pub use error::McubootError;
pub use header::{HEADER_LEN, IMAGE_MAGIC, ImageHeader, ImageVersion, VersionSyntax, flags};
pub use install::install_ticket;
pub use key::{KeyAlgorithm, TrustedKey};
#[cfg(feature = "std")]
pub use sign::{ImageSpec, KeyFormat, SignImageError, SlotGeometry, load_signer_pem, sign_image};
pub use source::{ImageSource, Layout};
pub use verify::{
    CHUNK, Dependency, HashAlgorithm, ImageDigest, KeyReference, MAX_DEPENDENCIES, SignatureKind,
    VerifiedImage, verify_image,
};
