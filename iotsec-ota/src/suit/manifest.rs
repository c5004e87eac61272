//! The SUIT manifest (draft-ietf-suit-manifest §8.4) as this crate reads it: sequence number,
//! components and what the command sequences ask a device to check.
//!
//! ```cddl
//! SUIT_Manifest = {
//!   1 => 1,                               ; suit-manifest-version
//!   2 => uint,                            ; suit-manifest-sequence-number
//!   3 => bstr .cbor SUIT_Common,          ; { ? 2 => [+ [* bstr]], ? 4 => bstr .cbor seq }
//!   ? 4 => tstr,                          ; suit-reference-uri
//!   ? 7 / 8 / 9 => bstr .cbor SUIT_Command_Sequence,        ; validate, load, invoke
//!   ? 16 / 20 => SUIT_Digest / bstr .cbor SUIT_Command_Sequence, ; payload-fetch, install
//!   ? 23 => SUIT_Digest / bstr .cbor SUIT_Text_Map,          ; text
//! }
//! ```
//!
//! Severable members (§8.4.12, §8.6) held as a digest are taken from the envelope only when
//! the SHA-256 of their bstr encoding matches; a member may be severed (absent), but an envelope
//! member without a digest in the manifest is refused. The text map is authenticated but not
//! interpreted (it is for people, §8.4.4).

use heapless::Vec;

use crate::canonical_cbor::{CanonicalDecoder, CborError, SeenKeys};
use crate::suit::command_sequence::{
    Analysis, ComponentChecks, MAX_COMPONENTS, Mode, SuitImage, initial_branches,
};
use crate::suit::envelope::{
    MAX_ENVELOPE_SIZE, SEVERABLE_KEYS, SeverableMembers, decode_digest_item, wrapped,
};
use crate::suit::error::SuitError;

/// The only manifest structure version (§8.4.1).
pub const MANIFEST_VERSION: u64 = 1;
/// Most byte strings in one component identifier.
pub const MAX_ID_PARTS: usize = 4;
/// Longest byte string of a component identifier.
pub const MAX_ID_PART_LEN: usize = 32;
/// Longest reference URI, in bytes.
pub(super) const MAX_REFERENCE_URI_LEN: usize = 256;
const MAX_MANIFEST_MEMBERS: usize = 10;

const COMMON: i64 = 3;
const REFERENCE_URI: i64 = 4;
const VALIDATE: i64 = 7;
const LOAD: i64 = 8;
const INVOKE: i64 = 9;
const PAYLOAD_FETCH: i64 = 16;
const INSTALL: i64 = 20;
const TEXT: i64 = 23;

/// One component: its identifier and what the manifest checks about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuitComponent<'a> {
    /// `SUIT_Component_Identifier`: the byte strings naming the component (§8.4.5.1).
    pub id: Vec<&'a [u8], MAX_ID_PARTS>,
    /// The vendor identifier (RFC 9562 UUID) a vendor condition compares for it.
    pub vendor_id: Option<[u8; 16]>,
    /// The class identifier (RFC 9562 UUID) a class condition compares for it.
    pub class_id: Option<[u8; 16]>,
    /// The images an image-match condition demands, in first-seen order.
    pub images: Vec<SuitImage, { crate::suit::command_sequence::MAX_IMAGES }>,
}

/// An authenticated, understood SUIT manifest, borrowing from the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuitManifest<'a> {
    /// The anti-rollback sequence number (§8.4.2).
    pub sequence_number: u64,
    /// Where a full copy of the manifest lives (§8.4.3).
    pub reference_uri: Option<&'a str>,
    /// The components, in manifest order (command sequences index this list).
    pub components: Vec<SuitComponent<'a>, MAX_COMPONENTS>,
    /// Severable members the manifest covers by digest and the envelope no longer carries.
    pub severed: Vec<i64, { SEVERABLE_KEYS.len() }>,
}

