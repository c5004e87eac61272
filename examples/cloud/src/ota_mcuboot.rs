//! `iotsec-cloud ota mcuboot ...`: verifies and signs MCUboot images (iotsec-ota `mcuboot`).
//! Keys are PEM files as imgtool writes them: `PUBLIC KEY` (SubjectPublicKeyInfo) to verify,
//! PKCS#8 `PRIVATE KEY` to sign. Flags mean what imgtool's flags of the same name mean; imgtool
//! flags not listed here are not implemented and are refused as unknown.

use std::fs;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use iotsec_cli_contract::input::{InputKind, read_input};
use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_ota::mcuboot::{
    Dependency, HashAlgorithm, ImageSource, ImageSpec, ImageVersion, KeyFormat, KeyReference,
    Layout, SignatureKind, SlotGeometry, TrustedKey, VerifiedImage, load_signer_pem, sign_image,
    verify_image,
};
use serde_json::json;
use zeroize::Zeroizing;

/// MCUboot images.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verifies an MCUboot image against a trusted public key.
    Verify(VerifyArgs),
    /// Signs a binary into an MCUboot image (as `imgtool sign`).
    Sign(Box<SignArgs>),
}

/// `ota mcuboot verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The trusted public key (`PUBLIC KEY` PEM, Ed25519 or P-256).
    #[arg(long)]
    key: PathBuf,
    /// The image file (it must end with its TLV area).
    image: PathBuf,
}

/// Image hash for `--sha`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Sha {
    /// SHA-256.
    #[value(name = "256")]
    Sha256,
    /// SHA-512 (Ed25519 keys).
    #[value(name = "512")]
    Sha512,
}

/// `--public-key-format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PublicKeyFormat {
    /// KEYHASH: the hash of the key.
    Hash,
    /// PUBKEY: the key itself.
    Full,
}

/// `ota mcuboot sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The signing key (PKCS#8 `PRIVATE KEY` PEM, Ed25519 or P-256).
    #[arg(long, short = 'k')]
    key: PathBuf,
    /// Image version: major[.minor[.revision[+build]]].
    #[arg(long, short = 'v')]
    version: String,
    /// Protected security counter (anti-rollback).
    #[arg(long, short = 's')]
    security_counter: u32,
    /// Header size in bytes (at least 32; decimal or 0x hex).
    #[arg(long, short = 'H', value_parser = parse_number::<u16>)]
    header_size: u16,
    /// Prepend header-size zero bytes to the input (otherwise it must start with them).
    #[arg(long)]
    pad_header: bool,
    /// Slot size in bytes: image plus swap trailer must fit (decimal or 0x hex).
    #[arg(long, short = 'S', value_parser = parse_number::<u64>)]
    slot_size: u64,
    /// Flash write alignment used by the swap trailer: 1, 2, 4, 8, 16 or 32.
    #[arg(long, default_value_t = 1)]
    align: u8,
    /// Sectors the swap status area allows for.
    #[arg(long, short = 'M', default_value_t = 128)]
    max_sectors: u32,
    /// Sign the image itself rather than its digest (Ed25519; the hash becomes SHA-512).
    #[arg(long)]
    pure: bool,
    /// Image hash (default: SHA-256, or SHA-512 for --pure, which takes no --sha).
    #[arg(long, value_enum)]
    sha: Option<Sha>,
    /// How the image names its key.
    #[arg(long, value_enum, default_value_t = PublicKeyFormat::Hash)]
    public_key_format: PublicKeyFormat,
    /// A dependency as IMAGE_ID,VERSION (repeat), as imgtool's `-d "(IMAGE_ID,VERSION)"`.
    #[arg(long = "dependency", short = 'd')]
    dependencies: Vec<String>,
    /// The binary to sign.
    input: PathBuf,
    /// Where to write the image.
    output: PathBuf,
}

/// Runs an `ota mcuboot` subcommand.
pub fn run(command: Command) -> Result<Report, BadInput> {
    match command {
        Command::Verify(args) => verify(&args),
        Command::Sign(args) => sign(&args),
    }
}

fn parse_number<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|e| e.to_string())?;
    T::try_from(value).map_err(|_| format!("{text} is out of range"))
}

fn read_text(path: &Path) -> Result<Zeroizing<String>, BadInput> {
    let bytes = Zeroizing::new(read_input(path, InputKind::Key)?);
    std::str::from_utf8(&bytes)
        .map(|text| Zeroizing::new(text.to_owned()))
        .map_err(|_| {
            BadInput::new(format!(
                "reading key file {}: not UTF-8 text",
                path.display()
            ))
        })
}

/// An image file read at offsets: constant memory whatever its size.
struct ImageFile {
    file: fs::File,
    len: u64,
}

impl ImageSource for ImageFile {
    type Error = std::io::Error;

    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Result<(), std::io::Error> {
        use std::io::{Read, Seek, SeekFrom};
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.read_exact(buffer)
    }
}

fn signature_name(kind: SignatureKind) -> &'static str {
    match kind {
        SignatureKind::Ed25519 => "ed25519",
        SignatureKind::Ed25519Pure => "ed25519-pure",
        _ => "ecdsa-p256",
    }
}

fn hash_name(hash: HashAlgorithm) -> &'static str {
    match hash {
        HashAlgorithm::Sha256 => "sha256",
        _ => "sha512",
    }
}

