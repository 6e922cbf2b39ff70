//! Answer slots that let a check be written as ordinary async code and still
//! be driven Sans-IO.
//!
//! A check's logic awaits [`Slots::lookup`]; when the answer is not there yet
//! the query is recorded as pending and the future returns `Pending`. The
//! owning machine polls the future with a no-op waker, hands the pending
//! queries to its caller as [`Progress::NeedAnswers`], stores the answers
//! with [`Slots::fill`] and polls again. No executor, socket or clock is
//! involved: the future only ever waits for answers the caller supplies.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use postel_dns::{Answer, Query};

use crate::check::Progress;

#[derive(Debug, Default)]
struct Inner {
    answers: HashMap<Query, Answer>,
    pending: Vec<Query>,
    started: Option<Instant>,
    now: Option<Instant>,
}

/// Shared between a machine and the future that runs its logic.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots(Arc<Mutex<Inner>>);

impl Slots {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock can only come from a panic inside a check, which
        // is a bug; the data is still consistent for our use.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for the answer to `query`.
    pub(crate) async fn lookup(&self, query: Query) -> Answer {
        poll_fn(|_| {
            let mut inner = self.inner();
            if let Some(answer) = inner.answers.get(&query) {
                return Poll::Ready(answer.clone());
            }
            if !inner.pending.contains(&query) {
                inner.pending.push(query.clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Wait for the answers to all of `queries`, asking for them together.
    pub(crate) async fn lookup_all(&self, queries: &[Query]) -> Vec<Answer> {
        poll_fn(|_| {
            let mut inner = self.inner();
            let mut missing = false;
            for q in queries {
                if !inner.answers.contains_key(q) {
                    missing = true;
                    if !inner.pending.contains(q) {
                        inner.pending.push(q.clone());
                    }
                }
            }
            if missing {
                return Poll::Pending;
            }
            Poll::Ready(queries.iter().map(|q| inner.answers[q].clone()).collect())
        })
        .await
    }

    /// Time passed since the check was first polled, by the caller's clock.
    pub(crate) fn elapsed(&self) -> std::time::Duration {
        let inner = self.inner();
        match (inner.started, inner.now) {
            (Some(s), Some(n)) => n.saturating_duration_since(s),
            _ => std::time::Duration::ZERO,
        }
    }

    /// Store an answer (ignored unless it was asked for).
    pub(crate) fn fill(&self, query: &Query, answer: Answer) {
        let mut inner = self.inner();
        if let Some(pos) = inner.pending.iter().position(|q| q == query) {
            inner.pending.swap_remove(pos);
            inner.answers.insert(query.clone(), answer);
        }
    }

    /// Poll `fut` once at `now`: its output, or the queries it waits for.
    pub(crate) fn poll<T>(
        &self,
        fut: &mut Pin<Box<dyn Future<Output = T> + Send>>,
        now: Instant,
    ) -> Progress<T> {
        {
            let mut inner = self.inner();
            inner.started.get_or_insert(now);
            inner.now = Some(now);
        }
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => Progress::Done(out),
            Poll::Pending => {
                // Queries already asked for and still unanswered are asked
                // again, so a caller that dropped one is not stuck.
                Progress::NeedAnswers(self.inner().pending.clone())
            }
        }
    }
}
