//! A client machine against a server machine in memory, on a virtual clock
//! that jumps to the earliest deadline whenever both sides wait.

use std::time::{Duration, Instant};

use super::clock::VirtualClock;
use super::memory_upgrade;
use super::transcript::{Line, Transcript};
use crate::session::{Session, SessionEvent};

/// Which machine of a [`Pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client machine.
    Client,
    /// The server machine.
    Server,
}

/// Bounds on a [`Pair`] run, so that a test that never ends fails instead.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PairLimits {
    /// Rounds of polling (default 100,000).
    pub max_rounds: usize,
    /// How far the virtual clock may move in one run (default 30 days).
    pub max_elapsed: Duration,
}

impl Default for PairLimits {
    fn default() -> Self {
        Self {
            max_rounds: 100_000,
            max_elapsed: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// A client session and a server session connected in memory.
///
/// [`run`](Self::run) moves bytes both ways, completes upgrades in memory
/// (STARTTLS and COMPRESS change nothing on the wire here), and when both
/// sides wait with nothing to do, jumps the clock to the earliest deadline
/// and calls `handle_timeout` there. It returns when both are closed, or
/// when neither has anything to do and no deadline is set.
#[derive(Debug)]
pub struct Pair<C, S> {
    /// The client machine.
    pub client: C,
    /// The server machine.
    pub server: S,
    /// The virtual clock both run on.
    pub clock: VirtualClock,
    /// Every byte exchanged, as `C:`/`S:` lines.
    pub transcript: Transcript,
    /// Bounds on a run.
    pub limits: PairLimits,
    /// Set when a side stops reading: bytes sent to it wait here.
    to_client: Vec<u8>,
    to_server: Vec<u8>,
}

impl<C: Session, S: Session> Pair<C, S> {
    /// Connects two sessions made at `clock.now()`.
    pub fn new(client: C, server: S, clock: VirtualClock) -> Self {
        Self {
            client,
            server,
            clock,
            transcript: Transcript::new(),
            limits: PairLimits::default(),
            to_client: Vec::new(),
            to_server: Vec::new(),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Runs both sides until they are closed or both wait with no deadline.
    /// `on_client` and `on_server` see every event of their side and answer
    /// the decisions. Panics past [`PairLimits`].
    pub fn run(
        &mut self,
        mut on_client: impl FnMut(&mut C, C::Event, Instant),
        mut on_server: impl FnMut(&mut S, S::Event, Instant),
    ) {
        let start = self.clock.elapsed();
        for _ in 0..self.limits.max_rounds {
            let now = self.clock.now();
            let mut progressed = false;
            progressed |= step(
                &mut self.server,
                &mut self.to_server,
                &mut self.to_client,
                &mut self.transcript,
                Line::Server,
                now,
                &mut on_server,
            );
            progressed |= step(
                &mut self.client,
                &mut self.to_client,
                &mut self.to_server,
                &mut self.transcript,
                Line::Client,
                now,
                &mut on_client,
            );
            if progressed {
                continue;
            }
            if self.client.is_closed() && self.server.is_closed() {
                self.transcript.finish();
                return;
            }
            let deadline = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(deadline) = deadline else {
                self.transcript.finish();
                return;
            };
            let now = self.clock.jump_to(deadline);
            assert!(
                self.clock.elapsed() - start <= self.limits.max_elapsed,
                "the pair ran past {:?} of virtual time",
                self.limits.max_elapsed
            );
            self.client.handle_timeout(now);
            self.server.handle_timeout(now);
        }
        panic!(
            "the pair did not settle in {} rounds",
            self.limits.max_rounds
        );
    }

    /// The lines one side sent so far.
    pub fn sent_by(&self, side: Side) -> Vec<String> {
        let want = match side {
            Side::Client => Line::Client,
            Side::Server => Line::Server,
        };
        self.transcript
            .lines()
            .iter()
            .filter(|(s, _)| *s == want)
            .map(|(_, l)| l.clone())
            .collect()
    }
}

/// One round for one side: deliver waiting input, handle events and
/// upgrades, and move its output to the other side. True if anything
/// happened.
fn step<T: Session>(
    session: &mut T,
    inbox: &mut Vec<u8>,
    outbox: &mut Vec<u8>,
    transcript: &mut Transcript,
    side: Line,
    now: Instant,
    on_event: &mut impl FnMut(&mut T, T::Event, Instant),
) -> bool {
    let mut progressed = false;
    if !inbox.is_empty() && session.wants_input() && !session.is_closed() {
        let input = std::mem::take(inbox);
        session.enqueue_input(now, &input);
        progressed = true;
    }
    while let Some(event) = session.poll_event() {
        progressed = true;
        let up = event.upgrade();
        on_event(session, event, now);
        if let Some(up) = up {
            let mut out = Vec::new();
            let _ = session.poll_transmit(&mut out);
            transcript.record(side, &out);
            outbox.extend_from_slice(&out);
            session
                .upgrade_done(now, memory_upgrade(up))
                .expect("the session accepts the upgrade it asked for");
        }
    }
    let mut out = Vec::new();
    if session.poll_transmit(&mut out) > 0 {
        transcript.record(side, &out);
        outbox.extend_from_slice(&out);
        progressed = true;
    }
    progressed
}
