//! Evidence recorded from swtpm 0.7 with tpm2-tools 5.4 (files in tests/data, written by
//! `tpm2_createek`, `tpm2_createak`, `tpm2_quote -m -s -o`), parsed and appraised offline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{Claim, Finding, QuoteEvidence, Tier, appraise_quote};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::attest::Attested;
use iotsec_attest::tpm::pcr_file::SerializedPcrs;
use iotsec_attest::tpm::public::{Name, PublicKey, RH_ENDORSEMENT};
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};
use iotsec_attest::{Attest, PublicArea, TpmSignature};
use iotsec_test_support::hex::encode as hex;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/").to_string() + name).unwrap()
}

const ECC_NONCE: [u8; 8] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
const RSA_NONCE: [u8; 4] = [0xaa, 0xbb, 0xcc, 0xdd];

#[test]
fn ecc_quote_fields_are_read_exactly() {
    let msg = data("swtpm-q_ecc.msg");
    let a = Attest::parse(&msg).unwrap();
    assert_eq!(a.extra_data, ECC_NONCE);
    assert_eq!(a.clock_info.reset_count, 1);
    assert_eq!(a.clock_info.restart_count, 0);
    assert!(a.clock_info.safe);
    assert_eq!(a.firmware_version, 0x2019_1023_0016_3636);
    let Attested::Quote(q) = a.attested else {
        panic!("not a quote")
    };
    let banks: Vec<(HashAlg, Vec<u8>)> = q
        .pcr_select
        .banks()
        .map(|b| (b.hash, b.pcrs().collect()))
        .collect();
    assert_eq!(
        banks,
        vec![
            (HashAlg::Sha1, vec![0, 16]),
            (HashAlg::Sha256, vec![0, 1, 16]),
            (HashAlg::Sha384, vec![16])
        ]
    );
    assert_eq!(
        hex(q.pcr_digest),
        "3960f1f8e8d6b6ea61ed00d96dcac11ccb596cd732f624ad77fa07d35676c516"
    );
    assert_eq!(a.to_bytes(), msg, "re-marshalling gives the TPM's bytes");
}

#[test]
fn ak_names_match_tpm2_tools() {
    for (public, name) in [
        ("swtpm-ak_ecc.pub", "swtpm-ak_ecc.name"),
        ("swtpm-ak_rsa.pub", "swtpm-ak_rsa.name"),
    ] {
        let pub_bytes = data(public);
        let ak = PublicArea::parse_tpm2b(&pub_bytes).unwrap();
        assert_eq!(ak.name().as_bytes(), data(name).as_slice(), "{public}");
    }
}

#[test]
fn qualified_signer_is_the_ek_to_ak_name_chain() {
    for (ek, ak, msg) in [
        ("swtpm-ek_ecc.pub", "swtpm-ak_ecc.pub", "swtpm-q_ecc.msg"),
        ("swtpm-ek_rsa.pub", "swtpm-ak_rsa.pub", "swtpm-q_rsa.msg"),
    ] {
        let (ek, ak, msg) = (data(ek), data(ak), data(msg));
        let ek = PublicArea::parse_tpm2b(&ek).unwrap();
        let ak = PublicArea::parse_tpm2b(&ak).unwrap();
        let qn_ek = Name::of_handle(RH_ENDORSEMENT).qualify(ek.name_alg, &ek.name());
        let qn_ak = qn_ek.qualify(ak.name_alg, &ak.name());
        assert_eq!(
            qn_ak.as_bytes(),
            Attest::parse(&msg).unwrap().qualified_signer
        );
    }
}

#[test]
fn rsa_ak_and_signature_parse() {
    let pub_bytes = data("swtpm-ak_rsa.pub");
    let ak = PublicArea::parse_tpm2b(&pub_bytes).unwrap();
    assert!(matches!(
        ak.key,
        PublicKey::Rsa {
            key_bits: 2048,
            exponent: 65537,
            ..
        }
    ));
    let sig = data("swtpm-q_rsa.sig");
    assert!(
        matches!(TpmSignature::parse(&sig).unwrap(), TpmSignature::RsaSsa { hash: HashAlg::Sha256, sig } if sig.len() == 256)
    );
}

