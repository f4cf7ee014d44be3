//! Instants in UTC with millisecond precision, and their two wire forms:
//!
//! * the ILP fixed timestamp (Prepare `expiresAt`): exactly 17 ASCII digits
//!   `YYYYMMDDHHmmssfff`, no separators, no zone;
//! * the BTP GeneralizedTime (Error `triggeredAt`): `YYYYMMDDHHmmss[.f{1,3}]Z`.
//!
//! Both decoders reject impossible dates instead of normalising them (month 13, Feb 30,
//! hour 24, minute 60, second 60): a normalising reader would let two different strings mean
//! the same instant, and RFC 30 requires leap seconds to be smeared, so second 60 never names a
//! real instant on the wire.
//!
//! Range: a [`Timestamp`] is always inside 0000-01-01T00:00:00.000Z ..=
//! 9999-12-31T23:59:59.999Z, the instants a 4-digit year can express. Constructors clamp to
//! that range (see [`Timestamp::from_unix_ms`]), so encoding can never fail.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::civil;
use crate::error::DecodeError;

const MS_PER_SECOND: i64 = 1000;
const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch, UTC, always within [`Timestamp::MIN`]..=[`Timestamp::MAX`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A timestamp split into its calendar fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

impl Timestamp {
    /// 0000-01-01T00:00:00.000Z.
    pub const MIN: Timestamp =
        Timestamp(civil::days_from_civil(civil::MIN_YEAR, 1, 1) * MS_PER_DAY);
    /// 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp =
        Timestamp(civil::days_from_civil(civil::MAX_YEAR, 12, 31) * MS_PER_DAY + MS_PER_DAY - 1);

    /// The instant `ms` milliseconds after the Unix epoch. Values outside
    /// [`Timestamp::MIN`]..=[`Timestamp::MAX`] are clamped to the nearest end (never panics),
    /// so every `Timestamp` has a 4-digit-year wire form.
    pub fn from_unix_ms(ms: i64) -> Timestamp {
        Timestamp(ms.clamp(Self::MIN.0, Self::MAX.0))
    }

    /// Like [`Timestamp::from_unix_ms`], but `None` instead of clamping.
    pub fn try_from_unix_ms(ms: i64) -> Option<Timestamp> {
        (Self::MIN.0..=Self::MAX.0)
            .contains(&ms)
            .then_some(Timestamp(ms))
    }

    pub fn unix_ms(self) -> i64 {
        self.0
    }

    pub fn now() -> Timestamp {
        Self::from_system_time(SystemTime::now())
    }

    /// Truncates to whole milliseconds (towards the past, also before 1970), clamping to the
    /// supported range.
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(after) => {
                let ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
                Self::from_unix_ms(ms)
            }
            Err(before) => {
                let before = before.duration();
                let whole = i64::try_from(before.as_millis()).unwrap_or(i64::MAX);
                // Flooring: 1.5 ms before the epoch is -2 ms, not -1 ms.
                let has_fraction = before.subsec_nanos() % 1_000_000 != 0;
                let ms = whole.saturating_add(i64::from(has_fraction));
                Self::from_unix_ms(ms.saturating_neg())
            }
        }
    }

    /// The same instant as a `SystemTime`. Falls back to the closest representable instant on
    /// platforms whose `SystemTime` cannot reach year 0 or 9999 (not the case on Linux).
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_millis(self.0.unsigned_abs());
        let t = if self.0 >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        };
        t.unwrap_or(UNIX_EPOCH)
    }

    /// `self + ms`, or `None` when the result leaves the supported range.
    pub fn checked_add_ms(self, ms: i64) -> Option<Timestamp> {
        self.0.checked_add(ms).and_then(Self::try_from_unix_ms)
    }

    /// `self - ms`, clamped to the supported range.
    pub fn saturating_sub_ms(self, ms: i64) -> Timestamp {
        Self::from_unix_ms(self.0.saturating_sub(ms))
    }

    /// `self + ms`, clamped to the supported range.
    pub fn saturating_add_ms(self, ms: i64) -> Timestamp {
        Self::from_unix_ms(self.0.saturating_add(ms))
    }

    /// Parses an ILP fixed timestamp: exactly 17 ASCII digits `YYYYMMDDHHmmssfff`, UTC.
    pub fn parse_ilp(s: &[u8]) -> Result<Timestamp, DecodeError> {
        if s.len() != 17 {
            return Err(invalid(format!(
                "ILP timestamp must be exactly 17 digits, got {} bytes",
                s.len()
            )));
        }
        let digits = DigitReader::new(s)?;
        let parts = Parts {
            year: i64::from(digits.number(0, 4)),
            month: digits.number(4, 2),
            day: digits.number(6, 2),
            hour: digits.number(8, 2),
            minute: digits.number(10, 2),
            second: digits.number(12, 2),
            millis: digits.number(14, 3),
        };
        Self::from_parts(parts)
    }

    /// The 17-digit ILP fixed timestamp `YYYYMMDDHHmmssfff`.
    pub fn to_ilp(self) -> [u8; 17] {
        let p = self.parts();
        let mut out = [b'0'; 17];
        // Years are 0..=9999 by the type's invariant, so the casts cannot truncate.
        put_digits(&mut out[0..4], p.year as u32);
        put_digits(&mut out[4..6], p.month);
        put_digits(&mut out[6..8], p.day);
        put_digits(&mut out[8..10], p.hour);
        put_digits(&mut out[10..12], p.minute);
        put_digits(&mut out[12..14], p.second);
        put_digits(&mut out[14..17], p.millis);
        out
    }

    /// Parses a BTP GeneralizedTime `YYYYMMDDHHmmss[.f{1,3}]Z`. Fractions with trailing zeros
    /// (`.000Z`, `.20Z`), which RFC 30 calls non-canonical, are accepted because the JS and
    /// Rust implementations write `.fffZ` unconditionally.
    pub fn parse_generalized(s: &str) -> Result<Timestamp, DecodeError> {
        Self::parse_generalized_bytes(s.as_bytes())
    }

    pub(crate) fn parse_generalized_bytes(s: &[u8]) -> Result<Timestamp, DecodeError> {
        let Some((&b'Z', body)) = s.split_last() else {
            return Err(invalid(
                "GeneralizedTime must end with 'Z' (UTC)".to_string(),
            ));
        };
        if body.len() < 14 {
            return Err(invalid(format!(
                "GeneralizedTime needs 14 date/time digits, got {} bytes before 'Z'",
                body.len()
            )));
        }
        let (date_time, fraction) = body.split_at(14);
        let millis = match fraction {
            [] => 0,
            [b'.', frac @ ..] if (1..=3).contains(&frac.len()) => {
                let digits = DigitReader::new(frac)?;
                // ".2" is 200 ms, ".27" is 270 ms.
                digits.number(0, frac.len()) * 10u32.pow(3 - frac.len() as u32)
            }
            [b'.', frac @ ..] => {
                return Err(invalid(format!(
                    "GeneralizedTime fraction must have 1 to 3 digits, got {} bytes",
                    frac.len()
                )));
            }
            _ => {
                return Err(invalid(
                    "GeneralizedTime: expected '.' or 'Z' after the seconds".to_string(),
                ));
            }
        };
        let digits = DigitReader::new(date_time)?;
        Self::from_parts(Parts {
            year: i64::from(digits.number(0, 4)),
            month: digits.number(4, 2),
            day: digits.number(6, 2),
            hour: digits.number(8, 2),
            minute: digits.number(10, 2),
            second: digits.number(12, 2),
            millis,
        })
    }

    /// BTP GeneralizedTime, always with three fraction digits: `YYYYMMDDHHmmss.fffZ`, the one
    /// form every BTP implementation can read.
    pub fn to_generalized(self) -> String {
        let ilp = self.to_ilp();
        let mut out = String::with_capacity(19);
        for &b in &ilp[..14] {
            out.push(char::from(b));
        }
        out.push('.');
        for &b in &ilp[14..] {
            out.push(char::from(b));
        }
        out.push('Z');
        out
    }

    /// RFC 3339 form, e.g. `2017-12-23T01:21:40.549Z` (for logs and display).
    pub fn to_rfc3339(self) -> String {
        let p = self.parts();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            p.year, p.month, p.day, p.hour, p.minute, p.second, p.millis
        )
    }

    fn from_parts(p: Parts) -> Result<Timestamp, DecodeError> {
        if !(1..=12).contains(&p.month) {
            return Err(invalid(format!("month {:02} is not 01..12", p.month)));
        }
        let month_days = civil::days_in_month(p.year, p.month);
        if !(1..=month_days).contains(&p.day) {
            return Err(invalid(format!(
                "day {:02} is not in 01..{month_days} for {:04}-{:02}",
                p.day, p.year, p.month
            )));
        }
        if p.hour > 23 {
            return Err(invalid(format!("hour {:02} is not 00..23", p.hour)));
        }
        if p.minute > 59 {
            return Err(invalid(format!("minute {:02} is not 00..59", p.minute)));
        }
        if p.second > 59 {
            return Err(invalid(format!(
                "second {:02} is not 00..59 (leap seconds must be smeared)",
                p.second
            )));
        }
        let days = civil::days_from_civil(p.year, p.month, p.day);
        let ms = days * MS_PER_DAY
            + i64::from(p.hour) * 3_600_000
            + i64::from(p.minute) * 60_000
            + i64::from(p.second) * MS_PER_SECOND
            + i64::from(p.millis);
        Ok(Timestamp(ms))
    }

    fn parts(self) -> Parts {
        let days = self.0.div_euclid(MS_PER_DAY);
        let in_day = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil::civil_from_days(days);
        // in_day < 86_400_000, so every component fits in u32.
        Parts {
            year,
            month,
            day,
            hour: (in_day / 3_600_000) as u32,
            minute: (in_day / 60_000 % 60) as u32,
            second: (in_day / 1000 % 60) as u32,
            millis: (in_day % 1000) as u32,
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp::from_system_time(t)
    }
}

