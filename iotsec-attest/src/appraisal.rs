//! Quote appraisal: the decisions a verifier takes on a TPM2_Quote (TPM 2.0 Part 3 §18.4),
//! reported per claim in the spirit of the RATS EAR trustworthiness vector
//! (draft-ietf-rats-ear §3, AR4SI tiers: affirming, warning, contraindicated).
//!
//! Order matters and is fixed: the attestation key's attributes and the signature come first;
//! nothing the signed message says is believed before the signature verifies, and nothing
//! expensive (PCR digest, reference values, event log replay) runs before the nonce matches.

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;

use subtle::{Choice, ConstantTimeEq};

use crate::algorithm::{ALG_NULL, DigestBytes, HashAlg};
use crate::attest::{Attest, ClockInfo};
use crate::freshness::{ClockVerdict, check_freshness};
use crate::pcr_digest::{PcrValueError, compute_pcr_digest};
use crate::pcr_file::SerializedPcrs;
use crate::policy::AppraisalPolicy;
use crate::public::{KeyOrigin, ObjectAttributes, PublicArea};
use crate::signature::TpmSignature;
use crate::verify::SignatureVerifier;

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

/// Supplies PCR values by bank and index.
pub trait PcrSource {
    /// The value of PCR `index` in `bank`.
    fn pcr(&self, bank: HashAlg, index: u8) -> Option<&[u8]>;
}

impl PcrSource for SerializedPcrs<'_> {
    fn pcr(&self, bank: HashAlg, index: u8) -> Option<&[u8]> {
        self.get(bank, index)
    }
}

impl PcrSource for BTreeMap<(HashAlg, u8), Vec<u8>> {
    fn pcr(&self, bank: HashAlg, index: u8) -> Option<&[u8]> {
        self.get(&(bank, index)).map(Vec::as_slice)
    }
}

/// The evidence of one quote, as tpm2-tools writes it.
#[derive(Debug, Clone, Copy)]
pub struct QuoteEvidence<'a, P: PcrSource> {
    /// The attestation key.
    pub ak: &'a PublicArea<'a>,
    /// The TPMS_ATTEST bytes (`tpm2_quote -m`).
    pub message: &'a [u8],
    /// The TPMT_SIGNATURE bytes (`tpm2_quote -s`).
    pub signature: &'a [u8],
    /// The PCR values (`tpm2_quote -o`).
    pub pcrs: &'a P,
    /// A TCG crypto-agile event log, replayed only once signature and nonce have passed.
    pub event_log: Option<&'a [u8]>,
}

/// Attributes an AK must have set, with their names.
const AK_REQUIRED: [(u32, &str); 5] = [
    (ObjectAttributes::RESTRICTED, "restricted"),
    (ObjectAttributes::SIGN, "sign"),
    (ObjectAttributes::FIXED_TPM, "fixedTPM"),
    (ObjectAttributes::FIXED_PARENT, "fixedParent"),
    (
        ObjectAttributes::SENSITIVE_DATA_ORIGIN,
        "sensitiveDataOrigin",
    ),
];

/// The attributes that stop `attrs` from being an attestation key (empty when it is one).
pub fn ak_attribute_problems(attrs: ObjectAttributes) -> Vec<&'static str> {
    let mut missing: Vec<&'static str> = AK_REQUIRED
        .iter()
        .filter(|(bit, _)| !attrs.has(*bit))
        .map(|(_, n)| *n)
        .collect();
    if attrs.has(ObjectAttributes::DECRYPT) {
        missing.push("decrypt (must be clear)");
    }
    missing
}

/// The claims as they are decided, and what a trusted quote reports besides them.
#[derive(Default)]
struct Builder {
    claims: Vec<ClaimResult>,
    /// Quoted PCR values (bank → index → value) once they matched pcrDigest.
    pcrs: BTreeMap<HashAlg, BTreeMap<u8, DigestBytes>>,
    /// The quote's clock, kept only when no claim failed.
    clock_info: Option<ClockInfo>,
    /// The quote's firmwareVersion once the signature verified.
    firmware_version: Option<String>,
}

impl Builder {
    fn push(&mut self, claim: Claim, tier: Tier, findings: Vec<Finding>) {
        self.claims.push(ClaimResult {
            claim,
            tier,
            findings,
        });
    }
    fn ok(&mut self, claim: Claim) {
        self.push(claim, Tier::Affirming, Vec::new());
    }
    fn bad(&mut self, claim: Claim, finding: Finding) {
        self.push(claim, Tier::Contraindicated, std::vec![finding]);
    }
    fn failed(&self) -> bool {
        self.claims.iter().any(|c| c.tier == Tier::Contraindicated)
    }
}

