//! MakeCredential in software (TPM 2.0 Part 1 §24 "Credential Protection", Part 3 §12.6
//! TPM2_MakeCredential; KDFa and KDFe: Part 1 §11.4.10.2-3; secret sharing: Part 1 Annex B.10
//! (RSA-OAEP, label "IDENTITY\0") and C.6 (ECDH one-pass)).
//!
//! The verifier encrypts a secret to the EK so that only the TPM holding that EK, and only for
//! the AK with the given Name, can recover it (`tpm2_activatecredential`). The output is the
//! tpm2-tools credential-blob file: BE u32 magic 0xBADCC0DE, BE u32 version 1, TPM2B_ID_OBJECT,
//! TPM2B_ENCRYPTED_SECRET.

use alloc::vec::Vec;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::tpm::algorithm::{DigestBytes, EccCurve, HashAlg};
use crate::tpm::public::{ObjectAttributes, PublicArea, PublicKey};

/// The operating system's random generator, for callers with `std`.
#[cfg(feature = "std")]
pub use rand_core::OsRng;

/// TPM_ALG_AES.
const ALG_AES: u16 = 0x0006;
/// TPM_ALG_CFB.
const ALG_CFB: u16 = 0x0043;
/// Magic of tpm2-tools files.
pub const TPM2_TOOLS_MAGIC: u32 = 0xBADC_C0DE;

/// Why a credential could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The EK is not a restricted decryption key, so a TPM would not activate with it.
    #[error("the EK is not a restricted decryption (storage) key")]
    NotAStorageKey,
    /// The EK's symmetric algorithm is not AES-128/256 in CFB mode.
    #[error("EK symmetric algorithm {alg:#06x}/{bits} bits/mode {mode:#06x} not supported")]
    UnsupportedSymmetric {
        /// Algorithm.
        alg: u16,
        /// Key bits.
        bits: u16,
        /// Mode.
        mode: u16,
    },
    /// The EK's nameAlg is SHA-1, refused.
    #[error("EK nameAlg SHA-1 refused")]
    WeakNameAlg,
    /// The secret is longer than the EK's nameAlg digest (TPM limit) or empty.
    #[error("secret of {len} bytes: must be 1..={max}")]
    SecretLength {
        /// Given.
        len: usize,
        /// Allowed maximum.
        max: usize,
    },
    /// The EK's public key is not valid.
    #[error("the EK public key is invalid")]
    InvalidEk,
}

crate::error::error_codes!(CredentialError {
    CredentialError::NotAStorageKey => "not_a_storage_key", BadInput;
    CredentialError::UnsupportedSymmetric { .. } => "unsupported_symmetric", BadInput;
    CredentialError::WeakNameAlg => "weak_name_alg", Refusal;
    CredentialError::SecretLength { .. } => "secret_length", BadInput;
    CredentialError::InvalidEk => "invalid_ek", BadInput;
});

/// A credential for `tpm2_activatecredential`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialBlob {
    /// Contents of TPM2B_ID_OBJECT: TPM2B_DIGEST integrityHMAC || encIdentity.
    pub id_object: Vec<u8>,
    /// Contents of TPM2B_ENCRYPTED_SECRET (OAEP ciphertext, or a marshalled TPMS_ECC_POINT).
    pub encrypted_secret: Vec<u8>,
}

impl CredentialBlob {
    /// The file `tpm2_makecredential -o` writes and `tpm2_activatecredential -i` reads.
    pub fn to_tpm2_tools(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&TPM2_TOOLS_MAGIC.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        crate::wire::put_sized(&mut out, &self.id_object);
        crate::wire::put_sized(&mut out, &self.encrypted_secret);
        out
    }
}

fn hmac_parts(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> DigestBytes {
    macro_rules! run {
        ($h:ty) => {{
            match <Hmac<$h> as Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    for p in parts {
                        m.update(p);
                    }
                    DigestBytes::from_slice(&m.finalize().into_bytes())
                }
                Err(_) => DigestBytes::from_slice(&[]),
            }
        }};
    }
    match alg {
        HashAlg::Sha1 => run!(sha1::Sha1),
        HashAlg::Sha256 => run!(sha2::Sha256),
        HashAlg::Sha384 => run!(sha2::Sha384),
        HashAlg::Sha512 => run!(sha2::Sha512),
    }
}

