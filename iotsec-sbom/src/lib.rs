#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod cpe;
pub mod error;
pub mod purl;
pub mod sbom;
pub mod version;
pub mod vex;

pub use error::GateError;
