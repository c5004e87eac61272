//! `iotsec-cloud ota ...`: keys, trust roots, signed manifests and their verification
//! (iotsec-ota). Key files are JSON (`alg`, `kid`, `public`, and `secret` for signing keys, hex);
//! trust roots and manifests are `COSE_Sign` files as the device reads them.

use std::fs;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use iotsec_cli_contract::clock::{future_expiry, host_now};
use iotsec_cli_contract::input::{InputKind, open_input, read_input, read_json};
use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::{Ed25519Key, Es256Key, Signer, key_id_for, sign_document};
use iotsec_ota::trust_root::{ROOT_CONTENT_TYPE, TrustRootPayload};
use iotsec_ota::{
    Algorithm, DeviceStateFile, DeviceStateFileError, ExpiryCheck, HostTime, ImageVerifier,
    Manifest, TrustRoot, TrustedTime,
};
use serde_json::json;
use zeroize::Zeroizing;

/// OTA signing and verification.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generates a signing key and writes it as a JSON key file (mode 0600).
    Keygen {
        /// Signature algorithm.
        #[arg(long, value_enum, default_value_t = KeyAlgorithm::Ed25519)]
        alg: KeyAlgorithm,
        /// Where to write the secret key file.
        #[arg(long)]
        out: PathBuf,
        /// Where to write the public-only key file (optional).
        #[arg(long)]
        public_out: Option<PathBuf>,
    },
    /// Trust root documents.
    #[command(subcommand)]
    Root(RootCommand),
    /// Builds and signs a manifest.
    Sign(Box<SignArgs>),
    /// Verifies a manifest against a trust root (and a device state, and an image).
    Verify(Box<VerifyArgs>),
    /// SUIT envelopes (draft-ietf-suit-manifest): verify and sign.
    #[command(subcommand)]
    Suit(crate::ota_suit::Command),
    /// MCUboot images: verify against a trusted key, sign (as imgtool).
    #[command(subcommand)]
    Mcuboot(crate::ota_mcuboot::Command),
}

/// Signature algorithms for `keygen`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KeyAlgorithm {
    /// EdDSA over Ed25519 (COSE -8).
    Ed25519,
    /// ECDSA P-256 with SHA-256 (COSE -7).
    Es256,
}

/// `ota root init|rotate`.
#[derive(Subcommand, Debug)]
pub enum RootCommand {
    /// Creates trust root version 1, signed by its own root threshold.
    Init(Box<RootArgs>),
    /// Creates version N+1 of a trust root, signed by the root thresholds of N and N+1.
    Rotate {
        /// The current (version N) trust root.
        #[arg(long)]
        current: PathBuf,
        #[command(flatten)]
        root: Box<RootArgs>,
    },
}

/// The content of a trust root.
#[derive(Args, Debug)]
pub struct RootArgs {
    /// Key files of the root role (repeat).
    #[arg(long = "root-key", required = true)]
    root_keys: Vec<PathBuf>,
    /// Signatures the root role needs.
    #[arg(long)]
    root_threshold: u8,
    /// Key files of the release role (repeat).
    #[arg(long = "release-key", required = true)]
    release_keys: Vec<PathBuf>,
    /// Signatures the release role needs.
    #[arg(long)]
    release_threshold: u8,
    /// Secret key files that sign this document (repeat).
    #[arg(long = "sign", required = true)]
    signers: Vec<PathBuf>,
    /// Expiry of this root, seconds since the Unix epoch, in the future (devices with a
    /// trusted clock refuse it afterwards).
    #[arg(long)]
    expires: Option<u64>,
    /// Where to write the signed root.
    #[arg(long)]
    out: PathBuf,
}

/// `ota sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// Vendor UUID.
    #[arg(long)]
    vendor: String,
    /// Device class UUID.
    #[arg(long)]
    class: String,
    /// SemVer version of the release.
    #[arg(long)]
    version: String,
    /// Anti-rollback security counter.
    #[arg(long)]
    security_counter: u64,
    /// Sequence number (larger than any manifest published before).
    #[arg(long)]
    sequence: u64,
    /// A component as ID=PATH (repeat, at most 4).
    #[arg(long = "image", required = true)]
    images: Vec<String>,
    /// Restrict to a device id (repeat).
    #[arg(long = "device")]
    devices: Vec<String>,
    /// Expiry, seconds since the Unix epoch, in the future.
    #[arg(long)]
    expires: Option<u64>,
    /// Rollout gate share in basis points (1..=10000).
    #[arg(long, requires = "rollout_seed")]
    rollout_bps: Option<u16>,
    /// Rollout seed, hex (8 to 32 bytes); only with --rollout-bps.
    #[arg(long, requires = "rollout_bps")]
    rollout_seed: Option<String>,
    /// Secret key files of release signers (repeat).
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// Where to write the signed manifest.
    #[arg(long)]
    out: PathBuf,
}

