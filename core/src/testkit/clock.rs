//! A clock that moves only when told to.

use std::time::{Duration, Instant};

/// A virtual clock for tests: it starts at a real `Instant` (the only kind
/// Rust has) and moves only by [`advance`](Self::advance) and
/// [`jump_to`](Self::jump_to), so a 30-minute timeout takes no time.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    start: Instant,
    now: Instant,
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualClock {
    /// A clock at an arbitrary start.
    pub fn new() -> Self {
        let start = Instant::now();
        Self { start, now: start }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How far the clock has moved since it was made.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&mut self, d: Duration) -> Instant {
        self.now += d;
        self.now
    }

    /// Moves the clock to `t` if `t` is later; it never goes back.
    pub fn jump_to(&mut self, t: Instant) -> Instant {
        if t > self.now {
            self.now = t;
        }
        self.now
    }
}
