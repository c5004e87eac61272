//! Verifies an MCUboot image against one trusted key, as MCUboot's `bootutil_img_validate`
//! does and stricter: reading the source at offsets in fixed-size chunks (constant RAM, no
//! allocation), it checks the header against the source, walks both TLV areas refusing
//! unknown, misplaced and duplicate TLVs, checks that KEYHASH or PUBKEY names the trusted key,
//! hashes header, payload and protected TLVs (SHA-256 or SHA-512) and checks the signature:
//! Ed25519 over the digest, Ed25519 over the whole hashed region when SIG_PURE is present,
//! or ECDSA P-256 (DER) over the SHA-256 digest.
//!
//! Steps (cheap structure first, one pass over the payload last):
//! 1. header (magic, sizes, flags);
//! 2. protected TLV info against `ih_protect_tlv_size`;
//! 3. unprotected TLV info and the end of the image;
//! 4. protected TLVs (SEC_CNT, DEPENDENCY);
//! 5. unprotected TLVs (hash, KEYHASH or PUBKEY, signature, SIG_PURE);
//! 6. hash and signature algorithms against the trusted key;
//! 7. KEYHASH or PUBKEY against the trusted key;
//! 8. hash (and pure signature) over header, payload and protected TLVs;
//! 9. signature.

use sha2::Sha512;
use subtle::ConstantTimeEq;

use crate::mcuboot::error::McubootError;
use crate::mcuboot::header::{HEADER_LEN, ImageHeader, ImageVersion, flags};
use crate::mcuboot::key::{KeyAlgorithm, MAX_SPKI_LEN, TrustedKey};
use crate::mcuboot::source::{ImageSource, Layout};
use crate::mcuboot::tlv::{
    self, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC, Tlv, TlvWalker, kind, read_info,
};
use crate::sha256::{Digest, Sha256};

/// Dependencies an image may declare (more are refused).
pub const MAX_DEPENDENCIES: usize = 4;
/// Bytes read from the source per call while hashing.
pub const CHUNK: usize = 512;
/// Longest DER ECDSA P-256 signature (two 33-byte integers in a sequence).
const MAX_ECDSA_DER: usize = 72;

/// The image hash algorithm (its TLV type names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256 (TLV `SHA256`).
    Sha256,
    /// SHA-512 (TLV `SHA512`).
    Sha512,
}

impl HashAlgorithm {
    /// The TLV type carrying this hash.
    pub fn tlv_kind(self) -> u16 {
        match self {
            HashAlgorithm::Sha256 => kind::SHA256,
            HashAlgorithm::Sha512 => kind::SHA512,
        }
    }

    /// Digest length in bytes.
    pub fn len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// Digests are never empty; present for the `len`/`is_empty` pair.
    pub fn is_empty(self) -> bool {
        false
    }

    fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// The digest of `data` (a key's SubjectPublicKeyInfo, for KEYHASH).
    pub fn digest(self, data: &[u8]) -> ImageDigest {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish()
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> ImageDigest {
        let mut bytes = [0u8; 64];
        let algorithm = match self {
            Hasher::Sha256(h) => {
                if let Some(dst) = bytes.get_mut(..32) {
                    dst.copy_from_slice(&h.finalize());
                }
                HashAlgorithm::Sha256
            }
            Hasher::Sha512(h) => {
                bytes.copy_from_slice(&h.finalize());
                HashAlgorithm::Sha512
            }
        };
        ImageDigest { algorithm, bytes }
    }
}

/// An image digest (SHA-256 or SHA-512).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageDigest {
    algorithm: HashAlgorithm,
    bytes: [u8; 64],
}

impl ImageDigest {
    /// The algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.algorithm.len()).unwrap_or(&[])
    }
}

/// How the image is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureKind {
    /// Ed25519 over the image digest (imgtool's default).
    Ed25519,
    /// Ed25519 over header, payload and protected TLVs (`--pure`, TLV `SIG_PURE`).
    Ed25519Pure,
    /// ECDSA P-256 over the SHA-256 digest, DER-encoded.
    EcdsaP256,
}

/// How the image names its signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyReference {
    /// KEYHASH: a hash of the key (imgtool's `--public-key-format hash`, the default).
    Hash,
    /// PUBKEY: the key itself (`--public-key-format full`).
    Full,
}

/// A dependency on another image (TLV `DEPENDENCY`): that image must run at least
/// `min_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    /// The image depended on.
    pub image_id: u8,
    /// Its minimum version.
    pub min_version: ImageVersion,
}

