//! Inputs, alignment, the policy in force and `pct` sampling.

use std::fmt;

use super::record::{Alignment, Policy};

/// A domain that SPF or DKIM authenticated (or tried to), as DMARC sees
/// it. Callers map their SPF and DKIM results into this: for SPF, the
/// MAIL FROM domain (or the HELO domain when MAIL FROM was empty) and
/// `passed` for an SPF `pass`; for DKIM, a signature's `d=` and `passed`
/// for a DKIM `pass`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthenticatedIdentifier {
    /// The domain (any case, trailing dot allowed).
    pub domain: String,
    /// True when the mechanism's result was `pass`.
    pub passed: bool,
}

impl AuthenticatedIdentifier {
    /// A passing identifier.
    pub fn pass(domain: &str) -> Self {
        AuthenticatedIdentifier {
            domain: domain.to_string(),
            passed: true,
        }
    }

    /// A failing identifier.
    pub fn fail(domain: &str) -> Self {
        AuthenticatedIdentifier {
            domain: domain.to_string(),
            passed: false,
        }
    }
}

/// What DMARC evaluates for one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DmarcInput {
    /// The author domain (see [`super::author_domain`]).
    pub from_domain: String,
    /// The SPF-authenticated identifier, if SPF was checked.
    pub spf: Option<AuthenticatedIdentifier>,
    /// One entry per DKIM signature.
    pub dkim: Vec<AuthenticatedIdentifier>,
}

/// The DMARC result (RFC 8601 §2.7.8 / RFC 7489 §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// An aligned identifier passed.
    Pass,
    /// A policy exists and no aligned identifier passed.
    Fail,
    /// No policy was found.
    None,
    /// A DNS lookup failed for now.
    TempError,
    /// The published record is unusable.
    PermError,
}

impl DmarcResult {
    /// The keyword for Authentication-Results.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which record tag gave the policy in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// `p`: the record is the author domain's own.
    Domain,
    /// `sp` (or `p` when `sp` is absent): the author domain is a subdomain
    /// of the record's domain.
    Subdomain,
    /// `np` (RFC 9989): the author domain is a non-existent subdomain.
    NonExistent,
}

/// A source of random percentages for `pct` sampling. Any
/// `FnMut() -> u8` is one; values are taken modulo 100.
pub trait Sampler {
    /// A random number in `0..100`.
    fn percent(&mut self) -> u8;
}

impl<F: FnMut() -> u8> Sampler for F {
    fn percent(&mut self) -> u8 {
        self() % 100
    }
}

/// The disposition after `pct` sampling (RFC 7489 §6.6.4): the message is
/// subject to `policy` when `sample < pct`; otherwise the next weaker
/// policy applies. `sample` is taken modulo 100.
pub fn sampled_policy(policy: Policy, pct: u8, sample: u8) -> (Policy, bool) {
    if sample % 100 < pct.min(100) {
        (policy, false)
    } else {
        (policy.weaker(), true)
    }
}

/// Strict alignment: the same name, ignoring case and a trailing dot.
pub fn same_domain(a: &str, b: &str) -> bool {
    let a = a.strip_suffix('.').unwrap_or(a);
    let b = b.strip_suffix('.').unwrap_or(b);
    a.eq_ignore_ascii_case(b)
}

/// Alignment when both Organizational Domains are known.
pub fn aligned(mode: Alignment, from: &str, id: &str, from_org: &str, id_org: &str) -> bool {
    match mode {
        Alignment::Strict => same_domain(from, id),
        Alignment::Relaxed => same_domain(from, id) || same_domain(from_org, id_org),
    }
}
