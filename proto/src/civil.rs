//! Proleptic Gregorian calendar arithmetic for years 0000..=9999, the range a 4-digit year
//! field can hold. Written out here instead of pulling in a date library: the wire formats
//! only need date <-> day-number conversion, and a small, exhaustively tested implementation
//! is easier to trust on untrusted input than a general one.

/// Day number (days since 1970-01-01) of 0000-01-01.
pub(crate) const EPOCH_DAYS_FROM_YEAR_0: i64 = days_before_year(1970);

pub(crate) const MIN_YEAR: i64 = 0;
pub(crate) const MAX_YEAR: i64 = 9999;

pub(crate) const fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 0000-01-01 to the first day of `year` (`year >= 0`).
const fn days_before_year(year: i64) -> i64 {
    // Leap years in [0, year): multiples of 4, minus multiples of 100, plus multiples of 400,
    // counting year 0 itself (a leap year in the proleptic calendar) — hence the rounding up.
    let leaps = (year + 3) / 4 - (year + 99) / 100 + (year + 399) / 400;
    365 * year + leaps
}

/// Days from January 1st to the first day of `month` (1-based).
const fn days_before_month(year: i64, month: u32) -> i64 {
    let mut days = 0i64;
    let mut m = 1;
    while m < month {
        days += days_in_month(year, m) as i64;
        m += 1;
    }
    days
}

/// Days since 1970-01-01 of a date the caller has already validated
/// (`MIN_YEAR..=MAX_YEAR`, month 1..=12, day within the month).
pub(crate) const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    days_before_year(year) + days_before_month(year, month) + day as i64
        - 1
        - EPOCH_DAYS_FROM_YEAR_0
}

/// The date of a day number (days since 1970-01-01); the caller keeps the day number inside
/// years `MIN_YEAR..=MAX_YEAR`.
pub(crate) fn civil_from_days(days_since_epoch: i64) -> (i64, u32, u32) {
    let n = days_since_epoch + EPOCH_DAYS_FROM_YEAR_0;
    // 146097 days per 400 years gives an estimate off by at most one year either way.
    let mut year = (n * 400) / 146_097;
    while year > MIN_YEAR && days_before_year(year) > n {
        year -= 1;
    }
    while days_before_year(year + 1) <= n {
        year += 1;
    }
    let mut day_of_year = n - days_before_year(year);
    let mut month = 1;
    while month < 12 && day_of_year >= days_in_month(year, month) as i64 {
        day_of_year -= days_in_month(year, month) as i64;
        month += 1;
    }
    (year, month, day_of_year as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_day_numbers() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        // 0000-01-01 is 719528 days before the epoch (a well-known constant).
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
    }

    #[test]
    fn every_day_of_every_year_round_trips_and_is_consecutive() {
        let mut expected = days_from_civil(MIN_YEAR, 1, 1);
        for year in MIN_YEAR..=MAX_YEAR {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let n = days_from_civil(year, month, day);
                    assert_eq!(n, expected, "{year:04}-{month:02}-{day:02}");
                    assert_eq!(civil_from_days(n), (year, month, day));
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn leap_rules() {
        assert!(is_leap(0));
        assert!(is_leap(2000));
        assert!(!is_leap(1900));
        assert!(is_leap(2024));
        assert!(!is_leap(2023));
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2400, 2), 29);
        assert_eq!(days_in_month(2024, 13), 0);
    }
}
