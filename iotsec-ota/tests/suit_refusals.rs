//! What the SUIT verifier refuses, each with its stable code: unknown commands, parameters and
//! members in critical or severable positions, unauthenticated or tampered severable members,
//! unsupported algorithms, broken bounds. Manifests are written here by hand and sealed with a
//! valid signature, so each refusal comes from the check named, not from the signature. Also:
//! the producer writes the draft's example 0 and 1 manifests byte for byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::canonical_cbor::CborError;
use iotsec_ota::signer::{Ed25519Key, Es256Key, Signer};
use iotsec_ota::suit::{EnvelopeBuilder, SuitError, SuitKey, authenticate_envelope, seal_manifest};
use minicbor::Encoder;
use minicbor::data::Tag;
use sha2::{Digest, Sha256};

const VENDOR: [u8; 16] = [0x11; 16];
const CLASS: [u8; 16] = [0x22; 16];

type Enc = Encoder<Vec<u8>>;
type R = Result<(), minicbor::encode::Error<std::convert::Infallible>>;

fn cbor(write: impl FnOnce(&mut Enc) -> R) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    write(&mut e).unwrap();
    e.into_writer()
}

fn signer() -> Es256Key {
    Es256Key::from_scalar(&[9; 32]).unwrap()
}

fn trusted() -> SuitKey {
    SuitKey::parse(signer().algorithm(), &signer().public_key()).unwrap()
}

fn digest_item(digest: &[u8; 32], alg: i64) -> Vec<u8> {
    cbor(|e| e.array(2)?.i64(alg)?.bytes(digest).map(|_| ()))
}

/// `[20, {1: vendor, 2: class, 3: digest, 14: 1234}, 1, 15, 2, 15]` with `extra` appended
/// (already encoded pairs, counted in `extra_items`).
fn shared_with(extra: &[u8], extra_items: u64) -> Vec<u8> {
    let mut s = cbor(|e| {
        e.array(6 + extra_items)?.u64(20)?.map(4)?;
        e.u64(1)?.bytes(&VENDOR)?.u64(2)?.bytes(&CLASS)?;
        e.u64(3)?.bytes(&digest_item(&[0xab; 32], -16))?;
        e.u64(14)?.u64(1234)?;
        e.u64(1)?.u64(15)?.u64(2)?.u64(15).map(|_| ())
    });
    s.extend_from_slice(extra);
    s
}

fn validate() -> Vec<u8> {
    cbor(|e| e.array(2)?.u64(3)?.u64(15).map(|_| ()))
}

/// A manifest `{1: version, 2: 7, 3: common(shared), members...}` (members in key order).
fn manifest(version: u64, shared: &[u8], members: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let common = cbor(|e| {
        e.map(2)?.u64(2)?.array(1)?.array(1)?.bytes(&[0])?;
        e.u64(4)?.bytes(shared).map(|_| ())
    });
    cbor(|e| {
        e.map(3 + members.len() as u64)?;
        e.u64(1)?
            .u64(version)?
            .u64(2)?
            .u64(7)?
            .u64(3)?
            .bytes(&common)?;
        for (key, value) in members {
            e.i64(*key)?;
            // Pre-encoded items (a SUIT_Digest array) are spliced in as they are.
            e.writer_mut().extend_from_slice(value);
        }
        Ok(())
    })
}

/// `bstr .cbor` of `sequence`, encoded.
fn wrapped(sequence: &[u8]) -> Vec<u8> {
    cbor(|e| e.bytes(sequence).map(|_| ()))
}

fn standard(members: &[(i64, Vec<u8>)]) -> Vec<u8> {
    manifest(1, &shared_with(&[], 0), members)
}

fn verdict(manifest: &[u8], envelope_members: &[(i64, &[u8])]) -> Result<(), SuitError> {
    let envelope = seal_manifest(manifest, envelope_members, &signer()).unwrap();
    authenticate_envelope(&envelope, &[trusted()]).map(|_| ())
}

