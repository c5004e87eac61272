//! TPM evidence of a fleet device: one TPM2_Quote (TPM 2.0 Part 3 §18.4) with everything a
//! verifier needs in one bounded message, the firmware PCR a device extends, and the appraisal
//! of that evidence against the attestation key registered for the device.
//!
//! Wire format (all sizes big-endian u16, each field bounded before it is read):
//!
//! ```text
//! magic "IOTQ" | version 1 | AK TPM2B_PUBLIC | TPMS_ATTEST | TPMT_SIGNATURE | PCR values
//! ```
//! where each of the four parts is `u16 length || bytes`; the PCR values are in tpm2-tools'
//! serialized format (`tpm2_quote -o`, [`crate::tpm::pcr_file`]). Hand-written because it is four
//! length-prefixed fields with the crate's own bounded reader; no format crate fits.
//!
//! Measurement: the device extends SHA-256 PCR [`FIRMWARE_PCR`] once from its reset value (all
//! zeros) with the SHA-256 of its running firmware image, so the reference value of a firmware
//! image is `SHA-256(0^32 || image_sha256)` ([`firmware_pcr_value`], Part 1 §17.2 PCR extend).
//!
//! AK binding: the first accepted evidence of a device registers its AK Name for that device
//! (the caller stores it, keyed by the device's certificate identity, unique across devices);
//! from then on only that AK is accepted for the device ([`AkBinding`]), and an AK registered
//! for another device is refused whatever the device.

use std::vec::Vec;

use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::appraise::policy::AppraisalPolicy;
use crate::appraise::quote::appraise_quote;
use crate::appraise::result::{Claim, QuoteAppraisal, Tier};
use crate::appraise::{QuoteEvidence, evidence::PcrSource};
use crate::error::ParseError;
use crate::tpm::algorithm::HashAlg;
use crate::tpm::pcr_file::SerializedPcrs;
use crate::tpm::public::PublicArea;
use crate::verify::SignatureVerifier;
use crate::wire::Reader;

/// The SHA-256 PCR the device extends with its firmware digest (PC Client: PCR 23,
/// application support, resettable from locality 0, so an agent that restarts without a TPM
/// reset measures from a known state).
pub const FIRMWARE_PCR: u8 = 23;
/// Largest TPM evidence accepted (bytes): an RSA-2048 AK public area, quote and signature and a
/// few PCRs fit in well under half of it.
pub const MAX_TPM_EVIDENCE_LEN: usize = 4096;
const MAGIC: &[u8; 4] = b"IOTQ";
const VERSION: u8 = 1;
/// Cap of each part (a part can never be larger than the whole).
const PART_CAP: usize = MAX_TPM_EVIDENCE_LEN;

/// The reference value of [`FIRMWARE_PCR`] for a firmware image with SHA-256 `image_sha256`:
/// one extend from the reset value, `SHA-256(0^32 || image_sha256)`.
pub fn firmware_pcr_value(image_sha256: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update([0u8; 32]);
    h.update(image_sha256);
    h.finalize().into()
}

/// Parsed TPM evidence (borrowed from the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpmEvidence<'a> {
    /// The AK's TPM2B_PUBLIC (as TPM2_ReadPublic returns it).
    pub ak_public: &'a [u8],
    /// TPMS_ATTEST of the quote.
    pub attest: &'a [u8],
    /// TPMT_SIGNATURE over it.
    pub signature: &'a [u8],
    /// The quoted PCR values, tpm2-tools serialized format.
    pub pcrs: &'a [u8],
}

