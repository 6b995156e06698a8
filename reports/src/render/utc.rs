//! Unix seconds as a UTC date and time, without a date library (the crate stays plain data).

const S_PER_MIN: u64 = 60;
const S_PER_HOUR: u64 = 3_600;
const S_PER_DAY: u64 = 86_400;
/// Days from 0000-03-01 (the proleptic Gregorian year starting in March, so the leap day is
/// the year's last) to 1970-01-01.
const DAYS_0000_03_01_TO_EPOCH: u64 = 719_468;
const DAYS_PER_400_YEARS: u64 = 146_097;

/// `YYYY-MM-DD HH:MMZ`.
pub fn utc_minute(unix_s: u64) -> String {
    let (year, month, day) = civil_from_days(unix_s / S_PER_DAY);
    let second_of_day = unix_s % S_PER_DAY;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}Z",
        second_of_day / S_PER_HOUR,
        second_of_day % S_PER_HOUR / S_PER_MIN
    )
}

/// Year, month, day of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`, for
/// non-negative days only, so all in unsigned arithmetic).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + DAYS_0000_03_01_TO_EPOCH;
    let era = z / DAYS_PER_400_YEARS;
    let day_of_era = z % DAYS_PER_400_YEARS;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
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
    fn known_instants() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00Z");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00Z");
        assert_eq!(utc_minute(1_700_000_000), "2023-11-14 22:13Z");
        assert_eq!(utc_minute(4_107_542_399), "2100-02-28 23:59Z");
        assert_eq!(utc_minute(4_107_542_400), "2100-03-01 00:00Z");
        // Far beyond any real clock, still no panic.
        assert!(utc_minute(u64::MAX).ends_with('Z'));
    }
}
