//! A/B trial boot as a pure state machine over a persistence trait (the MCUboot "swap with
//! revert" model, RFC 9019 §6.3): install into the inactive slot, boot it once on trial, then
//! confirm (commit its security counter) or revert.
//!
//! Invariants, checked by power-fail property tests that cut power at every write:
//! - the record is replaced atomically ([`BootStore::store_record`]), images are only ever
//!   written to the slot that is neither confirmed nor booted;
//! - a slot is bootable only if it is fully written, its digest was verified, and its security
//!   counter is not below the stored counter -- on **every** path (trial, confirmed, revert
//!   target). MCUboot checked the counter only for test-mode upgrades, so a permanent
//!   ("confirm") or revert-mode install could downgrade (mcu-tools/mcuboot#1708);
//! - the stored security counter changes only in [`BootRecord::confirm`], never downwards, and
//!   only after the new image booted (counting at install time would brick a revert; counting
//!   at "the next boot" can be dodged by never booting twice, mcu-tools/mcuboot#2549);
//! - a trial that is not confirmed before the next reset is reverted.

use crate::sha256::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::image_stream::{ImageError, ImageVerifier};

/// One of the two image slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Slot A.
    A,
    /// Slot B.
    B,
}

impl Slot {
    /// The other slot.
    pub const fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Nothing usable.
    Empty,
    /// An image is being written; never bootable.
    Writing,
    /// A complete image whose digest matched a verified manifest.
    Verified,
}

/// The persisted description of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRecord {
    /// What the slot holds.
    pub state: SlotState,
    /// The image's security counter (from its manifest).
    pub security_counter: u64,
    /// The manifest's sequence number.
    pub sequence_number: u64,
    /// SHA-256 of the image.
    pub digest: [u8; 32],
    /// Image size in bytes.
    pub size: u64,
}

impl SlotRecord {
    /// An empty slot.
    pub const EMPTY: SlotRecord = SlotRecord {
        state: SlotState::Empty,
        security_counter: 0,
        sequence_number: 0,
        digest: [0; 32],
        size: 0,
    };
}

/// A pending trial: the slot to try and the boots it has left before a revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trial {
    /// The slot on trial.
    pub slot: Slot,
    /// Boots left; after the one trial boot, a reset without confirm reverts.
    pub boots_left: u8,
}

/// The whole persisted boot state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootRecord {
    /// Both slots.
    pub slots: [SlotRecord; 2],
    /// The slot that last confirmed a good boot.
    pub confirmed: Slot,
    /// The trial in progress, if any.
    pub trial: Option<Trial>,
    /// The committed anti-rollback counter: never decreases.
    pub security_counter: u64,
    /// The sequence number of the last confirmed manifest.
    pub last_sequence: u64,
}

/// Why the state machine refused a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BootError<E> {
    /// The store failed (power loss, flash error).
    #[error("boot store failed")]
    Store(E),
    /// A trial is pending: confirm or revert it before installing again.
    #[error("a trial boot is pending")]
    TrialPending,
    /// The step does not apply to this slot (not on trial, not being written).
    #[error("slot {slot:?} is not in the state this step needs")]
    WrongSlotState {
        /// The slot.
        slot: Slot,
    },
    /// The image's security counter is below the committed one.
    #[error("rollback: image counter {offered} below committed {stored}")]
    Rollback {
        /// Committed counter.
        stored: u64,
        /// Image counter.
        offered: u64,
    },
    /// The manifest's sequence number is not newer than the last confirmed one.
    #[error("replay: sequence {offered} not newer than {last}")]
    Replay {
        /// Last confirmed sequence.
        last: u64,
        /// Offered sequence.
        offered: u64,
    },
    /// The image failed streaming verification.
    #[error("image refused: {0}")]
    Image(ImageError),
    /// The persisted record is corrupt.
    #[error("boot record is corrupt")]
    CorruptRecord,
    /// No slot may be booted (the device needs recovery, not a downgrade).
    #[error("no bootable slot")]
    NoBootableSlot,
}