impl<'a> TpmEvidence<'a> {
    /// Parses the wire format; every part is checked to parse as what it claims to be.
    pub fn parse(input: &'a [u8]) -> Result<Self, TpmEvidenceError> {
        if input.len() > MAX_TPM_EVIDENCE_LEN {
            return Err(TpmEvidenceError::TooLarge {
                len: input.len(),
                cap: MAX_TPM_EVIDENCE_LEN,
            });
        }
        let mut r = Reader::new(input);
        if r.bytes(4, "tpm evidence magic")? != MAGIC {
            return Err(TpmEvidenceError::UnknownFormat);
        }
        if r.u8("tpm evidence version")? != VERSION {
            return Err(TpmEvidenceError::UnknownFormat);
        }
        let ak_public = r.sized("tpm evidence AK public", PART_CAP)?;
        let attest = r.sized("tpm evidence attest", PART_CAP)?;
        let signature = r.sized("tpm evidence signature", PART_CAP)?;
        let pcrs = r.sized("tpm evidence pcrs", PART_CAP)?;
        r.finish("tpm evidence")?;
        PublicArea::parse_tpm2b(ak_public)?;
        crate::tpm::signature::TpmSignature::parse(signature)?;
        SerializedPcrs::parse(pcrs)?;
        Ok(TpmEvidence {
            ak_public,
            attest,
            signature,
            pcrs,
        })
    }

    /// The wire format of this evidence; `None` when a part is over [`MAX_TPM_EVIDENCE_LEN`]
    /// or the whole would be.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(MAX_TPM_EVIDENCE_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        for part in [self.ak_public, self.attest, self.signature, self.pcrs] {
            let len = u16::try_from(part.len()).ok()?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part);
        }
        (out.len() <= MAX_TPM_EVIDENCE_LEN).then_some(out)
    }

    /// The AK's Name (nameAlg || H(TPMT_PUBLIC)), the identity the cloud registers.
    pub fn ak_name(&self) -> Result<Vec<u8>, TpmEvidenceError> {
        Ok(PublicArea::parse_tpm2b(self.ak_public)?
            .name()
            .as_bytes()
            .to_vec())
    }
}

/// Which AK the verifier holds for the presenting device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AkBinding<'a> {
    /// No AK registered for this device yet, and the offered AK is not registered for another
    /// device: the first accepted evidence registers it.
    FirstUse,
    /// The AK Name registered for this device.
    Registered(&'a [u8]),
    /// The offered AK is registered for another device.
    OtherDevice,
}

/// What the verifier expects of a device's TPM evidence.
#[derive(Clone, Copy)]
pub struct TpmExpectations<'a> {
    /// The nonce the verifier issued to this device (the quote's qualifying data).
    pub nonce: &'a [u8],
    /// The AK binding of the presenting device.
    pub ak: AkBinding<'a>,
    /// SHA-256 digests of the accepted firmware images.
    pub firmware_references: &'a [[u8; 32]],
    /// The signature verifier.
    pub verifier: &'a dyn SignatureVerifier,
}

/// Accepted TPM evidence.
#[derive(Debug, Clone)]
pub struct AcceptedTpmEvidence {
    /// The AK Name (to register on first use).
    pub ak_name: Vec<u8>,
    /// Index in `firmware_references` of the firmware the quoted PCR shows.
    pub firmware: usize,
    /// The quoted value of [`FIRMWARE_PCR`].
    pub firmware_pcr: [u8; 32],
    /// The full appraisal (claims, clock).
    pub appraisal: QuoteAppraisal,
}

/// Why TPM evidence was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TpmEvidenceError {
    /// Longer than [`MAX_TPM_EVIDENCE_LEN`].
    #[error("TPM evidence of {len} bytes exceeds {cap}")]
    TooLarge {
        /// Offered length.
        len: usize,
        /// Cap.
        cap: usize,
    },
    /// Not this format or version.
    #[error("not iotsec TPM evidence (magic or version)")]
    UnknownFormat,
    /// A part does not parse.
    #[error("malformed TPM evidence: {0}")]
    Malformed(#[from] ParseError),
    /// The AK is registered for another device: a device presents a TPM that is not its own.
    #[error("the attestation key is registered for another device")]
    AkBoundToOtherDevice,
    /// The device has a registered AK and this is another one.
    #[error("the attestation key is not the one registered for this device")]
    AkNotRegistered,
    /// The quote appraisal refused a claim (the first contraindicated one).
    #[error("the quote was refused: {claim:?}")]
    QuoteRefused {
        /// The refused claim.
        claim: Claim,
    },
    /// The quoted firmware PCR is not the value of any reference firmware.
    #[error("the firmware PCR is not the value of a reference firmware")]
    UnknownFirmware,
}

