//! SUIT envelopes (draft-ietf-suit-manifest, the CBOR-based Software Updates for Internet of
//! Things manifest): verification without an allocator, production with `std`.
//!
//! [`verify_envelope`] authenticates a `SUIT_Envelope_Tagged` (SHA-256 SUIT_Digest over the
//! bstr-wrapped manifest, `COSE_Sign1` with ES256 or EdDSA), decodes the manifest and walks
//! its command sequences, refusing anything it does not implement, then applies the same
//! vendor, class, slot-size and sequence-number checks as [`crate::verify`].

mod command_sequence;
mod envelope;
mod error;
mod manifest;
mod verify;

#[cfg(feature = "std")]
mod build;

pub use command_sequence::{
    MAX_BRANCHES, MAX_COMPONENTS, MAX_IMAGES, MAX_NESTING, MAX_PARAMETERS, MAX_SEQUENCE_ITEMS,
    MAX_URI_LEN, SuitImage,
};
pub use envelope::{
    COSE_SIGN1_TAG, ENVELOPE_TAG, Envelope, MAX_AUTHENTICATION_BLOCKS, MAX_ENVELOPE_SIZE,
    SEVERABLE_KEYS, SHA256_ID, SeverableMembers, Sign1, Wrapped, decode_digest,
};
pub use error::SuitError;
pub use manifest::{MANIFEST_VERSION, MAX_ID_PART_LEN, MAX_ID_PARTS, SuitComponent, SuitManifest};
pub use verify::{SuitKey, VerifiedEnvelope, authenticate_envelope, check_device, verify_envelope};

#[cfg(feature = "std")]
pub use build::{BuildError, EnvelopeBuilder, seal_manifest};
