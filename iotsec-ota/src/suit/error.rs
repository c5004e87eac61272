//! Why a SUIT envelope was refused. Each variant names what the verifier stopped; `code()` is
//! stable for logs and machine-readable output and distinct from every [`crate::Error`] and
//! [`crate::ImageError`] code (all start with `suit_`).

use crate::canonical_cbor::CborError;

/// A refusal of the SUIT envelope verifier (draft-ietf-suit-manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SuitError {
    /// Endless data: the envelope is larger than the hard cap.
    #[error("envelope of {size} bytes exceeds the cap of {cap} bytes")]
    TooLarge {
        /// Size offered.
        size: usize,
        /// Largest accepted.
        cap: usize,
    },
    /// Malformed or non-canonical CBOR, or an item outside the SUIT schema.
    #[error("bad encoding: {0}")]
    Encoding(#[from] CborError),
    /// A member of the envelope this verifier does not know (integrated payloads included).
    #[error("unknown envelope member {key}")]
    UnknownEnvelopeMember {
        /// The member's key (`-1` for a text key: an integrated payload).
        key: i64,
    },
    /// A member of the manifest or of its common block this verifier does not know.
    #[error("unknown manifest member {key}")]
    UnknownManifestMember {
        /// The member's key.
        key: i64,
    },
    /// A digest algorithm other than SHA-256 (COSE -16).
    #[error("unsupported digest algorithm {id}")]
    UnsupportedDigestAlgorithm {
        /// The COSE algorithm identifier.
        id: i64,
    },
    /// An authentication block that is not a `COSE_Sign1` (COSE_Sign, COSE_Mac, COSE_Mac0).
    #[error("authentication block is not a COSE_Sign1")]
    UnsupportedAuthentication,
    /// A signature algorithm this build does not verify.
    #[error("unsupported COSE algorithm {id}")]
    UnsupportedAlgorithm {
        /// The COSE algorithm identifier.
        id: i64,
    },
    /// The authentication wrapper holds a digest but no authentication block.
    #[error("manifest is not signed")]
    Unsigned,
    /// The manifest bytes do not hash to the signed SUIT_Digest (tampered manifest).
    #[error("manifest does not match the signed digest (tampered manifest?)")]
    ManifestDigestMismatch,
    /// A trusted key that is not a valid canonical public key for its algorithm.
    #[error("trusted key is not a valid public key")]
    InvalidKey,
    /// No authentication block is by a trusted key of its algorithm.
    #[error("no signature by a trusted key")]
    NoTrustedSignature,
    /// A signature by a trusted key's algorithm does not verify (tampered digest or signature).
    #[error("signature does not verify (tampered envelope?)")]
    BadSignature,
    /// A manifest structure version other than 1.
    #[error("unsupported manifest version {version}")]
    UnsupportedManifestVersion {
        /// The version offered.
        version: u64,
    },
    /// A command this verifier does not implement (custom commands included).
    #[error("unsupported command {command}")]
    UnsupportedCommand {
        /// The command identifier.
        command: i64,
    },
    /// A parameter this verifier does not implement (custom parameters included).
    #[error("unsupported parameter {parameter}")]
    UnsupportedParameter {
        /// The parameter identifier.
        parameter: i64,
    },
    /// A command needs a parameter that no directive set for the selected component.
    #[error("command {command} needs parameter {parameter}, which is not set")]
    MissingParameter {
        /// The command identifier.
        command: i64,
        /// The parameter identifier.
        parameter: i64,
    },
    /// A component index (or source component) beyond the component list.
    #[error("component index {index} is outside the component list")]
    ComponentIndex {
        /// The index.
        index: u64,
    },
    /// With several components, a command sequence must select one first (§6.2).
    #[error("command sequence of a multi-component manifest does not start with a component index")]
    ComponentNotSelected,
    /// The shared sequence does not check the vendor and class identifiers (§6.2).
    #[error("shared sequence does not check the {identifier} identifier")]
    MissingIdentityCheck {
        /// `"vendor"` or `"class"`.
        identifier: &'static str,
    },
    /// One component is checked against two different vendor or class identifiers.
    #[error("component {index} is checked against two different {identifier} identifiers")]
    ConflictingIdentity {
        /// The component index.
        index: usize,
        /// `"vendor"` or `"class"`.
        identifier: &'static str,
    },
    /// The envelope carries a severable member whose manifest entry is not a digest.
    #[error("envelope member {key} is not covered by a digest in the manifest")]
    UnauthenticatedMember {
        /// The member's key.
        key: i64,
    },
    /// A severable member does not hash to the digest the manifest holds for it.
    #[error("severable member {key} does not match its digest in the manifest")]
    SeveredMemberDigestMismatch {
        /// The member's key.
        key: i64,
    },
    /// Nesting, branching or a list exceeds a hard bound of the verifier.
    #[error("{what} exceeds the bound of {cap}")]
    LimitExceeded {
        /// What was too deep or too long.
        what: &'static str,
        /// The bound.
        cap: usize,
    },
    /// The conditions of a sequence contradict each other: no device can pass them.
    #[error("command sequence conditions cannot all hold on any device")]
    Unsatisfiable,
    /// Wrong hardware: a vendor identifier condition names another vendor.
    #[error("manifest is for another vendor")]
    WrongVendor,
    /// Wrong hardware: a class identifier condition names another device class.
    #[error("manifest is for another device class")]
    WrongClass,
    /// Rollback or replay: the sequence number is not above the last one accepted.
    #[error("rollback: sequence number {offered} is not above the stored {stored}")]
    Rollback {
        /// Sequence number stored on the device.
        stored: u64,
        /// Sequence number in the manifest.
        offered: u64,
    },
    /// Endless data: an image larger than the slot that would receive it.
    #[error("image of {size} bytes exceeds the slot capacity of {capacity} bytes")]
    ImageTooLarge {
        /// Signed image size.
        size: u64,
        /// Slot capacity.
        capacity: u64,
    },
}

