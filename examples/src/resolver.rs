//! The resolver the admin tools use: zone files when `--zone` is given,
//! the system's resolver otherwise.

use std::path::PathBuf;

use postel_dns::{Answer, Query, Resolver};
use postel_dns::{HickoryOptions, HickoryResolver, ZoneResolver};

use crate::UsageError;

/// Zone files or the live resolver.
pub enum AnyResolver {
    /// Answers from the given zone files only.
    Zone(ZoneResolver),
    /// Answers from the network.
    Live(Box<HickoryResolver>),
}

impl AnyResolver {
    /// Zone files if any are given, else the system configuration.
    pub fn from_args(zones: &[PathBuf]) -> Result<Self, UsageError> {
        if zones.is_empty() {
            return HickoryResolver::from_system_conf(&HickoryOptions::new())
                .map(|r| AnyResolver::Live(Box::new(r)))
                .map_err(|e| UsageError(format!("cannot set up the DNS resolver: {e}")));
        }
        ZoneResolver::from_files(zones)
            .map(AnyResolver::Zone)
            .map_err(|e| UsageError(e.to_string()))
    }
}

impl Resolver for AnyResolver {
    async fn lookup(&self, query: &Query) -> Answer {
        match self {
            AnyResolver::Zone(z) => z.lookup(query).await,
            AnyResolver::Live(h) => h.lookup(query).await,
        }
    }
}
