//! Secure-element evidence for devices without a TPM: a compact challenge-response statement
//! signed by a P-256 key that never leaves the secure element (ATECC608 / SE050 class), in the
//! spirit of a PSA attestation token (RFC 9783) but fixed-layout so that a bootloader can build
//! and a verifier can parse it without a heap.
//!
//! Layout (big-endian): `"IOSE"`, version 1, nonce length (8..=64), nonce, device id (32),
//! firmware measurement (SHA-256, 32), monotonic counter (u64), signature r||s (64). The
//! signature is ECDSA P-256 over SHA-256 of everything before it, the form an ATECC608 `Sign`
//! command produces over an external 32-byte digest (raw r||s, no DER).

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::wire::Reader;

const MAGIC: &[u8; 4] = b"IOSE";
const VERSION: u8 = 1;
/// Shortest nonce accepted.
pub const MIN_NONCE: usize = 8;
/// Longest nonce accepted.
pub const MAX_NONCE: usize = 64;
/// Largest evidence.
pub const MAX_EVIDENCE_LEN: usize = 4 + 1 + 1 + MAX_NONCE + 32 + 32 + 8 + 64;

/// Why secure-element evidence was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeEvidenceError {
    /// Structure broken.
    #[error("evidence malformed: {0}")]
    Malformed(#[from] crate::error::ParseError),
    /// Not this format or version.
    #[error("not iotsec secure-element evidence version 1")]
    UnknownFormat,
    /// Nonce shorter than 8 or longer than 64 bytes.
    #[error("nonce of {0} bytes, must be 8..=64")]
    NonceLength(usize),
    /// The output buffer is too small.
    #[error("buffer of {have} bytes, {need} needed")]
    BufferTooSmall {
        /// Needed.
        need: usize,
        /// Given.
        have: usize,
    },
    /// The secure element failed to sign.
    #[error("the secure element did not sign")]
    SignerFailed,
    /// The device public key is not a P-256 point.
    #[error("device public key is not a P-256 point")]
    InvalidKey,
    /// The signature does not verify: forged or altered evidence, or another device.
    #[error("signature does not verify under the device key")]
    BadSignature,
    /// The nonce is not the verifier's: stale or replayed evidence.
    #[error("nonce does not match the challenge")]
    NonceMismatch,
    /// The device id is not the expected one.
    #[error("device id does not match")]
    DeviceIdMismatch,
    /// The counter did not grow: replay or rollback of the secure element state.
    #[error("counter {offered} is not above the last seen {stored}")]
    CounterNotIncreasing {
        /// Last accepted.
        stored: u64,
        /// In the evidence.
        offered: u64,
    },
    /// The firmware measurement is not among the reference values.
    #[error("firmware measurement is not a reference value")]
    UnknownFirmware,
}

crate::error::error_codes!(SeEvidenceError {
    SeEvidenceError::Malformed(_) => "malformed", BadInput;
    SeEvidenceError::UnknownFormat => "unknown_format", BadInput;
    SeEvidenceError::NonceLength(_) => "nonce_length", BadInput;
    SeEvidenceError::BufferTooSmall { .. } => "buffer_too_small", BadInput;
    SeEvidenceError::SignerFailed => "signer_failed", Unavailable;
    SeEvidenceError::InvalidKey => "invalid_key", BadInput;
    SeEvidenceError::BadSignature => "bad_signature", Refusal;
    SeEvidenceError::NonceMismatch => "nonce_mismatch", Refusal;
    SeEvidenceError::DeviceIdMismatch => "device_id_mismatch", Refusal;
    SeEvidenceError::CounterNotIncreasing { .. } => "counter_not_increasing", Refusal;
    SeEvidenceError::UnknownFirmware => "unknown_firmware", Refusal;
});

impl SeEvidenceError {
    /// A stable snake_case code for the error (`"malformed"`, ...), for logs and
    /// machine-readable output. New variants get new codes; codes never change.
    pub fn code(&self) -> &'static str {
        match self {
            SeEvidenceError::Malformed { .. } => "malformed",
            SeEvidenceError::UnknownFormat => "unknown_format",
            SeEvidenceError::NonceLength { .. } => "nonce_length",
            SeEvidenceError::BufferTooSmall { .. } => "buffer_too_small",
            SeEvidenceError::SignerFailed => "signer_failed",
            SeEvidenceError::InvalidKey => "invalid_key",
            SeEvidenceError::BadSignature => "bad_signature",
            SeEvidenceError::NonceMismatch => "nonce_mismatch",
            SeEvidenceError::DeviceIdMismatch => "device_id_mismatch",
            SeEvidenceError::CounterNotIncreasing { .. } => "counter_not_increasing",
            SeEvidenceError::UnknownFirmware => "unknown_firmware",
        }
    }
}

/// A signer holding the device key (the secure element, or software in tests).
pub trait EvidenceSigner {
    /// Signs a SHA-256 digest with ECDSA P-256, returning raw r||s.
    fn sign_digest(&mut self, digest: &[u8; 32]) -> Result<[u8; 64], SeEvidenceError>;
}

impl EvidenceSigner for p256::ecdsa::SigningKey {
    fn sign_digest(&mut self, digest: &[u8; 32]) -> Result<[u8; 64], SeEvidenceError> {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        let sig: p256::ecdsa::Signature = self
            .sign_prehash(digest)
            .map_err(|_| SeEvidenceError::SignerFailed)?;
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        Ok(out)
    }
}

/// The claims of one piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeEvidence<'a> {
    /// The verifier's challenge.
    pub nonce: &'a [u8],
    /// Device identifier (e.g. the SE serial number, hashed).
    pub device_id: &'a [u8; 32],
    /// SHA-256 of the running firmware.
    pub firmware_measurement: &'a [u8; 32],
    /// Monotonic counter of the secure element.
    pub counter: u64,
    /// Raw r||s.
    pub signature: &'a [u8; 64],
    signed: &'a [u8],
}

