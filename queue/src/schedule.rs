//! Retry scheduling, Sans-IO: every decision takes the time as an argument.
//!
//! - [`RetryPolicy`] holds Postfix's parameters (`minimal_backoff_time`,
//!   `maximal_backoff_time`, `maximal_queue_lifetime`,
//!   `bounce_queue_lifetime`, `delay_warning_time`); [`next_attempt`] and
//!   [`Scheduler::after_failure`] turn a failed attempt into the time of the
//!   next one, or into expiry.
//! - [`WorkKey`] orders due work: MT-PRIORITY first (higher first), then age.
//!   The stores hand out leases in this order.
//! - [`Scheduler::verdict`] says what to do with leased work before trying it:
//!   wait for its FUTURERELEASE time, fail it because its DELIVERBY deadline
//!   (mode `R`) passed, or deliver it, late (mode `N`) or not.
//! - [`Scheduler::try_start`] / [`Scheduler::finish`] keep per-destination
//!   state: a concurrency limit, a token-bucket rate limit, and a backoff of
//!   the whole destination after consecutive failures, so that a dead
//!   destination is probed by one delivery at a time instead of by every
//!   queued message.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;

use crate::envelope::{ByMode, Envelope};
use crate::error::MisuseError;
use crate::id::QueueId;
use crate::state::Lease;
use crate::time::Timestamp;

/// When to try again and when to give up: Postfix's queue parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt (Postfix default 300 s).
    pub minimal_backoff_time: Duration,
    /// The longest wait between attempts (default 4000 s).
    pub maximal_backoff_time: Duration,
    /// How long a message is tried before it expires and is returned
    /// (default 5 days).
    pub maximal_queue_lifetime: Duration,
    /// The same for messages with the null sender (bounces), which cannot
    /// be returned (default 5 days).
    pub bounce_queue_lifetime: Duration,
    /// Send a delay report once a message has waited this long (off by
    /// default, as in Postfix).
    pub delay_warning_time: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            minimal_backoff_time: Duration::from_secs(300),
            maximal_backoff_time: Duration::from_secs(4000),
            maximal_queue_lifetime: Duration::from_secs(5 * 86_400),
            bounce_queue_lifetime: Duration::from_secs(5 * 86_400),
            delay_warning_time: None,
        }
    }
}

impl RetryPolicy {
    /// Checks that the values can work together.
    pub fn validate(&self) -> Result<(), MisuseError> {
        if self.minimal_backoff_time.is_zero() {
            return Err(MisuseError::InvalidConfig(
                "minimal_backoff_time must be positive",
            ));
        }
        if self.maximal_backoff_time < self.minimal_backoff_time {
            return Err(MisuseError::InvalidConfig(
                "maximal_backoff_time must not be less than minimal_backoff_time",
            ));
        }
        if self.maximal_queue_lifetime.is_zero() || self.bounce_queue_lifetime.is_zero() {
            return Err(MisuseError::InvalidConfig(
                "queue lifetimes must be positive",
            ));
        }
        Ok(())
    }

    /// The wait after `attempts` failed attempts: the minimal backoff,
    /// doubled after each further attempt, capped at the maximal backoff.
    pub fn backoff(&self, attempts: u32) -> Duration {
        exponential(
            self.minimal_backoff_time,
            self.maximal_backoff_time,
            attempts,
        )
    }

    /// The lifetime of a message: the bounce lifetime for the null sender.
    pub fn lifetime(&self, null_sender: bool) -> Duration {
        if null_sender {
            self.bounce_queue_lifetime
        } else {
            self.maximal_queue_lifetime
        }
    }
}

fn exponential(min: Duration, max: Duration, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(63);
    let factor = 1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX);
    min.checked_mul(factor).unwrap_or(Duration::MAX).min(max)
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again at this time.
    RetryAt(Timestamp),
    /// The lifetime is over: give up and return the message.
    Expire,
}

/// The next attempt after `attempts` failed attempts (this one included) of
/// a message first queued at `first_queued`, under the ordinary
/// (`maximal_queue_lifetime`) lifetime. The retry time is never later than
/// the end of the lifetime, so the last attempt happens right at that end.
pub fn next_attempt(
    policy: &RetryPolicy,
    attempts: u32,
    first_queued: Timestamp,
    now: Timestamp,
) -> Decision {
    let end = first_queued.saturating_add(policy.maximal_queue_lifetime);
    if now >= end {
        return Decision::Expire;
    }
    Decision::RetryAt(now.saturating_add(policy.backoff(attempts)).min(end))
}

