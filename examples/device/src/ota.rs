//! `iotsec-device ota ...`: the A/B update flow of iotsec-ota on slot files.
//!
//! A slot directory holds `slot-a.bin`, `slot-b.bin` and `boot-record.bin` (the boot record,
//! replaced atomically by write-and-rename). `provision` writes the factory image; `apply`
//! verifies a manifest, installs the image into the inactive slot while verifying it, trial
//! boots it and confirms or reverts it from a health check; `boot` runs the boot selection
//! (reverting an unconfirmed trial).

use std::fs;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use iotsec_cli_contract::clock::device_time;
use iotsec_cli_contract::input::{CappedInput, InputKind, open_input, read_input, read_json};
use iotsec_cli_contract::json_fields::Fields;
use iotsec_cli_contract::{BadInput, Outcome, Progress, Report};
use iotsec_device::slot_files::SlotFiles;
use iotsec_ota::mcuboot::{Layout, TrustedKey, install_ticket, verify_image};
use iotsec_ota::trial_boot::{
    BootError, BootRecord, BootStore, InstallTicket, Slot, SlotState, TrialBoot,
};
use iotsec_ota::{DeviceState, ExpiryCheck, TrustRoot, TrustedTime};
use serde_json::json;
use sha2::Digest;

/// A/B updates on slot files.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Writes the factory image into slot A and a fresh boot record.
    Provision {
        /// Slot directory (created).
        #[arg(long)]
        slots: PathBuf,
        /// Factory image.
        #[arg(long)]
        image: PathBuf,
        /// Its security counter.
        #[arg(long)]
        security_counter: u64,
        /// Its manifest sequence number.
        #[arg(long)]
        sequence: u64,
    },
    /// Verifies, installs, trial-boots and confirms (or reverts) an update.
    Apply(Box<ApplyArgs>),
    /// Runs boot selection after a reset (an unconfirmed trial reverts here).
    Boot {
        /// Slot directory.
        #[arg(long)]
        slots: PathBuf,
    },
}

/// `ota apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Slot directory (from `ota provision`).
    #[arg(long)]
    slots: PathBuf,
    /// The trust root this device holds (with --manifest).
    #[arg(long, required_unless_present = "mcuboot_key", requires = "manifest")]
    root: Option<PathBuf>,
    /// The signed manifest (with --root).
    #[arg(long, requires = "root")]
    manifest: Option<PathBuf>,
    /// The image: the component the manifest signs or, with --mcuboot-key, a signed MCUboot
    /// image (its protected security counter and version take the manifest's place).
    #[arg(long)]
    image: PathBuf,
    /// Which component the image is (default: the manifest's only one).
    #[arg(long, conflicts_with = "mcuboot_key")]
    component: Option<String>,
    /// The public key (PEM) this device trusts for MCUboot images, instead of --root and
    /// --manifest.
    #[arg(long, conflicts_with_all = ["root", "manifest"])]
    mcuboot_key: Option<PathBuf>,
    /// Device identity JSON: vendor_id, class_id (UUIDs), device_id, trusted_root_version,
    /// slot_capacity, now (optional: without it, this host's clock); any other key is refused.
    /// Counters come from the boot record.
    #[arg(long)]
    state: PathBuf,
    /// The device has no trusted time: do not check root and manifest expiry (not with a
    /// `now` in the state file).
    #[arg(long)]
    no_trusted_time: bool,
    /// Outcome of the new image's health check on its trial boot.
    #[arg(long, value_enum, default_value_t = Health::Pass)]
    health: Health,
}

/// Health check result of the trial boot.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Health {
    /// Healthy: confirm (commits the security counter).
    Pass,
    /// Unhealthy: revert now.
    Fail,
    /// Power lost before the check: the next `ota boot` reverts.
    Reset,
}

/// Runs an `ota` subcommand.
pub fn run(command: Command) -> Result<Report, BadInput> {
    match command {
        Command::Provision {
            slots,
            image,
            security_counter,
            sequence,
        } => provision(&slots, &image, security_counter, sequence),
        Command::Apply(args) => apply(&args),
        Command::Boot { slots } => boot(&slots),
    }
}

fn slot_name(slot: Slot) -> &'static str {
    match slot {
        Slot::A => "A",
        Slot::B => "B",
    }
}

fn record_json(record: &BootRecord) -> serde_json::Value {
    let state = |s: SlotState| match s {
        SlotState::Empty => "empty",
        SlotState::Writing => "writing",
        SlotState::Verified => "verified",
    };
    json!({
        "confirmed": slot_name(record.confirmed),
        "trial": record.trial.map(|t| slot_name(t.slot)),
        "security_counter": record.security_counter,
        "last_sequence": record.last_sequence,
        "slot_a": state(record.slot(Slot::A).state),
        "slot_b": state(record.slot(Slot::B).state),
    })
}

