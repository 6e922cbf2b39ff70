//! The step-machine shape every check shares, and the async driver.

use std::time::Instant;

use postel_dns::{Answer, Query, Resolver};

/// What a check wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<T> {
    /// Answer these queries (in any order, concurrently if you like) with
    /// [`Check::answer`], then call [`Check::progress`] again.
    NeedAnswers(Vec<Query>),
    /// The check is over.
    Done(T),
}

/// A Sans-IO check that needs DNS answers to reach a result.
pub trait Check {
    /// The result the check ends with.
    type Output;

    /// Advance as far as the answers so far allow. `now` is the caller's
    /// clock, used only against the check's time budget.
    fn progress(&mut self, now: Instant) -> Progress<Self::Output>;

    /// Give the answer to one query the check asked for. Answers to queries
    /// it did not ask for are ignored.
    fn answer(&mut self, query: &Query, answer: Answer);
}

/// Run a check to its end, asking `resolver` for every answer it needs.
pub async fn drive<C: Check, R: Resolver>(mut check: C, resolver: &R) -> C::Output {
    loop {
        match check.progress(Instant::now()) {
            Progress::Done(out) => return out,
            Progress::NeedAnswers(queries) => {
                for query in queries {
                    let answer = resolver.lookup(&query).await;
                    check.answer(&query, answer);
                }
            }
        }
    }
}
