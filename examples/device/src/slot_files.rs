//! Slot files: a slot directory holds `slot-a.bin`, `slot-b.bin` and `boot-record.bin` (the
//! boot record, replaced atomically by write-and-rename, then the directory synced), the
//! `iotsec_ota::trial_boot::BootStore` of a device whose flash is a directory.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use iotsec_ota::trial_boot::{BOOT_RECORD_LEN, BootRecord, BootStore, Slot};

/// Reads `path` whole, but never more than `max` bytes: a larger file is refused
/// (`InvalidData`) after reading `max + 1` bytes, before it is parsed. The device's files
/// (boot record, state files) are small and written by itself; anything larger is not its own.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {max} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

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
        let bytes = read_capped(&self.record_path(), BOOT_RECORD_LEN as u64)?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("iotsec-slot-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_oversized_boot_record_is_refused_without_reading_it_whole() {
        let dir = scratch("oversized");
        let mut files = SlotFiles { dir: dir.clone() };
        files
            .store_record(&BootRecord::factory(
                iotsec_ota::trial_boot::InstallTicket {
                    security_counter: 1,
                    sequence_number: 1,
                    digest: [7; 32],
                    size: 1,
                },
            ))
            .unwrap();
        assert!(files.load_record().is_ok());
        // One byte over the record's fixed length, and a file far larger (a sparse 1 GiB).
        for len in [BOOT_RECORD_LEN as u64 + 1, 1 << 30] {
            fs::File::create(files.record_path())
                .unwrap()
                .set_len(len)
                .unwrap();
            let e = files.load_record().unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
            assert_eq!(
                e.to_string(),
                format!(
                    "{} is larger than {BOOT_RECORD_LEN} bytes",
                    files.record_path().display()
                )
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
