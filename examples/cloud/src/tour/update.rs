//! Step 5, update (iotsec-ota): the cloud makes a trust root (Ed25519 root key, ES256 release
//! key) and signs a manifest for the release the gate let through; the device, provisioned at
//! the factory with 1.0.0 in slot A, verifies the manifest, streams the image through the
//! digest check, installs it into slot B, trial-boots it and confirms it (committing its
//! security counter). Attack: a correctly signed older release (lower security counter, newer
//! sequence number) is refused as a rollback.

use iotsec_ota::manifest_builder::{ComponentSpec, ManifestBuilder};
use iotsec_ota::signer::Es256Key;
use iotsec_ota::trial_boot::{BootRecord, BootStore, InstallTicket, Slot, TrialBoot};
use iotsec_ota::{DeviceState, ImageVerifier, MemoryBootStore, TrustRoot, verify};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Attack, DEVICE_ID, FACTORY_VERSION, Fleet, Step, failed, firmware_image};

const NAME: &str = "update";
const VENDOR: [u8; 16] = *b"iotsec-demo-vndr";
const CLASS: [u8; 16] = *b"sensor-class-v1\0";
/// Security counters: the factory image, the release, the older image the attack replays.
const FACTORY_COUNTER: u64 = 1;
const RELEASE_COUNTER: u64 = 2;
/// Flash chunk size of the simulated device.
const CHUNK: usize = 4096;

/// Capacity of each flash slot of the simulated device.
const SLOT_CAPACITY: usize = 1 << 20;

/// The cloud's signing keys and the trust root the device pins.
struct Publisher {
    release: Es256Key,
    root_document: Vec<u8>,
}

/// Runs the step and its rollback attack.
pub fn run(fleet: &Fleet, attacks: &mut Vec<Attack>) -> Step {
    let Some((version, image)) = &fleet.released else {
        return failed(NAME, "no release passed the deploy gate");
    };
    match update(fleet, version, image, attacks) {
        Ok(step) => step,
        Err(e) => failed(NAME, e),
    }
}

fn publisher() -> Result<Publisher, String> {
    let (_root, release, root_document) = crate::demo::release_keys::release_keys()?;
    Ok(Publisher {
        release,
        root_document,
    })
}

fn manifest(
    p: &Publisher,
    version: &str,
    counter: u64,
    seq: u64,
    image: &[u8],
) -> Result<Vec<u8>, String> {
    ManifestBuilder::new(VENDOR, CLASS, version)
        .security_counter(counter)
        .sequence_number(seq)
        .component(ComponentSpec::from_image("app", image))
        .device(DEVICE_ID.as_bytes())
        .sign(&[&p.release])
        .map_err(|e| e.to_string())
}

/// A factory-fresh device: 1.0.0 in slot A, confirmed.
fn factory_device() -> TrialBoot<MemoryBootStore> {
    let image = firmware_image(FACTORY_VERSION);
    let ticket = InstallTicket {
        security_counter: FACTORY_COUNTER,
        sequence_number: 1,
        digest: Sha256::digest(&image).into(),
        size: image.len() as u64,
    };
    TrialBoot::new(MemoryBootStore::factory(SLOT_CAPACITY, ticket, &image))
}

fn device_state(record: &BootRecord, now: u64) -> DeviceState<'static> {
    DeviceState {
        vendor_id: VENDOR,
        class_id: CLASS,
        device_id: DEVICE_ID.as_bytes(),
        security_counter: record.security_counter,
        last_sequence: record.last_sequence,
        trusted_root_version: 1,
        slot_capacity: 1 << 20,
        now: iotsec_ota::TrustedTime::At(now),
    }
}

fn update(
    fleet: &Fleet,
    version: &str,
    image: &[u8],
    attacks: &mut Vec<Attack>,
) -> Result<Step, String> {
    let cloud = publisher()?;
    let signed = manifest(&cloud, version, RELEASE_COUNTER, 2, image)?;
    std::fs::write(fleet.dir.join("trust-root.cose"), &cloud.root_document)
        .and_then(|()| std::fs::write(fleet.dir.join(format!("manifest-{version}.cose")), &signed))
        .map_err(|e| e.to_string())?;

    // Device: verify the manifest against the pinned root and its own state.
    let now = u64::try_from(fleet.now.unix_timestamp()).unwrap_or(0);
    let root = TrustRoot::from_pinned(&cloud.root_document).map_err(|e| e.to_string())?;
    let mut device = factory_device();
    let record = device.store().load_record().map_err(|e| e.to_string())?;
    let verified =
        verify(&signed, &root, &device_state(&record, now)).map_err(|e| e.to_string())?;
    let component = verified.manifest.components.first().ok_or("no component")?;
    let ticket = InstallTicket {
        security_counter: verified.manifest.security_counter,
        sequence_number: verified.manifest.sequence_number,
        digest: component.digest,
        size: component.size,
    };
    let (installed, booted) = download_and_boot(&mut device, &ticket, image)?;
    let record = device.store().load_record().map_err(|e| e.to_string())?;
    let ok = installed == Slot::B
        && booted == Slot::B
        && record.confirmed == Slot::B
        && record.security_counter == RELEASE_COUNTER;
    attacks.push(rollback_attack(&cloud, &root, &record, now)?);
    Ok(Step {
        name: NAME,
        ok,
        summary: format!(
            "manifest {version} verified ({} release signature, counter {RELEASE_COUNTER}), {} bytes streamed, slot {booted:?} trial-booted and confirmed, counter committed {}",
            verified.signers, component.size, record.security_counter
        ),
        details: json!({
            "version": version,
            "signers": verified.signers,
            "image_bytes": component.size,
            "installed_slot": format!("{installed:?}"),
            "booted_slot": format!("{booted:?}"),
            "confirmed_slot": format!("{:?}", record.confirmed),
            "security_counter": record.security_counter,
            "last_sequence": record.last_sequence,
        }),
    })
}

/// Device: stream the image through the digest check as it downloads, install it (the A/B
/// state machine checks it again while writing the inactive slot), trial-boot it and confirm
/// it as healthy. Returns the installed and the booted slot.
fn download_and_boot(
    device: &mut TrialBoot<MemoryBootStore>,
    ticket: &InstallTicket,
    image: &[u8],
) -> Result<(Slot, Slot), String> {
    let mut stream = ImageVerifier::with_expectation(ticket.digest, ticket.size);
    for chunk in image.chunks(CHUNK) {
        stream.update(chunk).map_err(|e| e.to_string())?;
    }
    stream.finish().map_err(|e| e.to_string())?;
    let installed = device
        .install(ticket, image.chunks(CHUNK))
        .map_err(|e| e.to_string())?;
    let booted = device.boot().map_err(|e| e.to_string())?;
    device.confirm(booted).map_err(|e| e.to_string())?;
    Ok((installed, booted))
}

/// Attack: the old factory image re-signed by the release key with a newer sequence number
/// (a downgrade), offered to the updated device.
fn rollback_attack(
    cloud: &Publisher,
    root: &TrustRoot<'_>,
    record: &BootRecord,
    now: u64,
) -> Result<Attack, String> {
    let old_image = firmware_image(FACTORY_VERSION);
    let old = manifest(cloud, FACTORY_VERSION, FACTORY_COUNTER, 3, &old_image)?;
    Ok(match verify(&old, root, &device_state(record, now)) {
        Ok(_) => Attack::accepted("ota_rollback", NAME, "rollback"),
        Err(e) => Attack::refused("ota_rollback", NAME, "rollback", e.code()).because(e),
    })
}
