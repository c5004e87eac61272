//! What an appraisal reports: per-claim tiers and findings in the shape of the RATS EAR
//! trustworthiness vector (draft-ietf-rats-ear §3; AR4SI tiers: affirming, warning,
//! contraindicated).

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use crate::appraise::freshness::ClockVerdict;
use crate::tpm::algorithm::{DigestBytes, HashAlg};
use crate::tpm::attest::ClockInfo;

/// AR4SI / EAR tier of one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Not appraised (an earlier check failed, or no policy asked for it).
    None,
    /// Good.
    Affirming,
    /// Acceptable but noteworthy.
    Warning,
    /// Evidence contradicts trust.
    Contraindicated,
}

impl Tier {
    /// The EAR numeric value (0, 2, 32, 96).
    pub fn ear_value(self) -> u8 {
        match self {
            Tier::None => 0,
            Tier::Affirming => 2,
            Tier::Warning => 32,
            Tier::Contraindicated => 96,
        }
    }
}

/// Each check the appraisal performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// AK is restricted, sign, fixedTPM, fixedParent, sensitiveDataOrigin, not decrypt.
    AkAttributes,
    /// The signature verifies under the AK with an accepted hash.
    Signature,
    /// The message is a TPM-generated quote.
    QuoteStructure,
    /// qualifiedSigner equals the known EK→AK name chain.
    QualifiedSigner,
    /// extraData equals the verifier's nonce.
    Nonce,
    /// Clock and boot counters advanced since the last accepted quote.
    Freshness,
    /// firmwareVersion is one of the pinned values.
    FirmwareVersion,
    /// No PCR bank uses a refused hash.
    PcrBanks,
    /// pcrDigest equals the hash of the supplied PCR values.
    PcrDigest,
    /// Quoted PCR values match the reference values.
    ReferenceValues,
    /// The event log is intact and replays to the quoted PCR values.
    EventLog,
}

/// What was found wrong (or noteworthy), with the data that shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Finding {
    /// The AK lacks attributes of a TPM-resident restricted signing key: a quote "signed" by it
    /// may be a hand-made TPMS_ATTEST.
    AkNotRestrictedSigningKey {
        /// Attribute names missing or wrongly set.
        attributes: Vec<&'static str>,
    },
    /// The AK was given as a bare key (PEM), so nothing shows it is a restricted TPM key.
    AkAttributesUnknown,
    /// The signature file could not be parsed.
    SignatureMalformed {
        /// Parser's reason.
        reason: String,
    },
    /// The signature does not verify: forged, altered, or another AK.
    SignatureInvalid {
        /// Verifier's reason.
        reason: String,
    },
    /// The signature uses a hash the policy refuses.
    SignatureHashRefused {
        /// The hash.
        hash: HashAlg,
    },
    /// The signature's scheme or hash is not the one fixed in the AK's public area: a TPM
    /// signs with a restricted key's scheme only, so such a signature did not come from it.
    SignatureSchemeNotTheKeys {
        /// TPM_ALG_ID and hash of the key's scheme.
        key: (u16, Option<u16>),
        /// TPM_ALG_ID and hash of the signature.
        signature: (u16, u16),
    },
    /// The signed message is not a TPM-generated quote.
    NotAQuote {
        /// Parser's reason.
        reason: String,
    },
    /// qualifiedSigner differs from the known chain.
    QualifiedSignerMismatch {
        /// Expected (hex).
        expected: String,
        /// In the quote (hex).
        found: String,
    },
    /// extraData differs from the nonce: stale or replayed quote.
    NonceMismatch {
        /// Expected (hex).
        expected: String,
        /// In the quote (hex).
        found: String,
    },
    /// Clock or counters went backwards: replayed or out-of-order quote.
    NotFresh {
        /// The verdict.
        verdict: ClockVerdict,
    },
    /// Clock fell back after an unorderly shutdown (safe = NO).
    ClockLostUnsafe,
    /// firmwareVersion is not pinned.
    FirmwareVersionNotAccepted {
        /// In the quote (hex).
        found: String,
    },
    /// A quoted bank uses a refused hash.
    Sha1BankRefused,
    /// No value was supplied for a quoted PCR.
    PcrValueMissing {
        /// Bank.
        bank: HashAlg,
        /// Index.
        index: u8,
    },
    /// A supplied PCR value is not one digest of its bank (bytes moved between PCRs).
    PcrValueWrongLength {
        /// Bank.
        bank: HashAlg,
        /// Index.
        index: u8,
        /// Length supplied.
        len: usize,
    },
    /// The supplied PCR values do not hash to pcrDigest: altered values.
    PcrDigestMismatch {
        /// In the quote (hex).
        quoted: String,
        /// From the values (hex).
        computed: String,
    },
    /// A quoted PCR has a value outside its reference values.
    ReferenceValueMismatch {
        /// Bank.
        bank: HashAlg,
        /// Index.
        index: u8,
        /// The value (hex).
        found: String,
    },
    /// The event log cannot be parsed.
    EventLogMalformed {
        /// Parser's reason.
        reason: String,
    },
    /// An event's data does not hash to its digest: the data was altered.
    EventDataAltered {
        /// Index of the first such event (the Spec ID header is 0).
        event: usize,
        /// Its type.
        event_type: u32,
        /// Its PCR.
        pcr: u32,
        /// The bank that disagrees.
        bank: HashAlg,
    },
    /// Replaying the log does not give the quoted value.
    EventLogReplayMismatch {
        /// Bank.
        bank: HashAlg,
        /// PCR.
        index: u8,
        /// Replayed (hex).
        replayed: String,
        /// Quoted (hex).
        quoted: String,
    },
    /// None of the quoted banks is in the log.
    EventLogBankMissing,
    /// A PCR with reference values is not in the quote.
    ReferencePcrNotQuoted {
        /// Bank.
        bank: HashAlg,
        /// Index.
        index: u8,
    },
}

/// One appraised claim.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClaimResult {
    /// Which check.
    pub claim: Claim,
    /// Its tier.
    pub tier: Tier,
    /// Why, when not affirming.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// EAR-style trustworthiness vector: the claims folded into AR4SI categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TrustworthinessVector {
    /// AK attributes, signature, qualified signer.
    pub instance_identity: Tier,
    /// Nonce and clock.
    pub freshness: Tier,
    /// Firmware version.
    pub hardware: Tier,
    /// PCR banks, digest, reference values.
    pub executables: Tier,
}

/// The result of appraising one quote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuoteAppraisal {
    /// Worst tier over all claims (None counts as contraindicated when a check was skipped).
    pub status: Tier,
    /// Per category.
    pub trustworthiness: TrustworthinessVector,
    /// Per claim, in the order checked.
    pub claims: Vec<ClaimResult>,
    /// The quote's clock, to pass as `previous` next time (only set when the quote is trusted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_info: Option<ClockInfo>,
    /// The quote's firmwareVersion when the signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Quoted PCR values (bank → index → value, hex in JSON) once they matched pcrDigest.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pcrs: BTreeMap<HashAlg, BTreeMap<u8, DigestBytes>>,
}

impl QuoteAppraisal {
    /// Whether every claim is affirming or warning.
    pub fn is_trustworthy(&self) -> bool {
        matches!(self.status, Tier::Affirming | Tier::Warning)
    }

    /// Every finding of every claim.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.claims.iter().flat_map(|c| c.findings.iter())
    }

    /// The result of one claim.
    pub fn claim(&self, claim: Claim) -> Option<&ClaimResult> {
        self.claims.iter().find(|c| c.claim == claim)
    }

    /// The JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
