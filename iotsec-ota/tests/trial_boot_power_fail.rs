//! The A/B trial-boot state machine under power failure: power is cut at every write (record
//! updates, slot erases, torn slot writes) of random operation sequences; after each cut the
//! device must boot a complete, verified slot whose counter is not below the committed one,
//! and the committed security counter must never go down.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::memory_store::{MemoryBootStore, MemoryStoreError};
use iotsec_ota::trial_boot::{
    BootError, BootRecord, BootStore, InstallTicket, Slot, SlotState, TrialBoot,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// The store's power-cut error.
const POWER_CUT: MemoryStoreError = MemoryStoreError::PowerCut;
/// Slot capacity of the simulated flash (larger than any image the tests install).
const CAPACITY: usize = 1 << 16;

/// The stored boot record (a store built by `factory` always has one).
fn record(flash: &MemoryBootStore) -> BootRecord {
    *flash.record().expect("factory stores a record")
}

mod common;
use common::{install_ticket as ticket, versioned_image as image};

fn factory() -> MemoryBootStore {
    let v1 = image(1, 700);
    MemoryBootStore::factory(CAPACITY, ticket(&v1, 1, 1), &v1)
}

/// The invariants every reboot must satisfy; returns the booted slot.
fn reboot_and_check(flash: &mut MemoryBootStore, committed_floor: &mut u64) -> Slot {
    flash.power_on();
    assert!(
        record(flash).security_counter >= *committed_floor,
        "stored counter went down: {} < {}",
        record(flash).security_counter,
        committed_floor
    );
    *committed_floor = record(flash).security_counter;
    let mut boot = TrialBoot::new(flash.clone());
    let slot = boot.boot().expect("a bootable slot must always exist");
    *flash = boot.into_store();
    let record = record(flash);
    let booted = record.slot(slot);
    assert_eq!(booted.state, SlotState::Verified);
    assert!(booted.security_counter >= record.security_counter);
    let actual: [u8; 32] = Sha256::digest(&flash.slot(slot)[..booted.size as usize]).into();
    assert_eq!(
        actual, booted.digest,
        "booted slot does not hold its verified image"
    );
    assert!(record.security_counter >= *committed_floor);
    slot
}

#[derive(Debug, Clone)]
enum Step {
    /// Install an image with this counter (delta from the committed one, may be negative)
    /// and sequence delta, in chunks of this size; `tamper` corrupts one byte in transit.
    Install {
        counter_delta: i8,
        sequence_delta: u8,
        len: usize,
        chunk: usize,
        tamper: bool,
    },
    /// Reset the device (boot selection runs).
    Reset,
    /// The running image confirms itself.
    Confirm,
    /// The running image fails its health check.
    Reject,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            -2i8..3,
            0u8..3,
            1usize..1500,
            1usize..600,
            proptest::bool::weighted(0.2)
        )
            .prop_map(|(counter_delta, sequence_delta, len, chunk, tamper)| {
                Step::Install {
                    counter_delta,
                    sequence_delta,
                    len,
                    chunk,
                    tamper,
                }
            }),
        Just(Step::Reset),
        Just(Step::Confirm),
        Just(Step::Reject),
    ]
}

