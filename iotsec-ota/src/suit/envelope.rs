//! The SUIT envelope and its authentication wrapper (draft-ietf-suit-manifest §8.2, §8.3, §10).
//!
//! ```cddl
//! SUIT_Envelope_Tagged = #6.107({
//!   2 => bstr .cbor [ bstr .cbor SUIT_Digest, + bstr .cbor COSE_Sign1_Tagged ],
//!   3 => bstr .cbor SUIT_Manifest,
//!   ? 16 / 20 / 23 => bstr,          ; severable members (payload-fetch, install, text)
//! })
//! SUIT_Digest = [ -16 (SHA-256), bstr .size 32 ]
//! ```
//!
//! Profile (fail closed): maps in canonical order (§8.1 requires it); integrated payloads and
//! unknown members are refused; every authentication block is a `COSE_Sign1` (RFC 9052 §4.2)
//! whose protected header holds only `alg`, whose unprotected header is empty and whose payload
//! is detached (the bstr-wrapped SUIT_Digest). Decoding borrows from the input and never
//! allocates.

use crate::sha256::{Digest, Sha256};
use heapless::Vec;
use subtle::ConstantTimeEq;

use crate::canonical_cbor::{CanonicalDecoder, CborError};
use crate::signature_algorithm::Algorithm;
use crate::suit::error::SuitError;

/// CBOR tag of `SUIT_Envelope_Tagged` (§8.2).
pub const ENVELOPE_TAG: u64 = 107;
/// CBOR tag of `COSE_Sign1_Tagged` (RFC 9052 §2).
pub const COSE_SIGN1_TAG: u64 = 18;
/// COSE algorithm identifier of SHA-256, the one digest this verifier implements (§10).
pub const SHA256_ID: i64 = -16;
/// Largest envelope accepted, in bytes.
pub const MAX_ENVELOPE_SIZE: usize = 4096;
/// Most authentication blocks one envelope may carry.
pub const MAX_AUTHENTICATION_BLOCKS: usize = 4;
/// Envelope keys of `suit-authentication-wrapper` and `suit-manifest`.
pub(super) const AUTHENTICATION_KEY: i64 = 2;
/// Envelope key of the manifest.
pub(super) const MANIFEST_KEY: i64 = 3;
/// Keys of the severable members (payload-fetch, install, text; §8.6, §11.1): the same in the
/// envelope and in the manifest.
pub const SEVERABLE_KEYS: [i64; 3] = [16, 20, 23];

const MAX_PROTECTED_LEN: usize = 32;
const MAX_DIGEST_LEN: usize = 48;
const SIGNATURE_LEN: usize = 64;
const MAX_MEMBERS: usize = 2 + SEVERABLE_KEYS.len();

/// A bstr-wrapped element as it appears in the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wrapped<'a> {
    /// The whole encoded bstr, head included: what a SUIT_Digest covers (§8.3, §8.4.12).
    pub encoded: &'a [u8],
    /// The bytes inside the bstr.
    pub content: &'a [u8],
}

impl Wrapped<'_> {
    /// True when the SHA-256 of the encoded bstr equals `digest` (constant time).
    pub fn matches(&self, digest: &[u8; 32]) -> bool {
        let actual: [u8; 32] = Sha256::digest(self.encoded).into();
        bool::from(actual.ct_eq(digest))
    }
}

/// One `COSE_Sign1` authentication block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sign1<'a> {
    /// The encoded protected header (signed).
    pub protected: &'a [u8],
    /// The algorithm named in the protected header.
    pub algorithm: Algorithm,
    /// The signature (`r || s` for ES256).
    pub signature: &'a [u8],
}

/// A decoded envelope, borrowing from its encoding. Nothing in it is authenticated yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The encoded SUIT_Digest: the detached payload of every signature.
    pub digest_encoded: &'a [u8],
    /// The SHA-256 digest of the wrapped manifest the signer claims.
    pub digest: [u8; 32],
    /// The authentication blocks.
    pub signatures: Vec<Sign1<'a>, MAX_AUTHENTICATION_BLOCKS>,
    /// The manifest.
    pub manifest: Wrapped<'a>,
    /// Severable members present in the envelope, by key.
    pub severable: SeverableMembers<'a>,
}

/// The severable members an envelope carries (absent ones were severed or never existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeverableMembers<'a> {
    members: [Option<Wrapped<'a>>; SEVERABLE_KEYS.len()],
}

