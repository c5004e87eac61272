//! The trust root: which keys may sign, and how many must, per role (TUF specification §4.3,
//! "root.json", and §5.3 "Update the root role").
//!
//! Payload (deterministic CBOR, RFC 8949 §4.2.1), signed as a `COSE_Sign` with content type
//! [`ROOT_CONTENT_TYPE`]:
//!
//! | key | field | type |
//! |---|---|---|
//! | 0 | format version | uint, 1 |
//! | 1 | root version | uint >= 1 |
//! | 2 | keys | [+ [bstr kid, int COSE alg, bstr public key]] |
//! | 3 | root role | [uint threshold, [+ bstr kid]] |
//! | 4 | release role | [uint threshold, [+ bstr kid]] |
//! | 5 | expires at (optional) | uint, seconds since the Unix epoch (TUF §4.3 `expires`) |
//!
//! Rules that past updaters got wrong: thresholds count distinct **public keys**, never key ids
//! (python-tuf GHSA-pwqf-9h7j-7mv8, tough GHSA-5q2r-92f9-4m49, go-tuf #369); a root listing a
//! public key twice is refused outright; rotation N -> N+1 needs the root threshold of both N
//! and N+1, and is the only way to a new root; there is no "version 0" default (go-tuf
//! CVE-2022-29173): a device starts from a pinned root and its stored root version.

use heapless::Vec;

use crate::canonical_cbor::{CanonicalDecoder, CborError, SeenKeys};
use crate::cose_sign::{CoseSign, MAX_KEY_ID_LEN, MAX_SIGNATURES};
use crate::error::Error;
pub use crate::role::Role;
use crate::signature_algorithm::{Algorithm, PublicKey, SignatureError};

/// Content type of a signed trust root.
pub const ROOT_CONTENT_TYPE: &str = "application/iotsec-ota-root+cose";
/// Most keys one trust root may list.
pub const MAX_KEYS: usize = 8;
const MAX_PUBLIC_KEY_LEN: usize = 65;
const ROOT_FORMAT_VERSION: u64 = 1;

/// A key listed in a trust root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedKey<'a> {
    /// The key id signatures name (COSE `kid`).
    pub key_id: &'a [u8],
    /// The algorithm the key signs with.
    pub algorithm: Algorithm,
    /// Canonical public key bytes (see [`Algorithm::check_public_key`]).
    pub public_key: &'a [u8],
    /// The key, parsed once when the root was loaded.
    pub parsed: PublicKey,
}

/// The keys of one role and how many must sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleKeys {
    /// Distinct keys needed.
    pub threshold: u8,
    /// Indexes into the trust root's key list.
    pub members: Vec<u8, MAX_KEYS>,
}

/// A trust root the device has verified, borrowing from its signed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRoot<'a> {
    version: u64,
    expires_at: Option<u64>,
    keys: Vec<TrustedKey<'a>, MAX_KEYS>,
    root: RoleKeys,
    release: RoleKeys,
}

impl<'a> TrustRoot<'a> {
    /// Accepts the root pinned at manufacturing (or stored after a verified rotation): the
    /// document must carry the threshold of its own root role.
    pub fn from_pinned(document: &'a [u8]) -> Result<Self, Error> {
        let signed = CoseSign::from_cbor(document)?;
        let root = Self::from_signed(&signed)?;
        root.check_threshold(Role::Root, &signed)?;
        Ok(root)
    }

