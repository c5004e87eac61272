//! `iotsec-device ota ...`: the A/B update flow of iotsec-ota on slot files.
//!
//! A slot directory holds `slot-a.bin`, `slot-b.bin` and `boot-record.bin` (the boot record,
//! replaced atomically by write-and-rename). `provision` writes the factory image; `apply`
//! verifies a manifest, installs the image into the inactive slot while verifying it, trial
//! boots it and confirms or reverts it from a health check; `boot` runs the boot selection
//! (reverting an unconfirmed trial).

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use iotsec_cli_contract::clock::device_time;
use iotsec_cli_contract::input::{CappedInput, InputKind, open_input, read_input, read_json};
use iotsec_cli_contract::json_fields::Fields;
use iotsec_cli_contract::{BadInput, Outcome, Progress, Report};
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
    /// The trust root this device holds.
    #[arg(long)]
    root: PathBuf,
    /// The signed manifest.
    #[arg(long)]
    manifest: PathBuf,
    /// The image.
    #[arg(long)]
    image: PathBuf,
    /// Which component the image is (default: the manifest's only one).
    #[arg(long)]
    component: Option<String>,
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

#[derive(Debug)]
struct SlotFiles {
    dir: PathBuf,
}

impl SlotFiles {
    fn slot_path(&self, slot: Slot) -> PathBuf {
        self.dir.join(match slot {
            Slot::A => "slot-a.bin",
            Slot::B => "slot-b.bin",
        })
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("boot-record.bin")
    }
}

impl BootStore for SlotFiles {
    type Error = std::io::Error;

    fn load_record(&mut self) -> Result<BootRecord, Self::Error> {
        let bytes = fs::read(self.record_path())?;
        BootRecord::from_bytes::<()>(&bytes).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "boot record is corrupt")
        })
    }

    fn store_record(&mut self, record: &BootRecord) -> Result<(), Self::Error> {
        let tmp = self.dir.join("boot-record.bin.tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&record.to_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, self.record_path())?;
        // The rename is durable only once the directory entry is: without this, a power cut
        // could bring back the old record (and an older security counter).
        fs::File::open(&self.dir)?.sync_all()
    }

    fn erase_slot(&mut self, slot: Slot) -> Result<(), Self::Error> {
        fs::File::create(self.slot_path(slot)).map(|_| ())
    }

    fn write_slot(&mut self, slot: Slot, offset: u64, data: &[u8]) -> Result<(), Self::Error> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.slot_path(slot))?;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(data)?;
        file.sync_data()
    }

    fn read_slot(
        &mut self,
        slot: Slot,
        offset: u64,
        buffer: &mut [u8],
    ) -> Result<usize, Self::Error> {
        let mut file = match fs::File::open(self.slot_path(slot)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        file.seek(SeekFrom::Start(offset))?;
        file.read(buffer)
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
    let mut files = SlotFiles {
        dir: args.slots.clone(),
    };
    let record = files.load_record().map_err(|e| {
        BadInput::new(format!(
            "reading boot record in {}: {e} (run ota provision)",
            args.slots.display()
        ))
    })?;
    let id = identity(&args.state)?;
    let now = match device_time(id.now, args.no_trusted_time)? {
        Some(now) => TrustedTime::At(now),
        None => TrustedTime::NoTrustedClock,
    };
    let root_doc = read_input(&args.root, InputKind::SignedDocument)?;
    let root =
        TrustRoot::from_pinned(&root_doc).map_err(|e| BadInput::new(format!("trust root: {e}")))?;
    let manifest_doc = read_input(&args.manifest, InputKind::SignedDocument)?;
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
        Err(e) => {
            let mut report = rejected(e.to_string(), Some(&record));
            if let Some(object) = report.json.as_object_mut() {
                object.insert("code".into(), json!(e.code()));
            }
            return Ok(report);
        }
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
        return Ok(rejected(
            format!(
                "image of {image_len} bytes is longer than the signed {}",
                component.size
            ),
            Some(&record),
        ));
    }
    let mut image = ImageChunks::new(input, image_len);
    let ticket = InstallTicket {
        security_counter: manifest.security_counter,
        sequence_number: manifest.sequence_number,
        digest: component.digest,
        size: component.size,
    };
    let mut boot = TrialBoot::new(files);
    let result = boot.install(&ticket, &mut image);
    image.finish()?;
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
    let (outcome, what) = match args.health {
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
    let applied = outcome == Outcome::Accepted && !matches!(args.health, Health::Reset);
    let record = boot
        .store()
        .load_record()
        .map_err(|e| BadInput::new(format!("slot store: {e}")))?;
    let mut json = record_json(&record);
    if let Some(object) = json.as_object_mut() {
        object.insert("applied".into(), json!(applied));
        object.insert("installed_slot".into(), json!(slot_name(installed)));
        object.insert("version".into(), json!(manifest.version));
        object.insert("result".into(), json!(what));
        object.insert("expiry_checked_at".into(), json!(expiry_checked_at));
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
            manifest.version,
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
