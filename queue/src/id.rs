//! Queue IDs: unique within a store and sorted by the time they were made.

use std::fmt;
use std::str::FromStr;

use crate::time::Timestamp;

/// The ID of a queued message.
///
/// Made of the enqueue time in milliseconds and a sequence number within that
/// millisecond, so IDs sort by arrival. The text form is 16 upper-case hex
/// digits (12 for the time, 4 for the sequence), which is also the spool's
/// file name stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId {
    millis: u64,
    seq: u16,
}

impl QueueId {
    /// The largest time an ID can hold (12 hex digits of milliseconds).
    const MAX_MILLIS: u64 = 0xFFFF_FFFF_FFFF;

    /// An ID from its parts. The time is capped at 12 hex digits.
    pub fn from_parts(time: Timestamp, seq: u16) -> Self {
        QueueId {
            millis: time.unix_millis().min(Self::MAX_MILLIS),
            seq,
        }
    }

    /// The time part: when the message was enqueued (or slightly later, if
    /// more than 65536 messages were enqueued within one millisecond).
    pub fn time(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.millis)
    }

    /// The sequence part.
    pub fn seq(&self) -> u16 {
        self.seq
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012X}{:04X}", self.millis, self.seq)
    }
}

/// The text was not 16 upper-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a queue ID (16 upper-case hex digits)")]
pub struct ParseQueueIdError;

impl FromStr for QueueId {
    type Err = ParseQueueIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return Err(ParseQueueIdError);
        }
        let millis = u64::from_str_radix(&s[..12], 16).map_err(|_| ParseQueueIdError)?;
        let seq = u16::from_str_radix(&s[12..], 16).map_err(|_| ParseQueueIdError)?;
        Ok(QueueId { millis, seq })
    }
}

/// Hands out strictly increasing IDs: the caller's time when it moved on,
/// else the next sequence number of the last ID.
#[derive(Debug, Default)]
pub(crate) struct IdGenerator {
    last: Option<QueueId>,
}

impl IdGenerator {
    /// Makes sure every later ID sorts after `id` (used after recovery).
    pub(crate) fn observe(&mut self, id: QueueId) {
        if self.last.is_none_or(|last| id > last) {
            self.last = Some(id);
        }
    }

    pub(crate) fn next(&mut self, now: Timestamp) -> QueueId {
        let candidate = QueueId::from_parts(now, 0);
        let id = match self.last {
            Some(last) if candidate <= last => match last.seq.checked_add(1) {
                Some(seq) => QueueId {
                    millis: last.millis,
                    seq,
                },
                None => QueueId {
                    millis: (last.millis + 1).min(QueueId::MAX_MILLIS),
                    seq: 0,
                },
            },
            _ => candidate,
        };
        self.last = Some(id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_order() {
        let a = QueueId::from_parts(Timestamp::from_unix_millis(0x18B_CFE5_6800), 7);
        assert_eq!(a.to_string(), "018BCFE568000007");
        assert_eq!("018BCFE568000007".parse::<QueueId>(), Ok(a));
        assert!("018bcfe568000007".parse::<QueueId>().is_err());
        assert!("018BCFE56800000".parse::<QueueId>().is_err());
        assert!("+18BCFE568000007".parse::<QueueId>().is_err());
        let b = QueueId::from_parts(Timestamp::from_unix_millis(0x18B_CFE5_6801), 0);
        assert!(a < b && a.to_string() < b.to_string());
    }

    #[test]
    fn generator_is_strictly_increasing() {
        let mut generator = IdGenerator::default();
        let t = Timestamp::from_unix_millis(1000);
        let first = generator.next(t);
        let second = generator.next(t);
        let earlier = generator.next(Timestamp::from_unix_millis(5));
        assert!(first < second && second < earlier);
        generator.observe(QueueId::from_parts(t, u16::MAX));
        let wrapped = generator.next(t);
        assert_eq!((wrapped.time().unix_millis(), wrapped.seq()), (1001, 0));
    }
}
