//! This host's clock, for the times a command checks (`ota verify --state`, `iotsec-device ota
//! apply`: iotsec-ota's `DeviceStateFile::trusted_time` takes it when the state file gives no
//! `now`) and for expiries it refuses when already past.

use crate::BadInput;

/// This host's clock, in seconds since the Unix epoch.
pub fn host_now() -> Result<u64, BadInput> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| BadInput::new("the system clock is before 1970"))
}

/// Refuses an expiry (seconds since the Unix epoch) that is not in the future: a document
/// signed with it would be refused by every device with a trusted clock.
pub fn future_expiry(flag: &str, expires: u64) -> Result<u64, BadInput> {
    let now = host_now()?;
    if expires <= now {
        return Err(BadInput::new(format!(
            "{flag} {expires} is not in the future (now is {now})"
        )));
    }
    Ok(expires)
}