const ALL_CLAIMS: [Claim; 11] = [
    Claim::AkAttributes,
    Claim::Signature,
    Claim::QuoteStructure,
    Claim::QualifiedSigner,
    Claim::Nonce,
    Claim::Freshness,
    Claim::FirmwareVersion,
    Claim::PcrBanks,
    Claim::PcrDigest,
    Claim::ReferenceValues,
    Claim::EventLog,
];

/// Appraises one quote against a policy, the verifier's nonce and the clock of the last accepted
/// quote of the same TPM (`previous`, `None` on first contact).
pub fn appraise_quote<P: PcrSource>(
    verifier: &dyn SignatureVerifier,
    policy: &AppraisalPolicy,
    evidence: &QuoteEvidence<'_, P>,
    nonce: &[u8],
    previous: Option<&ClockInfo>,
) -> QuoteAppraisal {
    let mut b = Builder::default();
    run_checks(verifier, policy, evidence, nonce, previous, &mut b);
    finish(b)
}

fn run_checks<P: PcrSource>(
    verifier: &dyn SignatureVerifier,
    policy: &AppraisalPolicy,
    evidence: &QuoteEvidence<'_, P>,
    nonce: &[u8],
    previous: Option<&ClockInfo>,
    b: &mut Builder,
) {
    // 1. AK attributes: a non-restricted key can sign a hand-made TPMS_ATTEST.
    let problems = ak_attribute_problems(evidence.ak.attributes);
    if evidence.ak.origin == KeyOrigin::BareKey {
        let tier = if policy.accept_bare_ak {
            Tier::Warning
        } else {
            Tier::Contraindicated
        };
        b.push(
            Claim::AkAttributes,
            tier,
            std::vec![Finding::AkAttributesUnknown],
        );
    } else if problems.is_empty() {
        b.ok(Claim::AkAttributes);
    } else {
        b.bad(
            Claim::AkAttributes,
            Finding::AkNotRestrictedSigningKey {
                attributes: problems,
            },
        );
    }

    // 2. Signature, before anything in the message is believed.
    let signature = match TpmSignature::parse(evidence.signature) {
        Ok(s) => s,
        Err(e) => {
            b.bad(
                Claim::Signature,
                Finding::SignatureMalformed {
                    reason: e.to_string(),
                },
            );
            return;
        }
    };
    if signature.hash() == HashAlg::Sha1 && !policy.allow_sha1 {
        b.bad(
            Claim::Signature,
            Finding::SignatureHashRefused {
                hash: HashAlg::Sha1,
            },
        );
        return;
    }
    let key_scheme = evidence.ak.scheme;
    let sig_scheme = (signature.scheme_id(), signature.hash().id());
    if key_scheme.scheme != ALG_NULL
        && (key_scheme.scheme, key_scheme.hash) != (sig_scheme.0, Some(sig_scheme.1))
    {
        b.bad(
            Claim::Signature,
            Finding::SignatureSchemeNotTheKeys {
                key: (key_scheme.scheme, key_scheme.hash),
                signature: sig_scheme,
            },
        );
        return;
    }
    if let Err(e) = verifier.verify(evidence.ak, evidence.message, &signature) {
        b.bad(
            Claim::Signature,
            Finding::SignatureInvalid {
                reason: e.to_string(),
            },
        );
        return;
    }
    b.ok(Claim::Signature);
    if b.failed() {
        return;
    }

    // 3. Structure.
    let attest = match Attest::parse(evidence.message) {
        Ok(a) => a,
        Err(e) => {
            b.bad(
                Claim::QuoteStructure,
                Finding::NotAQuote {
                    reason: e.to_string(),
                },
            );
            return;
        }
    };
    let Some(quote) = attest.quote() else {
        b.bad(
            Claim::QuoteStructure,
            Finding::NotAQuote {
                reason: "TPMS_ATTEST is a certify structure, not a quote".to_string(),
            },
        );
        return;
    };
    b.ok(Claim::QuoteStructure);
    b.firmware_version = Some(std::format!("{:#018x}", attest.firmware_version));

    // 4. Qualified signer.
    match &policy.qualified_signer {
        None => b.push(Claim::QualifiedSigner, Tier::None, Vec::new()),
        Some(expected) => {
            if bool::from(expected.as_slice().ct_eq(attest.qualified_signer)) {
                b.ok(Claim::QualifiedSigner);
            } else {
                b.bad(
                    Claim::QualifiedSigner,
                    Finding::QualifiedSignerMismatch {
                        expected: hex::encode(expected),
                        found: hex::encode(attest.qualified_signer),
                    },
                );
            }
        }
    }

    // 5. Nonce: exact, constant time (length is public).
    if bool::from(nonce.ct_eq(attest.extra_data)) {
        b.ok(Claim::Nonce);
    } else {
        b.bad(
            Claim::Nonce,
            Finding::NonceMismatch {
                expected: hex::encode(nonce),
                found: hex::encode(attest.extra_data),
            },
        );
    }
    if b.failed() {
        return;
    }

    // 6. Freshness.
    match previous.map(|p| check_freshness(p, &attest.clock_info)) {
        None | Some(ClockVerdict::SameBoot | ClockVerdict::Rebooted | ClockVerdict::Resumed) => {
            b.ok(Claim::Freshness)
        }
        Some(ClockVerdict::ClockLostUnsafe) => b.push(
            Claim::Freshness,
            Tier::Warning,
            std::vec![Finding::ClockLostUnsafe],
        ),
        Some(verdict) => b.bad(Claim::Freshness, Finding::NotFresh { verdict }),
    }

    // 7. Firmware version pinning.
    if policy.firmware_versions.is_empty() {
        b.push(Claim::FirmwareVersion, Tier::None, Vec::new());
    } else if policy.firmware_versions.contains(&attest.firmware_version) {
        b.ok(Claim::FirmwareVersion);
    } else {
        b.bad(
            Claim::FirmwareVersion,
            Finding::FirmwareVersionNotAccepted {
                found: std::format!("{:#018x}", attest.firmware_version),
            },
        );
    }

    // 8. Banks.
    let sha1 = quote
        .pcr_select
        .bank(HashAlg::Sha1)
        .is_some_and(|b| b.count() > 0);
    if sha1 && !policy.allow_sha1 {
        b.bad(Claim::PcrBanks, Finding::Sha1BankRefused);
    } else {
        b.ok(Claim::PcrBanks);
    }

    // 9. pcrDigest from the supplied values, hashed with the signing scheme's hash.
    let computed = match compute_pcr_digest(&quote.pcr_select, signature.hash(), |bank, index| {
        evidence.pcrs.pcr(bank, index)
    }) {
        Ok(d) => d,
        Err(e) => {
            let finding = match e {
                PcrValueError::Missing { bank, index } => Finding::PcrValueMissing { bank, index },
                PcrValueError::WrongLength { bank, index, len } => {
                    Finding::PcrValueWrongLength { bank, index, len }
                }
            };
            b.bad(Claim::PcrDigest, finding);
            return;
        }
    };
    if bool::from(computed.as_bytes().ct_eq(quote.pcr_digest)) {
        b.ok(Claim::PcrDigest);
    } else {
        b.bad(
            Claim::PcrDigest,
            Finding::PcrDigestMismatch {
                quoted: hex::encode(quote.pcr_digest),
                computed: hex::encode(computed.as_bytes()),
            },
        );
        return;
    }
    for (bank, index) in quote.pcr_select.selected() {
        if let Some(v) = evidence.pcrs.pcr(bank, index) {
            b.pcrs
                .entry(bank)
                .or_default()
                .insert(index, DigestBytes::from_slice(v));
        }
    }

    // 10. Reference values.
    if policy.reference.is_empty() {
        b.push(Claim::ReferenceValues, Tier::None, Vec::new());
    } else {
        let mut findings = Vec::new();
        for (bank, pcrs) in &policy.reference {
            for (index, accepted) in pcrs {
                let quoted = quote
                    .pcr_select
                    .bank(*bank)
                    .is_some_and(|s| s.is_selected(*index));
                match evidence.pcrs.pcr(*bank, *index) {
                    Some(v) if quoted => {
                        // Every accepted value is compared, in constant time like the replay.
                        let matched = accepted
                            .iter()
                            .fold(Choice::from(0), |m, a| m | a.as_slice().ct_eq(v));
                        if !bool::from(matched) {
                            findings.push(Finding::ReferenceValueMismatch {
                                bank: *bank,
                                index: *index,
                                found: hex::encode(v),
                            });
                        }
                    }
                    _ => findings.push(Finding::ReferencePcrNotQuoted {
                        bank: *bank,
                        index: *index,
                    }),
                }
            }
        }
        if findings.is_empty() {
            b.ok(Claim::ReferenceValues);
        } else {
            b.push(Claim::ReferenceValues, Tier::Contraindicated, findings);
        }
    }
    // 11. Event log: parsed and replayed only now, after signature, nonce and pcrDigest.
    if let Some(log) = evidence.event_log {
        let (tier, findings) = appraise_event_log(log, &quote.pcr_select, evidence.pcrs);
        b.push(Claim::EventLog, tier, findings);
    } else {
        b.push(Claim::EventLog, Tier::None, Vec::new());
    }
    if !b.failed() {
        b.clock_info = Some(attest.clock_info);
    }
}

