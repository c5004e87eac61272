//! Quotes made by a real TPM (swtpm + tpm2-tools on loopback): accepted when genuine, rejected
//! for every attack the issue names, including the forged quote that `tpm2_checkquote` and
//! Keylime accept (a hand-made TPMS_ATTEST signed with an ordinary, non-restricted TPM key).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, appraise_files, peers_available};
use iotsec_attest::appraise::pcr_digest::compute_pcr_digest;
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{Claim, Finding, QuoteAppraisal, Tier};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::attest::{Attested, QuoteInfo};
use iotsec_attest::tpm::pcr_file::serialize_pcrs;
use iotsec_attest::tpm::public::{Name, RH_ENDORSEMENT};
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};
use iotsec_attest::{Attest, ClockInfo, PublicArea};

const THREE_BANKS: &str = "sha1:0,1,16+sha256:0,1,2,3,4,5,6,7,16+sha384:0,16";

fn qualified_signer(tpm: &Swtpm, kind: &str) -> Vec<u8> {
    let ek = tpm.read(&format!("ek_{kind}.pub"));
    let ak = tpm.read(&format!("ak_{kind}.pub"));
    let ek = PublicArea::parse_tpm2b(&ek).unwrap();
    let ak = PublicArea::parse_tpm2b(&ak).unwrap();
    let qn = Name::of_handle(RH_ENDORSEMENT)
        .qualify(ek.name_alg, &ek.name())
        .qualify(ak.name_alg, &ak.name());
    qn.as_bytes().to_vec()
}

#[test]
fn swtpm_ecc_and_rsa_quotes_over_three_banks_are_trustworthy() {
    if !peers_available("swtpm_ecc_and_rsa_quotes_over_three_banks_are_trustworthy") {
        return;
    }
    let tpm = Swtpm::start("accept");
    tpm.tool(
        "tpm2_pcrextend",
        &["16:sha256=0000000000000000000000000000000000000000000000000000000000000001"],
    );
    for kind in ["ecc", "rsa"] {
        tpm.create_ek_ak(kind);
        tpm.quote(
            &format!("ak_{kind}.ctx"),
            THREE_BANKS,
            "c0ffee0123456789",
            kind,
        );
        let mut policy = AppraisalPolicy {
            allow_sha1: true,
            ..Default::default()
        };
        policy.qualified_signer = Some(qualified_signer(&tpm, kind));
        let prepared = common::prepare(&tpm.read(&format!("ak_{kind}.pub")));
        for v in common::every_backend(&prepared) {
            let a = appraise_files(
                &tpm,
                v,
                &policy,
                &format!("ak_{kind}.pub"),
                kind,
                &[0xc0, 0xff, 0xee, 1, 0x23, 0x45, 0x67, 0x89],
                None,
            );
            assert_eq!(a.status, Tier::Affirming, "{kind}: {:#?}", a.claims);
            assert_eq!(
                a.claim(Claim::QualifiedSigner).unwrap().tier,
                Tier::Affirming
            );
            let banks: Vec<(HashAlg, usize)> = a.pcrs.iter().map(|(b, v)| (*b, v.len())).collect();
            assert_eq!(
                banks,
                vec![
                    (HashAlg::Sha1, 3),
                    (HashAlg::Sha256, 9),
                    (HashAlg::Sha384, 2)
                ]
            );
        }
        // The same genuine quote is refused when the policy forbids SHA-1 banks.
        let strict = appraise_files(
            &tpm,
            &RingVerifier,
            &AppraisalPolicy::default(),
            &format!("ak_{kind}.pub"),
            kind,
            &[0xc0, 0xff, 0xee, 1, 0x23, 0x45, 0x67, 0x89],
            None,
        );
        assert_eq!(
            strict.claim(Claim::PcrBanks).unwrap().findings,
            vec![Finding::Sha1BankRefused]
        );
    }
}