fn provision(dir: &Path, image: &Path, counter: u64, sequence: u64) -> Result<Report, BadInput> {
    let data = read_input(image, InputKind::Image)?;
    fs::create_dir_all(dir)
        .map_err(|e| BadInput::new(format!("creating slot directory {}: {e}", dir.display())))?;
    let mut files = SlotFiles {
        dir: dir.to_path_buf(),
    };
    let record = BootRecord::factory(InstallTicket {
        security_counter: counter,
        sequence_number: sequence,
        digest: sha2::Sha256::digest(&data).into(),
        size: data.len() as u64,
    });
    let io =
        |e: std::io::Error| BadInput::new(format!("writing slot directory {}: {e}", dir.display()));
    files.erase_slot(Slot::A).map_err(io)?;
    files.write_slot(Slot::A, 0, &data).map_err(io)?;
    files.erase_slot(Slot::B).map_err(io)?;
    files.store_record(&record).map_err(io)?;
    Ok(Report {
        outcome: Outcome::Accepted,
        text: format!(
            "provisioned {} with the factory image in slot A",
            dir.display()
        ),
        json: record_json(&record),
    })
}

fn rejected(reason: String, record: Option<&BootRecord>) -> Report {
    let mut json = record.map_or_else(|| json!({}), record_json);
    if let Some(object) = json.as_object_mut() {
        object.insert("applied".into(), json!(false));
        object.insert("reason".into(), json!(reason));
    }
    Report {
        outcome: Outcome::Rejected,
        text: format!("rejected: {reason}"),
        json,
    }
}

fn boot_error(e: BootError<std::io::Error>) -> Result<String, BadInput> {
    match e {
        BootError::Store(io) => Err(BadInput::new(format!("slot store: {io}"))),
        other => Ok(other.to_string()),
    }
}

struct Identity {
    vendor_id: [u8; 16],
    class_id: [u8; 16],
    device_id: Vec<u8>,
    trusted_root_version: u64,
    slot_capacity: u64,
    now: Option<u64>,
}

fn identity(path: &Path) -> Result<Identity, BadInput> {
    let value = read_json(path, InputKind::DeviceState)?;
    let f = Fields::new(&value, "state");
    f.only(&[
        "vendor_id",
        "class_id",
        "device_id",
        "trusted_root_version",
        "slot_capacity",
        "now",
    ])?;
    Ok(Identity {
        vendor_id: f.uuid("vendor_id")?,
        class_id: f.uuid("class_id")?,
        device_id: f.text("device_id")?.as_bytes().to_vec(),
        trusted_root_version: f.number("trusted_root_version")?,
        slot_capacity: f.number("slot_capacity")?,
        // Present but not an unsigned integer is bad input: dropping it would switch the
        // expiry checks off.
        now: f.optional_number("now", "seconds since the epoch")?,
    })
}

fn apply(args: &ApplyArgs) -> Result<Report, BadInput> {
    let files = SlotFiles {
        dir: args.slots.clone(),
    };
    let mut probe = SlotFiles {
        dir: args.slots.clone(),
    };
    let record = probe.load_record().map_err(|e| {
        BadInput::new(format!(
            "reading boot record in {}: {e} (run ota provision)",
            args.slots.display()
        ))
    })?;
    let id = identity(&args.state)?;
    let (ticket, version, mut chunks, expiry_checked_at) = match &args.mcuboot_key {
        Some(key) => match mcuboot_ticket(args, key, &id, &record)? {
            Ok((ticket, version, image)) => (ticket, version, Chunks::Memory(image), None),
            Err(report) => return Ok(report),
        },
        None => match manifest_ticket(args, &id, &record)? {
            Ok(((ticket, version, image), expiry)) => {
                (ticket, version, Chunks::File(image), expiry)
            }
            Err(report) => return Ok(report),
        },
    };
    let mut report = install_and_boot(files, args.health, &ticket, &version, &mut chunks)?;
    if let Some(object) = report.json.as_object_mut() {
        object.insert("expiry_checked_at".into(), json!(expiry_checked_at));
    }
    Ok(report)
}

fn refused(e: &dyn std::fmt::Display, code: &str, record: &BootRecord) -> Report {
    let mut report = rejected(e.to_string(), Some(record));
    if let Some(object) = report.json.as_object_mut() {
        object.insert("code".into(), json!(code));
    }
    report
}

