//! Each step of the A/B trial-boot state machine refused outside the state it needs, and the
//! image re-check at boot run over flash that holds more than the image (erased bytes after
//! it, as real flash does). Every test names the wrong transition it rules out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use iotsec_ota::memory_store::{MemoryBootStore, MemoryStoreError};
use iotsec_ota::trial_boot::{BootError, BootRecord, BootStore, Slot, SlotState, TrialBoot};

type Refusal = BootError<()>;

mod common;
use common::{install_ticket as ticket, versioned_image as image};

/// A factory record with v1 confirmed in slot A.
fn factory_record() -> BootRecord {
    BootRecord::factory(ticket(&image(1, 300), 1, 1))
}

/// Record states along one install of v2 (counter 2, sequence 2) into slot B.
fn installed_on_trial() -> (Slot, BootRecord) {
    let (slot, writing) = factory_record().begin_install::<()>().unwrap();
    let on_trial = writing
        .finish_install::<()>(slot, &ticket(&image(2, 300), 2, 2))
        .unwrap();
    (slot, on_trial)
}

#[test]
fn finish_install_needs_a_slot_that_is_being_written() {
    let record = factory_record();
    let v2 = ticket(&image(2, 300), 2, 2);
    // Slot B was never opened for writing: it cannot go on trial.
    assert_eq!(
        record.finish_install::<()>(Slot::B, &v2),
        Err(Refusal::WrongSlotState { slot: Slot::B })
    );
    // The confirmed slot can never be the install target, even while the other is written.
    let (target, writing) = record.begin_install::<()>().unwrap();
    assert_eq!(target, Slot::B);
    assert_eq!(
        writing.finish_install::<()>(Slot::A, &v2),
        Err(Refusal::WrongSlotState { slot: Slot::A })
    );
    assert!(writing.finish_install::<()>(Slot::B, &v2).is_ok());
}

#[test]
fn confirm_needs_the_running_trial_slot_after_its_trial_boot() {
    let (slot, on_trial) = installed_on_trial();
    // Not booted yet (one trial boot left): confirming would skip the health check.
    assert_eq!(
        on_trial.confirm::<()>(slot),
        Err(Refusal::WrongSlotState { slot })
    );
    let (booted, after_boot) = on_trial.select_boot::<()>().unwrap();
    assert_eq!(booted, slot);
    // The other slot is not on trial.
    assert_eq!(
        after_boot.confirm::<()>(Slot::A),
        Err(Refusal::WrongSlotState { slot: Slot::A })
    );
    let confirmed = after_boot.confirm::<()>(slot).unwrap();
    assert_eq!(confirmed.confirmed, slot);
    assert_eq!(confirmed.trial, None);
    assert_eq!(confirmed.security_counter, 2);
    // Nothing is on trial any more.
    assert_eq!(
        confirmed.confirm::<()>(slot),
        Err(Refusal::WrongSlotState { slot })
    );
}

#[test]
fn reject_reverts_the_running_trial_slot_only() {
    let (slot, on_trial) = installed_on_trial();
    let (_, after_boot) = on_trial.select_boot::<()>().unwrap();
    assert_eq!(
        after_boot.reject::<()>(Slot::A),
        Err(Refusal::WrongSlotState { slot: Slot::A })
    );
    let reverted = after_boot.reject::<()>(slot).unwrap();
    assert_eq!(reverted.trial, None);
    assert_eq!(reverted.confirmed, Slot::A);
    assert_eq!(reverted.slot(slot).state, SlotState::Empty);
    assert_eq!(reverted.security_counter, 1);
    assert_eq!(
        reverted.select_boot::<()>().map(|(s, _)| s),
        Ok(Slot::A),
        "after a reject the confirmed image boots"
    );
}

/// A flash-like store: reads past what was written return erased bytes (0xff) up to the
/// slot's capacity, as NOR flash does, instead of stopping at the written length.
#[derive(Clone)]
struct Flash {
    inner: MemoryBootStore,
    capacity: usize,
    /// Every record persisted, in order.
    persisted: Vec<BootRecord>,
}

