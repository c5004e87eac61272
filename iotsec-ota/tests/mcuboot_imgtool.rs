//! Images signed by imgtool 2.5.0 (MCUboot's own signing tool) verify with our MCUboot verifier
//! in every signing mode, with the same digest imgtool reports; tampered images are refused
//! with the code that names the tampering, including two that imgtool's own `verify` accepts
//! (a corrupted KEYHASH and an appended unprotected TLV).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod mcuboot_peer;

use iotsec_ota::mcuboot::{
    Dependency, HashAlgorithm, KeyReference, Layout, McubootError, SignatureKind, VerifiedImage,
    verify_image,
};
use mcuboot_peer::*;

fn ours(
    image: &[u8],
    key: &iotsec_ota::mcuboot::TrustedKey,
) -> Result<VerifiedImage, McubootError> {
    verify_image(&mut &image[..], key, Layout::File)
}

/// The digest imgtool's `verify` prints.
fn imgtool_digest(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Image digest: "))
        .map(str::to_owned)
}

#[test]
fn every_imgtool_signing_mode_verifies_with_the_digest_imgtool_reports() {
    let Some(tool) = imgtool("modes") else { return };
    let ed = tool.keygen("ed", "ed25519");
    let ec = tool.keygen("ec", "ecdsa-p256");
    let data = payload(4000);
    let v123 = version(1, 2, 3, 4);
    // (key file, extra imgtool flags, hash, signature kind, key reference, counter, deps)
    let dep = dependency();
    type Case<'a> = (
        &'a str,
        Vec<&'a str>,
        HashAlgorithm,
        SignatureKind,
        KeyReference,
        Option<u32>,
        Vec<Dependency>,
    );
    let cases: Vec<Case> = vec![
        (
            "ed",
            vec![],
            HashAlgorithm::Sha256,
            SignatureKind::Ed25519,
            KeyReference::Hash,
            None,
            vec![],
        ),
        (
            "ed",
            vec!["-s", "7"],
            HashAlgorithm::Sha256,
            SignatureKind::Ed25519,
            KeyReference::Hash,
            Some(7),
            vec![],
        ),
        (
            "ed",
            vec!["--pure", "-s", "9"],
            HashAlgorithm::Sha512,
            SignatureKind::Ed25519Pure,
            KeyReference::Hash,
            Some(9),
            vec![],
        ),
        (
            "ed",
            vec!["--sha", "512"],
            HashAlgorithm::Sha512,
            SignatureKind::Ed25519,
            KeyReference::Hash,
            None,
            vec![],
        ),
        (
            "ed",
            vec!["--public-key-format", "full", "-s", "3"],
            HashAlgorithm::Sha256,
            SignatureKind::Ed25519,
            KeyReference::Full,
            Some(3),
            vec![],
        ),
        (
            "ed",
            vec!["--pure", "--public-key-format", "full"],
            HashAlgorithm::Sha512,
            SignatureKind::Ed25519Pure,
            KeyReference::Full,
            None,
            vec![],
        ),
        (
            "ed",
            vec!["-s", "0x10000", "-d", "(1,2.0.7)"],
            HashAlgorithm::Sha256,
            SignatureKind::Ed25519,
            KeyReference::Hash,
            Some(0x10000),
            vec![dep],
        ),
        (
            "ec",
            vec!["-s", "5"],
            HashAlgorithm::Sha256,
            SignatureKind::EcdsaP256,
            KeyReference::Hash,
            Some(5),
            vec![],
        ),
        (
            "ec",
            vec!["--public-key-format", "full", "-d", "(1,2.0.7)"],
            HashAlgorithm::Sha256,
            SignatureKind::EcdsaP256,
            KeyReference::Full,
            None,
            vec![dep],
        ),
    ];
    for (name, flags, hash, kind, reference, counter, deps) in cases {
        let key_file = format!("{name}.pem");
        let mut args = vec!["-k", key_file.as_str(), "-v", "1.2.3+4"];
        args.extend(flags.iter().copied());
        let image = tool.sign(&data, &args);
        let key = if name == "ed" { &ed } else { &ec };
        let verified = ours(&image, key).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        assert_eq!(verified.version(), v123, "{flags:?}");
        assert_eq!(verified.digest.algorithm(), hash, "{flags:?}");
        assert_eq!(verified.signature, kind, "{flags:?}");
        assert_eq!(verified.key_reference, reference, "{flags:?}");
        assert_eq!(verified.security_counter, counter, "{flags:?}");
        assert_eq!(
            verified.dependencies.as_slice(),
            deps.as_slice(),
            "{flags:?}"
        );
        assert_eq!(verified.end, image.len() as u64);
        assert_eq!(verified.header.image_size as usize, data.len());
        let (ok, out) = tool.verify(&image, &format!("{name}.pub.pem"));
        assert!(ok, "{flags:?}: {out}");
        if kind != SignatureKind::Ed25519Pure {
            assert_eq!(
                imgtool_digest(&out),
                Some(hex::encode(verified.digest.as_bytes()))
            );
        }
        // The other key type is refused by algorithm, a same-type other key by KEYHASH/PUBKEY.
        let other = if name == "ed" { &ec } else { &ed };
        assert!(matches!(
            ours(&image, other),
            Err(McubootError::AlgorithmMismatch { .. })
        ));
    }
}

