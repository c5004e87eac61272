//! Calendar days in the inputs: VEX and policy expiry dates and the gate's "today".
//!
//! A day is an RFC 3339 §5.6 `full-date` (`2025-12-31`, a real Gregorian day). A VEX expiry may
//! also be an RFC 3339 `date-time` (`2025-12-31T23:59:59Z`, any offset); it counts by its UTC
//! day, as the gate's "today" is a UTC day. Anything else is not a date: parsers refuse it and
//! [`expired`] treats it as expired, so a typo can never keep a suppression in force. VEX
//! timestamps are RFC 3339 `date-time`s ([`parse_timestamp`]).

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, UtcOffset};

/// Parses an RFC 3339 `full-date` (`YYYY-MM-DD`, four-digit year, a day that exists).
pub fn parse_day(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<u16> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = i32::from(digits(0, 4)?);
    let month = Month::try_from(u8::try_from(digits(5, 7)?).ok()?).ok()?;
    let day = u8::try_from(digits(8, 10)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Parses an expiry: a `full-date`, or an RFC 3339 `date-time` reduced to its UTC day.
pub fn parse_expiry(s: &str) -> Option<Date> {
    parse_day(s).or_else(|| {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| t.to_offset(UtcOffset::UTC).date())
    })
}

/// Parses an RFC 3339 `date-time` (a VEX statement's or document's `timestamp`, a BOM's
/// `metadata.timestamp`), the instant VEX statements are ordered by.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Whether something that expires on `expires` (an expiry, see [`parse_expiry`]) has expired on
/// `today` (a `full-date`): it is in force up to and including its expiry day. Fails closed:
/// if either does not parse, it has expired.
pub fn expired(expires: &str, today: &str) -> bool {
    match (parse_expiry(expires), parse_day(today)) {
        (Some(last), Some(today)) => last < today,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_date_times() {
        let d = |y, m, day| Date::from_calendar_date(y, m, day).unwrap();
        assert_eq!(parse_day("2025-12-31"), Some(d(2025, Month::December, 31)));
        assert_eq!(parse_day("2024-02-29"), Some(d(2024, Month::February, 29)));
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-12-32",
            "2025-1-01",
            "+025-12-31",
            "2025-12-31T00:00:00Z",
            "２０２５-12-3",
            "",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(
            parse_expiry("2025-12-31T23:59:59Z"),
            Some(d(2025, Month::December, 31))
        );
        // The UTC day: 23:00 at UTC-5 is already the next day in UTC, 01:00 at UTC+2 the day before.
        assert_eq!(
            parse_expiry("2025-12-31T23:00:00-05:00"),
            Some(d(2026, Month::January, 1))
        );
        assert_eq!(
            parse_expiry("2026-01-01T01:00:00+02:00"),
            Some(d(2025, Month::December, 31))
        );
        for bad in [
            "never",
            "Dec 2025",
            "31/12/2025",
            "2025-12-31T24:00:00Z",
            "2025-12-31T12:00:00",
        ] {
            assert_eq!(parse_expiry(bad), None, "{bad}");
        }
    }

    #[test]
    fn expiry_is_inclusive_and_fails_closed() {
        assert!(!expired("2025-12-31", "2025-12-31"));
        assert!(expired("2025-12-31", "2026-01-01"));
        assert!(!expired("2025-12-31T23:59:59Z", "2025-12-31"));
        assert!(expired("2025-12-31T23:59:59Z", "2026-01-01"));
        assert!(expired("never", "2000-01-01"));
        assert!(expired("31/12/2025", "2025-01-01"));
        assert!(expired("2099-01-01", "today"));
        assert!(expired("2099-01-01", ""));
    }
}