/// The ticket, version and image of a manifest-signed update, or the refusal.
type Ticket<I> = Result<(InstallTicket, String, I), Report>;

/// A manifest update's ticket, version and image, and the time its expiry was checked at.
type ManifestTicket = ((InstallTicket, String, ImageChunks), Option<u64>);

/// The manifest path's ticket, with the time its expiry was checked at (`None`: the device has
/// no trusted time, `--no-trusted-time`).
fn manifest_ticket(
    args: &ApplyArgs,
    id: &Identity,
    record: &BootRecord,
) -> Result<Result<ManifestTicket, Report>, BadInput> {
    let (Some(root_path), Some(manifest_path)) = (&args.root, &args.manifest) else {
        return Err(BadInput::new(
            "pass --root and --manifest, or --mcuboot-key",
        ));
    };
    let now = match device_time(id.now, args.no_trusted_time)? {
        Some(now) => TrustedTime::At(now),
        None => TrustedTime::NoTrustedClock,
    };
    let root_doc = read_input(root_path, InputKind::SignedDocument)?;
    let root =
        TrustRoot::from_pinned(&root_doc).map_err(|e| BadInput::new(format!("trust root: {e}")))?;
    let manifest_doc = read_input(manifest_path, InputKind::SignedDocument)?;
    let state = DeviceState {
        vendor_id: id.vendor_id,
        class_id: id.class_id,
        device_id: &id.device_id,
        security_counter: record.security_counter,
        last_sequence: record.last_sequence,
        trusted_root_version: id.trusted_root_version,
        slot_capacity: id.slot_capacity,
        now,
    };
    let verified = match iotsec_ota::verify(&manifest_doc, &root, &state) {
        Ok(v) => v,
        Err(e) => return Ok(Err(refused(&e, e.code(), record))),
    };
    let expiry_checked_at = match verified.expiry {
        ExpiryCheck::CheckedAt(now) => Some(now),
        _ => None,
    };
    let manifest = verified.manifest;
    let component = match &args.component {
        Some(name) => manifest.component(name),
        None if manifest.components.len() == 1 => manifest.components.first(),
        None => {
            return Err(BadInput::new(
                "manifest has several components: pass --component",
            ));
        }
    }
    .ok_or_else(|| BadInput::new("no such component in the manifest"))?;
    let input = open_input(&args.image, InputKind::Image)?;
    let image_len = input.len.unwrap_or(component.size);
    if image_len > component.size {
        return Ok(Err(rejected(
            format!(
                "image of {image_len} bytes is longer than the signed {}",
                component.size
            ),
            Some(record),
        )));
    }
    let image = ImageChunks::new(input, image_len);
    let ticket = InstallTicket {
        security_counter: manifest.security_counter,
        sequence_number: manifest.sequence_number,
        digest: component.digest,
        size: component.size,
    };
    Ok(Ok((
        (ticket, manifest.version.to_owned(), image),
        expiry_checked_at,
    )))
}

/// An MCUboot image: verified against the trusted key, then held to the device's committed
/// security counter (iotsec-ota `mcuboot::install_ticket`). The image is read once, bounded
/// by the slot capacity, and the same bytes are installed.
fn mcuboot_ticket(
    args: &ApplyArgs,
    key_path: &Path,
    id: &Identity,
    record: &BootRecord,
) -> Result<Ticket<Vec<u8>>, BadInput> {
    let key_bytes = read_input(key_path, InputKind::Key)?;
    let key_text = String::from_utf8(key_bytes).map_err(|_| {
        BadInput::new(format!(
            "reading key file {}: not UTF-8 text",
            key_path.display()
        ))
    })?;
    let key = TrustedKey::from_pem(&key_text)
        .map_err(|e| BadInput::new(format!("{}: {e}", key_path.display())))?;
    let image_len = fs::metadata(&args.image)
        .map_err(|e| BadInput::new(format!("{}: {e}", args.image.display())))?
        .len();
    if image_len > id.slot_capacity {
        return Ok(Err(rejected(
            format!(
                "image of {image_len} bytes exceeds the slot capacity of {}",
                id.slot_capacity
            ),
            Some(record),
        )));
    }
    let image = read_input(&args.image, InputKind::Image)?;
    let checked = verify_image(&mut image.as_slice(), &key, Layout::File).and_then(|verified| {
        let digest: [u8; 32] = sha2::Sha256::digest(&image).into();
        install_ticket(
            &verified,
            record.security_counter,
            digest,
            image.len() as u64,
        )
        .map(|ticket| (ticket, verified.version().to_string()))
    });
    match checked {
        Ok((ticket, version)) => Ok(Ok((ticket, version, image))),
        Err(e) if e.is_bad_input() => Err(BadInput::new(format!("{}: {e}", args.image.display()))),
        Err(e) => Ok(Err(refused(&e, e.code(), record))),
    }
}

