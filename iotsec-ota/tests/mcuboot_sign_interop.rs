//! Images we sign through the `Signer` trait are MCUboot images as imgtool 2.5.0 makes them:
//! byte for byte for Ed25519 (deterministic signatures), and accepted by `imgtool verify` and
//! `imgtool dumpinfo` for ECDSA P-256; the slot-fit check agrees with imgtool's at the boundary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod mcuboot_peer;

use iotsec_ota::mcuboot::{
    Dependency, HashAlgorithm, ImageSpec, KeyFormat, SignImageError, SlotGeometry, sign_image,
};
use mcuboot_peer::*;

fn spec() -> ImageSpec {
    let mut spec = ImageSpec::new(version(1, 2, 3, 4));
    spec.pad_header = true;
    spec
}

#[test]
fn our_ed25519_images_are_byte_identical_to_imgtools() {
    let Some(tool) = imgtool("same-bytes") else {
        return;
    };
    tool.keygen("ed", "ed25519");
    let signer = tool.signer("ed");
    let data = payload(5000);
    let dep = dependency();
    let cases: Vec<(Vec<&str>, ImageSpec)> = vec![
        (vec![], spec()),
        (
            vec!["-s", "7"],
            ImageSpec {
                security_counter: Some(7),
                ..spec()
            },
        ),
        (
            vec!["--pure", "-s", "9"],
            ImageSpec {
                pure: true,
                hash: HashAlgorithm::Sha512,
                security_counter: Some(9),
                ..spec()
            },
        ),
        (
            vec!["--sha", "512"],
            ImageSpec {
                hash: HashAlgorithm::Sha512,
                ..spec()
            },
        ),
        (
            vec!["--public-key-format", "full"],
            ImageSpec {
                key_format: KeyFormat::Full,
                ..spec()
            },
        ),
        (
            vec!["-s", "3", "-d", "(1,2.0.7)"],
            ImageSpec {
                security_counter: Some(3),
                dependencies: vec![dep],
                ..spec()
            },
        ),
    ];
    for (flags, spec) in cases {
        let mut args = vec!["-k", "ed.pem", "-v", "1.2.3+4"];
        args.extend(flags.iter().copied());
        let theirs = tool.sign(&data, &args);
        let ours = sign_image(&data, &spec, signer.as_ref()).unwrap();
        assert_eq!(hex::encode(&ours), hex::encode(&theirs), "{flags:?}");
        let (ok, out) = tool.verify(&ours, "ed.pub.pem");
        assert!(
            ok && out.contains("Image version: 1.2.3+4"),
            "{flags:?}: {out}"
        );
    }
}

#[test]
fn imgtool_verifies_and_dumps_our_p256_images() {
    let Some(tool) = imgtool("p256") else { return };
    tool.keygen("ec", "ecdsa-p256");
    let signer = tool.signer("ec");
    let spec = ImageSpec {
        security_counter: Some(0x0102),
        dependencies: vec![Dependency {
            image_id: 2,
            min_version: version(1, 0, 0, 5),
        }],
        key_format: KeyFormat::Full,
        ..spec()
    };
    let image = sign_image(&payload(3000), &spec, signer.as_ref()).unwrap();
    let (ok, out) = tool.verify(&image, "ec.pub.pem");
    assert!(ok, "{out}");
    assert!(out.contains("Image version: 1.2.3+4"), "{out}");
    let info = tool.dumpinfo(&image);
    assert_eq!(info["header"]["version"], "1.2.3+4");
    assert_eq!(info["header"]["img_size"], 3000);
    let protected: Vec<(String, String)> = info["tlv_area"]["tlvs_prot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["type_name"].as_str().unwrap().to_owned(),
                t["data"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        protected,
        [
            ("SEC_CNT".to_owned(), "02010000".to_owned()),
            (
                "DEPENDENCY".to_owned(),
                "020000000100000005000000".to_owned()
            ),
        ]
    );
    let names: Vec<&str> = info["tlv_area"]["tlvs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SHA256", "PUBKEY", "ECDSASIG"]);
}

