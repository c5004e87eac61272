//! TPMT_SIGNATURE (TPM 2.0 Part 2 §11.3.4): ECDSA (TPMS_SIGNATURE_ECC) and RSASSA/RSAPSS
//! (TPMS_SIGNATURE_RSA) signatures, as `tpm2_quote -s` writes them.

use crate::error::ParseError;
use crate::tpm::algorithm::{ALG_ECDSA, ALG_RSAPSS, ALG_RSASSA, HashAlg};
use crate::wire::Reader;

/// Largest ECC scalar accepted (P-384).
pub const MAX_ECC_SCALAR: usize = 48;
/// Largest RSA signature accepted (4096-bit keys).
pub const MAX_RSA_SIGNATURE: usize = 512;

/// A parsed TPMT_SIGNATURE borrowing from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpmSignature<'a> {
    /// TPM_ALG_ECDSA.
    Ecdsa {
        /// Hash of the signing scheme.
        hash: HashAlg,
        /// signatureR, big-endian.
        r: &'a [u8],
        /// signatureS, big-endian.
        s: &'a [u8],
    },
    /// TPM_ALG_RSASSA (PKCS#1 v1.5).
    RsaSsa {
        /// Hash of the signing scheme.
        hash: HashAlg,
        /// The signature.
        sig: &'a [u8],
    },
    /// TPM_ALG_RSAPSS.
    RsaPss {
        /// Hash of the signing scheme.
        hash: HashAlg,
        /// The signature.
        sig: &'a [u8],
    },
}

impl<'a> TpmSignature<'a> {
    /// Parses a complete TPMT_SIGNATURE; a NULL (unsigned) signature is refused.
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(input);
        let alg = r.u16("TPMT_SIGNATURE.sigAlg")?;
        let sig = match alg {
            ALG_ECDSA => {
                let hash =
                    HashAlg::parse(r.u16("TPMS_SIGNATURE_ECC.hash")?, "TPMS_SIGNATURE_ECC.hash")?;
                let sr = r.sized("TPMS_SIGNATURE_ECC.signatureR", MAX_ECC_SCALAR)?;
                let ss = r.sized("TPMS_SIGNATURE_ECC.signatureS", MAX_ECC_SCALAR)?;
                TpmSignature::Ecdsa { hash, r: sr, s: ss }
            }
            ALG_RSASSA | ALG_RSAPSS => {
                let hash =
                    HashAlg::parse(r.u16("TPMS_SIGNATURE_RSA.hash")?, "TPMS_SIGNATURE_RSA.hash")?;
                let sig = r.sized("TPMS_SIGNATURE_RSA.sig", MAX_RSA_SIGNATURE)?;
                if alg == ALG_RSASSA {
                    TpmSignature::RsaSsa { hash, sig }
                } else {
                    TpmSignature::RsaPss { hash, sig }
                }
            }
            _ => {
                return Err(ParseError::UnsupportedAlgorithm {
                    field: "TPMT_SIGNATURE.sigAlg",
                    alg,
                });
            }
        };
        r.finish("TPMT_SIGNATURE")?;
        Ok(sig)
    }

    /// The hash algorithm of the signing scheme (also the pcrDigest hash of a quote).
    pub fn hash(&self) -> HashAlg {
        match *self {
            TpmSignature::Ecdsa { hash, .. }
            | TpmSignature::RsaSsa { hash, .. }
            | TpmSignature::RsaPss { hash, .. } => hash,
        }
    }

    /// The TPM_ALG_ID of the scheme.
    pub fn scheme_id(&self) -> u16 {
        match self {
            TpmSignature::Ecdsa { .. } => ALG_ECDSA,
            TpmSignature::RsaSsa { .. } => ALG_RSASSA,
            TpmSignature::RsaPss { .. } => ALG_RSAPSS,
        }
    }

    /// Marshals the signature again; `parse(to_bytes(s)) == s`.
    #[cfg(feature = "alloc")]
    pub fn to_bytes(&self) -> alloc::vec::Vec<u8> {
        use crate::wire::put_sized;
        let mut out = alloc::vec::Vec::new();
        out.extend_from_slice(&self.scheme_id().to_be_bytes());
        out.extend_from_slice(&self.hash().id().to_be_bytes());
        match self {
            TpmSignature::Ecdsa { r, s, .. } => {
                put_sized(&mut out, r);
                put_sized(&mut out, s);
            }
            TpmSignature::RsaSsa { sig, .. } | TpmSignature::RsaPss { sig, .. } => {
                put_sized(&mut out, sig)
            }
        }
        out
    }
}