crate::error::error_codes!(TpmEvidenceError {
    TpmEvidenceError::TooLarge { .. } => "tpm_evidence_too_large", BadInput;
    TpmEvidenceError::UnknownFormat => "unknown_format", BadInput;
    TpmEvidenceError::Malformed(_) => "malformed", BadInput;
    TpmEvidenceError::AkBoundToOtherDevice => "ak_bound_to_other_device", Refusal;
    TpmEvidenceError::AkNotRegistered => "ak_not_registered", Refusal;
    // `kind()` does not read the claim.
    #[allow(unused_variables)]
    TpmEvidenceError::QuoteRefused { claim } => claim_code(*claim), Refusal;
    TpmEvidenceError::UnknownFirmware => "unknown_firmware", Refusal;
});

/// The stable code of a refused quote claim.
fn claim_code(claim: Claim) -> &'static str {
    match claim {
        Claim::AkAttributes => "ak_attributes",
        Claim::Signature => "bad_signature",
        Claim::QuoteStructure => "not_a_quote",
        Claim::QualifiedSigner => "qualified_signer_mismatch",
        Claim::Nonce => "nonce_mismatch",
        Claim::Freshness => "not_fresh",
        Claim::FirmwareVersion => "tpm_firmware_version",
        Claim::PcrBanks => "pcr_bank_refused",
        Claim::PcrDigest => "pcr_digest_mismatch",
        Claim::ReferenceValues => "unknown_firmware",
        Claim::EventLog => "event_log",
    }
}