/// Writes evidence into `out` and returns its length (no heap; device side).
pub fn produce_se_evidence(
    signer: &mut dyn EvidenceSigner,
    nonce: &[u8],
    device_id: &[u8; 32],
    firmware_measurement: &[u8; 32],
    counter: u64,
    out: &mut [u8],
) -> Result<usize, SeEvidenceError> {
    if !(MIN_NONCE..=MAX_NONCE).contains(&nonce.len()) {
        return Err(SeEvidenceError::NonceLength(nonce.len()));
    }
    let body = 4 + 1 + 1 + nonce.len() + 32 + 32 + 8;
    let need = body + 64;
    let have = out.len();
    let buf = out
        .get_mut(..need)
        .ok_or(SeEvidenceError::BufferTooSmall { need, have })?;
    let mut at = 0;
    for part in [
        &MAGIC[..],
        &[VERSION, nonce.len() as u8],
        nonce,
        device_id,
        firmware_measurement,
        &counter.to_be_bytes(),
    ] {
        if let Some(dst) = buf.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    let digest: [u8; 32] = Sha256::digest(buf.get(..body).unwrap_or(&[])).into();
    let sig = signer.sign_digest(&digest)?;
    if let Some(dst) = buf.get_mut(body..need) {
        dst.copy_from_slice(&sig);
    }
    Ok(need)
}

impl<'a> SeEvidence<'a> {
    /// Parses evidence (structure only; see [`appraise_se_evidence`]).
    pub fn parse(input: &'a [u8]) -> Result<Self, SeEvidenceError> {
        let mut r = Reader::new(input);
        if r.bytes(4, "SeEvidence.magic")? != MAGIC || r.u8("SeEvidence.version")? != VERSION {
            return Err(SeEvidenceError::UnknownFormat);
        }
        let n = usize::from(r.u8("SeEvidence.nonceLength")?);
        if !(MIN_NONCE..=MAX_NONCE).contains(&n) {
            return Err(SeEvidenceError::NonceLength(n));
        }
        let nonce = r.bytes(n, "SeEvidence.nonce")?;
        let device_id = fixed::<32>(r.bytes(32, "SeEvidence.deviceId")?)?;
        let firmware_measurement = fixed::<32>(r.bytes(32, "SeEvidence.firmware")?)?;
        let counter = r.u64("SeEvidence.counter")?;
        let signed_len = input.len() - r.rest().len();
        let signature = fixed::<64>(r.bytes(64, "SeEvidence.signature")?)?;
        r.finish("SeEvidence")?;
        Ok(SeEvidence {
            nonce,
            device_id,
            firmware_measurement,
            counter,
            signature,
            signed: input.get(..signed_len).unwrap_or(&[]),
        })
    }
}

fn fixed<const N: usize>(b: &[u8]) -> Result<&[u8; N], SeEvidenceError> {
    b.try_into().map_err(|_| SeEvidenceError::UnknownFormat)
}

/// Verifies a raw ATECC608-style P-256 signature: `public_key` is X||Y (64 bytes, as the chip's
/// GenKey returns it), `signature` is r||s (64 bytes), over a 32-byte digest.
pub fn verify_raw_p256(
    public_key: &[u8; 64],
    digest: &[u8; 32],
    signature: &[u8; 64],
) -> Result<(), SeEvidenceError> {
    let (x, y) = public_key.split_at(32);
    let point = p256::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
    let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
        .map_err(|_| SeEvidenceError::InvalidKey)?;
    let sig =
        p256::ecdsa::Signature::from_slice(signature).map_err(|_| SeEvidenceError::BadSignature)?;
    key.verify_prehash(digest, &sig)
        .map_err(|_| SeEvidenceError::BadSignature)
}

/// What the verifier expects.
#[derive(Debug, Clone, Copy)]
pub struct SeExpectations<'p> {
    /// Device key, raw X||Y.
    pub public_key: &'p [u8; 64],
    /// The challenge sent.
    pub nonce: &'p [u8],
    /// The device id, when known.
    pub device_id: Option<&'p [u8; 32]>,
    /// Accepted firmware measurements.
    pub firmware_references: &'p [[u8; 32]],
    /// Counter of the last accepted evidence, if any.
    pub last_counter: Option<u64>,
}

/// Appraises evidence: signature first, then nonce, device id, counter and firmware.
pub fn appraise_se_evidence<'a>(
    evidence: &'a [u8],
    expect: &SeExpectations<'_>,
) -> Result<SeEvidence<'a>, SeEvidenceError> {
    let e = SeEvidence::parse(evidence)?;
    let digest: [u8; 32] = Sha256::digest(e.signed).into();
    verify_raw_p256(expect.public_key, &digest, e.signature)?;
    if !bool::from(e.nonce.ct_eq(expect.nonce)) {
        return Err(SeEvidenceError::NonceMismatch);
    }
    if let Some(id) = expect.device_id
        && !bool::from(id.ct_eq(e.device_id))
    {
        return Err(SeEvidenceError::DeviceIdMismatch);
    }
    if let Some(stored) = expect.last_counter
        && e.counter <= stored
    {
        return Err(SeEvidenceError::CounterNotIncreasing {
            stored,
            offered: e.counter,
        });
    }
    if !expect
        .firmware_references
        .iter()
        .any(|r| bool::from(r.ct_eq(e.firmware_measurement)))
    {
        return Err(SeEvidenceError::UnknownFirmware);
    }
    Ok(e)
}
