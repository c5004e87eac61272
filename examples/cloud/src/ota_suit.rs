//! `iotsec-cloud ota suit ...`: SUIT envelopes (draft-ietf-suit-manifest) verified and produced
//! by `iotsec_ota::suit`. Keys are PEM files: SubjectPublicKeyInfo to verify, PKCS#8 to sign,
//! P-256 (ES256) or Ed25519 (EdDSA).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_ota::Algorithm;
use iotsec_ota::signer::{Ed25519Key, Es256Key, Signer};
use iotsec_ota::suit::{
    EnvelopeBuilder, SuitKey, SuitManifest, authenticate_envelope, check_device,
};
use serde_json::json;
use zeroize::Zeroizing;

use crate::ota::{
    hash_file, read, read_state, rejected, state_error, trusted_time, uuid_bytes, write,
};

/// SUIT envelopes.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verifies a SUIT envelope: signature, manifest, and with --state the device checks.
    Verify(VerifyArgs),
    /// Produces a signed SUIT envelope for one image.
    Sign(Box<SignArgs>),
}

/// `ota suit verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Trusted public key (SubjectPublicKeyInfo PEM, P-256 or Ed25519).
    #[arg(long)]
    key: PathBuf,
    /// Device state JSON, as `ota verify --state` reads it: applies the vendor, class,
    /// slot-size and sequence-number checks.
    #[arg(long)]
    state: Option<PathBuf>,
    /// The envelope (`SUIT_Envelope_Tagged`, CBOR).
    envelope: PathBuf,
}

/// `ota suit sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// Signing key (PKCS#8 PEM, P-256 or Ed25519).
    #[arg(long)]
    key: PathBuf,
    /// Vendor UUID.
    #[arg(long)]
    vendor: String,
    /// Device class UUID.
    #[arg(long)]
    class: String,
    /// Component identifier, one hex byte string per part (repeat for more parts).
    #[arg(long = "component", required = true)]
    component: Vec<String>,
    /// The image.
    #[arg(long)]
    image: PathBuf,
    /// Sequence number (larger than any envelope published before).
    #[arg(long)]
    sequence: u64,
    /// Adds an install sequence fetching the image from this URI.
    #[arg(long)]
    uri: Option<String>,
    /// Adds an invoke sequence.
    #[arg(long)]
    invoke: bool,
    /// Where to write the envelope.
    #[arg(long)]
    out: PathBuf,
}

/// Runs an `ota suit` subcommand.
pub fn run(command: Command) -> Result<Report, BadInput> {
    match command {
        Command::Verify(args) => verify(&args),
        Command::Sign(args) => sign(&args),
    }
}

fn pem_text(path: &Path) -> Result<Zeroizing<String>, BadInput> {
    String::from_utf8(read(path)?)
        .map(Zeroizing::new)
        .map_err(|_| BadInput::new(format!("{}: not a PEM file", path.display())))
}

fn load_public_key(path: &Path) -> Result<SuitKey, BadInput> {
    use p256::pkcs8::DecodePublicKey;
    let pem = pem_text(path)?;
    let (algorithm, bytes) = if let Ok(key) = p256::PublicKey::from_public_key_pem(&pem) {
        // Uncompressed SEC1: the one P-256 encoding the verifier accepts.
        (
            Algorithm::Es256,
            p256::EncodedPoint::from(key).as_bytes().to_vec(),
        )
    } else if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(&pem) {
        (Algorithm::EdDsa, key.to_bytes().to_vec())
    } else {
        return Err(BadInput::new(format!(
            "{}: not a P-256 or Ed25519 public key (SubjectPublicKeyInfo PEM)",
            path.display()
        )));
    };
    SuitKey::parse(algorithm, &bytes).map_err(|e| BadInput::new(format!("{}: {e}", path.display())))
}

fn load_signer(path: &Path) -> Result<Box<dyn Signer>, BadInput> {
    use p256::pkcs8::DecodePrivateKey;
    let pem = pem_text(path)?;
    if let Ok(key) = p256::SecretKey::from_pkcs8_pem(&pem) {
        let scalar: Zeroizing<[u8; 32]> = Zeroizing::new(key.to_bytes().into());
        return Es256Key::from_scalar(&scalar)
            .map(|k| Box::new(k) as Box<dyn Signer>)
            .map_err(|e| BadInput::new(format!("{}: {e}", path.display())));
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem) {
        let seed = Zeroizing::new(key.to_bytes());
        return Ok(Box::new(Ed25519Key::from_seed(&seed)));
    }
    Err(BadInput::new(format!(
        "{}: not a P-256 or Ed25519 private key (PKCS#8 PEM)",
        path.display()
    )))
}

