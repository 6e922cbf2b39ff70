#![doc = include_str!("../README.md")]

mod memory;
mod types;

#[cfg(feature = "hickory")]
mod hickory;
#[cfg(feature = "zone")]
mod zone;

pub use memory::{DEFAULT_MAX_CNAME_HOPS, MemoryResolver};
pub use types::{Answer, Query, Record, RecordType, Resolver, UnknownRecordType};

#[cfg(feature = "hickory")]
pub use hickory::{HickoryError, HickoryOptions, HickoryResolver};
#[cfg(feature = "zone")]
pub use zone::{ZoneError, ZoneResolver};