impl<'a> SeverableMembers<'a> {
    /// The member with `key`, if the envelope carries it.
    pub fn get(&self, key: i64) -> Option<Wrapped<'a>> {
        let index = SEVERABLE_KEYS.iter().position(|&k| k == key)?;
        self.members.get(index).copied().flatten()
    }

    fn set(&mut self, key: i64, member: Wrapped<'a>) -> bool {
        let slot = SEVERABLE_KEYS
            .iter()
            .position(|&k| k == key)
            .and_then(|i| self.members.get_mut(i));
        match slot {
            Some(slot) => {
                *slot = Some(member);
                true
            }
            None => false,
        }
    }

    /// Keys of the members present, in increasing order.
    pub fn keys(&self) -> impl Iterator<Item = i64> + '_ {
        SEVERABLE_KEYS
            .iter()
            .zip(self.members.iter())
            .filter(|(_, m)| m.is_some())
            .map(|(k, _)| *k)
    }
}

impl<'a> Envelope<'a> {
    /// Decodes a tagged envelope of at most [`MAX_ENVELOPE_SIZE`] bytes.
    pub fn from_cbor(input: &'a [u8]) -> Result<Self, SuitError> {
        if input.len() > MAX_ENVELOPE_SIZE {
            return Err(SuitError::TooLarge {
                size: input.len(),
                cap: MAX_ENVELOPE_SIZE,
            });
        }
        let mut d = CanonicalDecoder::new(input);
        d.expect_tag(ENVELOPE_TAG)?;
        let mut keys = d.map(MAX_MEMBERS)?;
        let mut authentication = None;
        let mut manifest = None;
        let mut severable = SeverableMembers::default();
        loop {
            // A text key is an integrated payload (§5.5): refused, this verifier fetches none.
            let next = d.next_key(&mut keys).map_err(|e| match e {
                CborError::UnexpectedType { .. } => SuitError::UnknownEnvelopeMember { key: -1 },
                other => other.into(),
            })?;
            let Some((_, key)) = next else { break };
            let member = wrapped(&mut d, input, MAX_ENVELOPE_SIZE)?;
            match key {
                AUTHENTICATION_KEY => authentication = Some(member.content),
                MANIFEST_KEY => manifest = Some(member),
                _ if severable.set(key, member) => {}
                _ => return Err(SuitError::UnknownEnvelopeMember { key }),
            }
        }
        d.finish()?;
        let authentication = authentication.ok_or(CborError::MissingKey {
            key: AUTHENTICATION_KEY,
        })?;
        let manifest = manifest.ok_or(CborError::MissingKey { key: MANIFEST_KEY })?;
        let (digest_encoded, digest, signatures) = decode_authentication(authentication)?;
        Ok(Envelope {
            digest_encoded,
            digest,
            signatures,
            manifest,
            severable,
        })
    }

    /// True when the manifest hashes to the digest the signatures cover (§8.3).
    pub fn manifest_matches_digest(&self) -> bool {
        self.manifest.matches(&self.digest)
    }
}

/// Decodes a bstr and returns it with its encoding (head included).
pub(crate) fn wrapped<'a>(
    d: &mut CanonicalDecoder<'a>,
    input: &'a [u8],
    cap: usize,
) -> Result<Wrapped<'a>, CborError> {
    let start = d.position();
    let content = d.bytes(cap)?;
    let encoded = input
        .get(start..d.position())
        .ok_or(CborError::Malformed { offset: start })?;
    Ok(Wrapped { encoded, content })
}

type Authentication<'a> = (
    &'a [u8],
    [u8; 32],
    Vec<Sign1<'a>, MAX_AUTHENTICATION_BLOCKS>,
);

fn decode_authentication(input: &[u8]) -> Result<Authentication<'_>, SuitError> {
    let mut d = CanonicalDecoder::new(input);
    let offset = d.position();
    let count = d.array(1 + MAX_AUTHENTICATION_BLOCKS)?;
    if count == 0 {
        return Err(CborError::InvalidValue {
            offset,
            reason: "authentication wrapper without a digest",
        }
        .into());
    }
    let digest_encoded = d.bytes(MAX_DIGEST_LEN)?;
    let digest = decode_digest(digest_encoded)?;
    let mut signatures = Vec::new();
    for _ in 1..count {
        let block = d.bytes(MAX_ENVELOPE_SIZE)?;
        let sign1 = decode_sign1(block)?;
        signatures
            .push(sign1)
            .map_err(|_| SuitError::LimitExceeded {
                what: "authentication blocks",
                cap: MAX_AUTHENTICATION_BLOCKS,
            })?;
    }
    d.finish()?;
    if signatures.is_empty() {
        return Err(SuitError::Unsigned);
    }
    Ok((digest_encoded, digest, signatures))
}