    /// Rotates to the next trust root: version exactly N+1, signed by the root threshold of
    /// this root (N) and of the new one (N+1). Keys N+1 drops can sign nothing after this.
    pub fn rotate<'b>(&self, next_document: &'b [u8]) -> Result<TrustRoot<'b>, Error> {
        let signed = CoseSign::from_cbor(next_document)?;
        let next = TrustRoot::from_signed(&signed)?;
        if Some(next.version) != self.version.checked_add(1) {
            return Err(Error::RootVersionNotNext {
                current: self.version,
                offered: next.version,
            });
        }
        self.check_threshold(Role::Root, &signed)?;
        next.check_threshold(Role::Root, &signed)?;
        Ok(next)
    }

    /// The root's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When devices with a trusted clock stop trusting this root (freeze attack, TUF §5.3.10).
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// The keys, in document order.
    pub fn keys(&self) -> &[TrustedKey<'a>] {
        &self.keys
    }

    /// The keys and threshold of `role`.
    pub fn role(&self, role: Role) -> &RoleKeys {
        match role {
            Role::Root => &self.root,
            Role::Release => &self.release,
        }
    }

    /// Counts distinct trusted public keys of `role` with a valid signature on `signed`.
    /// Signatures by keys the role does not list are ignored (TUF §5.3.3); a signature by a
    /// listed key that fails is an error (someone tampered with the document).
    pub fn check_threshold(&self, role: Role, signed: &CoseSign<'_>) -> Result<u8, Error> {
        let role_keys = self.role(role);
        let mut counted: Vec<&[u8], MAX_SIGNATURES> = Vec::new();
        let mut untrusted: u8 = 0;
        for signature in &signed.signatures {
            let member = role_keys
                .members
                .iter()
                .map(|&i| usize::from(i))
                .find(|&i| {
                    self.keys
                        .get(i)
                        .is_some_and(|key| key.key_id == signature.key_id)
                });
            let Some((key_index, key)) = member.and_then(|i| self.keys.get(i).map(|key| (i, key)))
            else {
                untrusted = untrusted.saturating_add(1);
                continue;
            };
            if key.algorithm != signature.algorithm {
                return Err(Error::AlgorithmMismatch { key_index });
            }
            signed
                .verify_signature(signature, &key.parsed)
                .map_err(|e| match e {
                    SignatureError::Unsupported => Error::UnsupportedAlgorithm {
                        id: key.algorithm.cose_id(),
                    },
                    _ => Error::BadSignature { key_index },
                })?;
            if !counted.contains(&key.public_key) {
                // Cannot overflow: at most MAX_SIGNATURES signatures exist.
                let _ = counted.push(key.public_key);
            }
        }
        let valid = counted.len() as u8;
        if valid >= role_keys.threshold {
            Ok(valid)
        } else if valid == 0 && untrusted > 0 {
            Err(Error::NoTrustedSignature { role, untrusted })
        } else {
            Err(Error::ThresholdNotMet {
                role,
                needed: role_keys.threshold,
                valid,
            })
        }
    }

    fn from_signed(signed: &CoseSign<'a>) -> Result<Self, Error> {
        if signed.content_type != ROOT_CONTENT_TYPE {
            return Err(Error::WrongDocumentType {
                expected: ROOT_CONTENT_TYPE,
            });
        }
        Self::from_payload(signed.payload)
    }

    fn from_payload(payload: &'a [u8]) -> Result<Self, Error> {
        let mut d = CanonicalDecoder::new(payload);
        let mut seen = SeenKeys::default();
        let mut keys_map = d.map(6)?;
        let mut root = TrustRoot {
            version: 0,
            expires_at: None,
            keys: Vec::new(),
            root: RoleKeys {
                threshold: 0,
                members: Vec::new(),
            },
            release: RoleKeys {
                threshold: 0,
                members: Vec::new(),
            },
        };
        while let Some((offset, key)) = d.next_key(&mut keys_map)? {
            seen.mark(key);
            match key {
                0 => {
                    let value_offset = d.position();
                    if d.uint()? != ROOT_FORMAT_VERSION {
                        return Err(CborError::InvalidValue {
                            offset: value_offset,
                            reason: "unsupported trust root format version",
                        }
                        .into());
                    }
                }
                1 => {
                    let value_offset = d.position();
                    root.version = d.uint()?;
                    if root.version == 0 {
                        return Err(CborError::InvalidValue {
                            offset: value_offset,
                            reason: "trust root versions start at 1",
                        }
                        .into());
                    }
                }
                2 => root.keys = decode_keys(&mut d)?,
                3 => root.root = decode_role(&mut d, &root.keys, Role::Root)?,
                4 => root.release = decode_role(&mut d, &root.keys, Role::Release)?,
                5 => root.expires_at = Some(d.uint()?),
                _ => return Err(CborError::UnknownKey { offset, key }.into()),
            }
        }
        d.finish()?;
        seen.require(&[0, 1, 2, 3, 4])?;
        Ok(root)
    }
}