#[test]
fn the_hand_written_baseline_is_accepted() {
    let envelope = seal_manifest(&standard(&[(7, wrapped(&validate()))]), &[], &signer()).unwrap();
    let verified = authenticate_envelope(&envelope, &[trusted()]).unwrap();
    assert_eq!(verified.manifest.sequence_number, 7);
    assert_eq!(verified.manifest.components[0].vendor_id, Some(VENDOR));
    assert_eq!(verified.manifest.components[0].images[0].size, Some(1234));
}

#[test]
fn unknown_and_unimplemented_commands_are_refused() {
    // check-content (6), abort (14), write (18), device-identifier (24), swap (31), custom.
    for command in [6i64, 14, 18, 24, 31, 99, -1] {
        let sequence = cbor(|e| e.array(2)?.i64(command)?.u64(15).map(|_| ()));
        assert_eq!(
            verdict(&standard(&[(7, wrapped(&sequence))]), &[]),
            Err(SuitError::UnsupportedCommand { command }),
            "command {command}"
        );
    }
    // Directives with side effects are not allowed in the shared sequence.
    for command in [21u64, 22, 23] {
        let extra = cbor(|e| e.u64(command)?.u64(2).map(|_| ()));
        assert_eq!(
            verdict(&manifest(1, &shared_with(&extra, 2), &[]), &[]),
            Err(SuitError::UnsupportedCommand {
                command: command as i64
            })
        );
    }
}

#[test]
fn unknown_and_unimplemented_parameters_are_refused() {
    // strict-order (12), soft-failure (13), content (18), invoke-args (23), device id (24),
    // fetch-arguments (25), custom (-3).
    for parameter in [12i64, 13, 18, 23, 24, 25, 99, -3] {
        let sequence = cbor(|e| {
            e.array(4)?.u64(20)?.map(1)?.i64(parameter)?.bytes(b"x")?;
            e.u64(3)?.u64(15).map(|_| ())
        });
        assert_eq!(
            verdict(&standard(&[(7, wrapped(&sequence))]), &[]),
            Err(SuitError::UnsupportedParameter { parameter }),
            "parameter {parameter}"
        );
    }
    // An image digest by SHA-512 (-44).
    let sequence = cbor(|e| {
        e.array(2)?.u64(20)?.map(1)?.u64(3)?;
        e.bytes(&digest_item(&[0; 32], -44)).map(|_| ())
    });
    assert_eq!(
        verdict(&standard(&[(7, wrapped(&sequence))]), &[]),
        Err(SuitError::UnsupportedDigestAlgorithm { id: -44 })
    );
}

#[test]
fn unknown_members_are_refused() {
    // suit-manifest-component-id (5) and an unassigned key in the manifest.
    for key in [5i64, 10, 99] {
        let value = cbor(|e| e.array(0).map(|_| ()));
        assert_eq!(
            verdict(&standard(&[(key, value)]), &[]),
            Err(SuitError::UnknownManifestMember { key })
        );
    }
    // Unknown envelope members, and an integrated payload (text key).
    let m = standard(&[]);
    assert_eq!(
        verdict(&m, &[(17, b"x")]),
        Err(SuitError::UnknownEnvelopeMember { key: 17 })
    );
    let mut envelope = seal_manifest(&m, &[], &signer()).unwrap();
    envelope[2] += 1; // one more map entry ...
    envelope.extend(cbor(|e| e.str("#payload")?.bytes(b"image").map(|_| ()))); // ... last
    assert_eq!(
        authenticate_envelope(&envelope, &[trusted()]).map(|_| ()),
        Err(SuitError::UnknownEnvelopeMember { key: -1 })
    );
    assert_eq!(
        verdict(&manifest(2, &shared_with(&[], 0), &[]), &[]),
        Err(SuitError::UnsupportedManifestVersion { version: 2 })
    );
}

