//! TPMS_ATTEST (TPM 2.0 Part 2 §10.12.12): the structure a TPM signs in TPM2_Quote
//! (TPMS_QUOTE_INFO, §10.12.4) and TPM2_Certify (TPMS_CERTIFY_INFO, §10.12.3).
//!
//! Zero-copy: names, nonce and digest borrow from the input. The magic must be
//! TPM_GENERATED_VALUE; only quote and certify are accepted; trailing bytes are an error.

use crate::error::ParseError;
use crate::tpm::pcr_selection::PcrSelectionList;
use crate::wire::Reader;
#[cfg(feature = "alloc")]
use crate::wire::put_sized;

/// TPM_GENERATED_VALUE: a restricted signing key only signs data that the TPM made and that
/// starts with this value.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_QUOTE.
pub const ST_ATTEST_QUOTE: u16 = 0x8018;
/// TPM_ST_ATTEST_CERTIFY.
pub const ST_ATTEST_CERTIFY: u16 = 0x8017;
/// Largest TPM2B_NAME: a hash algorithm id and a SHA-512 digest.
pub const MAX_NAME_LEN: usize = 2 + 64;
/// Largest TPM2B_DATA (sizeof(TPMT_HA)).
pub const MAX_DATA_LEN: usize = 2 + 64;
/// Largest TPM2B_DIGEST.
pub const MAX_DIGEST_LEN: usize = 64;

/// TPMS_CLOCK_INFO (§10.11.1): time and boot counters at signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered since the last TPM2_Clear.
    pub clock: u64,
    /// TPM Resets (reboots) since the last TPM2_Clear.
    pub reset_count: u32,
    /// TPM Restarts and Resumes since the last Reset.
    pub restart_count: u32,
    /// YES when no greater Clock value was reported before (no unorderly shutdown lost time).
    pub safe: bool,
}

/// TPMS_QUOTE_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteInfo<'a> {
    /// The PCRs quoted.
    pub pcr_select: PcrSelectionList,
    /// Hash (with the signing scheme's hash) of the selected PCR values, concatenated.
    pub pcr_digest: &'a [u8],
}

/// TPMS_CERTIFY_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertifyInfo<'a> {
    /// Name of the certified object.
    pub name: &'a [u8],
    /// Qualified Name of the certified object.
    pub qualified_name: &'a [u8],
}

/// The type-specific part of a TPMS_ATTEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attested<'a> {
    /// TPM2_Quote output.
    Quote(QuoteInfo<'a>),
    /// TPM2_Certify output.
    Certify(CertifyInfo<'a>),
}

/// A parsed TPMS_ATTEST borrowing from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attest<'a> {
    /// Qualified Name of the signing key.
    pub qualified_signer: &'a [u8],
    /// extraData: the verifier's nonce (qualifying data).
    pub extra_data: &'a [u8],
    /// Clock and boot counters.
    pub clock_info: ClockInfo,
    /// Vendor-specific firmware version.
    pub firmware_version: u64,
    /// Quote or certify information.
    pub attested: Attested<'a>,
}

impl<'a> Attest<'a> {
    /// Parses a complete TPMS_ATTEST (the `-m` file of `tpm2_quote`).
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(input);
        let magic = r.u32("TPMS_ATTEST.magic")?;
        if magic != TPM_GENERATED_VALUE {
            return Err(ParseError::NotTpmGenerated { found: magic });
        }
        let kind = r.u16("TPMS_ATTEST.type")?;
        if kind != ST_ATTEST_QUOTE && kind != ST_ATTEST_CERTIFY {
            return Err(ParseError::UnsupportedAttestationType { found: kind });
        }
        let qualified_signer = r.sized("TPMS_ATTEST.qualifiedSigner", MAX_NAME_LEN)?;
        let extra_data = r.sized("TPMS_ATTEST.extraData", MAX_DATA_LEN)?;
        let clock_info = ClockInfo {
            clock: r.u64("TPMS_CLOCK_INFO.clock")?,
            reset_count: r.u32("TPMS_CLOCK_INFO.resetCount")?,
            restart_count: r.u32("TPMS_CLOCK_INFO.restartCount")?,
            safe: r.yes_no("TPMS_CLOCK_INFO.safe")?,
        };
        let firmware_version = r.u64("TPMS_ATTEST.firmwareVersion")?;
        let attested = if kind == ST_ATTEST_QUOTE {
            let pcr_select = PcrSelectionList::decode(&mut r)?;
            let pcr_digest = r.sized("TPMS_QUOTE_INFO.pcrDigest", MAX_DIGEST_LEN)?;
            Attested::Quote(QuoteInfo {
                pcr_select,
                pcr_digest,
            })
        } else {
            Attested::Certify(CertifyInfo {
                name: r.sized("TPMS_CERTIFY_INFO.name", MAX_NAME_LEN)?,
                qualified_name: r.sized("TPMS_CERTIFY_INFO.qualifiedName", MAX_NAME_LEN)?,
            })
        };
        r.finish("TPMS_ATTEST")?;
        Ok(Attest {
            qualified_signer,
            extra_data,
            clock_info,
            firmware_version,
            attested,
        })
    }

    /// The quote information, if this is a quote.
    pub fn quote(&self) -> Option<&QuoteInfo<'a>> {
        match &self.attested {
            Attested::Quote(q) => Some(q),
            Attested::Certify(_) => None,
        }
    }

    /// Marshals the structure again (TPM wire format); `parse(to_bytes(a)) == a`.
    #[cfg(feature = "alloc")]
    pub fn to_bytes(&self) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::new();
        out.extend_from_slice(&TPM_GENERATED_VALUE.to_be_bytes());
        let kind = match self.attested {
            Attested::Quote(_) => ST_ATTEST_QUOTE,
            Attested::Certify(_) => ST_ATTEST_CERTIFY,
        };
        out.extend_from_slice(&kind.to_be_bytes());
        put_sized(&mut out, self.qualified_signer);
        put_sized(&mut out, self.extra_data);
        out.extend_from_slice(&self.clock_info.clock.to_be_bytes());
        out.extend_from_slice(&self.clock_info.reset_count.to_be_bytes());
        out.extend_from_slice(&self.clock_info.restart_count.to_be_bytes());
        out.push(u8::from(self.clock_info.safe));
        out.extend_from_slice(&self.firmware_version.to_be_bytes());
        match &self.attested {
            Attested::Quote(q) => {
                out.extend_from_slice(&q.pcr_select.to_bytes());
                put_sized(&mut out, q.pcr_digest);
            }
            Attested::Certify(c) => {
                put_sized(&mut out, c.name);
                put_sized(&mut out, c.qualified_name);
            }
        }
        out
    }
}