/// An image that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedImage {
    /// The header.
    pub header: ImageHeader,
    /// The protected security counter, if the image has one.
    pub security_counter: Option<u32>,
    /// The protected dependencies.
    pub dependencies: heapless::Vec<Dependency, MAX_DEPENDENCIES>,
    /// The verified digest.
    pub digest: ImageDigest,
    /// How it was signed.
    pub signature: SignatureKind,
    /// How it names its key.
    pub key_reference: KeyReference,
    /// Offset just past the unprotected TLV area: the image's length.
    pub end: u64,
}

impl VerifiedImage {
    /// The image version.
    pub fn version(&self) -> ImageVersion {
        self.header.version
    }

    /// True when the header marks the image non-bootable.
    pub fn is_non_bootable(&self) -> bool {
        self.header.flags & flags::NON_BOOTABLE != 0
    }
}

/// What the unprotected area held, before any of it is trusted.
#[derive(Default)]
struct Unprotected {
    hash: Option<(u16, [u8; 64])>,
    key_reference: Option<Tlv>,
    signature: Option<(u16, [u8; MAX_ECDSA_DER], usize)>,
    pure: bool,
}

/// What the protected area held.
struct Protected {
    security_counter: Option<u32>,
    dependencies: heapless::Vec<Dependency, MAX_DEPENDENCIES>,
}

fn check_length(tlv: &Tlv, ok: bool) -> Result<(), McubootError> {
    if ok {
        Ok(())
    } else {
        Err(McubootError::TlvLength {
            kind: tlv.kind,
            len: tlv.len,
        })
    }
}

fn is_encryption(kind: u16) -> bool {
    (kind::ENC_FIRST..=kind::ENC_LAST).contains(&kind)
}

fn read_protected<S: ImageSource>(
    source: &mut S,
    walker: &mut TlvWalker,
) -> Result<Protected, McubootError> {
    let mut found = Protected {
        security_counter: None,
        dependencies: heapless::Vec::new(),
    };
    while let Some(t) = walker.next_tlv(source)? {
        match t.kind {
            kind::SEC_CNT => {
                check_length(&t, t.len == 4)?;
                if found.security_counter.is_some() {
                    return Err(McubootError::DuplicateTlv { kind: t.kind });
                }
                let value = tlv::read::<S, 4>(source, t.value_offset())?;
                found.security_counter = Some(u32::from_le_bytes(value));
            }
            kind::DEPENDENCY => {
                check_length(&t, t.len == 12)?;
                let [image_id, p0, p1, p2, v @ ..] = tlv::read::<S, 12>(source, t.value_offset())?;
                // imgtool packs `B3x`: the three bytes after the image id are padding.
                check_length(&t, [p0, p1, p2] == [0; 3])?;
                if found.dependencies.iter().any(|d| d.image_id == image_id) {
                    return Err(McubootError::DuplicateTlv { kind: t.kind });
                }
                found
                    .dependencies
                    .push(Dependency {
                        image_id,
                        min_version: ImageVersion::from_bytes(v),
                    })
                    .map_err(|_| McubootError::TooManyDependencies {
                        cap: MAX_DEPENDENCIES,
                    })?;
            }
            k if is_encryption(k) => {
                return Err(McubootError::Encrypted { flags: 0, tlv: k });
            }
            kind::KEYHASH
            | kind::PUBKEY
            | kind::SHA256
            | kind::SHA384
            | kind::SHA512
            | kind::ECDSA_SIG
            | kind::ED25519
            | kind::SIG_PURE => {
                return Err(McubootError::MisplacedTlv {
                    kind: t.kind,
                    protected: true,
                });
            }
            other => {
                return Err(McubootError::UnknownTlv {
                    kind: other,
                    offset: t.offset,
                });
            }
        }
    }
    Ok(found)
}