/// Why a message expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpireReason {
    /// Its queue lifetime is over.
    Lifetime,
    /// Its DELIVERBY deadline (mode `R`) passed.
    DeliverBy,
}

/// The plan for a message after a failed attempt, from
/// [`Scheduler::after_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Defer until `at`.
    Retry {
        /// The next attempt.
        at: Timestamp,
        /// A delay report is due now (`delay_warning_time` passed, or a
        /// DELIVERBY deadline in mode `N`), and none was sent yet. Report it
        /// to the sender with `Deferral::delay_warning_sent` once sent.
        warn_delay: bool,
    },
    /// Give up: the pending recipients fail and the sender gets a report.
    Expire(ExpireReason),
}

/// What to do with leased work before trying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it.
    Deliver {
        /// With DELIVERBY, the time left, for the BY= of the next hop.
        deliver_by_left: Option<Duration>,
    },
    /// Its DELIVERBY deadline passed in mode `N`: deliver it, and send a
    /// delay report unless one was sent.
    DeliverLate {
        /// The sender asked for trace reports (`T`).
        trace: bool,
    },
    /// FUTURERELEASE: not before this time. (The stores do not hand such
    /// work out; this guards work released by hand.)
    Wait(Timestamp),
    /// Do not deliver: fail the pending recipients and return the message.
    Fail(ExpireReason),
}

/// The order of due work: higher MT-PRIORITY first, then older first, then
/// by ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkKey {
    /// MT-PRIORITY.
    pub priority: i8,
    /// When the message was queued.
    pub queued: Timestamp,
    /// The message.
    pub id: QueueId,
}

impl Ord for WorkKey {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .priority
            .cmp(&self.priority)
            .then(self.queued.cmp(&other.queued))
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for WorkKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The destination of an address for scheduling: its domain, in lower case
/// (an address literal stays as it is). An address without `@` has the
/// empty destination (local delivery).
pub fn destination_of(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((_, domain)) => domain.to_ascii_lowercase(),
        None => String::new(),
    }
}

/// The lease's pending recipients grouped by destination, destinations in
/// sorted order.
pub fn group_by_destination(lease: &Lease) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for &i in &lease.pending {
        let Some(r) = lease.envelope.recipients.get(i) else {
            continue;
        };
        let d = destination_of(&r.address);
        match groups.iter_mut().find(|(g, _)| *g == d) {
            Some((_, v)) => v.push(i),
            None => groups.push((d, vec![i])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
}

/// A rate: `tokens` deliveries per `interval`, with bursts of up to
/// `tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Deliveries per interval (and the burst size).
    pub tokens: u32,
    /// The interval.
    pub interval: Duration,
}

/// Limits that apply to each destination separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Deliveries in flight at once (Postfix's
    /// `default_destination_concurrency_limit`, 20).
    pub concurrency_limit: usize,
    /// A rate limit, if any.
    pub rate: Option<RateLimit>,
    /// Consecutive failures after which the destination as a whole is backed
    /// off (3). Only failures of the destination itself count (no
    /// connection, 421), not a recipient's 4xx.
    pub failure_limit: u32,
    /// The first backoff of a failing destination (300 s); doubled after
    /// each failed probe.
    pub minimal_backoff_time: Duration,
    /// The longest backoff of a failing destination (4000 s).
    pub maximal_backoff_time: Duration,
}

impl Default for DestinationPolicy {
    fn default() -> Self {
        DestinationPolicy {
            concurrency_limit: 20,
            rate: None,
            failure_limit: 3,
            minimal_backoff_time: Duration::from_secs(300),
            maximal_backoff_time: Duration::from_secs(4000),
        }
    }
}

impl DestinationPolicy {
    /// Checks that the values can work together.
    pub fn validate(&self) -> Result<(), MisuseError> {
        if self.concurrency_limit == 0 {
            return Err(MisuseError::InvalidConfig(
                "concurrency_limit must be at least 1",
            ));
        }
        if self.failure_limit == 0 {
            return Err(MisuseError::InvalidConfig(
                "failure_limit must be at least 1",
            ));
        }
        if let Some(rate) = self.rate
            && (rate.tokens == 0 || rate.interval < Duration::from_millis(1))
        {
            return Err(MisuseError::InvalidConfig(
                "a rate limit needs at least one token per interval of at least 1 ms",
            ));
        }
        if self.minimal_backoff_time.is_zero()
            || self.maximal_backoff_time < self.minimal_backoff_time
        {
            return Err(MisuseError::InvalidConfig(
                "destination backoff must be positive, minimal not above maximal",
            ));
        }
        Ok(())
    }
}

