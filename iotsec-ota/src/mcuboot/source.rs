//! Where the verifier reads an image from: flash, a file or memory, through one
//! read-at-offset call, so a bootloader verifies a slot in place with a fixed-size buffer.

/// A readable region holding an MCUboot image at offset 0 (a flash slot, a file, a buffer).
pub trait ImageSource {
    /// Why a read failed (flash error, I/O error).
    type Error;
    /// Bytes the region holds (the slot size, or the file length).
    fn len(&self) -> u64;
    /// True when the region holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buffer` with the bytes at `offset`; never called beyond [`ImageSource::len`].
    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Result<(), Self::Error>;
}

/// An image in memory.
impl ImageSource for &[u8] {
    type Error = ();

    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Result<(), ()> {
        let start = usize::try_from(offset).map_err(|_| ())?;
        let end = start.checked_add(buffer.len()).ok_or(())?;
        buffer.copy_from_slice(self.get(start..end).ok_or(())?);
        Ok(())
    }
}

/// Where the image must end in its region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A file or a download: the TLV area must end exactly at the end of the region.
    File,
    /// A flash slot: the bytes after the TLV area are the slot's trailer and free space, and
    /// are not read.
    Slot,
}
