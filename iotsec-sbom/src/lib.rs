#![forbid(unsafe_code)]
// docs.rs: each feature-gated item shows the feature it needs (doc_cfg includes the former doc_auto_cfg).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

pub mod advisory;
pub mod cpe;
pub mod date;
mod digest;
pub mod distro;
pub mod error;
pub mod gate;
pub mod policy;
pub mod purl;
pub mod report;
pub mod sbom;
pub mod severity;
pub mod vcs;
pub mod version;
pub mod vex;

pub use advisory::AdvisoryDatabase;
pub use error::GateError;
pub use gate::{GateDecision, GateInputs, decide};
pub use policy::{Decision, Policy};
pub use sbom::{Sbom, parse_sbom};
/// The time crate, for [`GateInputs::today`].
pub use time;
pub use vex::VexDocument;
