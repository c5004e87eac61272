//! A [`BootStore`] in RAM, for simulators, host-side tests and demos, with power-cut injection:
//! after a chosen number of writes the power fails, the interrupted write is torn (as on NOR
//! flash), and every operation fails until [`MemoryBootStore::power_on`]. This is how the
//! trial-boot state machine is tested against a cut at every single write (MCUboot's simulator
//! does the same for its swap code).
//!
//! The record is replaced atomically, as [`BootStore::store_record`] requires of real stores: a
//! cut `store_record` leaves the old record. Slot writes and erases are not atomic: a cut
//! `write_slot` keeps the first half of its data, a cut `erase_slot` leaves the first half of
//! the old contents.

use alloc::vec::Vec;

use crate::trial_boot::{BootRecord, BootStore, InstallTicket, Slot};

/// Why a [`MemoryBootStore`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoryStoreError {
    /// The power failed during this operation, or is still off.
    #[error("power cut")]
    PowerCut,
    /// No boot record was ever stored.
    #[error("no boot record")]
    NoRecord,
    /// A write would end beyond the slot capacity (or beyond `usize`).
    #[error("write beyond the slot capacity")]
    OutOfSpace,
}

impl MemoryStoreError {
    /// A stable snake_case code for the error, for logs and machine-readable output; codes never
    /// change and differ from every other error code of the crate.
    pub fn code(&self) -> &'static str {
        match self {
            MemoryStoreError::PowerCut => "store_power_cut",
            MemoryStoreError::NoRecord => "store_no_record",
            MemoryStoreError::OutOfSpace => "store_out_of_space",
        }
    }

    /// Never: a store failure decides nothing about an update.
    pub fn is_refusal(&self) -> bool {
        false
    }
}

/// Two slots and a boot record in memory. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBootStore {
    record: Option<BootRecord>,
    slots: [Vec<u8>; 2],
    capacity: usize,
    writes: u64,
    writes_before_cut: Option<u64>,
    powered: bool,
}

impl MemoryBootStore {
    /// Empty slots of at most `capacity` bytes each, no boot record.
    pub fn new(capacity: usize) -> Self {
        MemoryBootStore {
            record: None,
            slots: [Vec::new(), Vec::new()],
            capacity,
            writes: 0,
            writes_before_cut: None,
            powered: true,
        }
    }

    /// A factory-fresh device: `image` in slot A with [`BootRecord::factory`] for `ticket`.
    /// The caller vouches that `ticket` describes `image` (its digest and size); a mismatch shows
    /// up as an unbootable slot A, as on a real device.
    pub fn factory(capacity: usize, ticket: InstallTicket, image: &[u8]) -> Self {
        let mut store = MemoryBootStore::new(capacity);
        store.record = Some(BootRecord::factory(ticket));
        let [a, _] = &mut store.slots;
        a.extend_from_slice(image.get(..capacity.min(image.len())).unwrap_or_default());
        store
    }

    /// The stored boot record, if any.
    pub fn record(&self) -> Option<&BootRecord> {
        self.record.as_ref()
    }

    /// A slot's contents (written bytes; never-written gaps read as 0xff).
    pub fn slot(&self, slot: Slot) -> &[u8] {
        let [a, b] = &self.slots;
        match slot {
            Slot::A => a,
            Slot::B => b,
        }
    }

    /// How many writes (record stores, slot erases and slot writes) completed since creation.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The next `writes` writes complete; the one after them is cut (torn) and the power stays
    /// off until [`MemoryBootStore::power_on`]. `cut_power_after(0)` cuts the very next write.
    pub fn cut_power_after(&mut self, writes: u64) {
        self.writes_before_cut = Some(writes);
    }

    /// Whether the power is on (false after a cut, until [`MemoryBootStore::power_on`]).
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Restores power and cancels any pending cut (the device reboots).
    pub fn power_on(&mut self) {
        self.powered = true;
        self.writes_before_cut = None;
    }

    fn powered(&self) -> Result<(), MemoryStoreError> {
        if self.powered {
            Ok(())
        } else {
            Err(MemoryStoreError::PowerCut)
        }
    }

    /// Accounts one write: Ok if it completes, Err(PowerCut) if this is the one that is cut.
    fn spend_write(&mut self) -> Result<(), MemoryStoreError> {
        self.powered()?;
        match self.writes_before_cut.as_mut() {
            Some(0) => {
                self.powered = false;
                self.writes_before_cut = None;
                Err(MemoryStoreError::PowerCut)
            }
            Some(left) => {
                *left -= 1;
                self.writes += 1;
                Ok(())
            }
            None => {
                self.writes += 1;
                Ok(())
            }
        }
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut Vec<u8> {
        let [a, b] = &mut self.slots;
        match slot {
            Slot::A => a,
            Slot::B => b,
        }
    }
}

impl BootStore for MemoryBootStore {
    type Error = MemoryStoreError;

