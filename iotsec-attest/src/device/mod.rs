//! The device side, without tpm2-tss: TPM commands marshalled into a caller's buffer
//! ([`command`]), credential activation ([`activate`]), salted HMAC sessions with parameter encryption ([`session`], `alloc`), and the
//! [`transport`] that moves the bytes (TPM 2.0 Part 1 §18-§21, Part 3).
//!
//! Layers, each importing only those below it: [`command`] → [`session`] → framing (headers,
//! retries, response checks) → [`transport`]; the errors are a leaf of their own.

pub mod activate;
pub mod command;
mod error;
pub(crate) mod framing; // pub(crate): identity::ek_nv frames its NV commands with it
#[cfg(feature = "alloc")]
pub mod session;
pub mod transport;

pub use activate::ActivationError;
#[cfg(feature = "alloc")]
pub use activate::activate_credential;
pub use command::{TpmCommandError, quote, read_pcrs, read_public};
#[cfg(feature = "alloc")]
pub use session::{Session, SessionError};
pub use transport::{TpmTransport, TransportError};
