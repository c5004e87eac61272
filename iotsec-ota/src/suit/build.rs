//! Producing SUIT envelopes (`std`): a one-component manifest in the shape of
//! draft-ietf-suit-manifest Appendix B examples 0 and 1 (shared sequence setting vendor, class,
//! digest and size then checking vendor and class; validate by image-match; optional install
//! by fetch; optional invoke), sealed with a SHA-256 SUIT_Digest and one `COSE_Sign1` (§8.3).
//! Maps are written in canonical order (§8.1), so the verifier of this crate reads them back.

use alloc::string::String;
use alloc::vec::Vec;

use crate::sha256::{Digest, Sha256};
use minicbor::Encoder;
use minicbor::data::Tag;

use crate::signer::{SignError, Signer};
use crate::suit::envelope::{
    AUTHENTICATION_KEY, COSE_SIGN1_TAG, ENVELOPE_TAG, MANIFEST_KEY, MAX_ENVELOPE_SIZE, SHA256_ID,
};
use crate::suit::error::SuitError;
use crate::suit::manifest::{MAX_ID_PART_LEN, MAX_ID_PARTS};
use crate::suit::verify::{SuitKey, authenticate_envelope};

/// Why an envelope could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A field breaks a device-side cap.
    #[error("invalid envelope field {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The envelope would exceed the device's size cap.
    #[error("envelope of {size} bytes exceeds the device cap of {cap}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The cap.
        cap: usize,
    },
    /// The produced envelope does not pass this crate's verifier (a bug, never shipped).
    #[error("produced envelope refused by the verifier: {0}")]
    Refused(SuitError),
}

type Encoding = Result<(), minicbor::encode::Error<core::convert::Infallible>>;

/// Builds a one-component SUIT envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeBuilder {
    sequence_number: u64,
    component_id: Vec<Vec<u8>>,
    vendor_id: [u8; 16],
    class_id: [u8; 16],
    image_digest: [u8; 32],
    image_size: u64,
    fetch_uri: Option<String>,
    invoke: bool,
}

impl EnvelopeBuilder {
    /// An envelope for the image with SHA-256 `image_digest` and `image_size` bytes, for
    /// component `component_id` of devices of `vendor_id` and `class_id` (UUIDs).
    pub fn new(
        vendor_id: [u8; 16],
        class_id: [u8; 16],
        component_id: &[&[u8]],
        image_digest: [u8; 32],
        image_size: u64,
    ) -> Self {
        EnvelopeBuilder {
            sequence_number: 0,
            component_id: component_id.iter().map(|p| p.to_vec()).collect(),
            vendor_id,
            class_id,
            image_digest,
            image_size,
            fetch_uri: None,
            invoke: false,
        }
    }

    /// An envelope for `image` (its SHA-256 and size).
    pub fn for_image(
        vendor_id: [u8; 16],
        class_id: [u8; 16],
        component_id: &[&[u8]],
        image: &[u8],
    ) -> Self {
        Self::new(
            vendor_id,
            class_id,
            component_id,
            Sha256::digest(image).into(),
            image.len() as u64,
        )
    }

    /// The sequence number (larger than any envelope published before for these devices).
    pub fn sequence_number(mut self, sequence_number: u64) -> Self {
        self.sequence_number = sequence_number;
        self
    }

    /// Adds an install sequence that fetches the image from `uri` and checks it.
    pub fn fetch_from(mut self, uri: &str) -> Self {
        self.fetch_uri = Some(uri.into());
        self
    }

    /// Adds an invoke sequence that boots the component.
    pub fn invoke(mut self) -> Self {
        self.invoke = true;
        self
    }

    /// The encoded `SUIT_Manifest` (the content of the envelope's manifest bstr).
    pub fn manifest(&self) -> Result<Vec<u8>, BuildError> {
        self.check()?;
        let mut e = Encoder::new(Vec::new());
        let _ = self.encode_manifest(&mut e);
        Ok(e.into_writer())
    }