impl<E> BootError<E> {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            BootError::Store(..) => "boot_store",
            BootError::TrialPending => "boot_trial_pending",
            BootError::WrongSlotState { .. } => "boot_wrong_slot_state",
            BootError::Rollback { .. } => "boot_rollback",
            BootError::Replay { .. } => "boot_replay",
            BootError::Image(e) => e.code(),
            BootError::CorruptRecord => "boot_corrupt_record",
            BootError::NoBootableSlot => "boot_no_bootable_slot",
        }
    }

    /// Whether the boot flow refused (a rollback, a replay, a tampered record, an image that is not
    /// the signed one, no slot fit to boot) rather than failed on its store or a call out of
    /// order.
    pub fn is_refusal(&self) -> bool {
        match self {
            BootError::Image(e) => e.is_refusal(),
            BootError::Rollback { .. }
            | BootError::Replay { .. }
            | BootError::CorruptRecord
            | BootError::NoBootableSlot => true,
            _ => false,
        }
    }
}

/// Persistence for the boot state and the slots' contents (flash on a device, files in tests
/// and on the command line).
pub trait BootStore {
    /// The store's error.
    type Error;
    /// Reads the boot record.
    fn load_record(&mut self) -> Result<BootRecord, Self::Error>;
    /// Replaces the boot record atomically: after a power cut, either the old or the new one
    /// is read back (two copies with a sequence and a checksum, or write-and-rename).
    fn store_record(&mut self, record: &BootRecord) -> Result<(), Self::Error>;
    /// Erases a slot.
    fn erase_slot(&mut self, slot: Slot) -> Result<(), Self::Error>;
    /// Writes `data` at `offset` of a slot.
    fn write_slot(&mut self, slot: Slot, offset: u64, data: &[u8]) -> Result<(), Self::Error>;
    /// Reads up to `buffer.len()` bytes at `offset` of a slot; returns how many were read.
    fn read_slot(
        &mut self,
        slot: Slot,
        offset: u64,
        buffer: &mut [u8],
    ) -> Result<usize, Self::Error>;
}

/// The security data of a verified manifest that an install records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallTicket {
    /// Security counter of the manifest.
    pub security_counter: u64,
    /// Sequence number of the manifest.
    pub sequence_number: u64,
    /// Signed image digest.
    pub digest: [u8; 32],
    /// Signed image size.
    pub size: u64,
}

impl BootRecord {
    /// The record of a factory-fresh device: `image` in slot A, confirmed.
    pub fn factory(image: InstallTicket) -> Self {
        let mut slots = [SlotRecord::EMPTY; 2];
        slots[0] = SlotRecord {
            state: SlotState::Verified,
            security_counter: image.security_counter,
            sequence_number: image.sequence_number,
            digest: image.digest,
            size: image.size,
        };
        BootRecord {
            slots,
            confirmed: Slot::A,
            trial: None,
            security_counter: image.security_counter,
            last_sequence: image.sequence_number,
        }
    }