    fn load_record(&mut self) -> Result<BootRecord, MemoryStoreError> {
        self.powered()?;
        self.record.ok_or(MemoryStoreError::NoRecord)
    }

    fn store_record(&mut self, record: &BootRecord) -> Result<(), MemoryStoreError> {
        self.spend_write()?;
        self.record = Some(*record);
        Ok(())
    }

    fn erase_slot(&mut self, slot: Slot) -> Result<(), MemoryStoreError> {
        let cut = self.spend_write();
        let bytes = self.slot_mut(slot);
        let keep = if cut.is_err() { bytes.len() / 2 } else { 0 };
        bytes.truncate(keep);
        cut
    }

    fn write_slot(&mut self, slot: Slot, offset: u64, data: &[u8]) -> Result<(), MemoryStoreError> {
        self.powered()?;
        let start = usize::try_from(offset).map_err(|_| MemoryStoreError::OutOfSpace)?;
        let end = start
            .checked_add(data.len())
            .filter(|end| *end <= self.capacity)
            .ok_or(MemoryStoreError::OutOfSpace)?;
        let cut = self.spend_write();
        let keep = if cut.is_err() {
            data.len() / 2
        } else {
            data.len()
        };
        let bytes = self.slot_mut(slot);
        if bytes.len() < end {
            bytes.resize(end, 0xff);
        }
        if let (Some(window), Some(part)) = (bytes.get_mut(start..start + keep), data.get(..keep)) {
            window.copy_from_slice(part);
        }
        cut
    }

    fn read_slot(
        &mut self,
        slot: Slot,
        offset: u64,
        buffer: &mut [u8],
    ) -> Result<usize, MemoryStoreError> {
        self.powered()?;
        let bytes = self.slot(slot);
        let start = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
        let tail = bytes.get(start..).unwrap_or_default();
        let n = tail.len().min(buffer.len());
        if let (Some(out), Some(src)) = (buffer.get_mut(..n), tail.get(..n)) {
            out.copy_from_slice(src);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn ticket() -> InstallTicket {
        InstallTicket {
            security_counter: 1,
            sequence_number: 1,
            digest: [7; 32],
            size: 4,
        }
    }

    #[test]
    fn reads_back_writes_and_fills_gaps_with_erased_bytes() {
        let mut s = MemoryBootStore::new(16);
        assert_eq!(s.load_record(), Err(MemoryStoreError::NoRecord));
        s.write_slot(Slot::B, 2, b"ab").unwrap();
        assert_eq!(s.slot(Slot::B), &[0xff, 0xff, b'a', b'b']);
        let mut buf = [0u8; 8];
        assert_eq!(s.read_slot(Slot::B, 1, &mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], &[0xff, b'a', b'b']);
        assert_eq!(s.read_slot(Slot::B, u64::MAX, &mut buf).unwrap(), 0);
        assert_eq!(
            s.write_slot(Slot::A, 15, b"xy"),
            Err(MemoryStoreError::OutOfSpace)
        );
        assert_eq!(
            s.write_slot(Slot::A, u64::MAX, b"x"),
            Err(MemoryStoreError::OutOfSpace)
        );
        assert_eq!(s.writes(), 1);
    }

    #[test]
    fn a_cut_tears_the_write_keeps_the_old_record_and_blocks_until_power_on() {
        let mut s = MemoryBootStore::factory(64, ticket(), b"v1v1");
        let old = *s.record().unwrap();
        s.cut_power_after(1);
        s.write_slot(Slot::B, 0, b"12345678").unwrap();
        assert_eq!(
            s.write_slot(Slot::B, 8, b"abcdefgh"),
            Err(MemoryStoreError::PowerCut)
        );
        assert_eq!(s.slot(Slot::B), b"12345678abcd\xff\xff\xff\xff");
        assert!(!s.is_powered());
        let mut new = old;
        new.security_counter = 9;
        assert_eq!(s.store_record(&new), Err(MemoryStoreError::PowerCut));
        assert_eq!(s.load_record(), Err(MemoryStoreError::PowerCut));
        s.power_on();
        assert_eq!(s.load_record(), Ok(old));
        s.cut_power_after(0);
        assert_eq!(s.store_record(&new), Err(MemoryStoreError::PowerCut));
        s.power_on();
        assert_eq!(s.load_record(), Ok(old), "a cut record store is atomic");
        s.cut_power_after(0);
        assert_eq!(s.erase_slot(Slot::A), Err(MemoryStoreError::PowerCut));
        s.power_on();
        assert_eq!(s.slot(Slot::A), b"v1", "a cut erase leaves half");
        assert_eq!(s.writes(), 1);
    }
}
