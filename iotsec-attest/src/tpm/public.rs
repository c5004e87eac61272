//! TPM2B_PUBLIC / TPMT_PUBLIC (TPM 2.0 Part 2 §12.2.4-§12.2.5) for RSA and ECC keys, their
//! object attributes (§8.3, TPMA_OBJECT) and the object Name (Part 1 §16: nameAlg ||
//! H_nameAlg(TPMT_PUBLIC)).

use crate::error::ParseError;
use crate::tpm::algorithm::{
    ALG_ECC, ALG_ECDAA, ALG_KEYEDHASH, ALG_NULL, ALG_RSA, ALG_RSAES, ALG_XOR, DigestBytes,
    EccCurve, HashAlg,
};
use crate::wire::Reader;

/// Largest RSA modulus accepted (4096 bits).
pub const MAX_RSA_MODULUS: usize = 512;
/// Largest ECC coordinate accepted (P-384).
pub const MAX_ECC_COORDINATE: usize = 48;
/// Largest authPolicy digest.
pub const MAX_POLICY_LEN: usize = 64;

/// TPMA_OBJECT bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    /// fixedTPM: the key cannot leave this TPM.
    pub const FIXED_TPM: u32 = 1 << 1;
    /// fixedParent: the key cannot be moved to another parent.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// sensitiveDataOrigin: the TPM generated the private part.
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// userWithAuth.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// restricted: the key signs only TPM-generated data (no TPM_GENERATED_VALUE forgery).
    pub const RESTRICTED: u32 = 1 << 16;
    /// decrypt.
    pub const DECRYPT: u32 = 1 << 17;
    /// sign / encrypt.
    pub const SIGN: u32 = 1 << 18;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u32) -> bool {
        self.0 & mask == mask
    }
}

/// The public key material of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKey<'a> {
    /// An RSA key.
    Rsa {
        /// Modulus, big-endian.
        modulus: &'a [u8],
        /// Public exponent (0 in the structure means 65537; resolved here).
        exponent: u32,
        /// keyBits of the parameters.
        key_bits: u16,
    },
    /// An ECC key.
    Ecc {
        /// The curve.
        curve: EccCurve,
        /// X coordinate, big-endian.
        x: &'a [u8],
        /// Y coordinate, big-endian.
        y: &'a [u8],
    },
}

/// A scheme with its hash (TPMT_RSA_SCHEME / TPMT_ECC_SCHEME), or none (TPM_ALG_NULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    /// The scheme's TPM_ALG_ID (TPM_ALG_NULL when the key takes any).
    pub scheme: u16,
    /// The scheme's hash, when it has one.
    pub hash: Option<u16>,
}

/// Where a public key came from, which decides what is known about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// A TPMT_PUBLIC: the TPM's object attributes are known.
    TpmPublic,
    /// A bare key (PEM/DER SubjectPublicKeyInfo): the attributes are unknown, so nothing shows
    /// that it is a restricted TPM key.
    BareKey,
}

/// A parsed TPMT_PUBLIC borrowing from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicArea<'a> {
    /// The marshalled TPMT_PUBLIC (what the Name hashes).
    pub tpmt: &'a [u8],
    /// nameAlg.
    pub name_alg: HashAlg,
    /// objectAttributes.
    pub attributes: ObjectAttributes,
    /// authPolicy.
    pub auth_policy: &'a [u8],
    /// symmetric algorithm of a storage/decryption parent (TPM_ALG_NULL for a signing key).
    pub symmetric: u16,
    /// Key size of `symmetric` in bits (0 when NULL).
    pub symmetric_bits: u16,
    /// Mode of `symmetric` (TPM_ALG_CFB for EKs; 0 when NULL).
    pub symmetric_mode: u16,
    /// Signing or decryption scheme.
    pub scheme: Scheme,
    /// The key.
    pub key: PublicKey<'a>,
    /// Whether this came from a TPMT_PUBLIC or a bare key.
    pub origin: KeyOrigin,
}

impl<'a> PublicArea<'a> {
    /// A key known only as a bare public key (a PEM SubjectPublicKeyInfo, a test vector): no
    /// TPMT_PUBLIC bytes, no attributes, no scheme, origin [`KeyOrigin::BareKey`], so appraisal
    /// cannot take it for a restricted TPM key.
    pub fn bare(key: PublicKey<'a>) -> Self {
        PublicArea {
            tpmt: &[],
            name_alg: HashAlg::Sha256,
            attributes: ObjectAttributes(0),
            auth_policy: &[],
            symmetric: ALG_NULL,
            symmetric_bits: 0,
            symmetric_mode: 0,
            scheme: Scheme {
                scheme: ALG_NULL,
                hash: None,
            },
            key,
            origin: KeyOrigin::BareKey,
        }
    }

    /// Parses a complete TPM2B_PUBLIC (`tpm2_createak -u`, `tpm2_readpublic -o`); the size
    /// prefix must cover exactly the TPMT_PUBLIC.
    pub fn parse_tpm2b(input: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(input);
        let body = r.sized(
            "TPM2B_PUBLIC.size",
            2 + 2 + 4 + 2 + MAX_POLICY_LEN + 16 + 2 + 2 * (2 + MAX_RSA_MODULUS),
        )?;
        r.finish("TPM2B_PUBLIC")?;
        Self::parse_tpmt(body)
    }

