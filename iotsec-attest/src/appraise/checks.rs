//! The checks of a quote appraisal, one function each, in the order
//! [`appraise_quote`](crate::appraise::appraise_quote) runs them. Each takes only what it
//! decides on and answers a [`Verdict`] (or, for a check later steps depend on, the value they
//! need or the [`Finding`] that stops the appraisal). None of them does I/O.

use std::collections::BTreeMap;
use std::string::ToString;
use std::vec::Vec;

use subtle::{Choice, ConstantTimeEq};

use crate::appraise::evidence::PcrSource;
use crate::appraise::freshness::{ClockVerdict, check_freshness};
use crate::appraise::pcr_digest::{PcrValueError, compute_pcr_digest};
use crate::appraise::policy::AppraisalPolicy;
use crate::appraise::result::{Finding, Tier};
use crate::tpm::algorithm::{ALG_NULL, DigestBytes, HashAlg};
use crate::tpm::attest::{Attest, ClockInfo, QuoteInfo};
use crate::tpm::event_log::{EventLog, EventLogError};
use crate::tpm::pcr_selection::PcrSelectionList;
use crate::tpm::public::{KeyOrigin, ObjectAttributes, PublicArea};
use crate::tpm::signature::TpmSignature;
use crate::verify::SignatureVerifier;

/// The tier of one claim and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) tier: Tier,
    pub(crate) findings: Vec<Finding>,
}

impl Verdict {
    /// The claim holds.
    pub(crate) fn affirming() -> Self {
        Verdict {
            tier: Tier::Affirming,
            findings: Vec::new(),
        }
    }
    /// No policy asked for the claim.
    pub(crate) fn not_appraised() -> Self {
        Verdict {
            tier: Tier::None,
            findings: Vec::new(),
        }
    }
    /// Acceptable but noteworthy.
    fn warning(finding: Finding) -> Self {
        Verdict {
            tier: Tier::Warning,
            findings: std::vec![finding],
        }
    }
    /// The evidence contradicts the claim.
    pub(crate) fn contraindicated(finding: Finding) -> Self {
        Self::from_findings(std::vec![finding])
    }
    /// Affirming when nothing was found, contraindicated otherwise.
    fn from_findings(findings: Vec<Finding>) -> Self {
        let tier = if findings.is_empty() {
            Tier::Affirming
        } else {
            Tier::Contraindicated
        };
        Verdict { tier, findings }
    }
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

/// Step 1: the AK is a restricted signing key resident in the TPM (TPM 2.0 Part 1 §25.2.3,
/// Part 2 §8.3): a key without `restricted` can sign a hand-made TPMS_ATTEST. A bare key
/// (PEM) shows no attributes at all and is accepted only with a warning, if the policy says so.
pub(crate) fn ak_attributes(ak: &PublicArea<'_>, policy: &AppraisalPolicy) -> Verdict {
    if ak.origin == KeyOrigin::BareKey {
        return if policy.accept_bare_ak {
            Verdict::warning(Finding::AkAttributesUnknown)
        } else {
            Verdict::contraindicated(Finding::AkAttributesUnknown)
        };
    }
    let problems = ak_attribute_problems(ak.attributes);
    if problems.is_empty() {
        Verdict::affirming()
    } else {
        Verdict::contraindicated(Finding::AkNotRestrictedSigningKey {
            attributes: problems,
        })
    }
}

/// Step 2: the signature (TPM 2.0 Part 3 §18.4.1), before anything in the message is believed: it
/// parses, its hash is one the policy accepts, its scheme is the one fixed in a restricted AK
/// (a TPM signs with nothing else), and it verifies under the AK.
pub(crate) fn signature<'s>(
    verifier: &dyn SignatureVerifier,
    policy: &AppraisalPolicy,
    ak: &PublicArea<'_>,
    message: &[u8],
    signature: &'s [u8],
) -> Result<TpmSignature<'s>, Finding> {
    let signature = TpmSignature::parse(signature).map_err(|e| Finding::SignatureMalformed {
        reason: e.to_string(),
    })?;
    if signature.hash() == HashAlg::Sha1 && !policy.allow_sha1 {
        return Err(Finding::SignatureHashRefused {
            hash: HashAlg::Sha1,
        });
    }
    let key_scheme = ak.scheme;
    let sig_scheme = (signature.scheme_id(), signature.hash().id());
    if key_scheme.scheme != ALG_NULL
        && (key_scheme.scheme, key_scheme.hash) != (sig_scheme.0, Some(sig_scheme.1))
    {
        return Err(Finding::SignatureSchemeNotTheKeys {
            key: (key_scheme.scheme, key_scheme.hash),
            signature: sig_scheme,
        });
    }
    verifier
        .verify(ak, message, &signature)
        .map_err(|e| Finding::SignatureInvalid {
            reason: e.to_string(),
        })?;
    Ok(signature)
}