#[test]
fn serialized_pcr_file_lines_up_with_the_quote() {
    let pcrs = data("swtpm-q_ecc.pcrs");
    let file = SerializedPcrs::parse(&pcrs).unwrap();
    let values: Vec<(HashAlg, u8, usize)> = file
        .values()
        .map(|v| (v.bank, v.index, v.digest.len()))
        .collect();
    assert_eq!(
        values,
        vec![
            (HashAlg::Sha1, 0, 20),
            (HashAlg::Sha1, 16, 20),
            (HashAlg::Sha256, 0, 32),
            (HashAlg::Sha256, 1, 32),
            (HashAlg::Sha256, 16, 32),
            (HashAlg::Sha384, 16, 48)
        ]
    );
    assert_eq!(
        hex(file.get(HashAlg::Sha256, 16).unwrap()),
        "90f4b39548df55ad6187a1d20d731ecee78c545b94afd16f42ef7592d99cd365"
    );
    // 12 PCRs need two TPM2_PCR_Read calls, so two TPML_DIGEST blocks.
    let rsa = data("swtpm-q_rsa.pcrs");
    assert_eq!(SerializedPcrs::parse(&rsa).unwrap().values().count(), 12);
}

fn sha1_policy() -> AppraisalPolicy {
    AppraisalPolicy {
        allow_sha1: true,
        ..Default::default()
    }
}

fn appraise(
    verifier: &dyn SignatureVerifier,
    policy: &AppraisalPolicy,
    ak: &str,
    quote: &str,
    nonce: &[u8],
    tamper: impl Fn(&mut Vec<u8>, &mut Vec<u8>, &mut Vec<u8>),
) -> iotsec_attest::appraise::QuoteAppraisal {
    let ak = data(ak);
    let (mut message, mut signature, mut pcrs) = (
        data(&format!("{quote}.msg")),
        data(&format!("{quote}.sig")),
        data(&format!("{quote}.pcrs")),
    );
    tamper(&mut message, &mut signature, &mut pcrs);
    let files = common::QuoteFiles {
        ak: &ak,
        message: &message,
        signature: &signature,
        pcrs: &pcrs,
        event_log: None,
    };
    common::appraise_tpm2_tools(verifier, policy, &files, nonce, None)
}

#[test]
fn real_quotes_are_trustworthy_with_both_backends() {
    for v in [&RustCryptoVerifier as &dyn SignatureVerifier, &RingVerifier] {
        let ecc = appraise(
            v,
            &sha1_policy(),
            "swtpm-ak_ecc.pub",
            "swtpm-q_ecc",
            &ECC_NONCE,
            |_, _, _| {},
        );
        assert_eq!(ecc.status, Tier::Affirming, "{:#?}", ecc.claims);
        let rsa = appraise(
            v,
            &AppraisalPolicy::default(),
            "swtpm-ak_rsa.pub",
            "swtpm-q_rsa",
            &RSA_NONCE,
            |_, _, _| {},
        );
        assert_eq!(rsa.status, Tier::Affirming, "{:#?}", rsa.claims);
        assert_eq!(rsa.pcrs[&HashAlg::Sha256].len(), 12);
    }
}

#[test]
fn sha1_bank_is_refused_by_default() {
    let a = appraise(
        &RingVerifier,
        &AppraisalPolicy::default(),
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &ECC_NONCE,
        |_, _, _| {},
    );
    assert_eq!(a.status, Tier::Contraindicated);
    assert_eq!(
        a.claim(Claim::PcrBanks).unwrap().findings,
        vec![Finding::Sha1BankRefused]
    );
}

#[test]
fn wrong_nonce_is_rejected_and_pcrs_are_not_looked_at() {
    let a = appraise(
        &RingVerifier,
        &sha1_policy(),
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &[0, 0x11],
        |_, _, _| {},
    );
    assert_eq!(a.status, Tier::Contraindicated);
    assert!(matches!(
        a.claim(Claim::Nonce).unwrap().findings[0],
        Finding::NonceMismatch { .. }
    ));
    assert_eq!(a.claim(Claim::PcrDigest).unwrap().tier, Tier::None);
}

#[test]
fn flipped_pcr_value_breaks_the_digest() {
    // sha256 PCR 16 is the 5th digest: block header 4 + 4 slots of 66 + size 2.
    let off = 132 + 4 + 4 + 4 * 66 + 2;
    let a = appraise(
        &RingVerifier,
        &sha1_policy(),
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &ECC_NONCE,
        |_, _, p| p[off] ^= 1,
    );
    assert_eq!(a.status, Tier::Contraindicated);
    assert!(matches!(
        a.claim(Claim::PcrDigest).unwrap().findings[0],
        Finding::PcrDigestMismatch { .. }
    ));
}

