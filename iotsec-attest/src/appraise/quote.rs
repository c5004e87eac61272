//! The appraisal of one quote: the checks of [`crate::appraise::checks`] in their fixed order,
//! folded into a [`QuoteAppraisal`].

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use crate::appraise::checks::{self, Verdict};
use crate::appraise::evidence::{PcrSource, QuoteEvidence};
use crate::appraise::policy::AppraisalPolicy;
use crate::appraise::result::{Claim, ClaimResult, QuoteAppraisal, Tier, TrustworthinessVector};
use crate::tpm::algorithm::{DigestBytes, HashAlg};
use crate::tpm::attest::ClockInfo;
use crate::verify::SignatureVerifier;

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
    fn record(&mut self, claim: Claim, verdict: Verdict) {
        self.claims.push(ClaimResult {
            claim,
            tier: verdict.tier,
            findings: verdict.findings,
        });
    }
    /// Records a check later steps depend on; `None` (after recording the finding) stops them.
    fn gate<T>(
        &mut self,
        claim: Claim,
        outcome: Result<T, crate::appraise::result::Finding>,
    ) -> Option<T> {
        match outcome {
            Ok(value) => {
                self.record(claim, Verdict::affirming());
                Some(value)
            }
            Err(finding) => {
                self.record(claim, Verdict::contraindicated(finding));
                None
            }
        }
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

/// The checks in their fixed order: nothing the signed message says is believed before the
/// signature verifies, and nothing expensive runs before the nonce matches.
fn run_checks<P: PcrSource>(
    verifier: &dyn SignatureVerifier,
    policy: &AppraisalPolicy,
    evidence: &QuoteEvidence<'_, P>,
    nonce: &[u8],
    previous: Option<&ClockInfo>,
    b: &mut Builder,
) {
    // 1. AK attributes: a non-restricted key can sign a hand-made TPMS_ATTEST.
    b.record(
        Claim::AkAttributes,
        checks::ak_attributes(evidence.ak, policy),
    );
    // 2. Signature, before anything in the message is believed.
    let signed = checks::signature(
        verifier,
        policy,
        evidence.ak,
        evidence.message,
        evidence.signature,
    );
    let Some(signature) = b.gate(Claim::Signature, signed) else {
        return;
    };
    if b.failed() {
        return;
    }
    // 3. Structure: a TPM-generated quote.
    let Some((attest, quote)) = b.gate(
        Claim::QuoteStructure,
        checks::quote_structure(evidence.message),
    ) else {
        return;
    };
    b.firmware_version = Some(std::format!("{:#018x}", attest.firmware_version));
    // 4. Qualified signer.
    b.record(
        Claim::QualifiedSigner,
        checks::qualified_signer(policy, attest.qualified_signer),
    );
    // 5. Nonce.
    b.record(Claim::Nonce, checks::nonce(nonce, attest.extra_data));
    if b.failed() {
        return;
    }
    // 6. Freshness.
    b.record(
        Claim::Freshness,
        checks::freshness(previous, &attest.clock_info),
    );
    // 7. Firmware version pinning.
    b.record(
        Claim::FirmwareVersion,
        checks::firmware_version(policy, attest.firmware_version),
    );
    // 8. PCR banks.
    b.record(
        Claim::PcrBanks,
        checks::pcr_banks(policy, &quote.pcr_select),
    );
    // 9. pcrDigest from the supplied values, hashed with the signing scheme's hash.
    let digest = checks::pcr_digest(&quote, signature.hash(), evidence.pcrs);
    let Some(values) = b.gate(Claim::PcrDigest, digest) else {
        return;
    };
    b.pcrs = values;
    // 10. Reference values.
    b.record(
        Claim::ReferenceValues,
        checks::reference_values(policy, &quote.pcr_select, evidence.pcrs),
    );
    // 11. Event log, parsed and replayed only now.
    b.record(
        Claim::EventLog,
        checks::event_log(evidence.event_log, &quote.pcr_select, evidence.pcrs),
    );
    if !b.failed() {
        b.clock_info = Some(attest.clock_info);
    }
}

fn finish(mut b: Builder) -> QuoteAppraisal {
    for claim in ALL_CLAIMS {
        if !b.claims.iter().any(|c| c.claim == claim) {
            b.record(claim, Verdict::not_appraised());
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
