//! Slot files: a slot directory holds `slot-a.bin`, `slot-b.bin` and `boot-record.bin` (the
//! boot record, replaced atomically by write-and-rename, then the directory synced), the
//! `iotsec_ota::trial_boot::BootStore` of a device whose flash is a directory.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use iotsec_ota::trial_boot::{BootRecord, BootStore, Slot};

/// The slot directory of one device.
#[derive(Debug, Clone)]
pub struct SlotFiles {
    /// The directory.
    pub dir: PathBuf,
}

impl SlotFiles {
    /// The file of `slot`.
    pub fn slot_path(&self, slot: Slot) -> PathBuf {
        self.dir.join(match slot {
            Slot::A => "slot-a.bin",
            Slot::B => "slot-b.bin",
        })
    }

    /// The boot record file.
    pub fn record_path(&self) -> PathBuf {
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