fn alg_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EdDsa => "EdDSA",
        _ => "ES256",
    }
}

fn uuid_text(bytes: Option<[u8; 16]>) -> serde_json::Value {
    bytes.map_or(serde_json::Value::Null, |b| {
        json!(uuid::Uuid::from_bytes(b).to_string())
    })
}

fn components_json(manifest: &SuitManifest<'_>) -> serde_json::Value {
    manifest
        .components
        .iter()
        .map(|c| {
            json!({
                "id": c.id.iter().map(hex::encode).collect::<Vec<_>>(),
                "vendor_id": uuid_text(c.vendor_id),
                "class_id": uuid_text(c.class_id),
                "images": c.images.iter().map(|i| json!({
                    "sha256": hex::encode(i.digest),
                    "size": i.size,
                    "slot": i.slot,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn verify(args: &VerifyArgs) -> Result<Report, BadInput> {
    let key = load_public_key(&args.key)?;
    let envelope = read(&args.envelope)?;
    let state = match args.state.as_deref() {
        Some(path) => {
            let state = read_state(path)?;
            let now = trusted_time(&state, false)?;
            Some((state, now))
        }
        None => None,
    };
    let view = match &state {
        Some((state, now)) => Some(state.device_state(*now).map_err(state_error)?),
        None => None,
    };
    let outcome = authenticate_envelope(&envelope, &[key]).and_then(|verified| {
        if let Some(view) = &view {
            check_device(&verified.manifest, view)?;
        }
        Ok(verified)
    });
    let verified = match outcome {
        Ok(verified) => verified,
        Err(e) if e.is_refusal() => {
            return Ok(rejected(&e.to_string(), json!({"code": e.code()})));
        }
        Err(e) => return Err(BadInput::new(format!("{}: {e}", args.envelope.display()))),
    };
    let manifest = &verified.manifest;
    let json = json!({
        "valid": true,
        "sequence_number": manifest.sequence_number,
        "algorithm": alg_name(verified.algorithm),
        "device_checks": state.is_some(),
        "components": components_json(manifest),
        "severed": manifest.severed.as_slice(),
    });
    let text = format!(
        "valid: SUIT manifest sequence {}, {} component(s), {} signature, {}",
        manifest.sequence_number,
        manifest.components.len(),
        alg_name(verified.algorithm),
        if state.is_some() {
            "device checks passed"
        } else {
            "device checks not run (no --state)"
        }
    );
    Ok(Report {
        outcome: Outcome::Accepted,
        json,
        text,
    })
}

fn sign(args: &SignArgs) -> Result<Report, BadInput> {
    let parts = args
        .component
        .iter()
        .map(|p| hex::decode(p).map_err(|_| BadInput::new(format!("--component {p}: not hex"))))
        .collect::<Result<Vec<_>, _>>()?;
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let (digest, size) = hash_file(&args.image)?;
    let mut builder = EnvelopeBuilder::new(
        uuid_bytes(&args.vendor, "--vendor")?,
        uuid_bytes(&args.class, "--class")?,
        &parts,
        digest,
        size,
    )
    .sequence_number(args.sequence);
    if let Some(uri) = &args.uri {
        builder = builder.fetch_from(uri);
    }
    if args.invoke {
        builder = builder.invoke();
    }
    let signer = load_signer(&args.key)?;
    let envelope = builder.sign(signer.as_ref()).map_err(BadInput::new)?;
    write(&args.out, &envelope, false)?;
    Ok(Report {
        outcome: Outcome::Accepted,
        text: format!(
            "SUIT envelope (sequence {}, {} signature) written to {}",
            args.sequence,
            alg_name(signer.algorithm()),
            args.out.display()
        ),
        json: json!({
            "sequence_number": args.sequence,
            "algorithm": alg_name(signer.algorithm()),
            "sha256": hex::encode(digest),
            "size": size,
            "out": args.out.display().to_string(),
            "bytes": envelope.len(),
        }),
    })
}