    /// A slot's record.
    pub fn slot(&self, slot: Slot) -> &SlotRecord {
        let [a, b] = &self.slots;
        match slot {
            Slot::A => a,
            Slot::B => b,
        }
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut SlotRecord {
        let [a, b] = &mut self.slots;
        match slot {
            Slot::A => a,
            Slot::B => b,
        }
    }

    /// True when `slot` may be booted: complete, verified, counter not below the committed one.
    pub fn is_bootable(&self, slot: Slot) -> bool {
        let record = self.slot(slot);
        record.state == SlotState::Verified && record.security_counter >= self.security_counter
    }

    /// Starts an install: the inactive slot becomes `Writing` (never bootable).
    pub fn begin_install<E>(&self) -> Result<(Slot, BootRecord), BootError<E>> {
        if self.trial.is_some() {
            return Err(BootError::TrialPending);
        }
        let target = self.confirmed.other();
        let mut next = *self;
        *next.slot_mut(target) = SlotRecord {
            state: SlotState::Writing,
            ..SlotRecord::EMPTY
        };
        Ok((target, next))
    }

    /// Ends an install whose image was verified: the slot becomes `Verified` and goes on trial.
    /// The counter and sequence are checked again here, whatever the caller checked before.
    pub fn finish_install<E>(
        &self,
        slot: Slot,
        ticket: &InstallTicket,
    ) -> Result<BootRecord, BootError<E>> {
        if slot == self.confirmed || self.slot(slot).state != SlotState::Writing {
            return Err(BootError::WrongSlotState { slot });
        }
        self.check_ticket(ticket)?;
        let mut next = *self;
        *next.slot_mut(slot) = SlotRecord {
            state: SlotState::Verified,
            security_counter: ticket.security_counter,
            sequence_number: ticket.sequence_number,
            digest: ticket.digest,
            size: ticket.size,
        };
        next.trial = Some(Trial {
            slot,
            boots_left: 1,
        });
        Ok(next)
    }

    fn check_ticket<E>(&self, ticket: &InstallTicket) -> Result<(), BootError<E>> {
        if ticket.security_counter < self.security_counter {
            return Err(BootError::Rollback {
                stored: self.security_counter,
                offered: ticket.security_counter,
            });
        }
        if ticket.sequence_number <= self.last_sequence {
            return Err(BootError::Replay {
                last: self.last_sequence,
                offered: ticket.sequence_number,
            });
        }
        Ok(())
    }

    /// Picks the slot to boot and the record to persist first: a trial slot with boots left
    /// (spending one), otherwise a revert to the confirmed slot. Every candidate must pass
    /// [`BootRecord::is_bootable`].
    pub fn select_boot<E>(&self) -> Result<(Slot, BootRecord), BootError<E>> {
        let mut next = *self;
        if let Some(trial) = self.trial {
            if trial.boots_left > 0 && self.is_bootable(trial.slot) && trial.slot != self.confirmed
            {
                next.trial = Some(Trial {
                    slot: trial.slot,
                    boots_left: trial.boots_left - 1,
                });
                return Ok((trial.slot, next));
            }
            // Revert: the trial image is discarded and never tried again.
            next.trial = None;
            if trial.slot != self.confirmed {
                *next.slot_mut(trial.slot) = SlotRecord::EMPTY;
            }
        }
        if next.is_bootable(next.confirmed) {
            Ok((next.confirmed, next))
        } else {
            Err(BootError::NoBootableSlot)
        }
    }

    /// The running trial image passed its health check: it becomes the confirmed slot and its
    /// security counter is committed (never lowering the stored one).
    pub fn confirm<E>(&self, running: Slot) -> Result<BootRecord, BootError<E>> {
        match self.trial {
            Some(trial) if trial.slot == running && trial.boots_left == 0 => {}
            _ => return Err(BootError::WrongSlotState { slot: running }),
        }
        if !self.is_bootable(running) {
            let record = self.slot(running);
            return Err(BootError::Rollback {
                stored: self.security_counter,
                offered: record.security_counter,
            });
        }
        let record = *self.slot(running);
        let mut next = *self;
        next.confirmed = running;
        next.trial = None;
        next.security_counter = self.security_counter.max(record.security_counter);
        next.last_sequence = self.last_sequence.max(record.sequence_number);
        Ok(next)
    }

    /// The running trial image failed its health check: revert now.
    pub fn reject<E>(&self, running: Slot) -> Result<BootRecord, BootError<E>> {
        match self.trial {
            Some(trial) if trial.slot == running => {}
            _ => return Err(BootError::WrongSlotState { slot: running }),
        }
        let mut next = *self;
        next.trial = None;
        *next.slot_mut(running) = SlotRecord::EMPTY;
        Ok(next)
    }
}

/// Length of [`BootRecord::to_bytes`].
pub const BOOT_RECORD_LEN: usize = 4 + 3 + 16 + 2 * 57 + 8;
const BOOT_RECORD_MAGIC: [u8; 4] = *b"OTA1";

impl BootRecord {
    /// A fixed-size encoding for flash or a file: magic, fields in big endian, and the first
    /// 8 bytes of SHA-256 over the rest to detect torn or corrupted writes.
    pub fn to_bytes(&self) -> [u8; BOOT_RECORD_LEN] {
        let mut out = [0u8; BOOT_RECORD_LEN];
        let mut w = ByteWriter {
            out: &mut out,
            at: 0,
        };
        w.put(&BOOT_RECORD_MAGIC);
        w.put(&[slot_code(self.confirmed)]);
        match self.trial {
            Some(trial) => w.put(&[slot_code(trial.slot) + 1, trial.boots_left]),
            None => w.put(&[0, 0]),
        }
        w.put(&self.security_counter.to_be_bytes());
        w.put(&self.last_sequence.to_be_bytes());
        for slot in &self.slots {
            let state = match slot.state {
                SlotState::Empty => 0,
                SlotState::Writing => 1,
                SlotState::Verified => 2,
            };
            w.put(&[state]);
            w.put(&slot.security_counter.to_be_bytes());
            w.put(&slot.sequence_number.to_be_bytes());
            w.put(&slot.digest);
            w.put(&slot.size.to_be_bytes());
        }
        let body_len = w.at;
        let checksum = Sha256::digest(out.get(..body_len).unwrap_or(&[]));
        if let Some(tail) = out.get_mut(body_len..) {
            for (o, c) in tail.iter_mut().zip(checksum.iter()) {
                *o = *c;
            }
        }
        out
    }

