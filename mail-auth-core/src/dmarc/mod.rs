//! DMARC (RFC 7489, with RFC 9989's `np`, `psd` and DNS Tree Walk):
//! records, the author domain, discovery, alignment, policy and aggregate
//! reports.
//!
//! The usual flow: take the author domain from the `From` field with
//! [`author_domain`], map the SPF and DKIM results into a [`DmarcInput`],
//! and run a [`DmarcCheck`] with [`crate::drive`] (or step it yourself).

mod check;
mod from;
mod lookups;
mod org_domain;
mod policy;
mod record;
pub mod report;

pub use check::{DmarcCheck, DmarcConfig, DmarcOutput};
pub use from::{AuthorDomain, FromError, Mailbox, author_domain, normalize_domain, parse_from};
pub use org_domain::{MAX_TREE_WALK_QUERIES, OrgDomainMethod, psl_org_domain, tree_walk_names};
pub use policy::{
    AuthenticatedIdentifier, DmarcInput, DmarcResult, PolicySource, Sampler, aligned, same_domain,
    sampled_policy,
};
pub use record::{
    Alignment, DmarcRecord, FailureOptions, Policy, PsdFlag, RecordError, ReportUri,
    is_dmarc_record,
};
