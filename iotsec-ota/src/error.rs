//! Why the device verifier refused a manifest or a trust root. Each variant names the attack it
//! stops (TUF specification §1.5.2, "Goals to protect against specific attacks").

use crate::canonical_cbor::CborError;
use crate::role::Role;

/// A refusal of the device verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Endless data: the document is larger than the hard cap.
    #[error("document of {size} bytes exceeds the cap of {cap} bytes (endless data)")]
    DocumentTooLarge {
        /// Size offered.
        size: usize,
        /// Largest accepted.
        cap: usize,
    },
    /// Malformed or non-canonical CBOR, or a field outside its schema.
    #[error("bad encoding: {0}")]
    Encoding(#[from] CborError),
    /// A trust root presented as a manifest or the other way round.
    #[error("document content type is not {expected}")]
    WrongDocumentType {
        /// The content type required here.
        expected: &'static str,
    },
    /// A COSE algorithm this build does not verify.
    #[error("unsupported COSE algorithm {id}")]
    UnsupportedAlgorithm {
        /// The COSE algorithm identifier.
        id: i64,
    },
    /// Arbitrary software: a signature by a trusted key does not verify.
    #[error("signature by trusted key #{key_index} does not verify (tampered document?)")]
    BadSignature {
        /// Index of the key in the trust root.
        key_index: usize,
    },
    /// A signature claims a trusted key id but another algorithm than the key's.
    #[error("signature algorithm differs from trusted key #{key_index}'s algorithm")]
    AlgorithmMismatch {
        /// Index of the key in the trust root.
        key_index: usize,
    },
    /// Fewer distinct trusted public keys signed than the role's threshold.
    #[error("{role} threshold not met: {valid} of {needed} distinct keys signed")]
    ThresholdNotMet {
        /// The role whose threshold applies.
        role: Role,
        /// Signatures needed.
        needed: u8,
        /// Distinct trusted public keys with a valid signature.
        valid: u8,
    },
    /// No signature is by a key the role trusts: an unknown or rotated-out key signed it.
    #[error("no signature by a key trusted for {role} ({untrusted} by unknown or removed keys)")]
    NoTrustedSignature {
        /// The role whose keys were expected.
        role: Role,
        /// Signatures by keys the role does not list.
        untrusted: u8,
    },
    /// A trust root lists one public key more than once (it would count twice).
    #[error("trust root lists public key #{key_index} twice")]
    DuplicateKey {
        /// Index of the second listing.
        key_index: usize,
    },
    /// A trust root key that is not a valid canonical public key for its algorithm.
    #[error("trust root key #{key_index} is not a valid public key")]
    InvalidKey {
        /// Index of the key in the trust root.
        key_index: usize,
    },
    /// A role whose threshold is larger than its number of keys (or zero).
    #[error("{role} threshold {threshold} cannot be met by its {keys} keys")]
    ThresholdUnreachable {
        /// The role.
        role: Role,
        /// The threshold.
        threshold: u8,
        /// Keys listed for it.
        keys: u8,
    },
    /// Root rotation must go from version N to exactly N+1.
    #[error("trust root rotation from version {current} to {offered}: must be the next version")]
    RootVersionNotNext {
        /// Version trusted now.
        current: u64,
        /// Version offered.
        offered: u64,
    },
    /// A trust root older than the one the device already trusts.
    #[error("trust root version {offered} is older than trusted version {trusted}")]
    RootRollback {
        /// Version the device trusts.
        trusted: u64,
        /// Version offered.
        offered: u64,
    },
    /// Indefinite freeze: the trust root expired by the device's trusted clock.
    #[error("trust root expired at {expires_at}, trusted time is {now} (freeze attack?)")]
    RootExpired {
        /// Expiry in the root.
        expires_at: u64,
        /// The device's trusted time.
        now: u64,
    },
    /// Rollback: the manifest's security counter is below the device's stored counter.
    #[error("rollback: security counter {offered} is below the stored {stored}")]
    Rollback {
        /// Counter stored on the device.
        stored: u64,
        /// Counter in the manifest.
        offered: u64,
    },
    /// Replay: the sequence number is not newer than the last accepted one.
    #[error("replay: sequence number {offered} is not newer than {last}")]
    Replay {
        /// Last sequence number accepted.
        last: u64,
        /// Sequence number in the manifest.
        offered: u64,
    },
    /// Wrong hardware: another vendor's manifest.
    #[error("manifest is for another vendor")]
    WrongVendor,
    /// Wrong hardware: another device class.
    #[error("manifest is for another device class")]
    WrongClass,
    /// The manifest lists devices and this one is not among them.
    #[error("manifest is not addressed to this device")]
    WrongDevice,
    /// Indefinite freeze: the manifest expired by the device's trusted clock.
    #[error("manifest expired at {expires_at}, trusted time is {now} (freeze attack?)")]
    Expired {
        /// Expiry in the manifest.
        expires_at: u64,
        /// The device's trusted time.
        now: u64,
    },
    /// The signed rollout gate excludes this device.
    #[error("device bucket {bucket} is outside the rollout cohort of {basis_points} bps")]
    OutsideCohort {
        /// This device's bucket (0..10000).
        bucket: u16,
        /// The gate's basis points.
        basis_points: u16,
    },
    /// Endless data: a component larger than the slot that would receive it.
    #[error("component of {size} bytes exceeds the slot capacity of {capacity} bytes")]
    ImageTooLarge {
        /// Signed image size.
        size: u64,
        /// Slot capacity.
        capacity: u64,
    },
}

