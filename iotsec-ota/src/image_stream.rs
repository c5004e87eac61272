//! Streaming image verification: hash an image as it arrives, in chunks of any size, in
//! constant RAM; refuse the first byte beyond the signed size (TUF §1.5.2, "endless data");
//! compare the final SHA-256 with the signed digest in constant time.

use crate::sha256::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::manifest::Component;

/// Why an image was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Endless data: more bytes arrived than the manifest signed.
    #[error("image longer than the signed {expected} bytes (endless data)")]
    TooLong {
        /// The signed size.
        expected: u64,
    },
    /// The stream ended before the signed size.
    #[error("image of {received} bytes is shorter than the signed {expected} bytes")]
    TooShort {
        /// The signed size.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// Arbitrary software or mix-and-match: the image is not the one the manifest signed.
    #[error("image digest does not match the signed digest")]
    DigestMismatch,
    /// The verifier already refused this stream; it accepts nothing more.
    #[error("image stream already aborted")]
    Aborted,
}

impl ImageError {
    /// Whether the image was refused (it is not the signed one); `Aborted` is the caller's misuse.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ImageError::TooLong { .. } | ImageError::TooShort { .. } | ImageError::DigestMismatch
        )
    }
}

impl ImageError {
    /// A stable snake_case code (`"image_too_long"`, `"image_too_short"`,
    /// `"image_digest_mismatch"`, `"image_aborted"`), for logs and machine-readable output,
    /// distinct from every manifest [`crate::Error`] code.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::TooLong { .. } => "image_too_long",
            ImageError::TooShort { .. } => "image_too_short",
            ImageError::DigestMismatch => "image_digest_mismatch",
            ImageError::Aborted => "image_aborted",
        }
    }
}

/// Verifies one component's image while it streams in.
#[derive(Debug, Clone)]
pub struct ImageVerifier {
    hasher: Sha256,
    expected_digest: [u8; 32],
    expected_size: u64,
    received: u64,
    aborted: bool,
}

impl ImageVerifier {
    /// Starts verifying an image against the signed `component`.
    pub fn new(component: &Component<'_>) -> Self {
        Self::with_expectation(component.digest, component.size)
    }

    /// Starts verifying an image of `size` bytes with SHA-256 `digest`.
    pub fn with_expectation(digest: [u8; 32], size: u64) -> Self {
        Self {
            hasher: Sha256::new(),
            expected_digest: digest,
            expected_size: size,
            received: 0,
            aborted: false,
        }
    }

    /// Bytes accepted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Feeds the next chunk; fails (and stays failed) once the total exceeds the signed size.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), ImageError> {
        if self.aborted {
            return Err(ImageError::Aborted);
        }
        let total = self.received.checked_add(chunk.len() as u64);
        match total {
            Some(total) if total <= self.expected_size => {
                self.hasher.update(chunk);
                self.received = total;
                Ok(())
            }
            _ => {
                self.aborted = true;
                Err(ImageError::TooLong {
                    expected: self.expected_size,
                })
            }
        }
    }

    /// Ends the stream: the size must be exact and the digest must match (constant time).
    pub fn finish(self) -> Result<(), ImageError> {
        if self.aborted {
            return Err(ImageError::Aborted);
        }
        if self.received != self.expected_size {
            return Err(ImageError::TooShort {
                expected: self.expected_size,
                received: self.received,
            });
        }
        let digest: [u8; 32] = self.hasher.finalize().into();
        if bool::from(digest.ct_eq(&self.expected_digest)) {
            Ok(())
        } else {
            Err(ImageError::DigestMismatch)
        }
    }
}
