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