    /// Parses a complete TPMT_PUBLIC.
    pub fn parse_tpmt(tpmt: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(tpmt);
        let kind = r.u16("TPMT_PUBLIC.type")?;
        let name_alg = HashAlg::parse(r.u16("TPMT_PUBLIC.nameAlg")?, "TPMT_PUBLIC.nameAlg")?;
        let attributes = ObjectAttributes(r.u32("TPMT_PUBLIC.objectAttributes")?);
        let auth_policy = r.sized("TPMT_PUBLIC.authPolicy", MAX_POLICY_LEN)?;
        let (symmetric, symmetric_bits, symmetric_mode) = read_symmetric(&mut r)?;
        let (scheme, key) = match kind {
            ALG_RSA => {
                let scheme = read_scheme(&mut r, "TPMS_RSA_PARMS.scheme")?;
                let key_bits = r.u16("TPMS_RSA_PARMS.keyBits")?;
                let exponent = match r.u32("TPMS_RSA_PARMS.exponent")? {
                    0 => 65537,
                    e => e,
                };
                let modulus = r.sized("TPM2B_PUBLIC_KEY_RSA", MAX_RSA_MODULUS)?;
                if modulus.len() * 8 != usize::from(key_bits) {
                    return Err(ParseError::BadCoordinateLength {
                        field: "TPM2B_PUBLIC_KEY_RSA",
                        size: modulus.len(),
                    });
                }
                (
                    scheme,
                    PublicKey::Rsa {
                        modulus,
                        exponent,
                        key_bits,
                    },
                )
            }
            ALG_ECC => {
                let scheme = read_scheme(&mut r, "TPMS_ECC_PARMS.scheme")?;
                let curve = EccCurve::parse(r.u16("TPMS_ECC_PARMS.curveID")?)?;
                let kdf = r.u16("TPMS_ECC_PARMS.kdf")?;
                if kdf != ALG_NULL {
                    let _kdf_hash = r.u16("TPMT_KDF_SCHEME.hashAlg")?;
                }
                let x = r.sized("TPMS_ECC_POINT.x", MAX_ECC_COORDINATE)?;
                let y = r.sized("TPMS_ECC_POINT.y", MAX_ECC_COORDINATE)?;
                for (field, c) in [("TPMS_ECC_POINT.x", x), ("TPMS_ECC_POINT.y", y)] {
                    if c.len() > curve.field_len() {
                        return Err(ParseError::BadCoordinateLength {
                            field,
                            size: c.len(),
                        });
                    }
                }
                (scheme, PublicKey::Ecc { curve, x, y })
            }
            alg => {
                return Err(ParseError::UnsupportedAlgorithm {
                    field: "TPMT_PUBLIC.type",
                    alg,
                });
            }
        };
        r.finish("TPMT_PUBLIC")?;
        Ok(PublicArea {
            tpmt,
            name_alg,
            attributes,
            auth_policy,
            symmetric,
            symmetric_bits,
            symmetric_mode,
            scheme,
            key,
            origin: KeyOrigin::TpmPublic,
        })
    }

    /// The object's Name: nameAlg (big-endian) followed by H_nameAlg(TPMT_PUBLIC).
    pub fn name(&self) -> Name {
        let digest = self.name_alg.digest(&[self.tpmt]);
        Name::from_parts(self.name_alg, &digest)
    }
}

/// An object Name or qualified Name: a hash algorithm id and a digest (at most 66 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; 66],
    len: usize,
}

impl Name {
    /// The Name `alg || digest`.
    pub fn from_parts(alg: HashAlg, digest: &DigestBytes) -> Self {
        let mut bytes = [0u8; 66];
        let d = digest.as_bytes();
        let len = 2 + d.len();
        if let Some(head) = bytes.get_mut(..2) {
            head.copy_from_slice(&alg.id().to_be_bytes());
        }
        if let Some(dst) = bytes.get_mut(2..len) {
            dst.copy_from_slice(d);
        }
        Name { bytes, len }
    }

    /// The Name of a permanent handle (4 bytes, the handle itself), e.g. TPM_RH_ENDORSEMENT.
    pub fn of_handle(handle: u32) -> Self {
        let mut bytes = [0u8; 66];
        if let Some(dst) = bytes.get_mut(..4) {
            dst.copy_from_slice(&handle.to_be_bytes());
        }
        Name { bytes, len: 4 }
    }

    /// The marshalled Name.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The qualified Name of a child with Name `child` under a parent whose qualified Name is
    /// `self` (Part 1 §16.6): `alg || H_alg(QN_parent || Name_child)`.
    pub fn qualify(&self, alg: HashAlg, child: &Name) -> Name {
        let digest = alg.digest(&[self.as_bytes(), child.as_bytes()]);
        Name::from_parts(alg, &digest)
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// TPM_RH_ENDORSEMENT, the hierarchy an EK and its AKs live in.
pub const RH_ENDORSEMENT: u32 = 0x4000_000B;

fn read_symmetric(r: &mut Reader<'_>) -> Result<(u16, u16, u16), ParseError> {
    let alg = r.u16("TPMT_SYM_DEF_OBJECT.algorithm")?;
    Ok(match alg {
        ALG_NULL => (alg, 0, 0),
        ALG_XOR => (alg, r.u16("TPMT_SYM_DEF_OBJECT.keyBits")?, 0),
        _ => (
            alg,
            r.u16("TPMT_SYM_DEF_OBJECT.keyBits")?,
            r.u16("TPMT_SYM_DEF_OBJECT.mode")?,
        ),
    })
}

fn read_scheme(r: &mut Reader<'_>, field: &'static str) -> Result<Scheme, ParseError> {
    let scheme = r.u16(field)?;
    let hash = match scheme {
        ALG_NULL | ALG_RSAES => None,
        ALG_KEYEDHASH => {
            return Err(ParseError::UnsupportedAlgorithm { field, alg: scheme });
        }
        ALG_ECDAA => {
            let h = r.u16(field)?;
            r.u16(field)?;
            Some(h)
        }
        _ => Some(r.u16(field)?),
    };
    Ok(Scheme { scheme, hash })
}