/// `ota verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The trust root the device holds.
    #[arg(long)]
    root: PathBuf,
    /// The signed manifest.
    #[arg(long)]
    manifest: PathBuf,
    /// An image to check against the manifest (its only component, or --component).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Which component the image is (only with --image).
    #[arg(long, requires = "image")]
    component: Option<String>,
    /// Device state JSON: vendor_id, class_id (UUIDs), device_id, security_counter,
    /// last_sequence, trusted_root_version, slot_capacity, now (optional: without it, this
    /// host's clock); any other key is refused.
    #[arg(long)]
    state: Option<PathBuf>,
    /// The device has no trusted time: do not check root and manifest expiry (only with
    /// --state, and not with a `now` in it).
    #[arg(long, requires = "state")]
    no_trusted_time: bool,
}

/// Runs an `ota` subcommand.
pub fn run(command: Command) -> Result<Report, BadInput> {
    match command {
        Command::Keygen {
            alg,
            out,
            public_out,
        } => keygen(alg, &out, public_out.as_deref()),
        Command::Root(RootCommand::Init(args)) => root(None, &args),
        Command::Root(RootCommand::Rotate {
            current,
            root: args,
        }) => root(Some(&current), &args),
        Command::Sign(args) => sign(&args),
        Command::Verify(args) => verify(&args),
        Command::Suit(command) => crate::ota_suit::run(command),
        Command::Mcuboot(command) => crate::ota_mcuboot::run(command),
    }
}

/// Reads a signed document (SUIT envelope, trust root, manifest) through its size cap.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, BadInput> {
    read_input(path, InputKind::SignedDocument)
}

pub(crate) fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), BadInput> {
    let fail = |e: std::io::Error| BadInput::new(format!("writing {}: {e}", path.display()));
    // A secret goes into a new file created 0600 and is renamed over the target: opening an
    // existing file keeps its mode, so writing in place could leave a key world-readable.
    #[cfg(unix)]
    if secret {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| {
                file.write_all(bytes)?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        return written.map_err(fail);
    }
    let _ = secret;
    fs::write(path, bytes).map_err(fail)
}

fn alg_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EdDsa => "ed25519",
        _ => "es256",
    }
}

fn key_json(key: &dyn Signer) -> serde_json::Value {
    json!({
        "alg": alg_name(key.algorithm()),
        "kid": hex::encode(key.key_id()),
        "public": hex::encode(key.public_key()),
    })
}

fn keygen(alg: KeyAlgorithm, out: &Path, public_out: Option<&Path>) -> Result<Report, BadInput> {
    let (key, secret): (Box<dyn Signer>, Zeroizing<[u8; 32]>) = match alg {
        KeyAlgorithm::Ed25519 => {
            let key = Ed25519Key::generate();
            let secret = key.to_seed();
            (Box::new(key), secret)
        }
        KeyAlgorithm::Es256 => {
            let key = Es256Key::generate();
            let secret = key.to_scalar();
            (Box::new(key), secret)
        }
    };
    let public = key_json(key.as_ref());
    // The secret only ever lives in buffers that are wiped on drop (no serde_json::Value).
    let secret_hex = Zeroizing::new(hex::encode(*secret));
    let mut text = Zeroizing::new(public.to_string());
    text.pop(); // the closing brace
    text.push_str(",\"secret\":\"");
    text.push_str(&secret_hex);
    text.push_str("\"}");
    write(out, text.as_bytes(), true)?;
    if let Some(path) = public_out {
        write(path, public.to_string().as_bytes(), false)?;
    }
    Ok(Report {
        outcome: Outcome::Accepted,
        text: format!(
            "{} key {} written to {}",
            public.get("alg").and_then(|v| v.as_str()).unwrap_or(""),
            public.get("kid").and_then(|v| v.as_str()).unwrap_or(""),
            out.display()
        ),
        json: public,
    })
}

