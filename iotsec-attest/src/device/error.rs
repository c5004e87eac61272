//! Errors of the device side: a command the TPM or the link refused, a session that refused a
//! response (TPM 2.0 Part 1 §19.6). A leaf: the commands, the sessions and the framing all
//! return these, so none has to import another for its error type.

use crate::device::transport::TransportError;
use crate::error::ParseError;

/// Why a TPM command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TpmCommandError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The TPM answered with an error code.
    #[error("TPM returned response code {0:#x}")]
    ResponseCode(u32),
    /// The response is malformed.
    #[error("malformed TPM response: {0}")]
    Malformed(#[from] ParseError),
    /// A parameter does not fit the command buffer or a TPM2B.
    #[error("command parameters too large")]
    TooLarge,
    /// An HMAC session refused the exchange (a response that does not verify, a session
    /// desynchronised by an earlier refusal, an unusable salt key).
    #[cfg(feature = "alloc")]
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Why a session refused a command or a response.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The response HMAC does not verify: the response was altered on the way, replayed, or
    /// computed with other nonces than this session's. Its contents were not returned.
    #[error("response HMAC does not verify: altered, replayed or from another session")]
    ResponseHmacMismatch,
    /// A successful response to a command sent in a session has no authorization area
    /// (tag TPM_ST_NO_SESSIONS): an interposer stripped it.
    #[error("the response to a session command has no session area")]
    MissingResponseAuth,
    /// The session refused a response (or never got one), so it no longer knows the TPM's
    /// nonce: flush it and start another.
    #[error("session desynchronised by a refused or missing response; flush it and start another")]
    Desynchronised,
    /// A response was given to a session with no command outstanding.
    #[error("no command is outstanding in this session")]
    NoCommandOutstanding,
    /// The TPM ended the session (continueSession clear in its verified response).
    #[error("the TPM closed the session")]
    Closed,
    /// A nonceTPM whose size is not the authHash digest size.
    #[error("nonceTPM of {size} bytes, {expected} expected")]
    NonceSize {
        /// Size found.
        size: usize,
        /// The digest size of authHash.
        expected: usize,
    },
    /// TPM2_StartAuthSession returned a handle that is not an HMAC session's.
    #[error("handle {handle:#010x} is not an HMAC session")]
    NotAnHmacSession {
        /// The handle returned.
        handle: u32,
    },
    /// The salt key has no `decrypt` attribute, so the TPM cannot decrypt the salt with it.
    #[error("the salt key is not a decryption key")]
    SaltKeyNotDecrypt,
    /// The salt key's public key is not usable (bad modulus, point off the curve).
    #[error("the salt key's public key is invalid")]
    InvalidSaltKey,
    /// Parameter encryption was asked for parameters that do not start with a whole TPM2B.
    #[error("the first parameter is not a whole TPM2B: it cannot be encrypted")]
    NoSizedParameter,
    /// A cryptographic primitive refused its key (never happens with HMAC-SHA-256/AES-128).
    #[error("a cryptographic primitive refused its key")]
    Primitive,
}

crate::error::error_codes!(TpmCommandError {
    TpmCommandError::Transport(e) => e.code(), e.kind();
    TpmCommandError::ResponseCode(_) => "response_code", Unavailable;
    TpmCommandError::Malformed(e) => e.code(), e.kind();
    TpmCommandError::TooLarge => "too_large", BadInput;
    #[cfg(feature = "alloc")]
    TpmCommandError::Session(e) => e.code(), e.kind();
});

#[cfg(feature = "alloc")]
crate::error::error_codes!(SessionError {
    SessionError::ResponseHmacMismatch => "response_hmac_mismatch", Refusal;
    SessionError::MissingResponseAuth => "missing_response_auth", Refusal;
    SessionError::Desynchronised => "desynchronised", BadInput;
    SessionError::NoCommandOutstanding => "no_command_outstanding", BadInput;
    SessionError::Closed => "closed", BadInput;
    SessionError::NonceSize { .. } => "nonce_size", Refusal;
    SessionError::NotAnHmacSession { .. } => "not_an_hmac_session", Refusal;
    SessionError::SaltKeyNotDecrypt => "salt_key_not_decrypt", BadInput;
    SessionError::InvalidSaltKey => "invalid_salt_key", BadInput;
    SessionError::NoSizedParameter => "no_sized_parameter", BadInput;
    SessionError::Primitive => "primitive", Unavailable;
});
