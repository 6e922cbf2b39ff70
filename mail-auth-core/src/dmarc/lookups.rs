//! The answers a DMARC check has so far, and the "need these first"
//! signal its pure evaluation functions return.
//!
//! Evaluation is a pure function of the answers: each call to
//! `progress` runs it again from the start; where it reaches a query with
//! no answer yet it stops and reports the query. This keeps every step
//! free of stored continuation state.

use std::collections::{BTreeSet, HashMap};

use postel_dns::{Answer, Query, RecordType};

/// Evaluation could not finish: answer these queries first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending(pub(crate) Vec<Query>);

/// The answers received, and which queries were asked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookups {
    answers: HashMap<Query, Answer>,
    asked: BTreeSet<Query>,
}

impl Lookups {
    /// The answer to `query`, or `Pending` for it.
    pub(crate) fn get(&self, query: Query) -> Result<&Answer, Pending> {
        match self.answers.get(&query) {
            Some(a) => Ok(a),
            None => Err(Pending(vec![query])),
        }
    }

    /// The TXT answer at `name`.
    pub(crate) fn txt(&self, name: &str) -> Result<&Answer, Pending> {
        self.get(Query::new(name, RecordType::Txt))
    }

    /// Record that these queries were asked.
    pub(crate) fn mark_asked(&mut self, queries: &[Query]) {
        self.asked.extend(queries.iter().cloned());
    }

    /// Store an answer, if its query was asked.
    pub(crate) fn store(&mut self, query: &Query, answer: Answer) {
        if self.asked.contains(query) {
            self.answers.insert(query.clone(), answer);
        }
    }
}