/// A key file as stored; the secret hex is wiped when this is dropped.
#[derive(serde::Deserialize)]
struct KeyFileJson {
    alg: String,
    public: String,
    #[serde(default)]
    secret: Option<String>,
}

impl Drop for KeyFileJson {
    fn drop(&mut self) {
        if let Some(secret) = self.secret.as_mut() {
            zeroize::Zeroize::zeroize(secret);
        }
    }
}

/// A key file: public part always, secret part for signing keys.
struct KeyFile {
    algorithm: Algorithm,
    public: Vec<u8>,
    signer: Option<Box<dyn Signer>>,
}

fn load_key(path: &Path) -> Result<KeyFile, BadInput> {
    let bad = |what: &str| BadInput::new(format!("{}: {what}", path.display()));
    let text = Zeroizing::new(read_input(path, InputKind::Key)?);
    let file: KeyFileJson =
        serde_json::from_slice(&text).map_err(|e| bad(&format!("not a key file ({e})")))?;
    let algorithm = match file.alg.as_str() {
        "ed25519" => Algorithm::EdDsa,
        "es256" => Algorithm::Es256,
        _ => return Err(bad("alg must be ed25519 or es256")),
    };
    let public = hex::decode(&file.public).map_err(|_| bad("public must be hex"))?;
    algorithm
        .check_public_key(&public)
        .map_err(|_| bad("public is not a valid canonical key"))?;
    let signer: Option<Box<dyn Signer>> = match file.secret.as_deref() {
        None => None,
        Some(h) => {
            let secret = Zeroizing::new(hex::decode(h).map_err(|_| bad("secret must be hex"))?);
            let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
                secret
                    .as_slice()
                    .try_into()
                    .map_err(|_| bad("secret must be 32 bytes"))?,
            );
            let signer: Box<dyn Signer> = match algorithm {
                Algorithm::EdDsa => Box::new(Ed25519Key::from_seed(&secret)),
                _ => Box::new(Es256Key::from_scalar(&secret).map_err(|_| bad("bad secret"))?),
            };
            if signer.public_key() != public {
                return Err(bad("secret does not match public"));
            }
            Some(signer)
        }
    };
    Ok(KeyFile {
        algorithm,
        public,
        signer,
    })
}

fn load_signers(paths: &[PathBuf]) -> Result<Vec<Box<dyn Signer>>, BadInput> {
    paths
        .iter()
        .map(|p| {
            load_key(p)?
                .signer
                .ok_or_else(|| BadInput::new(format!("{}: not a secret key file", p.display())))
        })
        .collect()
}

fn root(current: Option<&Path>, args: &RootArgs) -> Result<Report, BadInput> {
    let current_doc = current
        .map(|p| read_input(p, InputKind::SignedDocument))
        .transpose()?;
    let current_root = current_doc
        .as_deref()
        .map(TrustRoot::from_pinned)
        .transpose()
        .map_err(|e| BadInput::new(format!("current root: {e}")))?;
    let version = current_root.as_ref().map_or(1, |r| r.version() + 1);
    let mut keys: Vec<(Vec<u8>, Algorithm, Vec<u8>)> = Vec::new();
    let mut role = |paths: &[PathBuf]| -> Result<Vec<Vec<u8>>, BadInput> {
        let mut kids = Vec::new();
        for path in paths {
            let key = load_key(path)?;
            let kid = key_id_for(key.algorithm, &key.public);
            if !keys.iter().any(|(k, _, _)| *k == kid) {
                keys.push((kid.clone(), key.algorithm, key.public));
            }
            kids.push(kid);
        }
        Ok(kids)
    };
    let root_kids = role(&args.root_keys)?;
    let release_kids = role(&args.release_keys)?;
    let payload = TrustRootPayload {
        version,
        keys,
        root: (args.root_threshold, root_kids),
        release: (args.release_threshold, release_kids),
        expires_at: args
            .expires
            .map(|e| future_expiry("--expires", e))
            .transpose()?,
    };
    let signers = load_signers(&args.signers)?;
    let refs: Vec<&dyn Signer> = signers.iter().map(|s| s.as_ref()).collect();
    let document =
        sign_document(ROOT_CONTENT_TYPE, &payload.to_cbor(), &refs).map_err(BadInput::new)?;
    // Check the result the way a device will before writing it.
    let checked = match &current_root {
        Some(root) => root.rotate(&document).map(|r| r.version()),
        None => TrustRoot::from_pinned(&document).map(|r| r.version()),
    };
    match checked {
        Ok(version) => {
            write(&args.out, &document, false)?;
            Ok(Report {
                outcome: Outcome::Accepted,
                text: format!(
                    "trust root version {version} written to {}",
                    args.out.display()
                ),
                json: json!({"version": version, "out": args.out.display().to_string(), "bytes": document.len()}),
            })
        }
        Err(e) if e.is_refusal() => Ok(rejected(&e.to_string(), json!({"version": version}))),
        Err(e) => Err(BadInput::new(format!("trust root: {e}"))),
    }
}

