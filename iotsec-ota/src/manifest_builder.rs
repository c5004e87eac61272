//! Cloud-side manifest building (`std`): collects a release's fields, checks them against the
//! same caps the device enforces, and signs the result as a `COSE_Sign` (RFC 9052 §4.1).

use alloc::string::String;
use alloc::vec::Vec;

use crate::sha256::{Digest, Sha256};

use crate::manifest::{
    ALL_DEVICES_BPS, Component, MAX_COMPONENT_ID_LEN, MAX_COMPONENTS, MAX_DEVICE_ID_LEN,
    MAX_DEVICE_IDS, MAX_VERSION_LEN, Manifest, ROLLOUT_SEED_LEN, RolloutGate, is_semver,
};
use crate::signer::{SignError, Signer, sign_document};
use crate::verifier::MANIFEST_CONTENT_TYPE;

/// Why a manifest could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A field breaks the manifest schema or a device-side cap.
    #[error("invalid manifest field {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The signed document would exceed the device's size cap.
    #[error("signed manifest of {size} bytes exceeds the device cap of {cap}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The cap.
        cap: usize,
    },
}

impl BuildError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            BuildError::InvalidField { .. } => "build_invalid_field",
            BuildError::Sign(e) => e.code(),
            BuildError::TooLarge { .. } => "build_too_large",
        }
    }

    /// Never: building a manifest judges nothing; every error is bad input or a signer's failure.
    pub fn is_refusal(&self) -> bool {
        match self {
            BuildError::Sign(e) => e.is_refusal(),
            _ => false,
        }
    }
}

/// One component of a release being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    /// Component id.
    pub id: String,
    /// SHA-256 of the image.
    pub digest: [u8; 32],
    /// Image size.
    pub size: u64,
    /// For delta images: SHA-256 of the base image.
    pub delta_base: Option<[u8; 32]>,
}

impl ComponentSpec {
    /// Describes `image` (digest and size computed here).
    pub fn from_image(id: &str, image: &[u8]) -> Self {
        ComponentSpec {
            id: id.into(),
            digest: Sha256::digest(image).into(),
            size: image.len() as u64,
            delta_base: None,
        }
    }
}

/// Builds a manifest for a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestBuilder {
    vendor_id: [u8; 16],
    class_id: [u8; 16],
    version: String,
    security_counter: u64,
    sequence_number: u64,
    components: Vec<ComponentSpec>,
    device_ids: Vec<Vec<u8>>,
    expires_at: Option<u64>,
    rollout: Option<(u16, Vec<u8>)>,
}

impl ManifestBuilder {
    /// Starts a manifest for devices of `vendor_id`/`class_id`.
    pub fn new(vendor_id: [u8; 16], class_id: [u8; 16], version: &str) -> Self {
        ManifestBuilder {
            vendor_id,
            class_id,
            version: version.into(),
            security_counter: 0,
            sequence_number: 1,
            components: Vec::new(),
            device_ids: Vec::new(),
            expires_at: None,
            rollout: None,
        }
    }

    /// Sets the anti-rollback security counter.
    pub fn security_counter(mut self, counter: u64) -> Self {
        self.security_counter = counter;
        self
    }

    /// Sets the sequence number (raise it for every manifest you publish).
    pub fn sequence_number(mut self, sequence: u64) -> Self {
        self.sequence_number = sequence;
        self
    }

    /// Adds a component.
    pub fn component(mut self, component: ComponentSpec) -> Self {
        self.components.push(component);
        self
    }

    /// Restricts the manifest to a device (call once per device).
    pub fn device(mut self, device_id: &[u8]) -> Self {
        self.device_ids.push(device_id.to_vec());
        self
    }

    /// Sets the expiry (seconds since the Unix epoch).
    pub fn expires_at(mut self, expires_at: u64) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Signs a rollout gate into the manifest.
    pub fn rollout(mut self, basis_points: u16, seed: &[u8]) -> Self {
        self.rollout = Some((basis_points, seed.to_vec()));
        self
    }

    /// The deterministic CBOR payload, checked against the device's caps.
    pub fn payload(&self) -> Result<Vec<u8>, BuildError> {
        let invalid = |field, reason| BuildError::InvalidField { field, reason };
        if !is_semver(&self.version) || self.version.len() > MAX_VERSION_LEN {
            return Err(invalid(
                "version",
                "not a SemVer 2.0.0 version of at most 64 bytes",
            ));
        }
        if self.components.is_empty() || self.components.len() > MAX_COMPONENTS {
            return Err(invalid("components", "need 1 to 4 components"));
        }
        if self.device_ids.len() > MAX_DEVICE_IDS
            || self
                .device_ids
                .iter()
                .any(|id| id.is_empty() || id.len() > MAX_DEVICE_ID_LEN)
        {
            return Err(invalid("device_ids", "at most 16 ids of 1 to 32 bytes"));
        }
        let mut components = heapless::Vec::new();
        for (i, spec) in self.components.iter().enumerate() {
            if spec.id.is_empty()
                || spec.id.len() > MAX_COMPONENT_ID_LEN
                || self.components.iter().take(i).any(|c| c.id == spec.id)
            {
                return Err(invalid("components", "ids must be unique, 1 to 32 bytes"));
            }
            let _ = components.push(Component {
                id: &spec.id,
                digest: spec.digest,
                size: spec.size,
                delta_base: spec.delta_base,
            });
        }
        let rollout = match &self.rollout {
            Some((bps, seed)) => {
                if *bps == 0 || *bps > ALL_DEVICES_BPS || !ROLLOUT_SEED_LEN.contains(&seed.len()) {
                    return Err(invalid(
                        "rollout",
                        "1 to 10000 bps and an 8 to 32 byte seed",
                    ));
                }
                Some(RolloutGate {
                    basis_points: *bps,
                    seed,
                })
            }
            None => None,
        };
        let mut device_ids = heapless::Vec::new();
        for id in &self.device_ids {
            let _ = device_ids.push(id.as_slice());
        }
        let manifest = Manifest {
            vendor_id: self.vendor_id,
            class_id: self.class_id,
            device_ids,
            components,
            security_counter: self.security_counter,
            sequence_number: self.sequence_number,
            version: &self.version,
            expires_at: self.expires_at,
            rollout,
        };
        Ok(manifest.to_cbor())
    }

    /// Builds and signs the manifest, one signature per signer.
    pub fn sign(&self, signers: &[&dyn Signer]) -> Result<Vec<u8>, BuildError> {
        let document = sign_document(MANIFEST_CONTENT_TYPE, &self.payload()?, signers)?;
        if document.len() > crate::cose_sign::MAX_DOCUMENT_SIZE {
            return Err(BuildError::TooLarge {
                size: document.len(),
                cap: crate::cose_sign::MAX_DOCUMENT_SIZE,
            });
        }
        Ok(document)
    }
}