#[test]
fn severable_members_must_be_covered_by_a_matching_digest() {
    let install = cbor(|e| e.array(2)?.u64(3)?.u64(15).map(|_| ()));
    let digest: [u8; 32] = Sha256::digest(wrapped(&install)).into();
    let by_digest = standard(&[(20, digest_item(&digest, -16))]);
    // Present and matching; severed (absent) is fine too.
    assert_eq!(verdict(&by_digest, &[(20, &install)]), Ok(()));
    assert_eq!(verdict(&by_digest, &[]), Ok(()));
    // Present and not matching.
    let mut other = install.clone();
    other[2] = 7;
    assert_eq!(
        verdict(&by_digest, &[(20, &other)]),
        Err(SuitError::SeveredMemberDigestMismatch { key: 20 })
    );
    // In the envelope, but the manifest holds it inline or not at all.
    let inline = standard(&[(20, wrapped(&install))]);
    assert_eq!(
        verdict(&inline, &[(20, &install)]),
        Err(SuitError::UnauthenticatedMember { key: 20 })
    );
    assert_eq!(
        verdict(&standard(&[]), &[(23, b"text")]),
        Err(SuitError::UnauthenticatedMember { key: 23 })
    );
}

#[test]
fn identity_checks_and_parameters_must_be_present() {
    // A shared sequence without the class condition.
    let shared = cbor(|e| {
        e.array(4)?.u64(20)?.map(1)?.u64(1)?.bytes(&VENDOR)?;
        e.u64(1)?.u64(15).map(|_| ())
    });
    assert_eq!(
        verdict(&manifest(1, &shared, &[]), &[]),
        Err(SuitError::MissingIdentityCheck {
            identifier: "class"
        })
    );
    // A vendor condition before any vendor parameter.
    let shared = cbor(|e| e.array(2)?.u64(1)?.u64(15).map(|_| ()));
    assert_eq!(
        verdict(&manifest(1, &shared, &[]), &[]),
        Err(SuitError::MissingParameter {
            command: 1,
            parameter: 1
        })
    );
    // Fetch without a URI.
    let sequence = cbor(|e| e.array(2)?.u64(21)?.u64(2).map(|_| ()));
    assert_eq!(
        verdict(&standard(&[(20, wrapped(&sequence))]), &[]),
        Err(SuitError::MissingParameter {
            command: 21,
            parameter: 21
        })
    );
    // A component index beyond the one component.
    let sequence = cbor(|e| e.array(2)?.u64(12)?.u64(1).map(|_| ()));
    assert_eq!(
        verdict(&standard(&[(7, wrapped(&sequence))]), &[]),
        Err(SuitError::ComponentIndex { index: 1 })
    );
}

#[test]
fn nesting_and_branching_are_bounded() {
    // run-sequence nested five deep.
    let mut sequence = validate();
    for _ in 0..5 {
        sequence = cbor(|e| e.array(2)?.u64(32)?.bytes(&sequence).map(|_| ()));
    }
    assert_eq!(
        verdict(&standard(&[(7, wrapped(&sequence))]), &[]),
        Err(SuitError::LimitExceeded {
            what: "command sequence nesting",
            cap: 3
        })
    );
    // Three try-each in a row, over size, slot and digest, two values each: eight branches.
    let alternative = |parameter: u64, value: u64| {
        cbor(|e| {
            e.array(2)?.u64(20)?.map(1)?.u64(parameter)?;
            if parameter == 3 {
                e.bytes(&digest_item(&[value as u8; 32], -16))?;
            } else {
                e.u64(value)?;
            }
            Ok(())
        })
    };
    let sequence = cbor(|e| {
        e.array(6)?;
        for parameter in [14, 5, 3] {
            e.u64(15)?.array(2)?;
            e.bytes(&alternative(parameter, 1))?
                .bytes(&alternative(parameter, 2))?;
        }
        Ok(())
    });
    assert_eq!(
        verdict(&standard(&[(7, wrapped(&sequence))]), &[]),
        Err(SuitError::LimitExceeded {
            what: "try-each branches",
            cap: 4
        })
    );
}

#[test]
fn non_canonical_and_oversized_envelopes_are_refused() {
    // Manifest keys out of order (2 before 1).
    let m = cbor(|e| e.map(2)?.u64(2)?.u64(7)?.u64(1)?.u64(1).map(|_| ()));
    assert_eq!(
        verdict(&m, &[]),
        Err(SuitError::Encoding(CborError::UnsortedKeys {
            offset: 3,
            key: 1
        }))
    );
    let big = vec![0u8; 4097];
    assert_eq!(
        authenticate_envelope(&big, &[trusted()]).map(|_| ()),
        Err(SuitError::TooLarge {
            size: 4097,
            cap: 4096
        })
    );
}