fn read_unprotected<S: ImageSource>(
    source: &mut S,
    walker: &mut TlvWalker,
) -> Result<Unprotected, McubootError> {
    let mut found = Unprotected::default();
    while let Some(t) = walker.next_tlv(source)? {
        match t.kind {
            kind::SHA256 | kind::SHA384 | kind::SHA512 => {
                let len = match t.kind {
                    kind::SHA256 => 32,
                    kind::SHA384 => 48,
                    _ => 64,
                };
                check_length(&t, usize::from(t.len) == len)?;
                if found.hash.is_some() {
                    return Err(McubootError::DuplicateTlv { kind: t.kind });
                }
                let mut digest = [0u8; 64];
                tlv::read_into(
                    source,
                    t.value_offset(),
                    digest.get_mut(..len).unwrap_or(&mut []),
                )?;
                found.hash = Some((t.kind, digest));
            }
            kind::KEYHASH | kind::PUBKEY => {
                if found.key_reference.is_some() {
                    return Err(McubootError::DuplicateTlv { kind: t.kind });
                }
                found.key_reference = Some(t);
            }
            kind::ED25519 | kind::ECDSA_SIG => {
                let ok = if t.kind == kind::ED25519 {
                    t.len == 64
                } else {
                    (8..=MAX_ECDSA_DER).contains(&usize::from(t.len))
                };
                check_length(&t, ok)?;
                if found.signature.is_some() {
                    return Err(McubootError::DuplicateTlv { kind: t.kind });
                }
                let mut signature = [0u8; MAX_ECDSA_DER];
                let len = usize::from(t.len);
                tlv::read_into(
                    source,
                    t.value_offset(),
                    signature.get_mut(..len).unwrap_or(&mut []),
                )?;
                found.signature = Some((t.kind, signature, len));
            }
            kind::SIG_PURE => {
                // imgtool writes `struct.pack('?', True)`.
                check_length(&t, t.len == 1)?;
                check_length(&t, tlv::read::<S, 1>(source, t.value_offset())? == [1])?;
                if found.pure {
                    return Err(McubootError::DuplicateTlv { kind: t.kind });
                }
                found.pure = true;
            }
            k if is_encryption(k) => {
                return Err(McubootError::Encrypted { flags: 0, tlv: k });
            }
            // Outside the signed area anyone could add or change these.
            kind::SEC_CNT | kind::DEPENDENCY => {
                return Err(McubootError::MisplacedTlv {
                    kind: t.kind,
                    protected: false,
                });
            }
            other => {
                return Err(McubootError::UnknownTlv {
                    kind: other,
                    offset: t.offset,
                });
            }
        }
    }
    Ok(found)
}

/// The hash algorithm and signature kind the image claims, checked against the trusted key:
/// Ed25519 with SHA-256 or SHA-512 (pure: SHA-512 only, as imgtool enforces), P-256 with
/// SHA-256 and never pure.
fn check_algorithms(
    key: &TrustedKey,
    hash_kind: u16,
    signature_kind: u16,
    pure: bool,
) -> Result<(HashAlgorithm, SignatureKind), McubootError> {
    let mismatch = |kind| Err(McubootError::AlgorithmMismatch { kind });
    match key.algorithm() {
        KeyAlgorithm::Ed25519 => {
            if signature_kind != kind::ED25519 {
                return mismatch(signature_kind);
            }
            match (hash_kind, pure) {
                (kind::SHA512, true) => Ok((HashAlgorithm::Sha512, SignatureKind::Ed25519Pure)),
                (kind::SHA256, false) => Ok((HashAlgorithm::Sha256, SignatureKind::Ed25519)),
                (kind::SHA512, false) => Ok((HashAlgorithm::Sha512, SignatureKind::Ed25519)),
                _ => mismatch(hash_kind),
            }
        }
        KeyAlgorithm::EcdsaP256 => {
            if signature_kind != kind::ECDSA_SIG {
                return mismatch(signature_kind);
            }
            if pure {
                return mismatch(kind::SIG_PURE);
            }
            if hash_kind != kind::SHA256 {
                return mismatch(hash_kind);
            }
            Ok((HashAlgorithm::Sha256, SignatureKind::EcdsaP256))
        }
    }
}

fn check_key_reference<S: ImageSource>(
    source: &mut S,
    key: &TrustedKey,
    reference: &Tlv,
    hash: HashAlgorithm,
) -> Result<KeyReference, McubootError> {
    let mut value = [0u8; MAX_SPKI_LEN];
    if reference.kind == kind::KEYHASH {
        check_length(reference, usize::from(reference.len) == hash.len())?;
        let stored = value.get_mut(..hash.len()).unwrap_or(&mut []);
        tlv::read_into(source, reference.value_offset(), stored)?;
        if bool::from(hash.digest(key.spki()).as_bytes().ct_eq(stored)) {
            Ok(KeyReference::Hash)
        } else {
            Err(McubootError::KeyHashMismatch)
        }
    } else {
        if usize::from(reference.len) != key.spki().len() {
            return Err(McubootError::PublicKeyMismatch);
        }
        let stored = value.get_mut(..key.spki().len()).unwrap_or(&mut []);
        tlv::read_into(source, reference.value_offset(), stored)?;
        if bool::from(key.spki().ct_eq(stored)) {
            Ok(KeyReference::Full)
        } else {
            Err(McubootError::PublicKeyMismatch)
        }
    }
}

