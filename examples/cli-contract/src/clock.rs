//! The time a command checks expiry against when it acts for a device (`ota verify --state`,
//! `iotsec-device ota apply`): the state file's `now` when it gives one, else this host's
//! clock; only an explicit `--no-trusted-time` says the device has no trusted time, which turns
//! the expiry checks (TUF specification §5.4, freeze attack) off visibly.

use crate::BadInput;

/// Seconds since the Unix epoch to check expiry against, or `None` when the operator said the
/// device has no trusted time.
pub fn device_time(state_now: Option<u64>, no_trusted_time: bool) -> Result<Option<u64>, BadInput> {
    match (state_now, no_trusted_time) {
        (Some(_), true) => Err(BadInput::new(
            "--no-trusted-time contradicts the state file's now: give one or the other",
        )),
        (Some(now), false) => Ok(Some(now)),
        (None, true) => Ok(None),
        (None, false) => host_now().map(Some),
    }
}

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
