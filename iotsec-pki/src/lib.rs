#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "alloc")]
extern crate alloc;

// Device side (no_std + alloc).
#[cfg(feature = "alloc")]
pub mod channel_binding;
#[cfg(feature = "alloc")]
pub mod csr;
#[cfg(feature = "alloc")]
pub mod error;
#[cfg(feature = "alloc")]
pub mod est_message;
#[cfg(feature = "alloc")]
pub mod key;

#[cfg(feature = "alloc")]
pub use csr::{CsrRequest, DeviceName, build_csr};
#[cfg(feature = "alloc")]
pub use error::Error;
#[cfg(feature = "alloc")]
pub use key::{DeviceKey, KeyAlgorithm};

// Cloud side (std).
#[cfg(feature = "std")]
pub mod authority;
#[cfg(feature = "std")]
pub mod ca_error;
#[cfg(feature = "std")]
pub mod ca_state;
#[cfg(feature = "std")]
pub mod csr_check;
#[cfg(feature = "std")]
pub mod est_client;
#[cfg(feature = "std")]
pub mod est_service;
#[cfg(feature = "std")]
pub mod est_transport;
#[cfg(feature = "std")]
pub mod ocsp_responder;
#[cfg(feature = "std")]
pub mod profile;
#[cfg(feature = "std")]
pub mod signer;
#[cfg(feature = "std")]
pub mod store;
#[cfg(feature = "std")]
pub mod tls_config;
