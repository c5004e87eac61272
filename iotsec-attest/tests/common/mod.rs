//! Shared test support.
pub mod swtpm;