/// The machine-readable summary of a verified image.
pub fn image_json(image: &VerifiedImage) -> serde_json::Value {
    json!({
        "valid": true,
        "version": image.version().to_string(),
        "security_counter": image.security_counter,
        "dependencies": image.dependencies.iter().map(|d| json!({
            "image_id": d.image_id, "min_version": d.min_version.to_string()
        })).collect::<Vec<_>>(),
        "flags": image.header.flags,
        "load_address": image.header.load_address,
        "image_size": image.header.image_size,
        "hash": hash_name(image.digest.algorithm()),
        "digest": hex::encode(image.digest.as_bytes()),
        "signature": signature_name(image.signature),
        "key_reference": match image.key_reference {
            KeyReference::Hash => "keyhash",
            KeyReference::Full => "pubkey",
        },
    })
}

fn verify(args: &VerifyArgs) -> Result<Report, BadInput> {
    let key = TrustedKey::from_pem(&read_text(&args.key)?).map_err(|e| {
        BadInput::new(format!(
            "{}: not an Ed25519 or P-256 PUBLIC KEY PEM ({e})",
            args.key.display()
        ))
    })?;
    let file = fs::File::open(&args.image)
        .map_err(|e| BadInput::new(format!("{}: {e}", args.image.display())))?;
    let len = file
        .metadata()
        .map_err(|e| BadInput::new(format!("{}: {e}", args.image.display())))?
        .len();
    let mut source = ImageFile { file, len };
    match verify_image(&mut source, &key, Layout::File) {
        Ok(image) => {
            let counter = image
                .security_counter
                .map_or_else(|| "none".to_owned(), |c| c.to_string());
            Ok(Report {
                outcome: Outcome::Accepted,
                text: format!(
                    "valid: MCUboot image {}, security counter {counter}, {} over {}",
                    image.version(),
                    signature_name(image.signature),
                    hash_name(image.digest.algorithm())
                ),
                json: image_json(&image),
            })
        }
        Err(e) if e.is_bad_input() => Err(BadInput::new(format!("{}: {e}", args.image.display()))),
        Err(e) => Ok(Report {
            outcome: Outcome::Rejected,
            text: format!("rejected: {e} ({})", e.code()),
            json: json!({"valid": false, "code": e.code(), "reason": e.to_string()}),
        }),
    }
}

fn dependency(text: &str) -> Result<Dependency, BadInput> {
    let bad = || BadInput::new(format!("--dependency {text}: expected IMAGE_ID,VERSION"));
    let (id, version) = text.split_once(',').ok_or_else(bad)?;
    Ok(Dependency {
        image_id: id.trim().parse().map_err(|_| bad())?,
        min_version: version.trim().parse().map_err(|_| bad())?,
    })
}

fn sign(args: &SignArgs) -> Result<Report, BadInput> {
    let version: ImageVersion = args
        .version
        .parse()
        .map_err(|e| BadInput::new(format!("--version {}: {e}", args.version)))?;
    let hash = match (args.pure, args.sha) {
        (true, Some(_)) => {
            return Err(BadInput::new(
                "--pure fixes the hash to SHA-512: drop --sha (as imgtool refuses it)",
            ));
        }
        (true, None) | (false, Some(Sha::Sha512)) => HashAlgorithm::Sha512,
        (false, _) => HashAlgorithm::Sha256,
    };
    let spec = ImageSpec {
        version,
        security_counter: Some(args.security_counter),
        dependencies: args
            .dependencies
            .iter()
            .map(|d| dependency(d))
            .collect::<Result<_, _>>()?,
        header_size: args.header_size,
        pad_header: args.pad_header,
        hash,
        pure: args.pure,
        key_format: match args.public_key_format {
            PublicKeyFormat::Hash => KeyFormat::Hash,
            PublicKeyFormat::Full => KeyFormat::Full,
        },
        slot: Some(SlotGeometry {
            slot_size: args.slot_size,
            align: args.align,
            max_sectors: args.max_sectors,
        }),
    };
    let signer = load_signer_pem(&read_text(&args.key)?)
        .map_err(|e| BadInput::new(format!("{}: {e}", args.key.display())))?;
    let input = read_input(&args.input, InputKind::Image)?;
    let image = sign_image(&input, &spec, signer.as_ref())
        .map_err(|e| BadInput::new(format!("{e} ({})", e.code())))?;
    fs::write(&args.output, &image)
        .map_err(|e| BadInput::new(format!("{}: {e}", args.output.display())))?;
    let verified = verify_image(
        &mut image.as_slice(),
        &TrustedKey::from_raw(
            match signer.algorithm() {
                iotsec_ota::Algorithm::EdDsa => iotsec_ota::mcuboot::KeyAlgorithm::Ed25519,
                _ => iotsec_ota::mcuboot::KeyAlgorithm::EcdsaP256,
            },
            &signer.public_key(),
        )
        .map_err(BadInput::new)?,
        Layout::File,
    )
    .map_err(BadInput::new)?;
    let mut json = image_json(&verified);
    if let Some(object) = json.as_object_mut() {
        object.remove("valid");
        object.insert("out".into(), json!(args.output.display().to_string()));
        object.insert("bytes".into(), json!(image.len()));
    }
    Ok(Report {
        outcome: Outcome::Accepted,
        text: format!(
            "MCUboot image {version} (security counter {}, {} over {}) of {} bytes written to {}",
            args.security_counter,
            signature_name(verified.signature),
            hash_name(hash),
            image.len(),
            args.output.display()
        ),
        json,
    })
}