    /// Signs the manifest and returns the envelope, after checking it the way a device will.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Vec<u8>, BuildError> {
        let envelope = seal_manifest(&self.manifest()?, &[], signer)?;
        let key = SuitKey::parse(signer.algorithm(), &signer.public_key())
            .map_err(BuildError::Refused)?;
        authenticate_envelope(&envelope, &[key]).map_err(BuildError::Refused)?;
        Ok(envelope)
    }

    fn check(&self) -> Result<(), BuildError> {
        let invalid = |field, reason| Err(BuildError::InvalidField { field, reason });
        if self.component_id.len() > MAX_ID_PARTS {
            return invalid("component_id", "too many parts");
        }
        if self.component_id.iter().any(|p| p.len() > MAX_ID_PART_LEN) {
            return invalid("component_id", "part too long");
        }
        if self
            .fetch_uri
            .as_ref()
            .is_some_and(|u| u.is_empty() || u.len() > crate::suit::MAX_URI_LEN)
        {
            return invalid("uri", "empty or too long");
        }
        Ok(())
    }

    fn encode_manifest(&self, e: &mut Encoder<Vec<u8>>) -> Encoding {
        let entries = 4 + u64::from(self.invoke) + u64::from(self.fetch_uri.is_some());
        e.map(entries)?;
        e.u64(1)?.u64(crate::suit::MANIFEST_VERSION)?;
        e.u64(2)?.u64(self.sequence_number)?;
        e.u64(3)?.bytes(&self.common())?;
        // validate: condition-image-match with every reporting bit.
        e.u64(7)?
            .bytes(&sequence(|e| e.u64(3)?.u64(15).map(|_| ())))?;
        if self.invoke {
            e.u64(9)?
                .bytes(&sequence(|e| e.u64(23)?.u64(2).map(|_| ())))?;
        }
        if let Some(uri) = &self.fetch_uri {
            e.u64(20)?.bytes(&sequence(|e| {
                e.u64(20)?.map(1)?.u64(21)?.str(uri)?;
                e.u64(21)?.u64(2)?.u64(3)?.u64(15).map(|_| ())
            }))?;
        }
        Ok(())
    }

    fn common(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = (|| -> Encoding {
            e.map(2)?.u64(2)?.array(1)?;
            e.array(self.component_id.len() as u64)?;
            for part in &self.component_id {
                e.bytes(part)?;
            }
            let shared = sequence(|e| {
                e.u64(20)?.map(4)?;
                e.u64(1)?.bytes(&self.vendor_id)?;
                e.u64(2)?.bytes(&self.class_id)?;
                e.u64(3)?.bytes(&digest_item(&self.image_digest))?;
                e.u64(14)?.u64(self.image_size)?;
                e.u64(1)?.u64(15)?.u64(2)?.u64(15).map(|_| ())
            });
            e.u64(4)?.bytes(&shared)?;
            Ok(())
        })();
        e.into_writer()
    }
}

/// A command sequence: `write` emits command/argument pairs, counted afterwards.
fn sequence(write: impl FnOnce(&mut Encoder<Vec<u8>>) -> Encoding) -> Vec<u8> {
    let mut body = Encoder::new(Vec::new());
    let _ = write(&mut body);
    let body = body.into_writer();
    let items = count_items(&body);
    let mut e = Encoder::new(Vec::new());
    let _ = e.array(items);
    let mut out = e.into_writer();
    out.extend_from_slice(&body);
    out
}

/// Counts the top-level CBOR items in `bytes` (well-formed by construction).
fn count_items(bytes: &[u8]) -> u64 {
    let mut d = minicbor::Decoder::new(bytes);
    let mut items = 0;
    while d.position() < bytes.len() && d.skip().is_ok() {
        items += 1;
    }
    items
}

/// The encoded `SUIT_Digest` `[-16, h'...']` (§10).
fn digest_item(digest: &[u8; 32]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    let _ = e
        .array(2)
        .and_then(|e| e.i64(SHA256_ID))
        .and_then(|e| e.bytes(digest));
    e.into_writer()
}

/// Seals an encoded manifest into an envelope signed by `signer`, with severable `members`
/// `(key, content)` copied into the envelope as given. The manifest is not checked: tests use
/// this to seal manifests a verifier must refuse.
pub fn seal_manifest(
    manifest: &[u8],
    members: &[(i64, &[u8])],
    signer: &dyn Signer,
) -> Result<Vec<u8>, BuildError> {
    let mut wrapped = Encoder::new(Vec::new());
    let _ = wrapped.bytes(manifest);
    let digest: [u8; 32] = Sha256::digest(wrapped.into_writer()).into();
    let digest = digest_item(&digest);
    let mut protected = Encoder::new(Vec::new());
    let _ = protected
        .map(1)
        .and_then(|e| e.u64(1))
        .and_then(|e| e.i64(signer.algorithm().cose_id()));
    let protected = protected.into_writer();
    let mut to_sign = Encoder::new(Vec::new());
    let _ = to_sign
        .array(4)
        .and_then(|e| e.str("Signature1"))
        .and_then(|e| e.bytes(&protected))
        .and_then(|e| e.bytes(&[]))
        .and_then(|e| e.bytes(&digest));
    let signature = signer.sign(&to_sign.into_writer())?;
    let mut sign1 = Encoder::new(Vec::new());
    let _ = sign1
        .tag(Tag::new(COSE_SIGN1_TAG))
        .and_then(|e| e.array(4))
        .and_then(|e| e.bytes(&protected))
        .and_then(|e| e.map(0))
        .and_then(|e| e.null())
        .and_then(|e| e.bytes(&signature));
    let mut authentication = Encoder::new(Vec::new());
    let _ = authentication
        .array(2)
        .and_then(|e| e.bytes(&digest))
        .and_then(|e| e.bytes(&sign1.into_writer()));
    let mut sorted: Vec<&(i64, &[u8])> = members.iter().collect();
    sorted.sort_by_key(|(key, _)| *key);
    let mut e = Encoder::new(Vec::new());
    let _ = (|| -> Encoding {
        e.tag(Tag::new(ENVELOPE_TAG))?
            .map(2 + members.len() as u64)?;
        e.i64(AUTHENTICATION_KEY)?
            .bytes(&authentication.into_writer())?;
        e.i64(MANIFEST_KEY)?.bytes(manifest)?;
        for (key, content) in sorted {
            e.i64(*key)?.bytes(content)?;
        }
        Ok(())
    })();
    let envelope = e.into_writer();
    if envelope.len() > MAX_ENVELOPE_SIZE {
        return Err(BuildError::TooLarge {
            size: envelope.len(),
            cap: MAX_ENVELOPE_SIZE,
        });
    }
    Ok(envelope)
}