/// Decodes an encoded `SUIT_Digest` (§10): SHA-256 only, no extensions.
pub fn decode_digest(input: &[u8]) -> Result<[u8; 32], SuitError> {
    let mut d = CanonicalDecoder::new(input);
    d.array_exact(2)?;
    let id = d.int()?;
    if id != SHA256_ID {
        return Err(SuitError::UnsupportedDigestAlgorithm { id });
    }
    let digest = d.byte_array::<32>()?;
    d.finish()?;
    Ok(digest)
}

/// Decodes a `SUIT_Digest` in place (a severed member's integrity check value, §8.4.12).
pub(crate) fn decode_digest_item(d: &mut CanonicalDecoder<'_>) -> Result<[u8; 32], SuitError> {
    d.array_exact(2)?;
    let id = d.int()?;
    if id != SHA256_ID {
        return Err(SuitError::UnsupportedDigestAlgorithm { id });
    }
    Ok(d.byte_array::<32>()?)
}

fn decode_sign1(input: &[u8]) -> Result<Sign1<'_>, SuitError> {
    let mut d = CanonicalDecoder::new(input);
    d.expect_tag(COSE_SIGN1_TAG).map_err(|e| match e {
        // COSE_Sign (98), COSE_Mac (97), COSE_Mac0 (17): valid SUIT, not implemented here.
        CborError::InvalidValue { .. } => SuitError::UnsupportedAuthentication,
        other => other.into(),
    })?;
    d.array_exact(4)?;
    let protected = d.bytes(MAX_PROTECTED_LEN)?;
    let algorithm = decode_protected(protected)?;
    let offset = d.position();
    let mut unprotected = d.map(0).map_err(|_| CborError::InvalidValue {
        offset,
        reason: "unprotected header must be empty",
    })?;
    if let Some((offset, key)) = d.next_key(&mut unprotected)? {
        return Err(CborError::UnknownKey { offset, key }.into());
    }
    let offset = d.position();
    if !d.next_is_null() {
        return Err(CborError::InvalidValue {
            offset,
            reason: "COSE_Sign1 payload must be detached (nil)",
        }
        .into());
    }
    d.null()?;
    let offset = d.position();
    let signature = d.bytes(SIGNATURE_LEN)?;
    if signature.len() != SIGNATURE_LEN {
        return Err(CborError::InvalidValue {
            offset,
            reason: "signature of the wrong length",
        }
        .into());
    }
    d.finish()?;
    Ok(Sign1 {
        protected,
        algorithm,
        signature,
    })
}

fn decode_protected(header: &[u8]) -> Result<Algorithm, SuitError> {
    let mut d = CanonicalDecoder::new(header);
    let mut keys = d.map(1)?;
    let mut algorithm = None;
    while let Some((offset, key)) = d.next_key(&mut keys)? {
        match key {
            1 => {
                let id = d.int()?;
                algorithm = Some(
                    Algorithm::from_cose_id(id).ok_or(SuitError::UnsupportedAlgorithm { id })?,
                );
            }
            _ => return Err(CborError::UnknownKey { offset, key }.into()),
        }
    }
    d.finish()?;
    Ok(algorithm.ok_or(CborError::MissingKey { key: 1 })?)
}

/// Writes `Sig_structure` for a `COSE_Sign1` (RFC 9052 §4.4: context `"Signature1"`, empty
/// external AAD) into `buffer`; returns its length, or `None` if it does not fit.
pub(super) fn write_sig1_structure(
    buffer: &mut [u8],
    protected: &[u8],
    payload: &[u8],
) -> Option<usize> {
    use minicbor::Encoder;
    use minicbor::encode::write::Cursor;
    let mut e = Encoder::new(Cursor::new(buffer));
    e.array(4)
        .and_then(|e| e.str("Signature1"))
        .and_then(|e| e.bytes(protected))
        .and_then(|e| e.bytes(&[]))
        .and_then(|e| e.bytes(payload))
        .ok()?;
    Some(e.writer().position())
}

/// Room for `["Signature1", protected, h'', digest]` at the caps above.
pub(super) const SIG1_STRUCTURE_CAP: usize =
    1 + 11 + 2 + MAX_PROTECTED_LEN + 1 + 2 + MAX_DIGEST_LEN;