/// A `COSE_Sign` (tag 98) or `COSE_Mac0` (tag 17) in the authentication wrapper is valid SUIT
/// this verifier does not implement.
#[test]
fn authentication_blocks_other_than_cose_sign1_are_refused() {
    let m = standard(&[]);
    let digest: [u8; 32] = Sha256::digest(wrapped(&m)).into();
    for tag in [98u64, 17] {
        let block = cbor(|e| {
            e.tag(Tag::new(tag))?
                .array(4)?
                .bytes(&[0xa0])?
                .map(0)?
                .null()?;
            e.bytes(&[0; 64]).map(|_| ())
        });
        let envelope = cbor(|e| {
            let auth = cbor(|e| {
                e.array(2)?.bytes(&digest_item(&digest, -16))?;
                e.bytes(&block).map(|_| ())
            });
            e.tag(Tag::new(107))?.map(2)?.u64(2)?.bytes(&auth)?;
            e.u64(3)?.bytes(&m).map(|_| ())
        });
        assert_eq!(
            authenticate_envelope(&envelope, &[trusted()]).map(|_| ()),
            Err(SuitError::UnsupportedAuthentication),
            "tag {tag}"
        );
    }
}

#[test]
fn invalid_trusted_keys_are_refused() {
    let mut off_curve = [0u8; 65];
    off_curve[0] = 4;
    assert_eq!(
        SuitKey::parse(iotsec_ota::Algorithm::Es256, &off_curve),
        Err(SuitError::InvalidKey)
    );
    assert_eq!(
        SuitKey::parse(iotsec_ota::Algorithm::EdDsa, &[0; 31]),
        Err(SuitError::InvalidKey)
    );
}

#[test]
fn eddsa_envelopes_verify_and_algorithms_do_not_cross() {
    let ed = Ed25519Key::from_seed(&[3; 32]);
    let envelope = EnvelopeBuilder::for_image(VENDOR, CLASS, &[b"app"], b"image bytes")
        .sequence_number(3)
        .sign(&ed)
        .unwrap();
    let ed_key = SuitKey::parse(ed.algorithm(), &ed.public_key()).unwrap();
    let verified = authenticate_envelope(&envelope, &[trusted(), ed_key]).unwrap();
    assert_eq!(verified.algorithm, iotsec_ota::Algorithm::EdDsa);
    assert_eq!(verified.manifest.components[0].images[0].size, Some(11));
    // Only the P-256 key trusted: no block is by a trusted key of its algorithm.
    assert_eq!(
        authenticate_envelope(&envelope, &[trusted()]).map(|_| ()),
        Err(SuitError::NoTrustedSignature)
    );
}

/// The draft's example 0 and 1 manifests (Appendix B.1, B.2), rebuilt by the producer, hash to
/// the digests the draft signed.
#[test]
fn the_producer_writes_the_draft_example_manifests() {
    let vendor: [u8; 16] = hex::decode("fa6b4a53d5ad5fdfbe9de663e4d41ffe")
        .unwrap()
        .try_into()
        .unwrap();
    let class: [u8; 16] = hex::decode("1492af1425695e48bf429b2d51f2ab45")
        .unwrap()
        .try_into()
        .unwrap();
    let image: [u8; 32] =
        hex::decode("00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210")
            .unwrap()
            .try_into()
            .unwrap();
    let base = EnvelopeBuilder::new(vendor, class, &[&[0x00]], image, 34768);
    let example0 = base.clone().sequence_number(0).invoke().manifest().unwrap();
    let example1 = base
        .sequence_number(1)
        .fetch_from("http://example.com/file.bin")
        .manifest()
        .unwrap();
    for (manifest, digest) in [
        (
            example0,
            "6658ea560262696dd1f13b782239a064da7c6c5cbaf52fded428a6fc83c7e5af",
        ),
        (
            example1,
            "1f2e7acca0dc2786f2fe4eb947f50873a6a3cfaa98866c5b02e621f42074daf2",
        ),
    ] {
        assert_eq!(hex::encode(Sha256::digest(wrapped(&manifest))), digest);
    }
}