impl<'a> SuitManifest<'a> {
    /// Decodes the bytes inside the envelope's manifest bstr, taking severable members from
    /// `severable`. Call it on authenticated bytes only: [`crate::suit::verify_envelope`] does.
    pub fn decode(manifest: &'a [u8], severable: &SeverableMembers<'a>) -> Result<Self, SuitError> {
        let mut d = CanonicalDecoder::new(manifest);
        let mut keys = d.map(MAX_MANIFEST_MEMBERS)?;
        let mut seen = SeenKeys::default();
        let mut sequence_number = 0;
        let mut reference_uri = None;
        let mut common: &[u8] = &[];
        let mut sequences: [Option<&'a [u8]>; 5] = [None; 5];
        let mut severed = Vec::new();
        while let Some((_, key)) = d.next_key(&mut keys)? {
            seen.mark(key);
            match key {
                1 => {
                    let version = d.uint()?;
                    if version != MANIFEST_VERSION {
                        return Err(SuitError::UnsupportedManifestVersion { version });
                    }
                }
                2 => sequence_number = d.uint()?,
                COMMON => common = d.bytes(MAX_ENVELOPE_SIZE)?,
                REFERENCE_URI => reference_uri = Some(d.text(MAX_REFERENCE_URI_LEN)?),
                VALIDATE | LOAD | INVOKE => {
                    store(&mut sequences, key, d.bytes(MAX_ENVELOPE_SIZE)?);
                }
                PAYLOAD_FETCH | INSTALL | TEXT => {
                    match severable_member(&mut d, manifest, key, severable)? {
                        Some(content) if key != TEXT => {
                            store(&mut sequences, key, content);
                        }
                        Some(_) => {}
                        None => {
                            // Cannot overflow: one slot per severable key.
                            let _ = severed.push(key);
                        }
                    }
                }
                _ => return Err(SuitError::UnknownManifestMember { key }),
            }
        }
        d.finish()?;
        seen.require(&[1, 2, COMMON])?;
        // An envelope member the manifest does not cover by a digest is unauthenticated.
        for key in severable.keys() {
            if !seen_key(&seen, key) {
                return Err(SuitError::UnauthenticatedMember { key });
            }
        }
        let (ids, shared) = decode_common(common)?;
        let checks = analyse(ids.len(), shared, &sequences)?;
        let mut components = Vec::new();
        for (id, checks) in ids.into_iter().zip(checks) {
            let _ = components.push(SuitComponent {
                id,
                vendor_id: checks.vendor_id,
                class_id: checks.class_id,
                images: checks.images,
            });
        }
        Ok(SuitManifest {
            sequence_number,
            reference_uri,
            components,
            severed,
        })
    }
}

fn seen_key(seen: &SeenKeys, key: i64) -> bool {
    seen.require(&[key]).is_ok()
}

/// Stores a command sequence in its slot, in processing order (§8.4.6).
fn store<'a>(sequences: &mut [Option<&'a [u8]>; 5], key: i64, sequence: &'a [u8]) {
    let slot = match key {
        PAYLOAD_FETCH => 0,
        INSTALL => 1,
        VALIDATE => 2,
        LOAD => 3,
        _ => 4,
    };
    if let Some(slot) = sequences.get_mut(slot) {
        *slot = Some(sequence);
    }
}

/// A severable member: inline (bstr) or a digest of the envelope's copy. Returns the content,
/// or `None` when it was severed.
fn severable_member<'a>(
    d: &mut CanonicalDecoder<'a>,
    manifest: &'a [u8],
    key: i64,
    severable: &SeverableMembers<'a>,
) -> Result<Option<&'a [u8]>, SuitError> {
    if d.peek_major()? == 2 {
        let inline = wrapped(d, manifest, MAX_ENVELOPE_SIZE)?;
        if severable.get(key).is_some() {
            return Err(SuitError::UnauthenticatedMember { key });
        }
        return Ok(Some(inline.content));
    }
    let digest = decode_digest_item(d)?;
    match severable.get(key) {
        None => Ok(None),
        Some(member) if member.matches(&digest) => Ok(Some(member.content)),
        Some(_) => Err(SuitError::SeveredMemberDigestMismatch { key }),
    }
}

type ComponentIds<'a> = Vec<Vec<&'a [u8], MAX_ID_PARTS>, MAX_COMPONENTS>;

/// `SUIT_Common = { ? 2 => [+ [* bstr]], ? 4 => bstr .cbor SUIT_Shared_Sequence }` (§8.4.5).
fn decode_common(common: &[u8]) -> Result<(ComponentIds<'_>, Option<&[u8]>), SuitError> {
    let mut d = CanonicalDecoder::new(common);
    let mut keys = d.map(2)?;
    let mut ids = Vec::new();
    let mut shared = None;
    while let Some((_, key)) = d.next_key(&mut keys)? {
        match key {
            2 => {
                let offset = d.position();
                let count = d.array(MAX_COMPONENTS)?;
                if count == 0 {
                    return Err(CborError::InvalidValue {
                        offset,
                        reason: "empty component list",
                    }
                    .into());
                }
                for _ in 0..count {
                    let parts = d.array(MAX_ID_PARTS)?;
                    let mut id = Vec::new();
                    for _ in 0..parts {
                        let _ = id.push(d.bytes(MAX_ID_PART_LEN)?);
                    }
                    if ids.contains(&id) {
                        return Err(CborError::InvalidValue {
                            offset,
                            reason: "component identifier listed twice",
                        }
                        .into());
                    }
                    let _ = ids.push(id);
                }
            }
            4 => shared = Some(d.bytes(MAX_ENVELOPE_SIZE)?),
            _ => return Err(SuitError::UnknownManifestMember { key }),
        }
    }
    d.finish()?;
    if ids.is_empty() {
        return Err(CborError::MissingKey { key: 2 }.into());
    }
    Ok((ids, shared))
}

/// Runs the shared sequence, then every other sequence from the state it leaves (§6.4: the
/// shared sequence precedes each command sequence), and requires vendor and class checks in
/// the shared sequence (§6.2).
fn analyse(
    components: usize,
    shared: Option<&[u8]>,
    sequences: &[Option<&[u8]>; 5],
) -> Result<[ComponentChecks; MAX_COMPONENTS], SuitError> {
    let mut analysis = Analysis::new(components);
    let start = match shared {
        Some(shared) => analysis.run_top(shared, &initial_branches(), Mode::Shared)?,
        None => initial_branches(),
    };
    if !analysis.vendor_checked_in_shared {
        return Err(SuitError::MissingIdentityCheck {
            identifier: "vendor",
        });
    }
    if !analysis.class_checked_in_shared {
        return Err(SuitError::MissingIdentityCheck {
            identifier: "class",
        });
    }
    for sequence in sequences.iter().flatten() {
        analysis.run_top(sequence, &start, Mode::Command)?;
    }
    Ok(analysis.checks)
}