#[test]
fn an_externally_made_signature_verifies() {
    let Some(tool) = imgtool("external") else {
        return;
    };
    let ed = tool.keygen("ed", "ed25519");
    let data = payload(3000);
    // imgtool exports the digest, another party signs it, imgtool bakes the signature in.
    std::fs::write(tool.path("in.bin"), &data).unwrap();
    let base = [
        "sign",
        "-H",
        "0x20",
        "--pad-header",
        "-S",
        "0x100000",
        "-v",
        "3.1.0",
        "-s",
        "12",
    ];
    let mut export = base.to_vec();
    export.extend([
        "--fix-sig-pubkey",
        "ed.pub.pem",
        "--vector-to-sign",
        "digest",
        "in.bin",
        "digest.bin",
    ]);
    tool.ok(&export);
    let digest = std::fs::read(tool.path("digest.bin")).unwrap();
    assert_eq!(digest.len(), 32);
    // The external signer: the same key, held elsewhere (here, loaded into our Signer).
    let signer = tool.signer("ed");
    let signature = signer.sign(&digest).unwrap();
    use base64_like::encode;
    std::fs::write(tool.path("sig.b64"), encode(&signature)).unwrap();
    let mut bake = base.to_vec();
    bake.extend([
        "--fix-sig",
        "sig.b64",
        "--fix-sig-pubkey",
        "ed.pub.pem",
        "in.bin",
        "out.bin",
    ]);
    tool.ok(&bake);
    let image = std::fs::read(tool.path("out.bin")).unwrap();
    let verified = ours(&image, &ed).unwrap();
    assert_eq!(verified.security_counter, Some(12));
    assert_eq!(verified.digest.as_bytes(), digest.as_slice());
    // A signature over anything else is refused.
    let wrong = signer.sign(b"something else").unwrap();
    std::fs::write(tool.path("sig.b64"), encode(&wrong)).unwrap();
    tool.ok(&bake);
    let image = std::fs::read(tool.path("out.bin")).unwrap();
    assert_eq!(ours(&image, &ed), Err(McubootError::BadSignature));
}

/// Standard base64 (RFC 4648 §4), enough for imgtool's `--fix-sig` file.
mod base64_like {
    pub fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[test]
fn tampered_imgtool_images_are_refused_with_the_code_of_the_tampering() {
    let Some(tool) = imgtool("tamper") else {
        return;
    };
    let ed = tool.keygen("ed", "ed25519");
    let data = payload(2048);
    let image = tool.sign(&data, &["-k", "ed.pem", "-v", "1.0.0", "-s", "5"]);
    assert!(ours(&image, &ed).is_ok());
    let flip = |at: usize| {
        let mut t = image.clone();
        t[at] ^= 1;
        t
    };
    let (counter_at, _) = find_protected_tlv(&image, 0x50).unwrap();
    let (sig_at, _) = find_tlv(&image, 0x24).unwrap();
    let (keyhash_at, _) = find_tlv(&image, 0x01).unwrap();
    let mut counter_rehashed = image.clone();
    counter_rehashed[counter_at] = 9;
    rehash_sha256(&mut counter_rehashed);
    let cases: Vec<(&str, Vec<u8>, &str, bool)> = vec![
        // (what, image, our code, imgtool's verify accepts it)
        ("header version", flip(20), "mcuboot_hash_mismatch", false),
        (
            "header image size",
            flip(12),
            "mcuboot_protected_area_mismatch",
            false,
        ),
        ("header magic", flip(0), "mcuboot_bad_magic", false),
        (
            "payload byte",
            flip(32 + 1000),
            "mcuboot_hash_mismatch",
            false,
        ),
        (
            "security counter",
            flip(counter_at),
            "mcuboot_hash_mismatch",
            false,
        ),
        (
            "security counter, hash recomputed",
            counter_rehashed,
            "mcuboot_bad_signature",
            false,
        ),
        (
            "signature",
            flip(sig_at + 40),
            "mcuboot_bad_signature",
            false,
        ),
        (
            "KEYHASH",
            flip(keyhash_at),
            "mcuboot_key_hash_mismatch",
            true,
        ),
        (
            "appended unprotected TLV",
            append_tlv(&image, 0x00a0, b"rogue"),
            "mcuboot_unknown_tlv",
            true,
        ),
        (
            "security counter in the unprotected area",
            append_tlv(&image, 0x50, &[99, 0, 0, 0]),
            "mcuboot_misplaced_tlv",
            true,
        ),
        (
            "second signature",
            append_tlv(&image, 0x24, &[0; 64]),
            "mcuboot_duplicate_tlv",
            true,
        ),
        (
            "trailing byte",
            [image.as_slice(), &[0]].concat(),
            "mcuboot_trailing_bytes",
            true,
        ),
        (
            "truncated",
            image[..image.len() - 1].to_vec(),
            "mcuboot_truncated",
            false,
        ),
    ];
    let mut codes = Vec::new();
    for (what, tampered, code, imgtool_accepts) in cases {
        let refused = ours(&tampered, &ed).expect_err(what);
        assert_eq!(refused.code(), code, "{what}: {refused}");
        let (ok, out) = tool.verify(&tampered, "ed.pub.pem");
        assert_eq!(ok, imgtool_accepts, "imgtool verify on {what}: {out}");
        codes.push(code);
    }
    // Another Ed25519 key: the KEYHASH names someone else.
    let other = tool.keygen("other", "ed25519");
    assert_eq!(ours(&image, &other), Err(McubootError::KeyHashMismatch));
    // In a slot, trailer bytes after the image are not part of it.
    let mut slot = image.clone();
    slot.resize(image.len() + 4096, 0xff);
    assert!(verify_image(&mut slot.as_slice(), &ed, Layout::Slot).is_ok());
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), 10);
}