impl SuitError {
    /// Whether the envelope was read and refused (unsigned, tampered, forged, for other
    /// hardware, a rollback, a sequence no device can pass, too large for the slot) rather than
    /// unreadable or beyond what this verifier implements: a command-line tool exits 1 for a
    /// refusal and 2 otherwise.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            SuitError::Unsigned
                | SuitError::ManifestDigestMismatch
                | SuitError::NoTrustedSignature
                | SuitError::BadSignature
                | SuitError::MissingIdentityCheck { .. }
                | SuitError::ConflictingIdentity { .. }
                | SuitError::UnauthenticatedMember { .. }
                | SuitError::SeveredMemberDigestMismatch { .. }
                | SuitError::Unsatisfiable
                | SuitError::WrongVendor
                | SuitError::WrongClass
                | SuitError::Rollback { .. }
                | SuitError::ImageTooLarge { .. }
        )
    }

    /// A stable snake_case code (`"suit_bad_signature"`, ...). New variants get new codes;
    /// codes never change.
    pub fn code(&self) -> &'static str {
        match self {
            SuitError::TooLarge { .. } => "suit_too_large",
            SuitError::Encoding(_) => "suit_encoding",
            SuitError::UnknownEnvelopeMember { .. } => "suit_unknown_envelope_member",
            SuitError::UnknownManifestMember { .. } => "suit_unknown_manifest_member",
            SuitError::UnsupportedDigestAlgorithm { .. } => "suit_unsupported_digest_algorithm",
            SuitError::UnsupportedAuthentication => "suit_unsupported_authentication",
            SuitError::UnsupportedAlgorithm { .. } => "suit_unsupported_algorithm",
            SuitError::Unsigned => "suit_unsigned",
            SuitError::ManifestDigestMismatch => "suit_manifest_digest_mismatch",
            SuitError::InvalidKey => "suit_invalid_key",
            SuitError::NoTrustedSignature => "suit_no_trusted_signature",
            SuitError::BadSignature => "suit_bad_signature",
            SuitError::UnsupportedManifestVersion { .. } => "suit_unsupported_manifest_version",
            SuitError::UnsupportedCommand { .. } => "suit_unsupported_command",
            SuitError::UnsupportedParameter { .. } => "suit_unsupported_parameter",
            SuitError::MissingParameter { .. } => "suit_missing_parameter",
            SuitError::ComponentIndex { .. } => "suit_component_index",
            SuitError::ComponentNotSelected => "suit_component_not_selected",
            SuitError::MissingIdentityCheck { .. } => "suit_missing_identity_check",
            SuitError::ConflictingIdentity { .. } => "suit_conflicting_identity",
            SuitError::UnauthenticatedMember { .. } => "suit_unauthenticated_member",
            SuitError::SeveredMemberDigestMismatch { .. } => "suit_severed_member_digest_mismatch",
            SuitError::LimitExceeded { .. } => "suit_limit_exceeded",
            SuitError::Unsatisfiable => "suit_unsatisfiable",
            SuitError::WrongVendor => "suit_wrong_vendor",
            SuitError::WrongClass => "suit_wrong_class",
            SuitError::Rollback { .. } => "suit_rollback",
            SuitError::ImageTooLarge { .. } => "suit_image_too_large",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_prefixed_and_distinct_from_the_crate_codes() {
        let errors = [
            SuitError::TooLarge { size: 2, cap: 1 },
            SuitError::Encoding(CborError::Malformed { offset: 0 }),
            SuitError::BadSignature,
            SuitError::Rollback {
                stored: 2,
                offered: 1,
            },
            SuitError::WrongVendor,
            SuitError::UnsupportedCommand { command: 6 },
        ];
        let codes: [&str; 6] = errors.map(|e| e.code());
        assert_eq!(
            codes,
            [
                "suit_too_large",
                "suit_encoding",
                "suit_bad_signature",
                "suit_rollback",
                "suit_wrong_vendor",
                "suit_unsupported_command",
            ]
        );
    }

    #[test]
    fn refusals_are_told_from_what_could_not_be_read() {
        let refused = [
            SuitError::BadSignature,
            SuitError::Unsigned,
            SuitError::ManifestDigestMismatch,
            SuitError::WrongVendor,
            SuitError::Rollback {
                stored: 2,
                offered: 1,
            },
        ];
        let unread = [
            SuitError::TooLarge { size: 2, cap: 1 },
            SuitError::Encoding(CborError::Malformed { offset: 0 }),
            SuitError::UnsupportedCommand { command: 6 },
            SuitError::InvalidKey,
            SuitError::LimitExceeded {
                what: "nesting",
                cap: 4,
            },
        ];
        assert_eq!(refused.map(|e| e.is_refusal()), [true; 5]);
        assert_eq!(unread.map(|e| e.is_refusal()), [false; 5]);
    }
}
