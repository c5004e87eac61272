#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// docs.rs: each feature-gated item shows the feature it needs (doc_cfg includes the former doc_auto_cfg).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "alloc")]
extern crate alloc;

// Device side: no_std, no alloc.
pub mod canonical_cbor;
pub mod cose_sign;
pub mod error;
pub mod image_stream;
pub mod manifest;
pub mod mcuboot;
mod role;
pub mod rollout_cohort;
pub mod sha256;
// Always compiled for the tests (differential against `sha2`), linked only with `sha256-m4` on Arm.
#[cfg(any(test, all(feature = "sha256-m4", target_arch = "arm")))]
#[cfg_attr(not(all(feature = "sha256-m4", target_arch = "arm")), allow(dead_code))]
mod sha256_m4;
pub mod signature_algorithm;
pub mod suit;
pub mod trial_boot;
pub mod trust_root;
pub mod verifier;

pub use error::Error;
pub use image_stream::{ImageError, ImageVerifier};
pub use manifest::{Component, Manifest, RolloutGate};
pub use signature_algorithm::Algorithm;
pub use trust_root::{Role, TrustRoot};
pub use verifier::{DeviceState, ExpiryCheck, TrustedTime, Verified, verify};

// Host side (simulators, tests, demos): alloc.
#[cfg(feature = "alloc")]
pub mod memory_store;
#[cfg(feature = "alloc")]
pub use memory_store::{MemoryBootStore, MemoryStoreError};

// Cloud side: std.
#[cfg(feature = "serde")]
pub mod device_state_file;
#[cfg(feature = "serde")]
pub use device_state_file::{DeviceStateFile, DeviceStateFileError, HostTime};
#[cfg(feature = "std")]
pub mod manifest_builder;
#[cfg(feature = "std")]
pub mod rollout_planner;
#[cfg(feature = "std")]
pub mod signer;
#[cfg(feature = "alloc")]
pub mod staged_rollout;