fn set(json: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(object) = json.as_object_mut() {
        object.insert(key.into(), value);
    }
}

pub(crate) fn rejected(reason: &str, mut json: serde_json::Value) -> Report {
    set(&mut json, "valid", json!(false));
    set(&mut json, "reason", json!(reason));
    Report {
        outcome: Outcome::Rejected,
        text: format!("rejected: {reason}"),
        json,
    }
}

pub(crate) fn uuid_bytes(text: &str, what: &str) -> Result<[u8; 16], BadInput> {
    uuid::Uuid::parse_str(text)
        .map(|u| *u.as_bytes())
        .map_err(|e| BadInput::new(format!("{what}: {e}")))
}

/// SHA-256 and length of an image file, streamed through the image cap.
pub(crate) fn hash_file(path: &Path) -> Result<([u8; 32], u64), BadInput> {
    use sha2::Digest;
    let mut file = open_input(path, InputKind::Image)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read_chunk(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(buffer.get(..n).unwrap_or(&[]));
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

fn sign(args: &SignArgs) -> Result<Report, BadInput> {
    let mut builder = ManifestBuilder::new(
        uuid_bytes(&args.vendor, "--vendor")?,
        uuid_bytes(&args.class, "--class")?,
        &args.version,
    )
    .security_counter(args.security_counter)
    .sequence_number(args.sequence);
    for spec in &args.images {
        let (id, path) = spec
            .split_once('=')
            .ok_or_else(|| BadInput::new(format!("--image {spec}: expected ID=PATH")))?;
        let (digest, size) = hash_file(Path::new(path))?;
        builder = builder.component(ComponentSpec {
            id: id.into(),
            digest,
            size,
            delta_base: None,
        });
    }
    for device in &args.devices {
        builder = builder.device(device.as_bytes());
    }
    if let Some(expires) = args.expires {
        builder = builder.expires_at(future_expiry("--expires", expires)?);
    }
    if let (Some(bps), Some(seed)) = (args.rollout_bps, &args.rollout_seed) {
        let seed = hex::decode(seed).map_err(|_| BadInput::new("--rollout-seed must be hex"))?;
        builder = builder.rollout(bps, &seed);
    }
    let signers = load_signers(&args.keys)?;
    let refs: Vec<&dyn Signer> = signers.iter().map(|s| s.as_ref()).collect();
    let document = builder.sign(&refs).map_err(BadInput::new)?;
    write(&args.out, &document, false)?;
    Ok(Report {
        outcome: Outcome::Accepted,
        text: format!(
            "manifest {} (counter {}, sequence {}) signed by {} keys, written to {}",
            args.version,
            args.security_counter,
            args.sequence,
            refs.len(),
            args.out.display()
        ),
        json: json!({
            "version": args.version,
            "security_counter": args.security_counter,
            "sequence": args.sequence,
            "signers": refs.iter().map(|s| hex::encode(s.key_id())).collect::<Vec<_>>(),
            "out": args.out.display().to_string(),
            "bytes": document.len(),
        }),
    })
}

/// Reads a device state file through its size cap (the crate refuses unknown keys).
pub(crate) fn read_state(path: &Path) -> Result<DeviceStateFile, BadInput> {
    DeviceStateFile::from_value(read_json(path, InputKind::DeviceState)?).map_err(state_error)
}

/// A device state file that cannot describe the device: bad input, named as the state's.
pub(crate) fn state_error(e: DeviceStateFileError) -> BadInput {
    BadInput::new(format!("state: {e}"))
}

/// The device's time: the state file's `now`, else this host's clock, unless
/// `--no-trusted-time` says the device has none (then expiry is not checked, visibly).
pub(crate) fn trusted_time(
    state: &DeviceStateFile,
    no_trusted_time: bool,
) -> Result<TrustedTime, BadInput> {
    let host = if no_trusted_time {
        HostTime::NoTrustedTime
    } else {
        HostTime::Clock(host_now()?)
    };
    state.trusted_time(host).map_err(state_error)
}

fn verify(args: &VerifyArgs) -> Result<Report, BadInput> {
    let root_doc = read_input(&args.root, InputKind::SignedDocument)?;
    let manifest_doc = read_input(&args.manifest, InputKind::SignedDocument)?;
    // A trust root that does not verify is bad input to this command, not a rejected manifest.
    let root =
        TrustRoot::from_pinned(&root_doc).map_err(|e| BadInput::new(format!("trust root: {e}")))?;
    let state = match &args.state {
        Some(path) => {
            let state = read_state(path)?;
            let now = trusted_time(&state, args.no_trusted_time)?;
            Some((state, now))
        }
        None => None,
    };
    let mut expiry = None;
    let outcome: Result<(Manifest<'_>, u8), iotsec_ota::Error> = match &state {
        Some((state, now)) => {
            let view = state.device_state(*now).map_err(state_error)?;
            iotsec_ota::verify(&manifest_doc, &root, &view).map(|v| {
                expiry = Some(v.expiry);
                (v.manifest, v.signers)
            })
        }
        None => iotsec_ota::verifier::verify_release_signatures(&manifest_doc, &root),
    };
    let (manifest, signers) = match outcome {
        Ok(ok) => ok,
        Err(e) if e.is_refusal() => {
            return Ok(rejected(&e.to_string(), json!({"code": e.code()})));
        }
        Err(e) => return Err(BadInput::new(format!("manifest: {e}"))),
    };
    let mut json = json!({
        "valid": true,
        "version": manifest.version,
        "security_counter": manifest.security_counter,
        "sequence": manifest.sequence_number,
        "signers": signers,
        "root_version": root.version(),
        "device_checks": state.is_some(),
        "expiry_checked_at": match expiry {
            Some(ExpiryCheck::CheckedAt(now)) => json!(now),
            _ => json!(null),
        },
        "components": manifest.components.iter().map(|c| json!({
            "id": c.id, "size": c.size, "sha256": hex::encode(c.digest)
        })).collect::<Vec<_>>(),
    });
    if let Some(image) = &args.image {
        let component = match &args.component {
            Some(id) => manifest.component(id),
            None if manifest.components.len() == 1 => manifest.components.first(),
            None => {
                return Err(BadInput::new(
                    "manifest has several components: pass --component",
                ));
            }
        }
        .ok_or_else(|| BadInput::new("no such component in the manifest"))?;
        let mut file = open_input(image, InputKind::Image)?;
        let mut verifier = ImageVerifier::new(component);
        let mut buffer = vec![0u8; 1 << 16];
        let checked = loop {
            let n = file.read_chunk(&mut buffer)?;
            if n == 0 {
                break verifier.finish();
            }
            if let Err(e) = verifier.update(buffer.get(..n).unwrap_or(&[])) {
                break Err(e);
            }
        };
        match checked {
            Err(e) if e.is_refusal() => {
                set(&mut json, "code", json!(e.code()));
                return Ok(rejected(&format!("image: {e}"), json));
            }
            Err(e) => return Err(BadInput::new(format!("image: {e}"))),
            Ok(()) => {}
        }
        set(&mut json, "image", json!("verified"));
    }
    let text = format!(
        "valid: {} (counter {}, sequence {}), {} release signatures, root v{}{}{}",
        manifest.version,
        manifest.security_counter,
        manifest.sequence_number,
        signers,
        root.version(),
        match expiry {
            Some(ExpiryCheck::CheckedAt(_)) => ", device checks passed",
            Some(_) => ", device checks passed (expiry not checked: --no-trusted-time)",
            None => ", device checks not run (no --state)",
        },
        if args.image.is_some() {
            ", image verified"
        } else {
            ""
        },
    );
    Ok(Report {
        outcome: Outcome::Accepted,
        json,
        text,
    })
}