#[test]
fn wrong_ak_fails_the_signature_and_nothing_else_is_checked() {
    for v in [&RustCryptoVerifier as &dyn SignatureVerifier, &RingVerifier] {
        let a = appraise(
            v,
            &sha1_policy(),
            "swtpm-ak_rsa.pub",
            "swtpm-q_ecc",
            &ECC_NONCE,
            |_, _, _| {},
        );
        assert_eq!(a.status, Tier::Contraindicated);
        // The RSA AK's public area fixes RSASSA/SHA-256: an ECDSA signature cannot be its.
        assert_eq!(
            a.claim(Claim::Signature).unwrap().findings,
            vec![Finding::SignatureSchemeNotTheKeys {
                key: (0x0014, Some(0x000b)),
                signature: (0x0018, 0x000b),
            }]
        );
        assert_eq!(a.claim(Claim::Nonce).unwrap().tier, Tier::None);
    }
}

#[test]
fn signature_relabelled_to_another_scheme_than_the_aks_is_rejected_before_verification() {
    // TPMT_SIGNATURE starts with sigAlg: RSASSA (0x0014) relabelled as RSAPSS (0x0016).
    let a = appraise(
        &RingVerifier,
        &AppraisalPolicy::default(),
        "swtpm-ak_rsa.pub",
        "swtpm-q_rsa",
        &RSA_NONCE,
        |_, s, _| s[1] = 0x16,
    );
    assert_eq!(a.status, Tier::Contraindicated);
    assert_eq!(
        a.claim(Claim::Signature).unwrap().findings,
        vec![Finding::SignatureSchemeNotTheKeys {
            key: (0x0014, Some(0x000b)),
            signature: (0x0016, 0x000b),
        }]
    );
}

#[test]
fn sha1_signature_is_refused_by_default_before_verification() {
    // TPMT_SIGNATURE: sigAlg (ECDSA) then hashAlg, here relabelled from SHA-256 to SHA-1.
    let refused = |policy: &AppraisalPolicy| {
        appraise(
            &RingVerifier,
            policy,
            "swtpm-ak_ecc.pub",
            "swtpm-q_ecc",
            &ECC_NONCE,
            |_, s, _| {
                assert_eq!(s[2..4], [0x00, 0x0b]);
                s[2..4].copy_from_slice(&[0x00, 0x04]);
            },
        )
        .claim(Claim::Signature)
        .unwrap()
        .findings
        .clone()
    };
    assert_eq!(
        refused(&AppraisalPolicy::default()),
        vec![Finding::SignatureHashRefused {
            hash: HashAlg::Sha1
        }]
    );
    // Allowed SHA-1 reaches the scheme check, which this relabelled signature fails.
    assert!(
        !refused(&sha1_policy()).contains(&Finding::SignatureHashRefused {
            hash: HashAlg::Sha1
        })
    );
}

#[test]
fn altered_message_fails_the_signature() {
    let a = appraise(
        &RustCryptoVerifier,
        &sha1_policy(),
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &ECC_NONCE,
        |m, _, _| {
            let last = m.len() - 1;
            m[last] ^= 0x80;
        },
    );
    assert!(matches!(
        a.claim(Claim::Signature).unwrap().findings[0],
        Finding::SignatureInvalid { .. }
    ));
}

#[test]
fn reference_values_allow_several_values_per_pcr() {
    let pcr16 = "90f4b39548df55ad6187a1d20d731ecee78c545b94afd16f42ef7592d99cd365";
    let zero = "00".repeat(32);
    let good = AppraisalPolicy::from_json(&format!(
        r#"{{"allow_sha1": true, "pcrs": {{"sha256": {{"16": ["{zero}", "{pcr16}"], "0": ["{zero}"]}}}},
            "firmware_versions": ["0x2019102300163636"]}}"#
    ))
    .unwrap();
    let a = appraise(
        &RingVerifier,
        &good,
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &ECC_NONCE,
        |_, _, _| {},
    );
    assert_eq!(a.status, Tier::Affirming, "{:#?}", a.claims);
    assert_eq!(
        a.claim(Claim::FirmwareVersion).unwrap().tier,
        Tier::Affirming
    );

    let bad = AppraisalPolicy::from_json(&format!(
        r#"{{"allow_sha1": true, "pcrs": {{"sha256": {{"16": ["{zero}"], "7": ["{zero}"]}}}}, "firmware_versions": ["0x1"]}}"#
    ))
    .unwrap();
    let a = appraise(
        &RingVerifier,
        &bad,
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &ECC_NONCE,
        |_, _, _| {},
    );
    assert_eq!(a.status, Tier::Contraindicated);
    assert_eq!(
        a.claim(Claim::ReferenceValues).unwrap().findings,
        vec![
            Finding::ReferencePcrNotQuoted {
                bank: HashAlg::Sha256,
                index: 7
            },
            Finding::ReferenceValueMismatch {
                bank: HashAlg::Sha256,
                index: 16,
                found: pcr16.to_string()
            },
        ]
    );
    assert!(matches!(
        a.claim(Claim::FirmwareVersion).unwrap().findings[0],
        Finding::FirmwareVersionNotAccepted { .. }
    ));
}