/// The answer of [`Scheduler::try_start`].
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; give the permit back with [`Scheduler::finish`].
    Granted(Permit),
    /// The destination's concurrency limit is reached (or it is being
    /// probed after a backoff): wait for a delivery to finish.
    Busy,
    /// The rate limit allows the next delivery at `until`.
    RateLimited {
        /// When a token is available.
        until: Timestamp,
    },
    /// The destination failed too often; it is retried as a whole at
    /// `until`. Defer its recipients to then.
    BackedOff {
        /// When the destination is probed again.
        until: Timestamp,
    },
}

/// A slot for one delivery to a destination. Give it back with
/// [`Scheduler::finish`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit holds a concurrency slot until given back to Scheduler::finish"]
pub struct Permit {
    destination: String,
}

impl Permit {
    /// The destination.
    pub fn destination(&self) -> &str {
        &self.destination
    }
}

/// How a delivery to a destination went, as far as the destination is
/// concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationResult {
    /// The destination answered (whatever it said about each recipient).
    Success,
    /// The destination failed: no connection, a 421, a timeout.
    Failure,
}

#[derive(Debug, Default)]
struct DestinationState {
    active: usize,
    consecutive_failures: u32,
    rounds: u32,
    dead_until: Option<Timestamp>,
    /// Token units (see `refill`) and when they were counted.
    bucket: Option<(u64, Timestamp)>,
}

/// Orders work, judges it against its deadlines, and keeps per-destination
/// limits. Holds no clock and does no I/O.
#[derive(Debug)]
pub struct Scheduler {
    retry: RetryPolicy,
    destination: DestinationPolicy,
    states: HashMap<String, DestinationState>,
}

