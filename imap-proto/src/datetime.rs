//! Dates in SEARCH (`date`) and date-times in APPEND (`date-time`).

use std::fmt;

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::writer::Writer;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar date (`d-Mon-yyyy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A date; `None` if it does not exist (year 0–9999).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (year <= 9999 && (1..=days).contains(&day)).then_some(Self { year, month, day })
    }

    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month.
    pub fn day(&self) -> u8 {
        self.day
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS[usize::from(self.month - 1)];
        write!(f, "{}-{month}-{:04}", self.day, self.year)
    }
}

/// An instant with its zone (`dd-Mon-yyyy hh:mm:ss +zzzz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    zone_minutes: i16,
}

impl DateTime {
    /// A date-time; `None` for an impossible time or a zone beyond ±99:59.
    pub fn new(date: Date, hour: u8, minute: u8, second: u8, zone_minutes: i16) -> Option<Self> {
        (hour < 24 && minute < 60 && second < 61 && zone_minutes.unsigned_abs() < 100 * 60)
            .then_some(Self {
                date,
                hour,
                minute,
                second,
                zone_minutes,
            })
    }

    /// The date.
    pub fn date(&self) -> Date {
        self.date
    }

    /// Hour, minute and second.
    pub fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }

    /// The zone's offset from UTC in minutes.
    pub fn zone_minutes(&self) -> i16 {
        self.zone_minutes
    }

    /// The instant `seconds` after 1970-01-01T00:00:00Z, written in UTC
    /// (`+0000`); `None` outside the years 1-9999.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        let days = seconds.div_euclid(86_400);
        let rest = seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let date = Date::new(u16::try_from(y).ok()?, m, d)?;
        Self::new(
            date,
            (rest / 3600) as u8,
            (rest / 60 % 60) as u8,
            (rest % 60) as u8,
            0,
        )
    }

    /// Seconds since 1970-01-01T00:00:00Z of this instant (the zone
    /// applied).
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.date.year()),
            self.date.month(),
            self.date.day(),
        );
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.zone_minutes) * 60
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known
/// era-based computation).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.date;
        let month = MONTHS[usize::from(d.month - 1)];
        let sign = if self.zone_minutes < 0 { '-' } else { '+' };
        let z = self.zone_minutes.unsigned_abs();
        write!(
            f,
            "{:02}-{month}-{:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
            d.day,
            d.year,
            self.hour,
            self.minute,
            self.second,
            z / 60,
            z % 60
        )
    }
}

fn fixed_digits(cur: &mut Cursor<'_>, n: usize) -> Result<u16, ParseError> {
    let mut v = 0u16;
    for _ in 0..n {
        match cur.peek() {
            Some(d) if d.is_ascii_digit() => {
                v = v * 10 + u16::from(d - b'0');
                cur.eat(d);
            }
            _ => return Err(cur.err("digit")),
        }
    }
    Ok(v)
}

fn month(cur: &mut Cursor<'_>) -> Result<u8, ParseError> {
    for (i, m) in MONTHS.iter().enumerate() {
        if cur.eat_ci(m.as_bytes()) {
            return Ok(i as u8 + 1);
        }
    }
    Err(cur.err("month"))
}

fn narrow(v: u16) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

/// Parses `date-text` after the day: `-Mon-yyyy`.
fn month_year(cur: &mut Cursor<'_>, day: u16, offset: usize) -> Result<Date, ParseError> {
    cur.expect(b'-', "-")?;
    let m = month(cur)?;
    cur.expect(b'-', "-")?;
    let y = fixed_digits(cur, 4)?;
    Date::new(y, m, narrow(day)).ok_or(ParseError::BadDate { offset })
}

/// Parses `date`: `date-text` or the same in double quotes.
pub(crate) fn parse_date(cur: &mut Cursor<'_>) -> Result<Date, ParseError> {
    let offset = cur.pos();
    let quoted = cur.eat(b'"');
    let day = fixed_digits(cur, 1)?;
    let day = match cur.peek() {
        Some(d) if d.is_ascii_digit() => day * 10 + fixed_digits(cur, 1)?,
        _ => day,
    };
    let date = month_year(cur, day, offset)?;
    if quoted {
        cur.expect(b'"', "closing quote")?;
    }
    Ok(date)
}

/// Parses `date-time` (always quoted; the day is two digits or SP digit).
pub(crate) fn parse_date_time(cur: &mut Cursor<'_>) -> Result<DateTime, ParseError> {
    let offset = cur.pos();
    cur.expect(b'"', "date-time")?;
    let day = if cur.eat(b' ') {
        fixed_digits(cur, 1)?
    } else {
        fixed_digits(cur, 2)?
    };
    let date = month_year(cur, day, offset)?;
    cur.sp()?;
    let h = fixed_digits(cur, 2)?;
    cur.expect(b':', ":")?;
    let m = fixed_digits(cur, 2)?;
    cur.expect(b':', ":")?;
    let s = fixed_digits(cur, 2)?;
    cur.sp()?;
    let sign: i16 = if cur.eat(b'+') {
        1
    } else if cur.eat(b'-') {
        -1
    } else {
        return Err(cur.err("zone sign"));
    };
    let zh = fixed_digits(cur, 2)?;
    let zm = fixed_digits(cur, 2)?;
    cur.expect(b'"', "closing quote")?;
    if zm >= 60 {
        return Err(ParseError::BadDate { offset });
    }
    let zone = sign * (zh * 60 + zm) as i16;
    DateTime::new(date, narrow(h), narrow(m), narrow(s), zone).ok_or(ParseError::BadDate { offset })
}

/// Writes `date`.
pub(crate) fn write_date(w: &mut Writer, date: &Date) {
    w.str(&date.to_string());
}

/// Writes `date-time` in quotes.
pub(crate) fn write_date_time(w: &mut Writer, dt: &DateTime) {
    w.byte(b'"');
    w.str(&dt.to_string());
    w.byte(b'"');
}

#[cfg(test)]
mod unix_tests {
    use super::*;

    #[test]
    fn unix_seconds_round_trip() {
        for secs in [0i64, 951_782_400, 1_700_000_000, 4_102_444_799, -86_400] {
            let dt = DateTime::from_unix_seconds(secs).unwrap();
            assert_eq!(dt.unix_seconds(), secs, "{dt}");
        }
        let dt = DateTime::from_unix_seconds(951_782_400).unwrap();
        assert_eq!(dt.to_string(), "29-Feb-2000 00:00:00 +0000");
        let zoned = DateTime::new(Date::new(2000, 2, 29).unwrap(), 1, 0, 0, 60).unwrap();
        assert_eq!(zoned.unix_seconds(), 951_782_400);
    }
}
