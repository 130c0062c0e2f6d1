//! UTC civil time for the On-Premises login answer's `expires_after`
//! (`YYYY-MM-DD HH:MM:SS+00:00`), computed from the Unix clock without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31 23:59:59 UTC: later instants are written as this one.
const LAST_FOUR_DIGIT_YEAR_SECOND: u64 = 253_402_300_799;

/// Seconds since the Unix epoch of `now + after`, saturating instead of overflowing; 0 for a
/// clock set before 1970.
pub(crate) fn unix_seconds_after(now: SystemTime, after: Duration) -> u64 {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    now.saturating_add(after.as_secs())
}

/// Seconds since the Unix epoch of `now`.
pub(crate) fn unix_seconds(now: SystemTime) -> u64 {
    unix_seconds_after(now, Duration::ZERO)
}

/// `unix_seconds` as `YYYY-MM-DD HH:MM:SS+00:00`.
pub(crate) fn format_utc(unix_seconds: u64) -> String {
    let seconds = unix_seconds.min(LAST_FOUR_DIGIT_YEAR_SECOND);
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}+00:00",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to dates from 1970 on).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00+00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00+00:00");
        assert_eq!(format_utc(951_868_799), "2000-02-29 23:59:59+00:00");
        assert_eq!(format_utc(951_868_800), "2000-03-01 00:00:00+00:00");
        assert_eq!(format_utc(1_709_251_199), "2024-02-29 23:59:59+00:00");
        assert_eq!(format_utc(4_107_542_400), "2100-03-01 00:00:00+00:00");
        assert_eq!(format_utc(1_767_225_600), "2026-01-01 00:00:00+00:00");
        assert_eq!(format_utc(u64::MAX), "9999-12-31 23:59:59+00:00");
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // Walk 1970..2500 day by day and check the calendar rules independently.
        let mut expected = (1970, 1, 1);
        for days in 0..193_000 {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            let (y, m, d) = expected;
            let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
            let month_length = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            expected = if d < month_length {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn adding_a_lifetime_saturates() {
        let epoch = UNIX_EPOCH;
        assert_eq!(unix_seconds_after(epoch, Duration::from_secs(90)), 90);
        assert_eq!(unix_seconds_after(epoch, Duration::MAX), u64::MAX);
        assert_eq!(unix_seconds(epoch), 0);
    }
}
