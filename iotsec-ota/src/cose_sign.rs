//! `COSE_Sign` (RFC 9052 §4.1): one payload, one or more signatures, each over the
//! `Sig_structure` of RFC 9052 §4.4 with context `"Signature"` and empty external AAD.
//!
//! Profile (fail closed): tag 98 is required; the body's protected header is a map holding only
//! the content type (label 3, text), which separates manifests from trust roots; each
//! signature's protected header holds only `alg` (label 1) and `kid` (label 4); every
//! unprotected header is the empty map; the payload is attached. The `Sig_structure` is written
//! into a fixed stack buffer: no allocation.

use heapless::Vec;
use minicbor::Encoder;
use minicbor::encode::write::Cursor;

use crate::canonical_cbor::{CanonicalDecoder, CborError, SeenKeys};
use crate::error::Error;
use crate::signature_algorithm::{Algorithm, PublicKey, SignatureError};

/// CBOR tag of `COSE_Sign` (RFC 9052 §2).
pub const COSE_SIGN_TAG: u64 = 98;
/// Most signatures one document may carry.
pub const MAX_SIGNATURES: usize = 8;
/// Largest signed document (manifest or trust root) accepted, in bytes.
pub const MAX_DOCUMENT_SIZE: usize = 2048;
/// Longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 16;
/// Longest protected header, in bytes.
pub const MAX_PROTECTED_LEN: usize = 64;
/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 48;
const MAX_SIGNATURE_LEN: usize = 64;
/// Room for `["Signature", body_protected, sign_protected, h'', payload]`.
const SIG_STRUCTURE_CAP: usize = MAX_DOCUMENT_SIZE + 2 * MAX_PROTECTED_LEN + 32;

/// One `COSE_Signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoseSignature<'a> {
    /// The encoded protected header (signed).
    pub protected: &'a [u8],
    /// The algorithm named in the protected header.
    pub algorithm: Algorithm,
    /// The key id named in the protected header.
    pub key_id: &'a [u8],
    /// The signature bytes.
    pub signature: &'a [u8],
}

/// A decoded `COSE_Sign` document, borrowing from its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSign<'a> {
    /// The encoded body protected header (signed).
    pub body_protected: &'a [u8],
    /// The content type from the body protected header.
    pub content_type: &'a str,
    /// The attached payload.
    pub payload: &'a [u8],
    /// The signatures, in document order.
    pub signatures: Vec<CoseSignature<'a>, MAX_SIGNATURES>,
}

impl<'a> CoseSign<'a> {
    /// Decodes a tagged `COSE_Sign` of at most [`MAX_DOCUMENT_SIZE`] bytes.
    pub fn from_cbor(document: &'a [u8]) -> Result<Self, Error> {
        if document.len() > MAX_DOCUMENT_SIZE {
            return Err(Error::DocumentTooLarge {
                size: document.len(),
                cap: MAX_DOCUMENT_SIZE,
            });
        }
        let mut d = CanonicalDecoder::new(document);
        d.expect_tag(COSE_SIGN_TAG)?;
        d.array_exact(4)?;
        let body_protected = d.bytes(MAX_PROTECTED_LEN)?;
        let content_type = decode_body_protected(body_protected)?;
        expect_empty_map(&mut d)?;
        let payload = d.bytes(MAX_DOCUMENT_SIZE)?;
        let offset = d.position();
        let count = d.array(MAX_SIGNATURES)?;
        if count == 0 {
            return Err(CborError::InvalidValue {
                offset,
                reason: "COSE_Sign without signatures",
            }
            .into());
        }
        let mut signatures = Vec::new();
        for _ in 0..count {
            let signature = decode_signature(&mut d)?;
            signatures
                .push(signature)
                .map_err(|_| Error::Encoding(CborError::Malformed { offset }))?;
        }
        d.finish()?;
        Ok(CoseSign {
            body_protected,
            content_type,
            payload,
            signatures,
        })
    }

    /// Verifies one signature of this document with `public_key`.
    pub fn verify_signature(
        &self,
        signature: &CoseSignature<'_>,
        public_key: &PublicKey,
    ) -> Result<(), SignatureError> {
        let mut buffer = [0u8; SIG_STRUCTURE_CAP];
        let len = write_sig_structure(
            &mut buffer,
            self.body_protected,
            signature.protected,
            self.payload,
        )
        .ok_or(SignatureError::Invalid)?;
        let message = buffer.get(..len).ok_or(SignatureError::Invalid)?;
        public_key.verify(message, signature.signature)
    }
}

/// Writes `Sig_structure` (RFC 9052 §4.4) into `buffer`; returns its length, or `None` if it
/// does not fit.
pub fn write_sig_structure(
    buffer: &mut [u8],
    body_protected: &[u8],
    sign_protected: &[u8],
    payload: &[u8],
) -> Option<usize> {
    let mut e = Encoder::new(Cursor::new(buffer));
    e.array(5)
        .and_then(|e| e.str("Signature"))
        .and_then(|e| e.bytes(body_protected))
        .and_then(|e| e.bytes(sign_protected))
        .and_then(|e| e.bytes(&[]))
        .and_then(|e| e.bytes(payload))
        .ok()?;
    Some(e.writer().position())
}