#[test]
fn slot_fit_agrees_with_imgtool_at_the_boundary() {
    let Some(tool) = imgtool("slot") else { return };
    tool.keygen("ed", "ed25519");
    let signer = tool.signer("ed");
    let data = payload(10_000);
    let image_len = sign_image(&data, &spec(), signer.as_ref()).unwrap().len() as u64;
    std::fs::write(tool.path("in.bin"), &data).unwrap();
    for align in [1u8, 4, 32] {
        let geometry = SlotGeometry {
            slot_size: 0,
            align,
            max_sectors: 128,
        };
        let fits = image_len + geometry.trailer_size().unwrap();
        for slot_size in [fits - 1, fits] {
            let ours = sign_image(
                &data,
                &ImageSpec {
                    slot: Some(SlotGeometry {
                        slot_size,
                        ..geometry
                    }),
                    ..spec()
                },
                signer.as_ref(),
            );
            let theirs = tool.run(&[
                "sign",
                "-k",
                "ed.pem",
                "-v",
                "1.2.3+4",
                "-H",
                "0x20",
                "--pad-header",
                "-S",
                &slot_size.to_string(),
                "--align",
                &align.to_string(),
                "in.bin",
                "out.bin",
            ]);
            assert_eq!(
                ours.is_ok(),
                theirs.status.success(),
                "align {align} slot {slot_size}"
            );
            assert_eq!(ours.is_ok(), slot_size == fits);
        }
    }
}

#[test]
fn combinations_imgtool_refuses_are_refused() {
    let Some(tool) = imgtool("refused") else {
        return;
    };
    tool.keygen("ec", "ecdsa-p256");
    tool.keygen("ed", "ed25519");
    let ec = tool.signer("ec");
    let ed = tool.signer("ed");
    let data = payload(100);
    let pure_p256 = ImageSpec {
        pure: true,
        ..spec()
    };
    assert!(matches!(
        sign_image(&data, &pure_p256, ec.as_ref()),
        Err(SignImageError::Unsupported(_))
    ));
    let sha512_p256 = ImageSpec {
        hash: HashAlgorithm::Sha512,
        ..spec()
    };
    assert!(matches!(
        sign_image(&data, &sha512_p256, ec.as_ref()),
        Err(SignImageError::Unsupported(_))
    ));
    let pure_sha256 = ImageSpec {
        pure: true,
        ..spec()
    };
    assert!(matches!(
        sign_image(&data, &pure_sha256, ed.as_ref()),
        Err(SignImageError::Unsupported(_))
    ));
    let header_not_zero = ImageSpec {
        pad_header: false,
        ..spec()
    };
    assert_eq!(
        sign_image(&data, &header_not_zero, ed.as_ref()),
        Err(SignImageError::HeaderNotZero { size: 32 })
    );
    assert_eq!(
        sign_image(
            &data,
            &ImageSpec {
                header_size: 16,
                ..spec()
            },
            ed.as_ref()
        ),
        Err(SignImageError::HeaderSize { size: 16 })
    );
    // imgtool refuses the same inputs.
    std::fs::write(tool.path("in.bin"), &data).unwrap();
    for extra in [
        vec!["-k", "ec.pem", "--pure"],
        vec!["-k", "ec.pem", "--sha", "512"],
        vec!["-k", "ed.pem"], // no --pad-header: input does not start with zeros
    ] {
        let mut args = vec!["sign", "-v", "1.0.0", "-H", "0x20", "-S", "0x100000"];
        if extra.len() == 3 {
            args.push("--pad-header");
        }
        args.extend(extra.iter().copied());
        args.extend(["in.bin", "out.bin"]);
        assert!(!tool.run(&args).status.success(), "{extra:?}");
    }
    // Header space already in the input is used as is.
    let mut with_space = vec![0u8; 0x200];
    with_space.extend_from_slice(&data);
    let spaced = ImageSpec {
        header_size: 0x200,
        pad_header: false,
        ..spec()
    };
    let image = sign_image(&with_space, &spaced, ed.as_ref()).unwrap();
    assert_eq!(&image[8..10], &0x200u16.to_le_bytes());
    let (ok, out) = tool.verify(&image, "ed.pub.pem");
    assert!(ok, "{out}");
}