/// KDFa (SP 800-108 counter mode with HMAC): `bits` of key from `key`, `label` (a NUL is
/// appended), `context_u`, `context_v`.
pub fn kdfa(
    alg: HashAlg,
    key: &[u8],
    label: &str,
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Zeroizing<Vec<u8>> {
    counter_kdf(bits, |counter| {
        hmac_parts(
            alg,
            key,
            &[
                &counter.to_be_bytes(),
                label.as_bytes(),
                &[0],
                context_u,
                context_v,
                &bits.to_be_bytes(),
            ],
        )
    })
}

/// KDFe (SP 800-56A concatenation KDF): `bits` of key from the shared `z`, `label` (a NUL is
/// appended), `party_u` and `party_v` (the x coordinates of the ephemeral and static keys).
pub fn kdfe(
    alg: HashAlg,
    z: &[u8],
    label: &str,
    party_u: &[u8],
    party_v: &[u8],
    bits: u32,
) -> Zeroizing<Vec<u8>> {
    counter_kdf(bits, |counter| {
        alg.digest(&[
            &counter.to_be_bytes(),
            z,
            label.as_bytes(),
            &[0],
            party_u,
            party_v,
        ])
    })
}

/// The counter-mode skeleton KDFa and KDFe share (TPM 2.0 Part 1 §11.4.10): blocks for
/// counter = 1, 2, ... concatenated and cut to `bits`. An empty block (which neither HMAC nor a
/// hash gives) ends the loop instead of spinning; the short key then fails where it is used.
fn counter_kdf(bits: u32, mut block: impl FnMut(u32) -> DigestBytes) -> Zeroizing<Vec<u8>> {
    let len = bits.div_ceil(8) as usize;
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut counter = 1u32;
    while out.len() < len {
        let b = block(counter);
        if b.as_bytes().is_empty() {
            break;
        }
        out.extend_from_slice(b.as_bytes());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// Makes a credential protecting `secret` for the AK named `ak_name` under `ek`.
pub fn make_credential(
    ek: &PublicArea<'_>,
    ak_name: &[u8],
    secret: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<CredentialBlob, CredentialError> {
    if !ek
        .attributes
        .has(ObjectAttributes::RESTRICTED | ObjectAttributes::DECRYPT)
    {
        return Err(CredentialError::NotAStorageKey);
    }
    let name_alg = ek.name_alg;
    if name_alg == HashAlg::Sha1 {
        return Err(CredentialError::WeakNameAlg);
    }
    let sym_bits = ek.symmetric_bits;
    if ek.symmetric != ALG_AES
        || ek.symmetric_mode != ALG_CFB
        || !(sym_bits == 128 || sym_bits == 256)
    {
        return Err(CredentialError::UnsupportedSymmetric {
            alg: ek.symmetric,
            bits: sym_bits,
            mode: ek.symmetric_mode,
        });
    }
    let max = name_alg.digest_len();
    if secret.is_empty() || secret.len() > max {
        return Err(CredentialError::SecretLength {
            len: secret.len(),
            max,
        });
    }
    let (seed, encrypted_secret) = share_seed(ek, "IDENTITY", rng)?;

    let sym_key = kdfa(
        name_alg,
        &seed,
        "STORAGE",
        ak_name,
        &[],
        u32::from(sym_bits),
    );
    let mut enc_identity = Zeroizing::new(Vec::with_capacity(2 + secret.len()));
    crate::wire::put_sized(&mut enc_identity, secret);
    let iv = [0u8; 16];
    match sym_bits {
        128 => cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(&sym_key, &iv)
            .map_err(|_| CredentialError::InvalidEk)?
            .encrypt(&mut enc_identity),
        _ => cfb_mode::Encryptor::<aes::Aes256>::new_from_slices(&sym_key, &iv)
            .map_err(|_| CredentialError::InvalidEk)?
            .encrypt(&mut enc_identity),
    }
    let hmac_key = kdfa(name_alg, &seed, "INTEGRITY", &[], &[], (max * 8) as u32);
    let integrity = hmac_parts(name_alg, &hmac_key, &[&enc_identity, ak_name]);
    let mut id_object = Vec::new();
    crate::wire::put_sized(&mut id_object, integrity.as_bytes());
    id_object.extend_from_slice(&enc_identity);
    Ok(CredentialBlob {
        id_object,
        encrypted_secret,
    })
}

/// A seed of the key's nameAlg size and its encryption to `ek` (Part 1 §11.4.10: RSA-OAEP with
/// the label `label` and a NUL, or one-pass ECDH and KDFe with `label`): "IDENTITY" for
/// credentials, "SECRET" for the salt of a session (Part 3 §11.1).
pub(crate) fn share_seed(
    ek: &PublicArea<'_>,
    label: &str,
    rng: &mut dyn CryptoRngCore,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CredentialError> {
    let name_alg = ek.name_alg;
    let bits = (name_alg.digest_len() * 8) as u32;
    match ek.key {
        PublicKey::Rsa {
            modulus, exponent, ..
        } => {
            use rsa::{BigUint, Oaep, RsaPublicKey};
            let key = RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from(exponent))
                .map_err(|_| CredentialError::InvalidEk)?;
            let mut seed = Zeroizing::new(alloc::vec![0u8; name_alg.digest_len()]);
            rng.fill_bytes(&mut seed);
            let label = alloc::format!("{label}\0");
            let padding = match name_alg {
                HashAlg::Sha384 => Oaep::new_with_label::<sha2::Sha384, _>(label),
                HashAlg::Sha512 => Oaep::new_with_label::<sha2::Sha512, _>(label),
                _ => Oaep::new_with_label::<sha2::Sha256, _>(label),
            };
            let mut rng = RngRef(rng);
            let enc = key
                .encrypt(&mut rng, padding, &seed)
                .map_err(|_| CredentialError::InvalidEk)?;
            Ok((seed, enc))
        }
        PublicKey::Ecc { curve, x, y } => {
            macro_rules! ecdh {
                ($c:ident, $n:expr) => {{
                    let (x, y) = match (
                        crate::wire::left_pad::<$n>(x),
                        crate::wire::left_pad::<$n>(y),
                    ) {
                        (Some(x), Some(y)) => (x, y),
                        _ => return Err(CredentialError::InvalidEk),
                    };
                    let point =
                        $c::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                    let ek_key = Option::<$c::PublicKey>::from(
                        $c::PublicKey::from_sec1_bytes(point.as_bytes()).ok(),
                    )
                    .ok_or(CredentialError::InvalidEk)?;
                    let mut rng = RngRef(rng);
                    let eph = $c::ecdh::EphemeralSecret::random(&mut rng);
                    let eph_pub = $c::EncodedPoint::from(eph.public_key());
                    let shared = eph.diffie_hellman(&ek_key);
                    let (ex, ey) = match (eph_pub.x(), eph_pub.y()) {
                        (Some(ex), Some(ey)) => (ex.to_vec(), ey.to_vec()),
                        _ => return Err(CredentialError::InvalidEk),
                    };
                    let seed = kdfe(name_alg, shared.raw_secret_bytes(), label, &ex, &x, bits);
                    let mut point = Vec::new();
                    crate::wire::put_sized(&mut point, &ex);
                    crate::wire::put_sized(&mut point, &ey);
                    Ok((seed, point))
                }};
            }
            match curve {
                EccCurve::NistP256 => ecdh!(p256, 32),
                EccCurve::NistP384 => ecdh!(p384, 48),
            }
        }
    }
}

/// Adapts `&mut dyn CryptoRngCore` to the `CryptoRngCore + Sized` the RustCrypto APIs take.
struct RngRef<'r>(&'r mut dyn CryptoRngCore);

impl rand_core::RngCore for RngRef<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl rand_core::CryptoRng for RngRef<'_> {}