impl Scheduler {
    /// A scheduler with these policies, after checking them.
    pub fn new(retry: RetryPolicy, destination: DestinationPolicy) -> Result<Self, MisuseError> {
        retry.validate()?;
        destination.validate()?;
        Ok(Scheduler {
            retry,
            destination,
            states: HashMap::new(),
        })
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The destination policy.
    pub fn destination_policy(&self) -> &DestinationPolicy {
        &self.destination
    }

    /// What to do with this work before trying it (FUTURERELEASE and
    /// DELIVERBY; RFC 4865, RFC 2852). Lifetime is judged after an attempt,
    /// by [`after_failure`](Self::after_failure), so a message released from
    /// hold after its lifetime gets one last try, as in Postfix.
    pub fn verdict(&self, envelope: &Envelope, now: Timestamp) -> Verdict {
        if let Some(t) = envelope.hold_until
            && now < t
        {
            return Verdict::Wait(t);
        }
        match envelope.deliver_by {
            None => Verdict::Deliver {
                deliver_by_left: None,
            },
            Some(by) if now < by.deadline => Verdict::Deliver {
                deliver_by_left: Some(by.deadline.duration_since(now)),
            },
            Some(by) => match by.mode {
                ByMode::Return => Verdict::Fail(ExpireReason::DeliverBy),
                ByMode::Notify => Verdict::DeliverLate { trace: by.trace },
            },
        }
    }

    /// The plan after a failed attempt on leased work: expire it (lifetime
    /// over, DELIVERBY `R` deadline passed) or retry it after the backoff
    /// for its attempt count, but not before `not_before` (a backed-off
    /// destination) and never after the end of its lifetime or its DELIVERBY
    /// `R` deadline.
    pub fn after_failure(
        &self,
        lease: &Lease,
        now: Timestamp,
        not_before: Option<Timestamp>,
    ) -> Plan {
        let e = &lease.envelope;
        let attempts = lease.attempts.saturating_add(1);
        let end = lease
            .queued
            .saturating_add(self.retry.lifetime(e.is_null_sender()));
        let return_by = e
            .deliver_by
            .filter(|by| by.mode == ByMode::Return)
            .map(|by| by.deadline);
        if return_by.is_some_and(|t| now >= t) {
            return Plan::Expire(ExpireReason::DeliverBy);
        }
        if now >= end {
            return Plan::Expire(ExpireReason::Lifetime);
        }
        let mut at = now.saturating_add(self.retry.backoff(attempts));
        if let Some(t) = not_before {
            at = at.max(t);
        }
        at = at.min(end);
        if let Some(t) = return_by {
            at = at.min(t);
        }
        let warning_time = self
            .retry
            .delay_warning_time
            .is_some_and(|d| now >= lease.queued.saturating_add(d));
        let late = e
            .deliver_by
            .is_some_and(|by| by.mode == ByMode::Notify && now >= by.deadline);
        Plan::Retry {
            at,
            warn_delay: !lease.delay_warned && (warning_time || late),
        }
    }

    /// Asks for a slot to deliver to `destination` now.
    pub fn try_start(&mut self, destination: &str, now: Timestamp) -> Admission {
        let policy = self.destination;
        let state = self.states.entry(destination.to_owned()).or_default();
        if let Some(until) = state.dead_until
            && now < until
        {
            return Admission::BackedOff { until };
        }
        // After a backoff, one delivery probes the destination at a time.
        let probing = state.consecutive_failures >= policy.failure_limit;
        let limit = if probing { 1 } else { policy.concurrency_limit };
        if state.active >= limit {
            return Admission::Busy;
        }
        if let Some(rate) = policy.rate {
            // One token is `interval_ms` units; each millisecond adds `tokens`
            // units; the bucket holds `tokens` tokens.
            let interval_ms = u64::try_from(rate.interval.as_millis()).unwrap_or(u64::MAX);
            let per_ms = u64::from(rate.tokens);
            let capacity = interval_ms.saturating_mul(per_ms);
            let (units, since) = state.bucket.unwrap_or((capacity, now));
            let elapsed = now.duration_since(since).as_millis();
            let elapsed = u64::try_from(elapsed).unwrap_or(u64::MAX);
            let units = units
                .saturating_add(elapsed.saturating_mul(per_ms))
                .min(capacity);
            if units < interval_ms {
                state.bucket = Some((units, now));
                let wait_ms = (interval_ms - units).div_ceil(per_ms);
                return Admission::RateLimited {
                    until: now.saturating_add(Duration::from_millis(wait_ms)),
                };
            }
            state.bucket = Some((units - interval_ms, now));
        }
        state.active += 1;
        Admission::Granted(Permit {
            destination: destination.to_owned(),
        })
    }

    /// Gives a slot back with the destination's result. After
    /// `failure_limit` consecutive failures the destination is backed off
    /// (exponentially, per failed round); one success clears that.
    pub fn finish(&mut self, permit: Permit, result: DestinationResult, now: Timestamp) {
        let policy = self.destination;
        let state = self.states.entry(permit.destination).or_default();
        state.active = state.active.saturating_sub(1);
        match result {
            DestinationResult::Success => {
                state.consecutive_failures = 0;
                state.rounds = 0;
                state.dead_until = None;
            }
            DestinationResult::Failure => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                let already_dead = state.dead_until.is_some_and(|t| now < t);
                if state.consecutive_failures >= policy.failure_limit && !already_dead {
                    state.rounds = state.rounds.saturating_add(1);
                    let wait = exponential(
                        policy.minimal_backoff_time,
                        policy.maximal_backoff_time,
                        state.rounds,
                    );
                    state.dead_until = Some(now.saturating_add(wait));
                }
            }
        }
    }

    /// When a backed-off destination is tried again, if it is backed off.
    pub fn backed_off_until(&self, destination: &str, now: Timestamp) -> Option<Timestamp> {
        self.states
            .get(destination)
            .and_then(|s| s.dead_until)
            .filter(|&t| now < t)
    }

    /// Deliveries in flight to `destination`.
    pub fn active(&self, destination: &str) -> usize {
        self.states.get(destination).map_or(0, |s| s.active)
    }

    /// Forgets destinations with nothing in flight, no failures and a full
    /// rate bucket, so that the table does not grow without bound.
    pub fn forget_idle(&mut self, now: Timestamp) {
        let rate = self.destination.rate;
        self.states.retain(|_, s| {
            let bucket_full = match (rate, s.bucket) {
                (Some(r), Some((_, since))) => now.duration_since(since) >= r.interval,
                _ => true,
            };
            s.active > 0 || s.consecutive_failures > 0 || !bucket_full
        });
    }

