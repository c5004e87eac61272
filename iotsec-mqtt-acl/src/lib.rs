#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// docs.rs: each feature-gated item shows the feature it needs (doc_cfg includes the former doc_auto_cfg).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(feature = "std")]
pub mod aws_iot;
#[cfg(feature = "alloc")]
pub mod compiled;
#[cfg(feature = "alloc")]
pub mod context;
#[cfg(feature = "alloc")]
pub mod decision;
#[cfg(feature = "alloc")]
pub mod error;
#[cfg(feature = "alloc")]
pub mod filter_algebra;
#[cfg(feature = "alloc")]
pub mod lint;
#[cfg(feature = "alloc")]
pub mod mosquitto_acl;
#[cfg(feature = "alloc")]
pub mod policy;
#[cfg(feature = "std")]
pub mod posture_feed;
#[cfg(feature = "std")]
pub mod probe;
#[cfg(feature = "alloc")]
pub mod reference;
#[cfg(feature = "std")]
pub mod reload;
#[cfg(feature = "alloc")]
pub mod semantic_diff;
#[cfg(feature = "alloc")]
pub mod subscribe;
#[cfg(feature = "alloc")]
pub mod template;
#[cfg(feature = "alloc")]
pub mod topic;
pub mod version_range;

#[cfg(feature = "alloc")]
pub use compiled::CompiledPolicy;
#[cfg(feature = "alloc")]
pub use context::{Action, ClientContext, Posture, Request};
#[cfg(feature = "alloc")]
pub use decision::{Decision, Effect, Reason};
#[cfg(feature = "alloc")]
pub use error::{PolicyError, TemplateError, TopicError};
#[cfg(feature = "alloc")]
pub use policy::Policy;
/// The semver crate, for building [`Posture::firmware`].
pub use semver;
#[cfg(feature = "alloc")]
pub use subscribe::SubscribeMode;
#[cfg(feature = "alloc")]
pub use topic::{Subscription, TopicFilter, TopicName};
