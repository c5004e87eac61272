//! A verified MCUboot image enters the A/B trial boot through `install_ticket`: its protected
//! security counter is held to the committed counter (on install and again at every boot), its
//! version orders updates, and what this device cannot act on (no counter, a dependency, a
//! non-bootable image) is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::MemoryBootStore;
use iotsec_ota::mcuboot::{
    Dependency, ImageSpec, ImageVersion, KeyAlgorithm, Layout, McubootError, TrustedKey,
    VerifiedImage, install_ticket, sign_image, verify_image,
};
use iotsec_ota::signer::{Ed25519Key, Signer};
use iotsec_ota::trial_boot::{BootError, InstallTicket, Slot, TrialBoot};
use sha2::{Digest, Sha256};

fn image(
    version: &str,
    counter: Option<u32>,
    dependencies: Vec<Dependency>,
) -> (Vec<u8>, VerifiedImage) {
    let signer = Ed25519Key::from_seed(&[5; 32]);
    let mut spec = ImageSpec::new(version.parse().unwrap());
    spec.pad_header = true;
    spec.security_counter = counter;
    spec.dependencies = dependencies;
    let bytes = sign_image(&[0xab; 700], &spec, &signer).unwrap();
    let key = TrustedKey::from_raw(KeyAlgorithm::Ed25519, &signer.public_key()).unwrap();
    let verified = verify_image(&mut bytes.as_slice(), &key, Layout::File).unwrap();
    (bytes, verified)
}

fn ticket(
    bytes: &[u8],
    verified: &VerifiedImage,
    stored: u64,
) -> Result<InstallTicket, McubootError> {
    install_ticket(
        verified,
        stored,
        Sha256::digest(bytes).into(),
        bytes.len() as u64,
    )
}

#[test]
fn the_counter_and_version_feed_the_trial_boot() {
    let (bytes, verified) = image("2.1.0+7", Some(6), vec![]);
    let t = ticket(&bytes, &verified, 5).unwrap();
    assert_eq!(t.security_counter, 6);
    assert_eq!(t.sequence_number, (2 << 56) | (1 << 48) | 7);
    assert_eq!(t.size, bytes.len() as u64);
    let factory = InstallTicket {
        security_counter: 5,
        sequence_number: 1,
        digest: [0; 32],
        size: 0,
    };
    let mut boot = TrialBoot::new(MemoryBootStore::factory(4096, factory, &[]));
    let slot = boot.install(&t, bytes.chunks(100)).unwrap();
    assert_eq!(slot, Slot::B);
    assert_eq!(boot.boot().unwrap(), Slot::B);
    boot.confirm(Slot::B).unwrap();
    assert_eq!(boot.store().record().unwrap().security_counter, 6);
    // Now an image with counter 5 is a rollback, before any slot is touched.
    let (old, old_verified) = image("3.0.0", Some(5), vec![]);
    assert_eq!(
        ticket(
            &old,
            &old_verified,
            boot.store().record().unwrap().security_counter
        ),
        Err(McubootError::Rollback {
            stored: 6,
            offered: 5
        })
    );
    // The trial boot refuses it too, whatever the caller checked.
    let forged = InstallTicket {
        security_counter: 5,
        sequence_number: u64::MAX,
        ..t
    };
    assert!(matches!(
        boot.install(&forged, old.chunks(100)),
        Err(BootError::Rollback {
            stored: 6,
            offered: 5
        })
    ));
}

#[test]
fn what_the_device_cannot_act_on_is_refused() {
    let (bytes, verified) = image("1.0.0", None, vec![]);
    assert_eq!(
        ticket(&bytes, &verified, 0),
        Err(McubootError::MissingTlv { kind: 0x50 })
    );
    let dependency = Dependency {
        image_id: 1,
        min_version: ImageVersion {
            major: 1,
            ..Default::default()
        },
    };
    let (bytes, verified) = image("1.0.0", Some(1), vec![dependency]);
    assert_eq!(verified.dependencies.as_slice(), [dependency]);
    assert_eq!(
        ticket(&bytes, &verified, 0),
        Err(McubootError::UnsupportedDependency { image_id: 1 })
    );
    let (bytes, mut verified) = image("1.0.0", Some(1), vec![]);
    verified.header.flags |= iotsec_ota::mcuboot::flags::NON_BOOTABLE;
    assert_eq!(ticket(&bytes, &verified, 0), Err(McubootError::NonBootable));
}