fn invalid(why: String) -> DecodeError {
    DecodeError::InvalidTimestamp(why)
}

/// A byte string checked to be all ASCII digits.
struct DigitReader<'a>(&'a [u8]);

impl<'a> DigitReader<'a> {
    fn new(s: &'a [u8]) -> Result<Self, DecodeError> {
        if let Some(pos) = s.iter().position(|b| !b.is_ascii_digit()) {
            return Err(invalid(format!("non-digit byte at position {pos}")));
        }
        Ok(DigitReader(s))
    }

    /// The decimal value of `len` digits from `start` (out-of-range requests read as 0; callers
    /// only ask for ranges inside the checked length).
    fn number(&self, start: usize, len: usize) -> u32 {
        self.0
            .iter()
            .skip(start)
            .take(len)
            .fold(0, |acc, &d| acc * 10 + u32::from(d - b'0'))
    }
}

fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        // `value % 10 < 10`, so the cast cannot truncate.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_ends_format_as_expected() {
        assert_eq!(&Timestamp::MIN.to_ilp(), b"00000101000000000");
        assert_eq!(&Timestamp::MAX.to_ilp(), b"99991231235959999");
        assert_eq!(Timestamp::from_unix_ms(i64::MIN), Timestamp::MIN);
        assert_eq!(Timestamp::from_unix_ms(i64::MAX), Timestamp::MAX);
        assert_eq!(Timestamp::MAX.checked_add_ms(1), None);
        assert_eq!(Timestamp::MIN.saturating_sub_ms(1), Timestamp::MIN);
        assert_eq!(Timestamp::MIN.saturating_sub_ms(i64::MIN), Timestamp::MAX);
    }

    #[test]
    fn impossible_dates_are_rejected() {
        for bad in [
            &b"20170230000000000"[..], // Feb 30
            b"20190229000000000",      // not a leap year
            b"20171300000000000",      // month 13
            b"20170001000000000",      // month 00
            b"20170100000000000",      // day 00
            b"20170101240000000",      // hour 24
            b"20170101006000000",      // minute 60
            b"20170101000060000",      // second 60
        ] {
            assert!(
                matches!(
                    Timestamp::parse_ilp(bad),
                    Err(DecodeError::InvalidTimestamp(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(Timestamp::parse_ilp(b"20000229000000000").is_ok());
    }

    #[test]
    fn pre_epoch_system_time_floors() {
        let t = UNIX_EPOCH - Duration::from_micros(1500);
        assert_eq!(Timestamp::from_system_time(t).unix_ms(), -2);
        let t = UNIX_EPOCH - Duration::from_millis(3);
        assert_eq!(Timestamp::from_system_time(t).unix_ms(), -3);
        assert_eq!(
            Timestamp::from_unix_ms(-3).to_system_time(),
            UNIX_EPOCH - Duration::from_millis(3)
        );
    }
}