fn appraise_event_log<P: PcrSource>(
    log: &[u8],
    selection: &crate::pcr_selection::PcrSelectionList,
    pcrs: &P,
) -> (Tier, Vec<Finding>) {
    use crate::event_log::{EventLog, EventLogError};
    let bad = |f: Finding| (Tier::Contraindicated, std::vec![f]);
    let log = match EventLog::parse(log) {
        Ok(l) => l,
        Err(e) => {
            return bad(Finding::EventLogMalformed {
                reason: e.to_string(),
            });
        }
    };
    let mut findings = Vec::new();
    let mut replayed_any = false;
    for bank in selection.banks() {
        let replay = match log.replay(bank.hash) {
            Ok(r) => r,
            Err(EventLogError::BankNotInLog(_)) => continue,
            Err(EventLogError::EventDataAltered {
                event,
                event_type,
                pcr,
                bank,
            }) => {
                return bad(Finding::EventDataAltered {
                    event,
                    event_type,
                    pcr,
                    bank,
                });
            }
            Err(e) => {
                return bad(Finding::EventLogMalformed {
                    reason: e.to_string(),
                });
            }
        };
        replayed_any = true;
        for index in bank.pcrs() {
            if let (Some(r), Some(q)) = (replay.get(index), pcrs.pcr(bank.hash, index))
                && !bool::from(r.ct_eq(q))
            {
                findings.push(Finding::EventLogReplayMismatch {
                    bank: bank.hash,
                    index,
                    replayed: hex::encode(r),
                    quoted: hex::encode(q),
                });
            }
        }
    }
    if !replayed_any {
        findings.push(Finding::EventLogBankMissing);
    }
    if findings.is_empty() {
        (Tier::Affirming, findings)
    } else {
        (Tier::Contraindicated, findings)
    }
}

