//! Test scaffolding the iotsec crates and tools share, so that each rule is written once:
//!
//! - [`peer`]: is a real peer installed? Without it a test skips loudly on a developer machine
//!   and fails with `CI=true` (the house rule for real peers);
//! - [`hex`]: hex text for expected values and fixtures;
//! - [`openssl`]: the `openssl` command line, the peer most tests check our output with.
//!
//! Only for tests (`[dev-dependencies]`): it panics on what a test should not survive.
#![forbid(unsafe_code)]
#![allow(clippy::panic, clippy::expect_used, clippy::indexing_slicing)]

pub mod hex;
pub mod openssl;
pub mod peer;