fn expect_empty_map(d: &mut CanonicalDecoder<'_>) -> Result<(), CborError> {
    let offset = d.position();
    let mut keys = d.map(0).map_err(|_| CborError::InvalidValue {
        offset,
        reason: "unprotected header must be empty",
    })?;
    match d.next_key(&mut keys)? {
        None => Ok(()),
        Some((offset, key)) => Err(CborError::UnknownKey { offset, key }),
    }
}

fn decode_body_protected(header: &[u8]) -> Result<&str, CborError> {
    let mut d = CanonicalDecoder::new(header);
    let mut keys = d.map(1)?;
    let mut content_type = None;
    while let Some((offset, key)) = d.next_key(&mut keys)? {
        match key {
            3 => content_type = Some(d.text(MAX_CONTENT_TYPE_LEN)?),
            _ => return Err(CborError::UnknownKey { offset, key }),
        }
    }
    d.finish()?;
    content_type.ok_or(CborError::MissingKey { key: 3 })
}

fn decode_signature<'a>(d: &mut CanonicalDecoder<'a>) -> Result<CoseSignature<'a>, Error> {
    d.array_exact(3)?;
    let protected = d.bytes(MAX_PROTECTED_LEN)?;
    let (algorithm, key_id) = decode_signature_protected(protected)?;
    expect_empty_map(d)?;
    let signature = d.bytes(MAX_SIGNATURE_LEN)?;
    Ok(CoseSignature {
        protected,
        algorithm,
        key_id,
        signature,
    })
}

fn decode_signature_protected(header: &[u8]) -> Result<(Algorithm, &[u8]), Error> {
    let mut d = CanonicalDecoder::new(header);
    let mut keys = d.map(2)?;
    let mut seen = SeenKeys::default();
    let mut algorithm = None;
    let mut key_id: &[u8] = &[];
    while let Some((offset, key)) = d.next_key(&mut keys)? {
        seen.mark(key);
        match key {
            1 => {
                let id = d.int()?;
                algorithm =
                    Some(Algorithm::from_cose_id(id).ok_or(Error::UnsupportedAlgorithm { id })?);
            }
            4 => key_id = d.bytes(MAX_KEY_ID_LEN)?,
            _ => return Err(CborError::UnknownKey { offset, key }.into()),
        }
    }
    d.finish()?;
    seen.require(&[1, 4])?;
    let algorithm = algorithm.ok_or(CborError::MissingKey { key: 1 })?;
    Ok((algorithm, key_id))
}

#[cfg(feature = "alloc")]
mod encode {
    use alloc::vec::Vec;

    use minicbor::Encoder;

    use super::COSE_SIGN_TAG;
    use crate::signature_algorithm::Algorithm;

    /// The encoded body protected header `{3: content_type}`.
    pub fn body_protected(content_type: &str) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = e
            .map(1)
            .and_then(|e| e.u64(3))
            .and_then(|e| e.str(content_type));
        e.into_writer()
    }

    /// The encoded signature protected header `{1: alg, 4: kid}`.
    pub fn signature_protected(algorithm: Algorithm, key_id: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = e
            .map(2)
            .and_then(|e| e.u64(1))
            .and_then(|e| e.i64(algorithm.cose_id()))
            .and_then(|e| e.u64(4))
            .and_then(|e| e.bytes(key_id));
        e.into_writer()
    }

    /// `Sig_structure` (RFC 9052 §4.4) in a fresh vector.
    pub fn sig_structure(body_protected: &[u8], sign_protected: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = e
            .array(5)
            .and_then(|e| e.str("Signature"))
            .and_then(|e| e.bytes(body_protected))
            .and_then(|e| e.bytes(sign_protected))
            .and_then(|e| e.bytes(&[]))
            .and_then(|e| e.bytes(payload));
        e.into_writer()
    }

    /// Assembles a tagged `COSE_Sign` from its parts; `signatures` are
    /// `(encoded protected header, signature bytes)`.
    pub fn assemble(
        body_protected: &[u8],
        payload: &[u8],
        signatures: &[(Vec<u8>, Vec<u8>)],
    ) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = e
            .tag(minicbor::data::Tag::new(COSE_SIGN_TAG))
            .and_then(|e| e.array(4))
            .and_then(|e| e.bytes(body_protected))
            .and_then(|e| e.map(0))
            .and_then(|e| e.bytes(payload))
            .and_then(|e| e.array(signatures.len() as u64));
        for (protected, signature) in signatures {
            let _ = e
                .array(3)
                .and_then(|e| e.bytes(protected))
                .and_then(|e| e.map(0))
                .and_then(|e| e.bytes(signature));
        }
        e.into_writer()
    }
}

#[cfg(feature = "alloc")]
pub use encode::{assemble, body_protected, sig_structure, signature_protected};