fn finish(mut b: Builder) -> QuoteAppraisal {
    for claim in ALL_CLAIMS {
        if !b.claims.iter().any(|c| c.claim == claim) {
            b.push(claim, Tier::None, Vec::new());
        }
    }
    let worst = |claims: &[Claim]| {
        b.claims
            .iter()
            .filter(|c| claims.contains(&c.claim))
            .map(|c| c.tier)
            .max()
            .unwrap_or(Tier::None)
    };
    let trustworthiness = TrustworthinessVector {
        instance_identity: worst(&[
            Claim::AkAttributes,
            Claim::Signature,
            Claim::QuoteStructure,
            Claim::QualifiedSigner,
        ]),
        freshness: worst(&[Claim::Nonce, Claim::Freshness]),
        hardware: worst(&[Claim::FirmwareVersion]),
        executables: worst(&[
            Claim::PcrBanks,
            Claim::PcrDigest,
            Claim::ReferenceValues,
            Claim::EventLog,
        ]),
    };
    // The mandatory checks must have run and passed; optional ones may be None.
    let mandatory = [
        Claim::AkAttributes,
        Claim::Signature,
        Claim::QuoteStructure,
        Claim::Nonce,
        Claim::Freshness,
        Claim::PcrBanks,
        Claim::PcrDigest,
    ];
    let status = if b.failed()
        || b.claims
            .iter()
            .any(|c| mandatory.contains(&c.claim) && c.tier == Tier::None)
    {
        Tier::Contraindicated
    } else if b.claims.iter().any(|c| c.tier == Tier::Warning) {
        Tier::Warning
    } else {
        Tier::Affirming
    };
    QuoteAppraisal {
        status,
        trustworthiness,
        claims: b.claims,
        clock_info: if status == Tier::Contraindicated {
            None
        } else {
            b.clock_info
        },
        firmware_version: b.firmware_version,
        pcrs: b.pcrs,
    }
}