#[test]
fn swtpm_attacks_on_quotes_are_rejected() {
    if !peers_available("swtpm_attacks_on_quotes_are_rejected") {
        return;
    }
    let tpm = Swtpm::start("attacks");
    tpm.create_ek_ak("ecc");
    tpm.create_ek_ak("rsa");
    let policy = AppraisalPolicy::default();
    tpm.quote("ak_ecc.ctx", "sha256:0,1,2,16", "0101010101010101", "q1");
    tpm.quote("ak_ecc.ctx", "sha256:0,1,2,16", "0202020202020202", "q2");
    let n1 = [1u8; 8];
    let n2 = [2u8; 8];

    let first = appraise_files(&tpm, &RingVerifier, &policy, "ak_ecc.pub", "q1", &n1, None);
    assert_eq!(first.status, Tier::Affirming, "{:#?}", first.claims);
    let second = appraise_files(
        &tpm,
        &RingVerifier,
        &policy,
        "ak_ecc.pub",
        "q2",
        &n2,
        first.clock_info.as_ref(),
    );
    assert_eq!(second.status, Tier::Affirming, "{:#?}", second.claims);

    // Wrong nonce.
    let a = appraise_files(&tpm, &RingVerifier, &policy, "ak_ecc.pub", "q2", &n1, None);
    assert!(matches!(
        a.claim(Claim::Nonce).unwrap().findings[..],
        [Finding::NonceMismatch { .. }]
    ));

    // Replay: the old quote (with its own nonce) after a newer one was accepted.
    let a = appraise_files(
        &tpm,
        &RingVerifier,
        &policy,
        "ak_ecc.pub",
        "q1",
        &n1,
        second.clock_info.as_ref(),
    );
    assert_eq!(a.status, Tier::Contraindicated);
    assert!(matches!(
        a.claim(Claim::Freshness).unwrap().findings[..],
        [Finding::NotFresh { .. }]
    ));

    // Wrong AK (another TPM key, other algorithm): its public area fixes RSASSA/SHA-256, so
    // the ECDSA signature is refused before any verification.
    for v in [&RustCryptoVerifier as &dyn SignatureVerifier, &RingVerifier] {
        let a = appraise_files(&tpm, v, &policy, "ak_rsa.pub", "q2", &n2, None);
        assert_eq!(
            a.claim(Claim::Signature).unwrap().findings,
            vec![Finding::SignatureSchemeNotTheKeys {
                key: (0x0014, Some(0x000b)),
                signature: (0x0018, 0x000b),
            }]
        );
    }
    tpm.tool(
        "tpm2_createak",
        &[
            "-C",
            "ek_ecc.ctx",
            "-c",
            "ak2.ctx",
            "-G",
            "ecc",
            "-g",
            "sha256",
            "-s",
            "ecdsa",
            "-u",
            "ak2.pub",
            "-r",
            "ak2.priv",
        ],
    );
    let a = appraise_files(
        &tpm,
        &RustCryptoVerifier,
        &policy,
        "ak2.pub",
        "q2",
        &n2,
        None,
    );
    assert!(matches!(
        a.claim(Claim::Signature).unwrap().findings[..],
        [Finding::SignatureInvalid { .. }]
    ));

    // A flipped bit in a PCR value (sha256 PCR 16 is the 4th digest of the file).
    let mut pcrs = tpm.read("q2.pcrs");
    pcrs[132 + 4 + 4 + 3 * 66 + 2 + 7] ^= 0x10;
    tpm.write("q2.pcrs", &pcrs);
    let a = appraise_files(&tpm, &RingVerifier, &policy, "ak_ecc.pub", "q2", &n2, None);
    assert_eq!(a.status, Tier::Contraindicated);
    assert!(matches!(
        a.claim(Claim::PcrDigest).unwrap().findings[..],
        [Finding::PcrDigestMismatch { .. }]
    ));
}

#[test]
fn swtpm_quote_forged_with_a_non_restricted_key_is_rejected() {
    if !peers_available("swtpm_quote_forged_with_a_non_restricted_key_is_rejected") {
        return;
    }
    let tpm = Swtpm::start("forged");
    tpm.tool(
        "tpm2_pcrextend",
        &["16:sha256=00000000000000000000000000000000000000000000000000000000000000ff"],
    );
    // An ordinary signing key: fixedTPM, fixedParent, sensitiveDataOrigin, sign, but NOT restricted.
    tpm.tool(
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-c", "prim.ctx"],
    );
    tpm.tool(
        "tpm2_create",
        &[
            "-C",
            "prim.ctx",
            "-G",
            "ecc256:ecdsa-sha256",
            "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign",
            "-u",
            "key.pub",
            "-r",
            "key.priv",
        ],
    );
    tpm.tool(
        "tpm2_load",
        &[
            "-C", "prim.ctx", "-u", "key.pub", "-r", "key.priv", "-c", "key.ctx",
        ],
    );

    // The attacker claims PCR 16 still holds the "golden" all-zero value.
    let nonce = [9u8; 8];
    let sel = {
        let mut l = iotsec_attest::PcrSelectionList::default();
        l.push(
            iotsec_attest::tpm::pcr_selection::PcrBankSelection::new(HashAlg::Sha256, &[16])
                .unwrap(),
        )
        .unwrap();
        l
    };
    let golden = [0u8; 32];
    let digest = compute_pcr_digest(&sel, HashAlg::Sha256, |_, _| Some(&golden[..])).unwrap();
    let signer = [0u8, 0x0b, 0xaa];
    let forged = Attest {
        qualified_signer: &signer,
        extra_data: &nonce,
        clock_info: ClockInfo {
            clock: 1_000_000,
            reset_count: 1,
            restart_count: 0,
            safe: true,
        },
        firmware_version: 0x2019_1023_0016_3636,
        attested: Attested::Quote(QuoteInfo {
            pcr_select: sel,
            pcr_digest: digest.as_bytes(),
        }),
    }
    .to_bytes();
    tpm.write("forged.msg", &forged);
    tpm.write("forged.pcrs", &serialize_pcrs(&sel, &[&golden]));
    // The TPM signs it: the key is not restricted, so TPM_GENERATED_VALUE is not protected.
    tpm.tool(
        "tpm2_sign",
        &[
            "-c",
            "key.ctx",
            "-g",
            "sha256",
            "-s",
            "ecdsa",
            "-o",
            "forged.sig",
            "forged.msg",
        ],
    );

    for v in [&RustCryptoVerifier as &dyn SignatureVerifier, &RingVerifier] {
        let a = appraise_files(
            &tpm,
            v,
            &AppraisalPolicy::default(),
            "key.pub",
            "forged",
            &nonce,
            None,
        );
        assert_eq!(
            a.status,
            Tier::Contraindicated,
            "forged quote accepted: {:#?}",
            a.claims
        );
        assert_eq!(
            a.claim(Claim::AkAttributes).unwrap().findings,
            vec![Finding::AkNotRestrictedSigningKey {
                attributes: vec!["restricted"]
            }]
        );
        // The signature itself is valid: only the key attribute check catches the forgery.
        assert_eq!(a.claim(Claim::Signature).unwrap().tier, Tier::Affirming);
    }
}