/// Verifies the MCUboot image at offset 0 of `source` against `key`. With [`Layout::File`]
/// the image must fill the source exactly; with [`Layout::Slot`] bytes after it are ignored.
pub fn verify_image<S: ImageSource>(
    source: &mut S,
    key: &TrustedKey,
    layout: Layout,
) -> Result<VerifiedImage, McubootError> {
    // 1. Header.
    let header = ImageHeader::parse(&tlv::read::<S, HEADER_LEN>(source, 0)?)?;
    // 2. Protected TLV info: present exactly when the header says so, of the size it says.
    let protected_offset = header.payload_end();
    let (magic, total) = read_info(source, protected_offset)?;
    let protected_size = header.protected_tlv_size;
    if (magic == TLV_PROT_INFO_MAGIC) != (protected_size != 0)
        || (protected_size != 0 && total != protected_size)
    {
        return Err(McubootError::ProtectedAreaMismatch {
            header: protected_size,
            area: if magic == TLV_PROT_INFO_MAGIC {
                total
            } else {
                0
            },
        });
    }
    // 3. Unprotected TLV info; the hashed region ends where it starts.
    let region_end = protected_offset + u64::from(protected_size);
    let (magic, total) = read_info(source, region_end)?;
    if magic != TLV_INFO_MAGIC {
        return Err(McubootError::TlvInfoMagic {
            offset: region_end,
            found: magic,
            expected: TLV_INFO_MAGIC,
        });
    }
    let mut unprotected_walker = TlvWalker::new(region_end, total)?;
    let end = unprotected_walker.end();
    if end > source.len() {
        return Err(McubootError::Truncated {
            needed: end,
            available: source.len(),
        });
    }
    if layout == Layout::File && end != source.len() {
        return Err(McubootError::TrailingBytes {
            extra: source.len() - end,
        });
    }
    // 4. Protected TLVs.
    let protected = if protected_size == 0 {
        Protected {
            security_counter: None,
            dependencies: heapless::Vec::new(),
        }
    } else {
        read_protected(
            source,
            &mut TlvWalker::new(protected_offset, protected_size)?,
        )?
    };
    // 5. Unprotected TLVs.
    let found = read_unprotected(source, &mut unprotected_walker)?;
    let Some((hash_kind, expected_digest)) = found.hash else {
        return Err(McubootError::MissingTlv { kind: kind::SHA256 });
    };
    let Some(reference) = found.key_reference else {
        return Err(McubootError::MissingTlv {
            kind: kind::KEYHASH,
        });
    };
    let Some((signature_kind, signature, signature_len)) = found.signature else {
        return Err(McubootError::MissingTlv {
            kind: match key.algorithm() {
                KeyAlgorithm::Ed25519 => kind::ED25519,
                KeyAlgorithm::EcdsaP256 => kind::ECDSA_SIG,
            },
        });
    };
    let signature = signature.get(..signature_len).unwrap_or(&[]);
    // 6. Algorithms.
    let (hash, kind) = check_algorithms(key, hash_kind, signature_kind, found.pure)?;
    // 7. The image must name the trusted key.
    let key_reference = check_key_reference(source, key, &reference, hash)?;
    // 8. One pass over header, payload and protected TLVs.
    let mut hasher = hash.hasher();
    let mut pure = match kind {
        SignatureKind::Ed25519Pure => Some(crypto::PureEd25519::new(key, signature)?),
        _ => None,
    };
    let mut chunk = [0u8; CHUNK];
    let mut offset = 0u64;
    while offset < region_end {
        let n = usize::try_from(region_end - offset).map_or(CHUNK, |left| left.min(CHUNK));
        let bytes = chunk.get_mut(..n).unwrap_or(&mut []);
        tlv::read_into(source, offset, bytes)?;
        hasher.update(bytes);
        if let Some(pure) = pure.as_mut() {
            pure.update(bytes);
        }
        offset += n as u64;
    }
    let digest = hasher.finish();
    let expected = expected_digest.get(..hash.len()).unwrap_or(&[]);
    if !bool::from(digest.as_bytes().ct_eq(expected)) {
        return Err(McubootError::HashMismatch);
    }
    // 9. Signature.
    match pure {
        Some(pure) => pure.finish()?,
        None => crypto::verify_digest(key, kind, digest.as_bytes(), signature)?,
    }
    Ok(VerifiedImage {
        header,
        security_counter: protected.security_counter,
        dependencies: protected.dependencies,
        digest,
        signature: kind,
        key_reference,
        end,
    })
}