/// Step 3: the signed message is a TPM-generated TPMS_ATTEST of type quote (TPM 2.0 Part 2
/// §10.12.12, §10.12.4).
pub(crate) fn quote_structure(message: &[u8]) -> Result<(Attest<'_>, QuoteInfo<'_>), Finding> {
    let attest = Attest::parse(message).map_err(|e| Finding::NotAQuote {
        reason: e.to_string(),
    })?;
    match attest.quote() {
        Some(quote) => Ok((attest, *quote)),
        None => Err(Finding::NotAQuote {
            reason: "TPMS_ATTEST is a certify structure, not a quote".to_string(),
        }),
    }
}

/// Step 4: qualifiedSigner (TPM 2.0 Part 1 §16: the Qualified Name of the signing key) equals the
/// EK→AK name chain the verifier knows, when the policy pins one.
pub(crate) fn qualified_signer(policy: &AppraisalPolicy, qualified_signer: &[u8]) -> Verdict {
    match &policy.qualified_signer {
        None => Verdict::not_appraised(),
        Some(expected) if bool::from(expected.as_slice().ct_eq(qualified_signer)) => {
            Verdict::affirming()
        }
        Some(expected) => Verdict::contraindicated(Finding::QualifiedSignerMismatch {
            expected: hex::encode(expected),
            found: hex::encode(qualified_signer),
        }),
    }
}

/// Step 5: extraData is the verifier's nonce (TPM 2.0 Part 3 §18.4.1 qualifyingData): exact, in
/// constant time (the length is public).
pub(crate) fn nonce(nonce: &[u8], extra_data: &[u8]) -> Verdict {
    if bool::from(nonce.ct_eq(extra_data)) {
        Verdict::affirming()
    } else {
        Verdict::contraindicated(Finding::NonceMismatch {
            expected: hex::encode(nonce),
            found: hex::encode(extra_data),
        })
    }
}

/// Step 6: clock and boot counters moved forward since the last accepted quote of this TPM
/// (TPM 2.0 Part 1 §36.3-36.5); a clock that fell back after an unorderly shutdown is a
/// warning, anything else going backwards is a replay.
pub(crate) fn freshness(previous: Option<&ClockInfo>, current: &ClockInfo) -> Verdict {
    match previous.map(|p| check_freshness(p, current)) {
        None | Some(ClockVerdict::SameBoot | ClockVerdict::Rebooted | ClockVerdict::Resumed) => {
            Verdict::affirming()
        }
        Some(ClockVerdict::ClockLostUnsafe) => Verdict::warning(Finding::ClockLostUnsafe),
        Some(verdict) => Verdict::contraindicated(Finding::NotFresh { verdict }),
    }
}

/// Step 7: firmwareVersion is one of the pinned values, when the policy pins any.
pub(crate) fn firmware_version(policy: &AppraisalPolicy, firmware_version: u64) -> Verdict {
    if policy.firmware_versions.is_empty() {
        Verdict::not_appraised()
    } else if policy.firmware_versions.contains(&firmware_version) {
        Verdict::affirming()
    } else {
        Verdict::contraindicated(Finding::FirmwareVersionNotAccepted {
            found: std::format!("{firmware_version:#018x}"),
        })
    }
}