    /// How many destinations have state.
    pub fn tracked_destinations(&self) -> usize {
        self.states.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::envelope::{DeliverBy, Recipient};
    use proptest::prelude::*;

    const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn lease(envelope: Envelope, attempts: u32) -> Lease {
        Lease {
            token: 1,
            id: QueueId::from_parts(T0, 0),
            pending: (0..envelope.recipients.len()).collect(),
            envelope: Arc::new(envelope),
            queued: T0,
            size: 10,
            attempts,
            delay_warned: false,
            expires: T0,
        }
    }

    fn envelope() -> Envelope {
        Envelope::new(
            "a@example.org",
            [
                Recipient::new("b@Example.COM"),
                Recipient::new("c@example.net"),
                Recipient::new("d@example.com"),
            ],
            T0,
        )
    }

    #[test]
    fn backoff_doubles_between_the_bounds() {
        let p = RetryPolicy::default();
        let waits: Vec<u64> = (0..8).map(|a| p.backoff(a).as_secs()).collect();
        assert_eq!(waits, [300, 300, 600, 1200, 2400, 4000, 4000, 4000]);
        assert_eq!(p.backoff(u32::MAX), secs(4000));
        assert!(
            RetryPolicy {
                maximal_backoff_time: secs(1),
                ..p
            }
            .validate()
            .is_err()
        );
        assert!(
            RetryPolicy {
                minimal_backoff_time: Duration::ZERO,
                ..p
            }
            .validate()
            .is_err()
        );
        assert!(p.validate().is_ok());
    }

    /// A message that never gets through, on a simulated clock in
    /// milliseconds: attempts at growing intervals, the last one exactly at
    /// the end of the 5-day lifetime, then expiry.
    #[test]
    fn five_day_lifetime_on_a_simulated_clock() {
        let p = RetryPolicy::default();
        let end = T0.saturating_add(secs(5 * 86_400));
        let mut now = T0.saturating_add(Duration::from_millis(137)); // first attempt
        let mut attempts = 0u32;
        let mut times = vec![now];
        loop {
            attempts += 1;
            match next_attempt(&p, attempts, T0, now) {
                Decision::RetryAt(t) => {
                    assert!(t > now && t <= end);
                    assert!(t.duration_since(now) <= secs(4000));
                    assert!(t == end || t.duration_since(now) >= secs(300));
                    now = t;
                    times.push(now);
                }
                Decision::Expire => break,
            }
        }
        assert_eq!(now, end, "the last attempt is at the end of the lifetime");
        // 300+600+1200+2400 s, then every 4000 s: 4 + 107 retries, the last
        // one cut short to land on the end.
        assert_eq!(times.len(), 1 + 4 + 107);
        assert_eq!(attempts as usize, times.len());
    }

    #[test]
    fn after_failure_honours_lifetimes_deliver_by_and_warnings() {
        let policy = RetryPolicy {
            delay_warning_time: Some(secs(3600)),
            bounce_queue_lifetime: secs(86_400),
            ..RetryPolicy::default()
        };
        let s = Scheduler::new(policy, DestinationPolicy::default()).unwrap();
        let l = lease(envelope(), 0);
        assert_eq!(
            s.after_failure(&l, T0, None),
            Plan::Retry {
                at: T0.saturating_add(secs(300)),
                warn_delay: false
            }
        );
        // Delay warning after an hour, once.
        let later = T0.saturating_add(secs(3601));
        assert!(matches!(
            s.after_failure(&l, later, None),
            Plan::Retry {
                warn_delay: true,
                ..
            }
        ));
        let warned = Lease {
            delay_warned: true,
            ..l.clone()
        };
        assert!(matches!(
            s.after_failure(&warned, later, None),
            Plan::Retry {
                warn_delay: false,
                ..
            }
        ));
        // A backed-off destination pushes the retry later.
        let nb = T0.saturating_add(secs(3000));
        assert_eq!(
            s.after_failure(&l, T0, Some(nb)),
            Plan::Retry {
                at: nb,
                warn_delay: false
            }
        );
        // Bounces have their own lifetime.
        let mut bounce = envelope();
        bounce.sender.clear();
        let day = T0.saturating_add(secs(86_400));
        assert_eq!(
            s.after_failure(&lease(bounce.clone(), 9), day, None),
            Plan::Expire(ExpireReason::Lifetime)
        );
        assert!(matches!(s.after_failure(&l, day, None), Plan::Retry { .. }));
        // DELIVERBY R: retries stop at the deadline, then the message fails.
        let mut by = envelope();
        let deadline = T0.saturating_add(secs(100));
        by.deliver_by = Some(DeliverBy {
            deadline,
            mode: ByMode::Return,
            trace: false,
        });
        let bl = lease(by.clone(), 0);
        assert_eq!(
            s.after_failure(&bl, T0, None),
            Plan::Retry {
                at: deadline,
                warn_delay: false
            }
        );
        assert_eq!(
            s.after_failure(&bl, deadline, None),
            Plan::Expire(ExpireReason::DeliverBy)
        );
        assert_eq!(
            s.verdict(&by, T0),
            Verdict::Deliver {
                deliver_by_left: Some(secs(100))
            }
        );
        assert_eq!(
            s.verdict(&by, deadline),
            Verdict::Fail(ExpireReason::DeliverBy)
        );
        // DELIVERBY N: keep going, owe a delay report.
        by.deliver_by = Some(DeliverBy {
            deadline,
            mode: ByMode::Notify,
            trace: true,
        });
        assert_eq!(
            s.verdict(&by, deadline),
            Verdict::DeliverLate { trace: true }
        );
        assert!(matches!(
            s.after_failure(&lease(by, 0), deadline, None),
            Plan::Retry {
                warn_delay: true,
                ..
            }
        ));
        // FUTURERELEASE.
        let mut held = envelope();
        held.hold_until = Some(deadline);
        assert_eq!(s.verdict(&held, T0), Verdict::Wait(deadline));
        assert_eq!(
            s.verdict(&held, deadline),
            Verdict::Deliver {
                deliver_by_left: None
            }
        );
    }

    #[test]
    fn work_order_is_priority_then_age() {
        let key = |priority, q: u64, seq| WorkKey {
            priority,
            queued: Timestamp::from_unix_secs(q),
            id: QueueId::from_parts(Timestamp::from_unix_secs(q), seq),
        };
        let mut keys = [
            key(0, 5, 0),
            key(-3, 1, 0),
            key(9, 9, 0),
            key(0, 2, 1),
            key(0, 2, 0),
        ];
        keys.sort();
        let order: Vec<(i8, u64)> = keys
            .iter()
            .map(|k| (k.priority, k.queued.unix_millis() / 1000))
            .collect();
        assert_eq!(order, [(9, 9), (0, 2), (0, 2), (0, 5), (-3, 1)]);
        assert!(keys[1].id < keys[2].id);
    }

    #[test]
    fn recipients_group_by_domain() {
        let l = lease(envelope(), 0);
        assert_eq!(
            group_by_destination(&l),
            [
                ("example.com".to_string(), vec![0, 2]),
                ("example.net".to_string(), vec![1])
            ]
        );
        assert_eq!(destination_of("local"), "");
        assert_eq!(destination_of("\"a@b\"@[192.0.2.1]"), "[192.0.2.1]");
    }

    fn granted(a: Admission) -> Permit {
        match a {
            Admission::Granted(p) => p,
            other => panic!("not granted: {other:?}"),
        }
    }

    #[test]
    fn destination_concurrency_limit() {
        let policy = DestinationPolicy {
            concurrency_limit: 2,
            ..DestinationPolicy::default()
        };
        let mut s = Scheduler::new(RetryPolicy::default(), policy).unwrap();
        let a = granted(s.try_start("example.com", T0));
        let b = granted(s.try_start("example.com", T0));
        assert_eq!(s.try_start("example.com", T0), Admission::Busy);
        let other = granted(s.try_start("example.net", T0));
        assert_eq!(s.active("example.com"), 2);
        s.finish(a, DestinationResult::Success, T0);
        let c = granted(s.try_start("example.com", T0));
        for p in [b, c, other] {
            s.finish(p, DestinationResult::Success, T0);
        }
        s.forget_idle(T0);
        assert_eq!(s.tracked_destinations(), 0);
    }

    #[test]
    fn destination_rate_limit() {
        let policy = DestinationPolicy {
            rate: Some(RateLimit {
                tokens: 2,
                interval: secs(10),
            }),
            ..DestinationPolicy::default()
        };
        let mut s = Scheduler::new(RetryPolicy::default(), policy).unwrap();
        let mut permits = vec![granted(s.try_start("d", T0)), granted(s.try_start("d", T0))];
        let until = T0.saturating_add(secs(5));
        assert_eq!(s.try_start("d", T0), Admission::RateLimited { until });
        let almost = until.saturating_sub(Duration::from_millis(1));
        assert_eq!(s.try_start("d", almost), Admission::RateLimited { until });
        permits.push(granted(s.try_start("d", until)));
        assert!(matches!(
            s.try_start("d", until),
            Admission::RateLimited { .. }
        ));
        for p in permits {
            s.finish(p, DestinationResult::Success, until);
        }
        s.forget_idle(until);
        assert_eq!(s.tracked_destinations(), 1, "the bucket is not full yet");
        s.forget_idle(until.saturating_add(secs(10)));
        assert_eq!(s.tracked_destinations(), 0);
    }

    #[test]
    fn a_failing_destination_is_backed_off_as_a_whole() {
        let mut s = Scheduler::new(RetryPolicy::default(), DestinationPolicy::default()).unwrap();
        let d = "dead.example";
        let permits: Vec<Permit> = (0..5).map(|_| granted(s.try_start(d, T0))).collect();
        for p in permits {
            s.finish(p, DestinationResult::Failure, T0);
        }
        // Three failures back it off for 300 s; the two more in flight do
        // not push it further.
        let until = T0.saturating_add(secs(300));
        assert_eq!(s.backed_off_until(d, T0), Some(until));
        assert_eq!(s.try_start(d, T0), Admission::BackedOff { until });
        // Then one probe at a time; its failure doubles the backoff.
        let probe = granted(s.try_start(d, until));
        assert_eq!(s.try_start(d, until), Admission::Busy);
        s.finish(probe, DestinationResult::Failure, until);
        let until2 = until.saturating_add(secs(600));
        assert_eq!(
            s.try_start(d, until),
            Admission::BackedOff { until: until2 }
        );
        // A successful probe restores full concurrency.
        let probe = granted(s.try_start(d, until2));
        s.finish(probe, DestinationResult::Success, until2);
        let a = granted(s.try_start(d, until2));
        let b = granted(s.try_start(d, until2));
        assert_eq!(s.backed_off_until(d, until2), None);
        s.finish(a, DestinationResult::Success, until2);
        s.finish(b, DestinationResult::Success, until2);
        assert!(
            DestinationPolicy {
                concurrency_limit: 0,
                ..DestinationPolicy::default()
            }
            .validate()
            .is_err()
        );
    }

    proptest! {
        /// Successive retry times never go backwards, each wait is within
        /// the bounds (except the last one, cut to the end of the
        /// lifetime), and nothing is scheduled after the lifetime.
        #[test]
        fn retries_are_monotone_bounded_and_within_lifetime(
            min_s in 1u64..2000, extra_s in 0u64..20_000, life_s in 1u64..2_000_000,
            late_ms in proptest::collection::vec(0u64..5_000_000, 1..60),
        ) {
            let p = RetryPolicy {
                minimal_backoff_time: secs(min_s),
                maximal_backoff_time: secs(min_s + extra_s),
                maximal_queue_lifetime: secs(life_s),
                ..RetryPolicy::default()
            };
            let end = T0.saturating_add(secs(life_s));
            let mut prev_wait = Duration::ZERO;
            for a in 1..70u32 {
                let w = p.backoff(a);
                prop_assert!(w >= prev_wait && w >= p.minimal_backoff_time && w <= p.maximal_backoff_time);
                prev_wait = w;
            }
            let mut now = T0;
            let mut last = T0;
            for (i, late) in late_ms.iter().enumerate() {
                match next_attempt(&p, i as u32 + 1, T0, now) {
                    Decision::RetryAt(t) => {
                        prop_assert!(t >= last && t > now && t <= end);
                        let w = t.duration_since(now);
                        prop_assert!(w <= p.maximal_backoff_time);
                        prop_assert!(t == end || w >= p.minimal_backoff_time);
                        last = t;
                        // The worker may come back late.
                        now = t.saturating_add(Duration::from_millis(*late));
                    }
                    Decision::Expire => {
                        prop_assert!(now >= end);
                        break;
                    }
                }
            }
        }
    }
}