#[test]
fn replayed_quote_is_not_fresh() {
    let ak = data("swtpm-ak_ecc.pub");
    let ak = PublicArea::parse_tpm2b(&ak).unwrap();
    let (msg, sig, pcrs) = (
        data("swtpm-q_ecc.msg"),
        data("swtpm-q_ecc.sig"),
        data("swtpm-q_ecc.pcrs"),
    );
    let pcrs = SerializedPcrs::parse(&pcrs).unwrap();
    let ev = QuoteEvidence {
        ak: &ak,
        message: &msg,
        signature: &sig,
        pcrs: &pcrs,
        event_log: None,
    };
    let first = appraise_quote(&RingVerifier, &sha1_policy(), &ev, &ECC_NONCE, None);
    let seen = first.clock_info.unwrap();
    let again = appraise_quote(&RingVerifier, &sha1_policy(), &ev, &ECC_NONCE, Some(&seen));
    assert_eq!(again.status, Tier::Contraindicated);
    assert!(matches!(
        again.claim(Claim::Freshness).unwrap().findings[0],
        Finding::NotFresh { .. }
    ));
}

#[test]
fn qualified_signer_policy_is_enforced() {
    let msg = data("swtpm-q_ecc.msg");
    let qs = Attest::parse(&msg).unwrap().qualified_signer.to_vec();
    let mut p = sha1_policy();
    p.qualified_signer = Some(qs.clone());
    let a = appraise(
        &RingVerifier,
        &p,
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &ECC_NONCE,
        |_, _, _| {},
    );
    assert_eq!(
        a.claim(Claim::QualifiedSigner).unwrap().tier,
        Tier::Affirming
    );
    let mut other = qs;
    other[5] ^= 1;
    p.qualified_signer = Some(other);
    let a = appraise(
        &RingVerifier,
        &p,
        "swtpm-ak_ecc.pub",
        "swtpm-q_ecc",
        &ECC_NONCE,
        |_, _, _| {},
    );
    assert_eq!(a.status, Tier::Contraindicated);
}

/// The RSA fixture quote's PCR values as a map (bank, index) → value.
fn rsa_quote_pcr_map() -> BTreeMap<(HashAlg, u8), Vec<u8>> {
    let pcrs = data("swtpm-q_rsa.pcrs");
    let file = SerializedPcrs::parse(&pcrs).unwrap();
    file.values()
        .map(|v| ((v.bank, v.index), v.digest.to_vec()))
        .collect()
}

/// The RSA fixture quote appraised with `map` as its PCR source (default policy).
fn appraise_rsa_quote_with(
    map: &BTreeMap<(HashAlg, u8), Vec<u8>>,
) -> iotsec_attest::appraise::QuoteAppraisal {
    let (ak, msg, sig) = (
        data("swtpm-ak_rsa.pub"),
        data("swtpm-q_rsa.msg"),
        data("swtpm-q_rsa.sig"),
    );
    let ak = PublicArea::parse_tpm2b(&ak).unwrap();
    appraise_quote(
        &RustCryptoVerifier,
        &AppraisalPolicy::default(),
        &QuoteEvidence {
            ak: &ak,
            message: &msg,
            signature: &sig,
            pcrs: map,
            event_log: None,
        },
        &RSA_NONCE,
        None,
    )
}

#[test]
fn map_of_values_is_a_pcr_source_too() {
    let map = rsa_quote_pcr_map();
    let a = appraise_rsa_quote_with(&map);
    assert!(a.is_trustworthy());
    let json = a.to_json();
    assert_eq!(json["status"], "affirming");
    assert_eq!(json["trustworthiness"]["instance_identity"], "affirming");
    let (bank, index) = *map.keys().next().unwrap();
    assert_eq!(bank, HashAlg::Sha256);
    assert_eq!(
        json["pcrs"]["sha256"][index.to_string()],
        hex(&map[&(bank, index)]),
        "PCR values are lower-case hex in JSON"
    );
}