/// Step 8: no quoted PCR bank uses SHA-1 unless the policy allows it.
pub(crate) fn pcr_banks(policy: &AppraisalPolicy, selection: &PcrSelectionList) -> Verdict {
    let sha1 = selection.bank(HashAlg::Sha1).is_some_and(|b| b.count() > 0);
    if sha1 && !policy.allow_sha1 {
        Verdict::contraindicated(Finding::Sha1BankRefused)
    } else {
        Verdict::affirming()
    }
}

/// Step 9: the supplied PCR values hash to pcrDigest (TPM 2.0 Part 3 §18.4.1: the digest of the
/// selected values, concatenated, with the signing scheme's hash). Answers the values, which
/// are authenticated from here on.
pub(crate) fn pcr_digest<P: PcrSource>(
    quote: &QuoteInfo<'_>,
    hash: HashAlg,
    pcrs: &P,
) -> Result<BTreeMap<HashAlg, BTreeMap<u8, DigestBytes>>, Finding> {
    let computed = compute_pcr_digest(&quote.pcr_select, hash, |bank, index| pcrs.pcr(bank, index))
        .map_err(|e| match e {
            PcrValueError::Missing { bank, index } => Finding::PcrValueMissing { bank, index },
            PcrValueError::WrongLength { bank, index, len } => {
                Finding::PcrValueWrongLength { bank, index, len }
            }
        })?;
    if !bool::from(computed.as_bytes().ct_eq(quote.pcr_digest)) {
        return Err(Finding::PcrDigestMismatch {
            quoted: hex::encode(quote.pcr_digest),
            computed: hex::encode(computed.as_bytes()),
        });
    }
    let mut values: BTreeMap<HashAlg, BTreeMap<u8, DigestBytes>> = BTreeMap::new();
    for (bank, index) in quote.pcr_select.selected() {
        if let Some(v) = pcrs.pcr(bank, index) {
            values
                .entry(bank)
                .or_default()
                .insert(index, DigestBytes::from_slice(v));
        }
    }
    Ok(values)
}