fn decode_keys<'a>(d: &mut CanonicalDecoder<'a>) -> Result<Vec<TrustedKey<'a>, MAX_KEYS>, Error> {
    let offset = d.position();
    let count = d.array(MAX_KEYS)?;
    let mut keys: Vec<TrustedKey<'a>, MAX_KEYS> = Vec::new();
    for key_index in 0..count {
        d.array_exact(3)?;
        let kid_offset = d.position();
        let key_id = d.bytes(MAX_KEY_ID_LEN)?;
        let id = d.int()?;
        let algorithm = Algorithm::from_cose_id(id).ok_or(Error::UnsupportedAlgorithm { id })?;
        let public_key = d.bytes(MAX_PUBLIC_KEY_LEN)?;
        if key_id.is_empty() || keys.iter().any(|k| k.key_id == key_id) {
            return Err(CborError::InvalidValue {
                offset: kid_offset,
                reason: "key id empty or listed twice",
            }
            .into());
        }
        let parsed = PublicKey::parse(algorithm, public_key).map_err(|e| match e {
            SignatureError::Unsupported => Error::UnsupportedAlgorithm { id },
            _ => Error::InvalidKey { key_index },
        })?;
        if keys.iter().any(|k| k.public_key == public_key) {
            return Err(Error::DuplicateKey { key_index });
        }
        keys.push(TrustedKey {
            key_id,
            algorithm,
            public_key,
            parsed,
        })
        .map_err(|_| CborError::OverCap {
            offset,
            length: count as u64,
            cap: MAX_KEYS as u64,
        })?;
    }
    Ok(keys)
}

fn decode_role(
    d: &mut CanonicalDecoder<'_>,
    keys: &[TrustedKey<'_>],
    role: Role,
) -> Result<RoleKeys, Error> {
    d.array_exact(2)?;
    let threshold = d.uint_at_most(MAX_KEYS as u64)? as u8;
    let list_offset = d.position();
    let count = d.array(MAX_KEYS)?;
    let mut members: Vec<u8, MAX_KEYS> = Vec::new();
    for _ in 0..count {
        let offset = d.position();
        let key_id = d.bytes(MAX_KEY_ID_LEN)?;
        let index =
            keys.iter()
                .position(|k| k.key_id == key_id)
                .ok_or(CborError::InvalidValue {
                    offset,
                    reason: "role names a key id the root does not list",
                })?;
        if members.contains(&(index as u8)) {
            return Err(CborError::InvalidValue {
                offset,
                reason: "role lists a key twice",
            }
            .into());
        }
        members.push(index as u8).map_err(|_| CborError::OverCap {
            offset: list_offset,
            length: count as u64,
            cap: MAX_KEYS as u64,
        })?;
    }
    if threshold == 0 || usize::from(threshold) > members.len() {
        return Err(Error::ThresholdUnreachable {
            role,
            threshold,
            keys: members.len() as u8,
        });
    }
    Ok(RoleKeys { threshold, members })
}

#[cfg(feature = "alloc")]
mod encode {
    use alloc::vec::Vec;

    use minicbor::Encoder;

    use super::ROOT_FORMAT_VERSION;
    use crate::signature_algorithm::Algorithm;

    /// An owned description of a trust root's payload, for building and signing one.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TrustRootPayload {
        /// Root version (>= 1; a rotation is the previous version + 1).
        pub version: u64,
        /// `(key id, algorithm, canonical public key)`.
        pub keys: Vec<(Vec<u8>, Algorithm, Vec<u8>)>,
        /// Root role: threshold and key ids.
        pub root: (u8, Vec<Vec<u8>>),
        /// Release role: threshold and key ids.
        pub release: (u8, Vec<Vec<u8>>),
        /// Expiry, seconds since the Unix epoch (optional).
        pub expires_at: Option<u64>,
    }

    impl TrustRootPayload {
        /// Deterministic CBOR encoding (RFC 8949 §4.2.1).
        pub fn to_cbor(&self) -> Vec<u8> {
            let mut e = Encoder::new(Vec::new());
            let _ = e
                .map(5 + u64::from(self.expires_at.is_some()))
                .and_then(|e| e.u64(0))
                .and_then(|e| e.u64(ROOT_FORMAT_VERSION))
                .and_then(|e| e.u64(1))
                .and_then(|e| e.u64(self.version))
                .and_then(|e| e.u64(2))
                .and_then(|e| e.array(self.keys.len() as u64));
            for (kid, alg, pk) in &self.keys {
                let _ = e
                    .array(3)
                    .and_then(|e| e.bytes(kid))
                    .and_then(|e| e.i64(alg.cose_id()))
                    .and_then(|e| e.bytes(pk));
            }
            for (label, (threshold, kids)) in [(3u64, &self.root), (4, &self.release)] {
                let _ = e
                    .u64(label)
                    .and_then(|e| e.array(2))
                    .and_then(|e| e.u64(u64::from(*threshold)))
                    .and_then(|e| e.array(kids.len() as u64));
                for kid in kids {
                    let _ = e.bytes(kid);
                }
            }
            if let Some(expires_at) = self.expires_at {
                let _ = e.u64(5).and_then(|e| e.u64(expires_at));
            }
            e.into_writer()
        }
    }
}

#[cfg(feature = "alloc")]
pub use encode::TrustRootPayload;
