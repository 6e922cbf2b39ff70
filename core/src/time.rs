//! Time as every Postel crate sees it: milliseconds since the Unix epoch, given by the
//! caller.
//!
//! The monotonic [`std::time::Instant`] is for deadlines (every `now` a session
//! takes); [`Timestamp`] is for wall-clock facts: dates written into headers,
//! INTERNALDATE, queue schedules and DKIM expiry.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the Unix epoch (UTC).
///
/// Every method of a Postel crate that depends on wall time takes one of these
/// as an argument; nothing in the libraries reads a clock except [`SystemClock`]
/// and the tokio driver.
/// Milliseconds keep the queue's spool format exact (a plain integer) and make a
/// simulated clock trivial in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    /// A timestamp from whole seconds since the Unix epoch.
    pub const fn from_unix_secs(secs: u64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    pub const fn unix_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Whole seconds since the Unix epoch as a signed number, for date
    /// arithmetic that also handles times before the epoch.
    pub const fn unix_secs_i64(self) -> i64 {
        (self.0 / 1000) as i64
    }

    /// Converts a `SystemTime`; times before the epoch become the epoch.
    pub fn from_system_time(t: SystemTime) -> Self {
        let millis = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// The same instant as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }

    /// `self + d`, saturating at the largest timestamp.
    pub fn saturating_add(self, d: Duration) -> Self {
        let millis = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// `self - d`, saturating at the epoch.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let millis = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(millis))
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp::from_system_time(t)
    }
}

impl fmt::Display for Timestamp {
    /// Seconds and milliseconds since the epoch, e.g. `1700000000.250`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// The system clock, for binaries. Libraries and tests pass their own time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_unix_secs(10);
        assert_eq!(
            t.saturating_add(Duration::from_millis(5)).unix_millis(),
            10_005
        );
        assert_eq!(t.saturating_sub(Duration::from_secs(11)), Timestamp::EPOCH);
        assert_eq!(
            Timestamp::from_unix_millis(u64::MAX)
                .saturating_add(Duration::MAX)
                .unix_millis(),
            u64::MAX
        );
        assert_eq!(
            t.duration_since(Timestamp::from_unix_secs(20)),
            Duration::ZERO
        );
        assert_eq!(Timestamp::from_system_time(t.to_system_time()), t);
        assert_eq!(t.to_string(), "10.000");
    }
}