/// Appraises `prefix` (quoted by ak.pub) with every backend (RustCrypto, ring, aws-lc, aws-lc
/// with ak.pub prepared) under the default policy.
fn appraise_with_both_backends(tpm: &Swtpm, prefix: &str, nonce: &[u8]) -> Vec<QuoteAppraisal> {
    let prepared = common::prepare(&tpm.read("ak.pub"));
    common::every_backend(&prepared)
        .into_iter()
        .map(|v| {
            appraise_files(
                tpm,
                v,
                &AppraisalPolicy::default(),
                "ak.pub",
                prefix,
                nonce,
                None,
            )
        })
        .collect()
}

#[test]
fn swtpm_p384_ak_quote_signed_with_sha384_is_trustworthy() {
    if !peers_available("swtpm_p384_ak_quote_signed_with_sha384_is_trustworthy") {
        return;
    }
    let tpm = Swtpm::start("p384");
    tpm.quote_with_new_ak(
        "ecc384",
        "sha384",
        "ecdsa",
        "sha256:0,7+sha384:0,7",
        "a1b2c3d4e5f60718",
    );
    let sig = tpm.read("q.sig");
    assert!(matches!(
        iotsec_attest::TpmSignature::parse(&sig).unwrap(),
        iotsec_attest::TpmSignature::Ecdsa { hash: HashAlg::Sha384, r, .. } if r.len() == 48
    ));
    for a in
        appraise_with_both_backends(&tpm, "q", &[0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18])
    {
        assert_eq!(a.status, Tier::Affirming, "{:#?}", a.claims);
    }
}

#[test]
fn swtpm_rsapss_ak_quote_is_trustworthy_and_a_flipped_signature_bit_is_not() {
    if !peers_available("swtpm_rsapss_ak_quote_is_trustworthy_and_a_flipped_signature_bit_is_not") {
        return;
    }
    let tpm = Swtpm::start("rsapss");
    tpm.quote_with_new_ak(
        "rsa",
        "sha256",
        "rsapss",
        "sha256:0,1,2,16",
        "5eed5eed5eed5eed",
    );
    let sig = tpm.read("q.sig");
    assert!(matches!(
        iotsec_attest::TpmSignature::parse(&sig).unwrap(),
        iotsec_attest::TpmSignature::RsaPss { hash: HashAlg::Sha256, sig } if sig.len() == 256
    ));
    let nonce = [0x5e, 0xed, 0x5e, 0xed, 0x5e, 0xed, 0x5e, 0xed];
    for a in appraise_with_both_backends(&tpm, "q", &nonce) {
        assert_eq!(a.status, Tier::Affirming, "{:#?}", a.claims);
    }
    let mut forged = sig.clone();
    *forged.last_mut().unwrap() ^= 1;
    tpm.write("forged.sig", &forged);
    std::fs::copy(tpm.path("q.msg"), tpm.path("forged.msg")).unwrap();
    std::fs::copy(tpm.path("q.pcrs"), tpm.path("forged.pcrs")).unwrap();
    for a in appraise_with_both_backends(&tpm, "forged", &nonce) {
        assert_eq!(a.status, Tier::Contraindicated, "{:#?}", a.claims);
        assert!(matches!(
            a.claim(Claim::Signature).unwrap().findings[..],
            [Finding::SignatureInvalid { .. }]
        ));
    }
}
