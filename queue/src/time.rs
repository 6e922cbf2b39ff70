//! Time as every Postel crate sees it: the wall-clock type lives in
//! postel-core, so that the queue, the sessions and the server agree.

pub use postel_core::time::{SystemClock, Timestamp};