    /// Decodes [`BootRecord::to_bytes`]; a wrong length, magic, checksum or field is an error.
    pub fn from_bytes<E>(bytes: &[u8]) -> Result<BootRecord, BootError<E>> {
        let corrupt = BootError::CorruptRecord;
        if bytes.len() != BOOT_RECORD_LEN {
            return Err(corrupt);
        }
        let (body, checksum) = bytes.split_at(BOOT_RECORD_LEN - 8);
        let expected = Sha256::digest(body);
        if !bool::from(checksum.ct_eq(expected.get(..8).unwrap_or(&[]))) {
            return Err(corrupt);
        }
        let mut r = ByteReader { input: body };
        if r.take::<4>() != Some(BOOT_RECORD_MAGIC) {
            return Err(corrupt);
        }
        let confirmed = slot_from_code(r.u8().ok_or(BootError::CorruptRecord)?)
            .ok_or(BootError::CorruptRecord)?;
        let trial_code = r.u8().ok_or(BootError::CorruptRecord)?;
        let boots_left = r.u8().ok_or(BootError::CorruptRecord)?;
        let trial = match trial_code {
            // No trial carries no boot count: anything else is a second encoding of the record.
            0 if boots_left != 0 => return Err(corrupt),
            0 => None,
            n => Some(Trial {
                slot: slot_from_code(n - 1).ok_or(BootError::CorruptRecord)?,
                boots_left,
            }),
        };
        let security_counter = r.u64().ok_or(BootError::CorruptRecord)?;
        let last_sequence = r.u64().ok_or(BootError::CorruptRecord)?;
        let mut slots = [SlotRecord::EMPTY; 2];
        for slot in &mut slots {
            let state = match r.u8() {
                Some(0) => SlotState::Empty,
                Some(1) => SlotState::Writing,
                Some(2) => SlotState::Verified,
                _ => return Err(corrupt),
            };
            *slot = SlotRecord {
                state,
                security_counter: r.u64().ok_or(BootError::CorruptRecord)?,
                sequence_number: r.u64().ok_or(BootError::CorruptRecord)?,
                digest: r.take::<32>().ok_or(BootError::CorruptRecord)?,
                size: r.u64().ok_or(BootError::CorruptRecord)?,
            };
        }
        Ok(BootRecord {
            slots,
            confirmed,
            trial,
            security_counter,
            last_sequence,
        })
    }
}

const fn slot_code(slot: Slot) -> u8 {
    match slot {
        Slot::A => 0,
        Slot::B => 1,
    }
}

const fn slot_from_code(code: u8) -> Option<Slot> {
    match code {
        0 => Some(Slot::A),
        1 => Some(Slot::B),
        _ => None,
    }
}

struct ByteWriter<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl ByteWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(window) = self.out.get_mut(self.at..self.at + bytes.len()) {
            window.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

struct ByteReader<'i> {
    input: &'i [u8],
}

impl ByteReader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.input.split_at_checked(N)?;
        self.input = rest;
        head.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_be_bytes)
    }
}

/// Drives [`BootRecord`] transitions against a [`BootStore`]: every step computes the next
/// record, then persists it with one atomic write.
#[derive(Debug)]
pub struct TrialBoot<S> {
    store: S,
}