/// pcrDigest covers the values concatenated: a source that moves the first 16 bytes of PCR 1
/// onto the end of PCR 0 keeps the concatenation, so only the lengths tell the forgery apart.
#[test]
fn pcr_values_shifted_between_pcrs_are_refused_by_length() {
    let mut map = rsa_quote_pcr_map();
    let indices: Vec<u8> = map.keys().map(|k| k.1).collect();
    let (first, second) = (indices[0], indices[1]);
    let moved: Vec<u8> = map
        .get_mut(&(HashAlg::Sha256, second))
        .unwrap()
        .drain(..16)
        .collect();
    map.get_mut(&(HashAlg::Sha256, first))
        .unwrap()
        .extend(moved);
    let concatenated: Vec<u8> = map.values().flatten().copied().collect();
    let original: Vec<u8> = rsa_quote_pcr_map().into_values().flatten().collect();
    assert_eq!(concatenated, original, "the forgery keeps the hashed bytes");
    let a = appraise_rsa_quote_with(&map);
    assert_eq!(a.status, Tier::Contraindicated);
    let digest = a.claim(Claim::PcrDigest).unwrap();
    assert_eq!(
        digest.findings,
        vec![Finding::PcrValueWrongLength {
            bank: HashAlg::Sha256,
            index: first,
            len: 48,
        }]
    );
    assert!(
        a.pcrs.is_empty(),
        "no value is reported from a refused source"
    );
}

#[test]
fn pem_ak_verifies_but_is_refused_unless_bare_keys_are_accepted() {
    use iotsec_attest::identity::bare_key::BareKey;
    let pem = String::from_utf8(data("swtpm-ak_ecc.pem")).unwrap();
    let key = BareKey::from_pem(&pem).unwrap();
    let ak = key.as_public_area();
    let tpm_ak = data("swtpm-ak_ecc.pub");
    assert_eq!(
        ak.key,
        PublicArea::parse_tpm2b(&tpm_ak).unwrap().key,
        "same point as the TPM2B_PUBLIC"
    );
    let (msg, sig, pcrs) = (
        data("swtpm-q_ecc.msg"),
        data("swtpm-q_ecc.sig"),
        data("swtpm-q_ecc.pcrs"),
    );
    let pcrs = SerializedPcrs::parse(&pcrs).unwrap();
    let ev = QuoteEvidence {
        ak: &ak,
        message: &msg,
        signature: &sig,
        pcrs: &pcrs,
        event_log: None,
    };
    let refused = appraise_quote(&RingVerifier, &sha1_policy(), &ev, &ECC_NONCE, None);
    assert_eq!(refused.status, Tier::Contraindicated);
    assert_eq!(
        refused.claim(Claim::AkAttributes).unwrap().findings,
        vec![Finding::AkAttributesUnknown]
    );
    assert_eq!(
        refused.claim(Claim::Signature).unwrap().tier,
        Tier::Affirming
    );
    let lenient = AppraisalPolicy {
        accept_bare_ak: true,
        ..sha1_policy()
    };
    let warned = appraise_quote(&RingVerifier, &lenient, &ev, &ECC_NONCE, None);
    assert_eq!(warned.status, Tier::Warning);
    assert!(warned.is_trustworthy());
}

#[test]
fn event_log_fuzz_seed_is_a_valid_log() {
    // fuzz/corpus/attest_eventlog/seed-boot is produced by this writer; keep them in step.
    use iotsec_attest::tpm::event_log::{
        EV_EFI_ACTION, EV_IPL, EV_SEPARATOR, EventLog, EventLogWriter,
    };
    let mut w = EventLogWriter::new(&[HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384]);
    w.startup_locality(3)
        .event(
            4,
            EV_EFI_ACTION,
            b"Calling EFI Application from Boot Option",
        )
        .event(0, EV_SEPARATOR, &[0; 4])
        .event(8, EV_IPL, b"linux /vmlinuz");
    let bytes = w.finish();
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/attest_eventlog/seed-boot"
    );
    if std::env::var("IOTSEC_WRITE_SEEDS").is_ok() {
        std::fs::write(seed, &bytes).unwrap();
    }
    assert_eq!(std::fs::read(seed).unwrap(), bytes);
    assert_eq!(EventLog::parse(&bytes).unwrap().len(), 4);
}