#[test]
fn encrypted_images_are_recognised_and_refused() {
    let Some(tool) = imgtool("encrypted") else {
        return;
    };
    let ed = tool.keygen("ed", "ed25519");
    tool.ok(&["keygen", "-k", "x.pem", "-t", "x25519"]);
    tool.ok(&["getpub", "-k", "x.pem", "-e", "pem", "-o", "x.pub.pem"]);
    let image = tool.sign(
        &payload(1000),
        &["-k", "ed.pem", "-v", "1.0.0", "-E", "x.pub.pem"],
    );
    assert!(find_tlv(&image, 0x33).is_some(), "imgtool adds ENCX25519");
    assert_eq!(
        ours(&image, &ed),
        Err(McubootError::Encrypted { flags: 0x4, tlv: 0 })
    );
    // The key-exchange TLV alone (no flag) is recognised too.
    let plain = tool.sign(&payload(1000), &["-k", "ed.pem", "-v", "1.0.0"]);
    let (at, len) = find_tlv(&image, 0x33).unwrap();
    let with_tlv = append_tlv(&plain, 0x33, &image[at..at + len]);
    assert_eq!(
        ours(&with_tlv, &ed),
        Err(McubootError::Encrypted {
            flags: 0,
            tlv: 0x33
        })
    );
}

/// Regenerates the `ota_mcuboot` fuzz seeds with imgtool and the fixture keys (not a test; run
/// on demand): `cargo test -p iotsec-ota --test mcuboot_imgtool -- --ignored`.
#[test]
#[ignore = "writes files under fuzz/corpus; run on demand"]
fn write_fuzz_seeds() {
    let Some(tool) = imgtool("seeds") else { return };
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcuboot");
    for key in ["ed25519", "p256"] {
        std::fs::copy(
            format!("{fixtures}/{key}.pem"),
            tool.path(&format!("{key}.pem")),
        )
        .unwrap();
    }
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/ota_mcuboot");
    std::fs::create_dir_all(corpus).unwrap();
    let seeds: [(&str, &[&str]); 6] = [
        ("ed25519", &["-k", "ed25519.pem", "-s", "3"]),
        ("ed25519-pure", &["-k", "ed25519.pem", "--pure"]),
        (
            "ed25519-sha512-full",
            &[
                "-k",
                "ed25519.pem",
                "--sha",
                "512",
                "--public-key-format",
                "full",
            ],
        ),
        (
            "ed25519-dependency",
            &["-k", "ed25519.pem", "-s", "1", "-d", "(1,2.0.7)"],
        ),
        ("p256", &["-k", "p256.pem", "-s", "4"]),
        (
            "p256-full",
            &["-k", "p256.pem", "--public-key-format", "full"],
        ),
    ];
    for (name, flags) in seeds {
        let mut args = vec!["-v", "1.2.3+4"];
        args.extend_from_slice(flags);
        let image = tool.sign(&payload(96), &args);
        std::fs::write(format!("{corpus}/seed-{name}"), image).unwrap();
    }
}