/// Step 10: every PCR the policy has reference values for is quoted and holds one of them (each
/// accepted value compared, in constant time).
pub(crate) fn reference_values<P: PcrSource>(
    policy: &AppraisalPolicy,
    selection: &PcrSelectionList,
    pcrs: &P,
) -> Verdict {
    if policy.reference.is_empty() {
        return Verdict::not_appraised();
    }
    let mut findings = Vec::new();
    for (bank, references) in &policy.reference {
        for (index, accepted) in references {
            let quoted = selection.bank(*bank).is_some_and(|s| s.is_selected(*index));
            match pcrs.pcr(*bank, *index) {
                Some(v) if quoted => {
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
    Verdict::from_findings(findings)
}

/// Step 11: the TCG crypto-agile event log (TCG PC Client Platform Firmware Profile §10) is intact
/// (every event's data hashes to its digests) and replays to the quoted PCR values in every
/// quoted bank it records. Parsed only now, after signature, nonce and pcrDigest.
pub(crate) fn event_log<P: PcrSource>(
    log: Option<&[u8]>,
    selection: &PcrSelectionList,
    pcrs: &P,
) -> Verdict {
    let Some(log) = log else {
        return Verdict::not_appraised();
    };
    let log = match EventLog::parse(log) {
        Ok(l) => l,
        Err(e) => {
            return Verdict::contraindicated(Finding::EventLogMalformed {
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
                return Verdict::contraindicated(Finding::EventDataAltered {
                    event,
                    event_type,
                    pcr,
                    bank,
                });
            }
            Err(e) => {
                return Verdict::contraindicated(Finding::EventLogMalformed {
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
    Verdict::from_findings(findings)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// TPML_PCR_SELECTION with one bank: hash id, sizeofSelect 3 and the three bitmap bytes.
    fn selection(banks: &[(u16, [u8; 3])]) -> PcrSelectionList {
        let mut bytes = (banks.len() as u32).to_be_bytes().to_vec();
        for (alg, bits) in banks {
            bytes.extend_from_slice(&alg.to_be_bytes());
            bytes.push(3);
            bytes.extend_from_slice(bits);
        }
        PcrSelectionList::parse(&bytes).unwrap()
    }

    #[test]
    fn a_sha1_bank_counts_only_when_it_selects_a_pcr() {
        let policy = AppraisalPolicy::default();
        let refused = pcr_banks(
            &policy,
            &selection(&[(0x0004, [0x01, 0, 0]), (0x000b, [0xff, 0, 0])]),
        );
        assert_eq!(refused.tier, Tier::Contraindicated);
        assert_eq!(refused.findings, vec![Finding::Sha1BankRefused]);
        // A SHA-1 entry that selects nothing quotes nothing in SHA-1.
        let empty_sha1 = pcr_banks(
            &policy,
            &selection(&[(0x0004, [0, 0, 0]), (0x000b, [0xff, 0, 0])]),
        );
        assert_eq!(empty_sha1.tier, Tier::Affirming);
        assert!(empty_sha1.findings.is_empty());
        let allowed = AppraisalPolicy {
            allow_sha1: true,
            ..AppraisalPolicy::default()
        };
        assert_eq!(
            pcr_banks(&allowed, &selection(&[(0x0004, [0x01, 0, 0])])).tier,
            Tier::Affirming
        );
    }

    /// A policy pinning SHA-256 PCR 7 to `accepted`.
    fn pin_pcr7(accepted: Vec<Vec<u8>>) -> AppraisalPolicy {
        let mut bank = BTreeMap::new();
        bank.insert(7u8, accepted);
        let mut reference = BTreeMap::new();
        reference.insert(HashAlg::Sha256, bank);
        AppraisalPolicy {
            reference,
            ..AppraisalPolicy::default()
        }
    }

    #[test]
    fn a_reference_pcr_must_be_quoted_even_when_its_value_is_supplied() {
        // PCR 7 holds the accepted value in the supplied values, but the quote selects only
        // PCR 0: the value is not covered by pcrDigest, so anyone could have written it.
        let good = vec![0x11; 32];
        let policy = pin_pcr7(vec![good.clone()]);
        let mut pcrs: BTreeMap<(HashAlg, u8), Vec<u8>> = BTreeMap::new();
        pcrs.insert((HashAlg::Sha256, 7), good.clone());
        pcrs.insert((HashAlg::Sha256, 0), vec![0; 32]);
        let unquoted = reference_values(&policy, &selection(&[(0x000b, [0x01, 0, 0])]), &pcrs);
        assert_eq!(
            unquoted.findings,
            vec![Finding::ReferencePcrNotQuoted {
                bank: HashAlg::Sha256,
                index: 7
            }]
        );
        let quoted = reference_values(&policy, &selection(&[(0x000b, [0x81, 0, 0])]), &pcrs);
        assert_eq!(quoted.tier, Tier::Affirming);
    }

    #[test]
    fn any_listed_value_matches_also_when_listed_twice() {
        let (good, other) = (vec![0x11; 32], vec![0x22; 32]);
        let mut pcrs: BTreeMap<(HashAlg, u8), Vec<u8>> = BTreeMap::new();
        pcrs.insert((HashAlg::Sha256, 7), good.clone());
        let quoted = selection(&[(0x000b, [0x80, 0, 0])]);
        for accepted in [
            vec![good.clone()],
            vec![other.clone(), good.clone()],
            vec![good.clone(), good.clone()],
            vec![good.clone(), other.clone(), good.clone()],
        ] {
            let verdict = reference_values(&pin_pcr7(accepted.clone()), &quoted, &pcrs);
            assert_eq!(verdict.tier, Tier::Affirming, "{accepted:?}");
        }
        let mismatch = reference_values(&pin_pcr7(vec![other.clone(), other]), &quoted, &pcrs);
        assert_eq!(
            mismatch.findings,
            vec![Finding::ReferenceValueMismatch {
                bank: HashAlg::Sha256,
                index: 7,
                found: hex::encode(&good)
            }]
        );
    }
}