impl BootStore for Flash {
    type Error = MemoryStoreError;
    fn load_record(&mut self) -> Result<BootRecord, MemoryStoreError> {
        self.inner.load_record()
    }
    fn store_record(&mut self, record: &BootRecord) -> Result<(), MemoryStoreError> {
        self.persisted.push(*record);
        self.inner.store_record(record)
    }
    fn erase_slot(&mut self, slot: Slot) -> Result<(), MemoryStoreError> {
        self.inner.erase_slot(slot)
    }
    fn write_slot(&mut self, slot: Slot, offset: u64, data: &[u8]) -> Result<(), MemoryStoreError> {
        self.inner.write_slot(slot, offset, data)
    }
    fn read_slot(
        &mut self,
        slot: Slot,
        offset: u64,
        buffer: &mut [u8],
    ) -> Result<usize, MemoryStoreError> {
        let written = self.inner.slot(slot);
        let start = usize::try_from(offset).unwrap();
        let n = buffer.len().min(self.capacity.saturating_sub(start));
        for (i, out) in buffer[..n].iter_mut().enumerate() {
            *out = written.get(start + i).copied().unwrap_or(0xff);
        }
        Ok(n)
    }
}

fn flash_with_v1() -> Flash {
    let v1 = image(1, 700);
    Flash {
        inner: MemoryBootStore::factory(1 << 14, ticket(&v1, 1, 1), &v1),
        capacity: 1 << 14,
        persisted: Vec::new(),
    }
}

#[test]
fn boot_hashes_exactly_the_image_on_flash_larger_than_it() {
    // 700 and 1,000 bytes: neither is a multiple of the 256-byte read window, so the last
    // read must stop at the image's end and not hash the erased bytes after it.
    let mut boot = TrialBoot::new(flash_with_v1());
    assert_eq!(boot.boot(), Ok(Slot::A));
    let v2 = image(2, 1000);
    let slot = boot
        .install(&ticket(&v2, 2, 2), v2.chunks(97))
        .expect("a good image installs on flash-like storage");
    assert_eq!(boot.boot(), Ok(slot));
    boot.confirm(slot).unwrap();
    assert_eq!(boot.boot(), Ok(slot));
}

#[test]
fn reject_through_the_store_reverts_and_persists() {
    let mut boot = TrialBoot::new(flash_with_v1());
    let v2 = image(2, 1000);
    let slot = boot.install(&ticket(&v2, 2, 2), v2.chunks(256)).unwrap();
    assert_eq!(boot.boot(), Ok(slot));
    boot.reject(slot).unwrap();
    let flash = boot.into_store();
    let record = flash.inner.record().copied().unwrap();
    assert_eq!(record.trial, None);
    assert_eq!(record.slot(slot).state, SlotState::Empty);
    let mut boot = TrialBoot::new(flash);
    assert_eq!(boot.boot(), Ok(Slot::A));
}

#[test]
fn a_corrupted_trial_slot_is_dropped_with_its_trial_in_one_record() {
    let mut boot = TrialBoot::new(flash_with_v1());
    let v2 = image(2, 1000);
    let slot = boot.install(&ticket(&v2, 2, 2), v2.chunks(256)).unwrap();
    let mut flash = boot.into_store();
    // The trial image changes on flash after it was verified.
    flash.inner.write_slot(slot, 10, &[0x00]).unwrap();
    flash.persisted.clear();
    let mut boot = TrialBoot::new(flash);
    assert_eq!(boot.boot(), Ok(Slot::A));
    let flash = boot.into_store();
    // No record ever persisted names a trial on an emptied slot: a power cut at any of these
    // writes leaves a consistent record.
    assert!(!flash.persisted.is_empty());
    for record in &flash.persisted {
        if let Some(trial) = record.trial {
            assert_eq!(
                record.slot(trial.slot).state,
                SlotState::Verified,
                "persisted {record:?}"
            );
        }
    }
    let last = flash.persisted.last().unwrap();
    assert_eq!(last.trial, None);
    assert_eq!(last.slot(slot).state, SlotState::Empty);
}