impl<S: BootStore> TrialBoot<S> {
    /// Wraps a store.
    pub fn new(store: S) -> Self {
        TrialBoot { store }
    }

    /// The store.
    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    fn load(&mut self) -> Result<BootRecord, BootError<S::Error>> {
        self.store.load_record().map_err(BootError::Store)
    }

    fn persist(&mut self, record: &BootRecord) -> Result<(), BootError<S::Error>> {
        self.store.store_record(record).map_err(BootError::Store)
    }

    /// Installs an image into the inactive slot, verifying it while it streams in, and puts it
    /// on trial. `chunks` yields the image in pieces of any size, borrowed (`image.chunks(n)`)
    /// or owned (buffers read one at a time from a file or the network).
    pub fn install<C: AsRef<[u8]>>(
        &mut self,
        ticket: &InstallTicket,
        chunks: impl IntoIterator<Item = C>,
    ) -> Result<Slot, BootError<S::Error>> {
        let record = self.load()?;
        // Refuse early, before erasing anything.
        record.check_ticket(ticket)?;
        let (slot, writing) = record.begin_install()?;
        self.persist(&writing)?;
        self.store.erase_slot(slot).map_err(BootError::Store)?;
        let mut verifier = ImageVerifier::with_expectation(ticket.digest, ticket.size);
        let mut offset = 0u64;
        for chunk in chunks {
            let chunk = chunk.as_ref();
            verifier.update(chunk).map_err(BootError::Image)?;
            self.store
                .write_slot(slot, offset, chunk)
                .map_err(BootError::Store)?;
            offset += chunk.len() as u64;
        }
        verifier.finish().map_err(BootError::Image)?;
        // Read back what flash holds: a write that silently failed must not go on trial.
        if !self.slot_matches(slot, &ticket.digest, ticket.size)? {
            return Err(BootError::Image(ImageError::DigestMismatch));
        }
        let on_trial = writing.finish_install(slot, ticket)?;
        self.persist(&on_trial)?;
        Ok(slot)
    }

    /// Chooses the slot to boot after a reset, persisting the spent trial or the revert before
    /// jumping; re-hashes the chosen slot and refuses one whose contents changed.
    pub fn boot(&mut self) -> Result<Slot, BootError<S::Error>> {
        let mut record = self.load()?;
        loop {
            let (slot, next) = record.select_boot()?;
            if next != record {
                self.persist(&next)?;
            }
            let expected = *next.slot(slot);
            if self.slot_matches(slot, &expected.digest, expected.size)? {
                return Ok(slot);
            }
            // Corrupted slot: mark it unusable and choose again (at most once per slot).
            let mut without = next;
            *without.slot_mut(slot) = SlotRecord::EMPTY;
            if without.trial.is_some_and(|t| t.slot == slot) {
                without.trial = None;
            }
            self.persist(&without)?;
            record = without;
        }
    }

    /// The running trial image is healthy: commit it.
    pub fn confirm(&mut self, running: Slot) -> Result<(), BootError<S::Error>> {
        let next = self.load()?.confirm(running)?;
        self.persist(&next)
    }

    /// The running trial image is unhealthy: revert.
    pub fn reject(&mut self, running: Slot) -> Result<(), BootError<S::Error>> {
        let next = self.load()?.reject(running)?;
        self.persist(&next)
    }

    fn slot_matches(
        &mut self,
        slot: Slot,
        digest: &[u8; 32],
        size: u64,
    ) -> Result<bool, BootError<S::Error>> {
        let mut hasher = Sha256::new();
        let mut buffer = [0u8; 256];
        let mut offset = 0u64;
        while offset < size {
            let want = usize::try_from((size - offset).min(buffer.len() as u64)).unwrap_or(0);
            let window = buffer.get_mut(..want).unwrap_or(&mut []);
            let read = self
                .store
                .read_slot(slot, offset, window)
                .map_err(BootError::Store)?;
            if read == 0 {
                return Ok(false);
            }
            hasher.update(window.get(..read).unwrap_or(&[]));
            offset += read as u64;
        }
        let actual: [u8; 32] = hasher.finalize().into();
        Ok(bool::from(actual.ct_eq(digest)))
    }
}