/// The image bytes to install, from the file (manifest updates) or from memory (MCUboot
/// images, already read to be verified).
enum Chunks {
    File(ImageChunks),
    Memory(Vec<u8>),
}

fn install_and_boot(
    files: SlotFiles,
    health: Health,
    ticket: &InstallTicket,
    version: &str,
    chunks: &mut Chunks,
) -> Result<Report, BadInput> {
    let mut boot = TrialBoot::new(files);
    let result = match chunks {
        Chunks::File(image) => {
            let result = boot.install(ticket, &mut *image);
            image.finish()?;
            result
        }
        Chunks::Memory(image) => boot.install(ticket, image.chunks(64 * 1024)),
    };
    let installed = match result {
        Ok(slot) => slot,
        Err(e) => {
            let reason = boot_error(e)?;
            let record = boot.store().load_record().ok();
            return Ok(rejected(reason, record.as_ref()));
        }
    };
    let booted = boot
        .boot()
        .or_else(|e| boot_error(e).and_then(|r| Err(BadInput::new(r))))?;
    let (outcome, what) = match health {
        Health::Pass if booted == installed => match boot.confirm(booted) {
            Ok(()) => (Outcome::Accepted, "confirmed"),
            Err(e) => return Ok(rejected(boot_error(e)?, None)),
        },
        Health::Pass => (Outcome::Rejected, "trial slot did not boot"),
        Health::Fail => {
            boot.reject(booted)
                .or_else(|e| boot_error(e).and_then(|r| Err(BadInput::new(r))))?;
            boot.boot()
                .or_else(|e| boot_error(e).and_then(|r| Err(BadInput::new(r))))?;
            (Outcome::Rejected, "reverted after a failed health check")
        }
        // The update was accepted and is on trial; it is not applied until confirmed.
        Health::Reset => (Outcome::Accepted, "trial pending (reset before confirm)"),
    };
    let applied = outcome == Outcome::Accepted && !matches!(health, Health::Reset);
    let record = boot
        .store()
        .load_record()
        .map_err(|e| BadInput::new(format!("slot store: {e}")))?;
    let mut json = record_json(&record);
    if let Some(object) = json.as_object_mut() {
        object.insert("applied".into(), json!(applied));
        object.insert("installed_slot".into(), json!(slot_name(installed)));
        object.insert("version".into(), json!(version));
        object.insert("result".into(), json!(what));
    }
    Ok(Report {
        outcome,
        text: format!(
            "{} {} into slot {}: {what}; security counter {}",
            if applied {
                "applied"
            } else if outcome == Outcome::Accepted {
                "installed"
            } else {
                "not applied:"
            },
            version,
            slot_name(installed),
            record.security_counter
        ),
        json,
    })
}

/// The image file in 64 KiB chunks, read one at a time (constant memory whatever the image
/// size, never past the image cap), with progress on a terminal. A read error ends the stream
/// (the install then fails its size check) and is reported by [`ImageChunks::finish`] as bad
/// input.
struct ImageChunks {
    input: CappedInput,
    error: Option<BadInput>,
    progress: Progress,
}

impl ImageChunks {
    fn new(input: CappedInput, len: u64) -> Self {
        ImageChunks {
            input,
            error: None,
            progress: Progress::bytes("writing the inactive slot", len),
        }
    }

    fn finish(&mut self) -> Result<(), BadInput> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Iterator for &mut ImageChunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let mut buffer = vec![0u8; 64 * 1024];
        match self.input.read_chunk(&mut buffer) {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                self.progress.advance(n as u64);
                Some(buffer)
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

fn boot(dir: &Path) -> Result<Report, BadInput> {
    let mut boot = TrialBoot::new(SlotFiles {
        dir: dir.to_path_buf(),
    });
    match boot.boot() {
        Ok(slot) => {
            let record = boot
                .store()
                .load_record()
                .map_err(|e| BadInput::new(format!("slot store: {e}")))?;
            let mut json = record_json(&record);
            if let Some(object) = json.as_object_mut() {
                object.insert("booted".into(), json!(slot_name(slot)));
            }
            Ok(Report {
                outcome: Outcome::Accepted,
                text: format!("booting slot {}", slot_name(slot)),
                json,
            })
        }
        Err(e) => Ok(rejected(boot_error(e)?, None)),
    }
}