/// Appraises TPM evidence in this order: the AK binding (an AK registered for another device,
/// or not the one registered for this device, is refused before anything else), then the quote
/// ([`appraise_quote`]: AK attributes, signature, structure, nonce, PCR digest) with the policy
/// "SHA-256 PCR [`FIRMWARE_PCR`] is the value of one of the reference firmware images".
pub fn appraise_tpm_evidence(
    input: &[u8],
    expect: &TpmExpectations<'_>,
) -> Result<AcceptedTpmEvidence, TpmEvidenceError> {
    let evidence = TpmEvidence::parse(input)?;
    let ak_name = evidence.ak_name()?;
    match expect.ak {
        AkBinding::FirstUse => {}
        AkBinding::OtherDevice => return Err(TpmEvidenceError::AkBoundToOtherDevice),
        AkBinding::Registered(name) => {
            if !bool::from(name.ct_eq(&ak_name)) {
                return Err(TpmEvidenceError::AkNotRegistered);
            }
        }
    }
    let ak = PublicArea::parse_tpm2b(evidence.ak_public)?;
    let pcrs = SerializedPcrs::parse(evidence.pcrs)?;
    let accepted: Vec<Vec<u8>> = expect
        .firmware_references
        .iter()
        .map(|d| firmware_pcr_value(d).to_vec())
        .collect();
    let mut policy = AppraisalPolicy::default();
    policy
        .reference
        .entry(HashAlg::Sha256)
        .or_default()
        .insert(FIRMWARE_PCR, accepted);
    let appraisal = appraise_quote(
        expect.verifier,
        &policy,
        &QuoteEvidence {
            ak: &ak,
            message: evidence.attest,
            signature: evidence.signature,
            pcrs: &pcrs,
            event_log: None,
        },
        expect.nonce,
        None,
    );
    if let Some(refused) = appraisal
        .claims
        .iter()
        .find(|c| c.tier == Tier::Contraindicated)
    {
        return Err(TpmEvidenceError::QuoteRefused {
            claim: refused.claim,
        });
    }
    if !appraisal.is_trustworthy() {
        return Err(TpmEvidenceError::QuoteRefused {
            claim: Claim::ReferenceValues,
        });
    }
    // The appraisal matched the PCR against the references; find which one it is.
    let value = pcrs
        .pcr(HashAlg::Sha256, FIRMWARE_PCR)
        .ok_or(TpmEvidenceError::UnknownFirmware)?;
    let firmware_pcr: [u8; 32] = value
        .try_into()
        .map_err(|_| TpmEvidenceError::UnknownFirmware)?;
    let firmware = expect
        .firmware_references
        .iter()
        .position(|d| bool::from(firmware_pcr_value(d).ct_eq(&firmware_pcr)))
        .ok_or(TpmEvidenceError::UnknownFirmware)?;
    Ok(AcceptedTpmEvidence {
        ak_name,
        firmware,
        firmware_pcr,
        appraisal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn firmware_pcr_is_one_extend_from_zero() {
        // SHA-256(32 zero bytes || 32 zero bytes), the PCR after extending a zero digest.
        assert_eq!(
            hex::encode(firmware_pcr_value(&[0u8; 32])),
            "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
        );
    }

    #[test]
    fn garbage_is_refused_with_codes() {
        assert_eq!(
            TpmEvidence::parse(&[0u8; MAX_TPM_EVIDENCE_LEN + 1])
                .err()
                .map(|e| e.code()),
            Some("tpm_evidence_too_large")
        );
        assert_eq!(
            TpmEvidence::parse(b"XXXX\x01").err().map(|e| e.code()),
            Some("unknown_format")
        );
        assert_eq!(
            TpmEvidence::parse(b"IOTQ\x02").err().map(|e| e.code()),
            Some("unknown_format")
        );
        assert_eq!(
            TpmEvidence::parse(b"IOTQ\x01\x00\x05ab")
                .err()
                .map(|e| e.code()),
            Some("malformed")
        );
        assert_eq!(
            TpmEvidence::parse(b"IOTQ\x01\x00\x00\x00\x00\x00\x00\x00\x00")
                .err()
                .map(|e| e.code()),
            Some("malformed")
        );
    }

    #[test]
    fn encode_refuses_oversized_parts() {
        let big = [0u8; MAX_TPM_EVIDENCE_LEN];
        let e = TpmEvidence {
            ak_public: &big,
            attest: &[],
            signature: &[],
            pcrs: &[],
        };
        assert_eq!(e.encode(), None);
        let small = TpmEvidence {
            ak_public: b"a",
            attest: b"bc",
            signature: b"",
            pcrs: b"d",
        };
        assert_eq!(
            small.encode(),
            Some(b"IOTQ\x01\x00\x01a\x00\x02bc\x00\x00\x00\x01d".to_vec())
        );
    }

    proptest::proptest! {
        /// Any bytes: parsing never panics, and what parses re-encodes to the same bytes (one
        /// encoding per evidence, so nothing can be smuggled in padding).
        #[test]
        fn parse_is_total_and_canonical(data in proptest::collection::vec(proptest::num::u8::ANY, 0..5000)) {
            if let Ok(e) = TpmEvidence::parse(&data) {
                proptest::prop_assert!(data.len() <= MAX_TPM_EVIDENCE_LEN);
                proptest::prop_assert_eq!(e.encode(), Some(data.clone()));
            }
        }

        /// Any parts, even ones that are not TPM structures, encode within the cap or not at
        /// all, and a cut-short encoding never parses.
        #[test]
        fn truncated_encodings_never_parse(
            parts in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..200), 4),
            cut in 1usize..50,
        ) {
            let e = TpmEvidence { ak_public: &parts[0], attest: &parts[1], signature: &parts[2], pcrs: &parts[3] };
            let bytes = e.encode().unwrap_or_default();
            proptest::prop_assert!(bytes.len() <= MAX_TPM_EVIDENCE_LEN);
            let short = &bytes[..bytes.len().saturating_sub(cut)];
            proptest::prop_assert!(TpmEvidence::parse(short).is_err());
        }
    }

    #[test]
    fn refusal_codes_are_stable() {
        // Reaching the binding needs a well-formed quote: tests/swtpm_fleet_evidence.rs makes
        // them on swtpm; here the codes are pinned.
        assert_eq!(
            TpmEvidenceError::AkBoundToOtherDevice.code(),
            "ak_bound_to_other_device"
        );
        assert_eq!(
            TpmEvidenceError::AkNotRegistered.code(),
            "ak_not_registered"
        );
        assert_eq!(
            TpmEvidenceError::QuoteRefused {
                claim: Claim::PcrDigest
            }
            .code(),
            "pcr_digest_mismatch"
        );
    }
}