/// Runs `steps` with power cut after `budget` writes; returns false once power was cut.
fn run(flash: &mut MemoryBootStore, running: &mut Slot, steps: &[Step], version: &mut u64) -> bool {
    for step in steps {
        let mut boot = TrialBoot::new(flash.clone());
        let outcome: Result<(), BootError<MemoryStoreError>> = match step {
            Step::Install {
                counter_delta,
                sequence_delta,
                len,
                chunk,
                tamper,
            } => {
                *version += 1;
                let data = image(*version, *len);
                let record = record(flash);
                let counter = record
                    .security_counter
                    .saturating_add_signed(i64::from(*counter_delta));
                let sequence = record.last_sequence + u64::from(*sequence_delta);
                let t = ticket(&data, counter, sequence);
                let mut sent = data.clone();
                if *tamper {
                    sent[len / 2] ^= 0x40;
                }
                boot.install(&t, sent.chunks(*chunk)).map(|_| ())
            }
            Step::Reset => boot.boot().map(|slot| *running = slot),
            Step::Confirm => boot.confirm(*running),
            Step::Reject => boot.reject(*running),
        };
        *flash = boot.into_store();
        if matches!(outcome, Err(BootError::Store(POWER_CUT))) {
            return false;
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn power_cut_at_any_write_leaves_a_bootable_verified_slot(
        steps in proptest::collection::vec(step(), 1..12),
        budget in 0u64..40,
    ) {
        let mut flash = factory();
        let mut floor = 0;
        let mut running = reboot_and_check(&mut flash, &mut floor);
        flash.cut_power_after(budget);
        let mut version = 1;
        run(&mut flash, &mut running, &steps, &mut version);
        let before = record(&flash).security_counter;
        reboot_and_check(&mut flash, &mut floor);
        prop_assert!(record(&flash).security_counter >= before);
    }

    #[test]
    fn without_power_cuts_the_counter_only_rises_and_every_reset_boots(
        steps in proptest::collection::vec(step(), 1..16),
    ) {
        let mut flash = factory();
        let mut floor = 0;
        let mut running = reboot_and_check(&mut flash, &mut floor);
        let mut version = 1;
        for step in &steps {
            prop_assert!(run(&mut flash, &mut running, core::slice::from_ref(step), &mut version));
            prop_assert!(record(&flash).security_counter >= floor);
            floor = record(&flash).security_counter;
            if matches!(step, Step::Reset) {
                let record = record(&flash);
                prop_assert!(record.is_bootable(running));
            }
        }
    }
}

/// The canonical update, with power cut at every single write, one cut per run.
#[test]
fn update_cut_at_every_write_then_recovers() {
    let v2 = image(2, 1000);
    let t2 = ticket(&v2, 2, 2);
    // Count the writes of a clean run: install, reset into trial, confirm.
    let clean_writes = {
        let mut boot = TrialBoot::new(factory());
        boot.install(&t2, v2.chunks(64)).unwrap();
        let slot = boot.boot().unwrap();
        assert_eq!(slot, Slot::B);
        boot.confirm(slot).unwrap();
        boot.into_store().writes()
    };
    assert!(clean_writes > 10, "{clean_writes}");
    for cut in 0..clean_writes {
        let mut flash = factory();
        flash.cut_power_after(cut);
        let mut boot = TrialBoot::new(flash);
        let result = boot
            .install(&t2, v2.chunks(64))
            .and_then(|_| boot.boot())
            .and_then(|slot| boot.confirm(slot));
        assert_eq!(result, Err(BootError::Store(POWER_CUT)), "cut {cut}");
        let mut flash = boot.into_store();
        let mut floor = 1;
        let slot = reboot_and_check(&mut flash, &mut floor);
        // Before confirm, the old image runs (or the trial once); after confirm, the new one.
        let committed = record(&flash).security_counter;
        assert!(
            committed == 1 || (committed == 2 && slot == Slot::B),
            "cut {cut}"
        );
        // The device can always finish the update after power returns.
        let mut boot = TrialBoot::new(flash);
        if record(boot.store()).confirmed == Slot::A {
            if record(boot.store()).trial.is_none() {
                boot.install(&t2, v2.chunks(100)).unwrap();
            }
            let slot = boot.boot().unwrap();
            if slot == Slot::B {
                boot.confirm(Slot::B).unwrap();
            } else {
                boot.install(&t2, v2.chunks(100)).unwrap();
                assert_eq!(boot.boot().unwrap(), Slot::B);
                boot.confirm(Slot::B).unwrap();
            }
        }
        assert_eq!(record(boot.store()).confirmed, Slot::B, "cut {cut}");
        assert_eq!(record(boot.store()).security_counter, 2, "cut {cut}");
    }
}

#[test]
fn unconfirmed_trial_reverts_on_the_next_reset_and_counter_stays() {
    let mut boot = TrialBoot::new(factory());
    let v2 = image(2, 300);
    boot.install(&ticket(&v2, 5, 2), v2.chunks(7)).unwrap();
    assert_eq!(boot.boot().unwrap(), Slot::B);
    // Watchdog reset before confirm.
    assert_eq!(boot.boot().unwrap(), Slot::A);
    assert_eq!(record(boot.store()).security_counter, 1);
    assert_eq!(record(boot.store()).slot(Slot::B).state, SlotState::Empty);
    assert_eq!(boot.boot().unwrap(), Slot::A);
}

#[test]
fn confirm_commits_the_counter_and_a_later_downgrade_is_refused() {
    let mut boot = TrialBoot::new(factory());
    let v2 = image(2, 300);
    boot.install(&ticket(&v2, 5, 2), v2.chunks(50)).unwrap();
    assert_eq!(boot.boot().unwrap(), Slot::B);
    boot.confirm(Slot::B).unwrap();
    assert_eq!(record(boot.store()).security_counter, 5);
    let v1 = image(1, 700);
    assert_eq!(
        boot.install(&ticket(&v1, 1, 3), v1.chunks(50)),
        Err(BootError::Rollback {
            stored: 5,
            offered: 1
        })
    );
    assert_eq!(
        boot.install(&ticket(&v1, 5, 2), v1.chunks(50)),
        Err(BootError::Replay {
            last: 2,
            offered: 2
        })
    );
}

/// mcu-tools/mcuboot#1708: the counter check was applied only to test-mode upgrades, so an
/// image installed "permanently" (confirm mode) or in revert mode could downgrade. Here the
/// counter gates every path: a record forged to mark a low-counter image confirmed, on trial,
/// or as the revert target is never booted, and confirm cannot commit it.
#[test]
fn mcuboot_1708_no_path_boots_an_image_below_the_committed_counter() {
    let mut boot = TrialBoot::new(factory());
    let v2 = image(2, 300);
    boot.install(&ticket(&v2, 5, 2), v2.chunks(50)).unwrap();
    boot.boot().unwrap();
    boot.confirm(Slot::B).unwrap();
    // Slot A still holds v1 (counter 1), verified. An attacker flips the record to
    // "A on trial" (as if installed in test mode without the counter check).
    let old_a = *record(boot.store()).slot(Slot::A);
    assert_eq!(
        (old_a.state, old_a.security_counter),
        (SlotState::Verified, 1)
    );
    let mut forged = record(boot.store());
    forged.trial = Some(iotsec_ota::trial_boot::Trial {
        slot: Slot::A,
        boots_left: 1,
    });
    boot.store().store_record(&forged).unwrap();
    assert_eq!(
        boot.boot().unwrap(),
        Slot::B,
        "trial path must check the counter"
    );
    // "A confirmed" (as if installed permanently): no slot may boot, the device refuses.
    let mut forged = record(boot.store());
    forged.slots[0] = old_a;
    forged.confirmed = Slot::A;
    forged.trial = None;
    boot.store().store_record(&forged).unwrap();
    let refused = boot.boot();
    assert_eq!(refused, Err(BootError::NoBootableSlot));
    // A refusal of the boot flow (a command line exits 1), not a store failure.
    assert!(refused.is_err_and(|e| e.is_refusal()));
    // Confirm of a low-counter trial slot is refused and the counter is untouched.
    let mut forged = record(boot.store());
    forged.slots[0] = old_a;
    forged.confirmed = Slot::B;
    forged.trial = Some(iotsec_ota::trial_boot::Trial {
        slot: Slot::A,
        boots_left: 0,
    });
    assert_eq!(
        forged.confirm::<MemoryStoreError>(Slot::A),
        Err(BootError::Rollback {
            stored: 5,
            offered: 1
        })
    );
}

#[test]
fn a_tampered_or_torn_image_never_goes_on_trial() {
    let mut boot = TrialBoot::new(factory());
    let v2 = image(2, 300);
    let mut sent = v2.clone();
    sent[10] ^= 1;
    assert_eq!(
        boot.install(&ticket(&v2, 2, 2), sent.chunks(64)),
        Err(BootError::Image(iotsec_ota::ImageError::DigestMismatch))
    );
    assert_eq!(record(boot.store()).slot(Slot::B).state, SlotState::Writing);
    assert_eq!(boot.boot().unwrap(), Slot::A);
    // A slot corrupted after install is caught by the re-hash at boot and dropped.
    boot.install(&ticket(&v2, 2, 2), v2.chunks(64)).unwrap();
    let byte = boot.store().slot(Slot::B)[5];
    boot.store().write_slot(Slot::B, 5, &[byte ^ 0x80]).unwrap();
    assert_eq!(boot.boot().unwrap(), Slot::A);
    assert_eq!(record(boot.store()).slot(Slot::B).state, SlotState::Empty);
}

proptest! {
    #[test]
    fn boot_record_bytes_round_trip_and_detect_corruption(
        steps in proptest::collection::vec(step(), 0..8),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut flash = factory();
        let mut running = Slot::A;
        let mut version = 1;
        run(&mut flash, &mut running, &steps, &mut version);
        let bytes = record(&flash).to_bytes();
        prop_assert_eq!(BootRecord::from_bytes::<()>(&bytes), Ok(record(&flash)));
        let mut corrupt = bytes;
        corrupt[flip.index(bytes.len())] ^= 1 << bit;
        prop_assert_eq!(BootRecord::from_bytes::<()>(&corrupt), Err(BootError::CorruptRecord));
        prop_assert_eq!(BootRecord::from_bytes::<()>(&bytes[1..]), Err(BootError::CorruptRecord));
    }
}

/// A record with no trial must not carry a trial boot count: the decoder accepted it (found by
/// the `ota_boot_record` fuzz target once it fixed up the checksum), and it re-encoded to other
/// bytes, so one record had two encodings.
#[test]
fn a_boot_count_without_a_trial_is_corrupt() {
    let mut bytes = BootRecord::factory(InstallTicket {
        security_counter: 1,
        sequence_number: 1,
        digest: [7; 32],
        size: 10,
    })
    .to_bytes();
    let body_len = bytes.len() - 8;
    // magic (4), confirmed slot, trial code (0 = none), boots left.
    assert_eq!(&bytes[4..7], &[0, 0, 0]);
    bytes[6] = 0x9d;
    let digest = Sha256::digest(&bytes[..body_len]);
    bytes[body_len..].copy_from_slice(&digest[..8]);
    assert_eq!(
        BootRecord::from_bytes::<()>(&bytes),
        Err(BootError::CorruptRecord)
    );
}