impl Error {
    /// Whether the document was read and refused (a forged or unauthorised signature, a rollback or
    /// replay, an update for another device, expired, outside the rollout, too large for the slot)
    /// rather than unreadable: a command-line tool exits 1 for a refusal and 2 otherwise.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::BadSignature { .. }
                | Error::AlgorithmMismatch { .. }
                | Error::ThresholdNotMet { .. }
                | Error::NoTrustedSignature { .. }
                | Error::RootVersionNotNext { .. }
                | Error::RootRollback { .. }
                | Error::RootExpired { .. }
                | Error::Rollback { .. }
                | Error::Replay { .. }
                | Error::WrongVendor
                | Error::WrongClass
                | Error::WrongDevice
                | Error::Expired { .. }
                | Error::OutsideCohort { .. }
                | Error::ImageTooLarge { .. }
        )
    }
}

impl Error {
    /// A stable snake_case code for the error (`"document_too_large"`, ...), for logs and
    /// machine-readable output. New variants get new codes; codes never change.
    pub fn code(&self) -> &'static str {
        match self {
            Error::DocumentTooLarge { .. } => "document_too_large",
            Error::Encoding { .. } => "encoding",
            Error::WrongDocumentType { .. } => "wrong_document_type",
            Error::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Error::BadSignature { .. } => "bad_signature",
            Error::AlgorithmMismatch { .. } => "algorithm_mismatch",
            Error::ThresholdNotMet { .. } => "threshold_not_met",
            Error::NoTrustedSignature { .. } => "no_trusted_signature",
            Error::DuplicateKey { .. } => "duplicate_key",
            Error::InvalidKey { .. } => "invalid_key",
            Error::ThresholdUnreachable { .. } => "threshold_unreachable",
            Error::RootVersionNotNext { .. } => "root_version_not_next",
            Error::RootRollback { .. } => "root_rollback",
            Error::RootExpired { .. } => "root_expired",
            Error::Rollback { .. } => "rollback",
            Error::Replay { .. } => "replay",
            Error::WrongVendor => "wrong_vendor",
            Error::WrongClass => "wrong_class",
            Error::WrongDevice => "wrong_device",
            Error::Expired { .. } => "expired",
            Error::OutsideCohort { .. } => "outside_cohort",
            Error::ImageTooLarge { .. } => "image_too_large",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_snake_case_variant_names() {
        let cases = [
            (
                Error::DocumentTooLarge { size: 9, cap: 8 },
                "document_too_large",
            ),
            (Error::BadSignature { key_index: 0 }, "bad_signature"),
            (
                Error::Rollback {
                    stored: 5,
                    offered: 1,
                },
                "rollback",
            ),
            (Error::WrongVendor, "wrong_vendor"),
            (
                Error::RootVersionNotNext {
                    current: 1,
                    offered: 3,
                },
                "root_version_not_next",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn refusals_are_told_from_unreadable_documents() {
        assert!(
            Error::Rollback {
                stored: 5,
                offered: 1
            }
            .is_refusal()
        );
        assert!(Error::BadSignature { key_index: 0 }.is_refusal());
        assert!(Error::WrongDevice.is_refusal());
        assert!(!Error::DocumentTooLarge { size: 9, cap: 8 }.is_refusal());
        let boot: crate::trial_boot::BootError<()> =
            crate::trial_boot::BootError::Image(crate::ImageError::DigestMismatch);
        assert_eq!(boot.code(), "image_digest_mismatch");
        assert!(boot.is_refusal());
        let store: crate::trial_boot::BootError<()> = crate::trial_boot::BootError::Store(());
        assert_eq!(store.code(), "boot_store");
        assert!(!store.is_refusal());
        assert!(!crate::ImageError::Aborted.is_refusal());
    }
}