/// The signature primitives, each behind its algorithm's feature.
mod crypto {
    use super::SignatureKind;
    use crate::mcuboot::error::McubootError;
    use crate::mcuboot::key::TrustedKey;
    #[cfg(feature = "es256")]
    use crate::signature_algorithm::{Algorithm, PublicKey};

    /// Verifies a signature over the image digest.
    #[cfg_attr(
        not(all(feature = "ed25519", feature = "es256")),
        allow(unused_variables)
    )]
    pub(super) fn verify_digest(
        key: &TrustedKey,
        kind: SignatureKind,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), McubootError> {
        match kind {
            // Ed25519 (RFC 8032 §5.1.7, strict) with the digest as the message.
            #[cfg(feature = "ed25519")]
            SignatureKind::Ed25519 => key
                .algorithm()
                .algorithm()
                .verify(key.raw(), digest, signature)
                .map_err(|_| McubootError::BadSignature),
            // ECDSA over a SHA-256 digest computed already (FIPS 186-5 §6.4.2 from step 2),
            // through the crate's ES256 backend (RustCrypto, or p256-cm4 with `es256-cm4`).
            #[cfg(feature = "es256")]
            SignatureKind::EcdsaP256 => {
                let verifying = PublicKey::parse(Algorithm::Es256, key.raw())
                    .map_err(|_| McubootError::InvalidKey)?;
                let digest: &[u8; 32] =
                    digest.try_into().map_err(|_| McubootError::BadSignature)?;
                // MCUboot stores DER; the backend takes the fixed-width `r || s`.
                let signature = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| McubootError::BadSignature)?;
                verifying
                    .verify_es256_prehash(digest, &signature.to_bytes())
                    .map_err(|_| McubootError::BadSignature)
            }
            _ => Err(McubootError::InvalidKey),
        }
    }

    /// Pure Ed25519 over a message streamed in chunks: the message enters Ed25519's challenge
    /// hash once (RFC 8032 §5.1.7 step 2), so it never needs to be in memory.
    pub(super) struct PureEd25519 {
        #[cfg(feature = "ed25519")]
        stream: ed25519_dalek::StreamVerifier,
    }

    #[cfg(feature = "ed25519")]
    impl PureEd25519 {
        pub(super) fn new(key: &TrustedKey, signature: &[u8]) -> Result<Self, McubootError> {
            let raw: &[u8; 32] = key.raw().try_into().map_err(|_| McubootError::InvalidKey)?;
            let verifying = ed25519_dalek::VerifyingKey::from_bytes(raw)
                .map_err(|_| McubootError::InvalidKey)?;
            let signature = ed25519_dalek::Signature::from_slice(signature)
                .map_err(|_| McubootError::BadSignature)?;
            // The stream verifier checks S < L and the encoding of R; the small-order check of
            // `verify_strict` is done here (the trusted key passed it at construction).
            let r = curve25519_dalek::edwards::CompressedEdwardsY(*signature.r_bytes());
            match r.decompress() {
                Some(point) if !point.is_small_order() => {}
                _ => return Err(McubootError::BadSignature),
            }
            let stream = verifying
                .verify_stream(&signature)
                .map_err(|_| McubootError::BadSignature)?;
            Ok(PureEd25519 { stream })
        }

        pub(super) fn update(&mut self, chunk: &[u8]) {
            self.stream.update(chunk);
        }

        pub(super) fn finish(self) -> Result<(), McubootError> {
            self.stream
                .finalize_and_verify()
                .map_err(|_| McubootError::BadSignature)
        }
    }

    #[cfg(not(feature = "ed25519"))]
    impl PureEd25519 {
        pub(super) fn new(_: &TrustedKey, _: &[u8]) -> Result<Self, McubootError> {
            Err(McubootError::InvalidKey)
        }

        pub(super) fn update(&mut self, _: &[u8]) {}

        pub(super) fn finish(self) -> Result<(), McubootError> {
            Err(McubootError::InvalidKey)
        }
    }
}
