//! The SUIT envelope verifier: one call decides whether an envelope is authentic, understood
//! and applicable to this device.
//!
//! Order of checks (draft-ietf-suit-manifest §6.2: the signature before any manifest parsing):
//!
//! 1. envelope structure and size cap (§8.2);
//! 2. the manifest hashes to the SUIT_Digest (§8.3);
//! 3. a `COSE_Sign1` by a trusted key verifies over the digest (§8.3, RFC 9052 §4.4);
//! 4. the manifest and its severable members are decoded and every command understood
//!    (§8.4, §8.4.12);
//! 5. device checks: vendor and class conditions (§8.4.9.1), image sizes against the slot,
//!    and the sequence number against the last one accepted (§8.4.2).
//!
//! The sequence number follows this crate's replay rule (`DeviceState::last_sequence`, as
//! [`crate::verify`]): it must be strictly above the stored one, where the draft only forbids
//! lower numbers; re-applying an accepted manifest is a resume from the device's own copy, not
//! a new verification.

use crate::signature_algorithm::{Algorithm, PublicKey, SignatureError};
use crate::suit::envelope::{Envelope, SIG1_STRUCTURE_CAP, write_sig1_structure};
use crate::suit::error::SuitError;
use crate::suit::manifest::SuitManifest;
use crate::verifier::DeviceState;

/// A public key trusted to sign SUIT manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuitKey {
    algorithm: Algorithm,
    key: PublicKey,
}

impl SuitKey {
    /// Parses a canonical public key for `algorithm` (32-byte Ed25519 or 65-byte uncompressed
    /// SEC1 P-256, see [`Algorithm::check_public_key`]).
    pub fn parse(algorithm: Algorithm, public_key: &[u8]) -> Result<Self, SuitError> {
        let key = PublicKey::parse(algorithm, public_key).map_err(|e| match e {
            SignatureError::Unsupported => SuitError::UnsupportedAlgorithm {
                id: algorithm.cose_id(),
            },
            _ => SuitError::InvalidKey,
        })?;
        Ok(SuitKey { algorithm, key })
    }

    /// The algorithm the key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// An envelope that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope<'a> {
    /// The manifest.
    pub manifest: SuitManifest<'a>,
    /// The algorithm of the signature that verified.
    pub algorithm: Algorithm,
}

/// Steps 1 to 4: authenticates `envelope` with one of `keys` and decodes its manifest. No
/// device check is made; use [`verify_envelope`] on a device.
pub fn authenticate_envelope<'a>(
    envelope: &'a [u8],
    keys: &[SuitKey],
) -> Result<VerifiedEnvelope<'a>, SuitError> {
    // 1.
    let envelope = Envelope::from_cbor(envelope)?;
    // 2.
    if !envelope.manifest_matches_digest() {
        return Err(SuitError::ManifestDigestMismatch);
    }
    // 3.
    let algorithm = check_signatures(&envelope, keys)?;
    // 4.
    let manifest = SuitManifest::decode(envelope.manifest.content, &envelope.severable)?;
    Ok(VerifiedEnvelope {
        manifest,
        algorithm,
    })
}

/// Decides whether `envelope` may be installed on the device in `state`, trusting `keys`.
pub fn verify_envelope<'a>(
    envelope: &'a [u8],
    keys: &[SuitKey],
    state: &DeviceState<'_>,
) -> Result<VerifiedEnvelope<'a>, SuitError> {
    let verified = authenticate_envelope(envelope, keys)?;
    check_device(&verified.manifest, state)?;
    Ok(verified)
}

/// Step 5: the selection and rollback checks against the device state.
pub fn check_device(manifest: &SuitManifest<'_>, state: &DeviceState<'_>) -> Result<(), SuitError> {
    for component in &manifest.components {
        if component.vendor_id.is_some_and(|v| v != state.vendor_id) {
            return Err(SuitError::WrongVendor);
        }
        if component.class_id.is_some_and(|c| c != state.class_id) {
            return Err(SuitError::WrongClass);
        }
        if let Some(size) = component
            .images
            .iter()
            .filter_map(|image| image.size)
            .find(|&size| size > state.slot_capacity)
        {
            return Err(SuitError::ImageTooLarge {
                size,
                capacity: state.slot_capacity,
            });
        }
    }
    if manifest.sequence_number <= state.last_sequence {
        return Err(SuitError::Rollback {
            stored: state.last_sequence,
            offered: manifest.sequence_number,
        });
    }
    Ok(())
}

/// Accepts when one authentication block verifies under a trusted key of its algorithm.
/// Blocks of algorithms no trusted key uses are skipped (another authority's signature, §8.3);
/// a block that a trusted key of its algorithm does not verify makes no difference unless no
/// block verifies, and then the refusal is `BadSignature`.
fn check_signatures(envelope: &Envelope<'_>, keys: &[SuitKey]) -> Result<Algorithm, SuitError> {
    let mut tried = false;
    for block in &envelope.signatures {
        let mut buffer = [0u8; SIG1_STRUCTURE_CAP];
        let len = write_sig1_structure(&mut buffer, block.protected, envelope.digest_encoded)
            .ok_or(SuitError::BadSignature)?;
        let message = buffer.get(..len).ok_or(SuitError::BadSignature)?;
        for key in keys.iter().filter(|k| k.algorithm == block.algorithm) {
            tried = true;
            if key.key.verify(message, block.signature).is_ok() {
                return Ok(block.algorithm);
            }
        }
    }
    Err(if tried {
        SuitError::BadSignature
    } else {
        SuitError::NoTrustedSignature
    })
}
