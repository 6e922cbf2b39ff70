//! DMARC as a [`Check`]: policy discovery (RFC 7489 §6.6.3, or the
//! RFC 9989 tree walk), identifier alignment, the policy in force and the
//! disposition after `pct` sampling.

use std::fmt;
use std::time::{Duration, Instant};

use postel_dns::{Answer, Query, RecordType};

use super::from::normalize_domain;
use super::lookups::{Lookups, Pending};
use super::org_domain::{
    AtName, OrgDomainMethod, OrgOutcome, WalkOutcome, org_domain, psl_org_domain, record_at,
    select_org_domain, tree_walk, tree_walk_names,
};
use super::policy::{
    AuthenticatedIdentifier, DmarcInput, DmarcResult, PolicySource, Sampler, aligned, same_domain,
    sampled_policy,
};
use super::record::{Alignment, DmarcRecord, Policy, RecordError};
use crate::auth_results::MethodResult;
use crate::check::{Check, Progress};

/// How a [`DmarcCheck`] works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcConfig {
    /// How Organizational Domains are found (discovery and relaxed
    /// alignment).
    pub org_method: OrgDomainMethod,
    /// The time budget from the first `progress` call; past it the check
    /// ends with `temperror`. `None`: no budget.
    pub timeout: Option<Duration>,
    /// At most this many passing DKIM identifiers are tried for alignment
    /// (each may cost a tree walk).
    pub max_dkim_identifiers: usize,
}

impl Default for DmarcConfig {
    fn default() -> Self {
        DmarcConfig {
            org_method: OrgDomainMethod::PublicSuffixList,
            timeout: Some(Duration::from_secs(20)),
            max_dkim_identifiers: 10,
        }
    }
}

/// The outcome of a DMARC evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutput {
    /// pass, fail, none, temperror or permerror.
    pub result: DmarcResult,
    /// The author domain evaluated (normalised).
    pub from_domain: String,
    /// The author domain's Organizational Domain, when it was determined.
    pub from_org_domain: Option<String>,
    /// Where the record was found (`_dmarc.` not included).
    pub record_domain: Option<String>,
    /// The record applied.
    pub record: Option<DmarcRecord>,
    /// The policy in force before sampling (`p`, `sp` or `np`).
    pub policy: Option<Policy>,
    /// Which tag `policy` came from.
    pub policy_source: Option<PolicySource>,
    /// What to do with the message: the policy in force after `pct`
    /// sampling when the result is `fail`, [`Policy::None`] otherwise.
    pub disposition: Policy,
    /// True when `pct` sampling left the message out and a weaker policy
    /// applied.
    pub sampled_out: bool,
    /// The SPF identifier passed and aligned.
    pub spf_aligned: bool,
    /// The `d=` domains of passing, aligned DKIM signatures.
    pub dkim_aligned: Vec<String>,
    /// Why the result is an error or `none`, for logs and comments.
    pub reason: Option<String>,
}

impl DmarcOutput {
    fn bare(result: DmarcResult, from_domain: &str, reason: impl Into<String>) -> Self {
        DmarcOutput {
            result,
            from_domain: from_domain.to_string(),
            from_org_domain: None,
            record_domain: None,
            record: None,
            policy: None,
            policy_source: None,
            disposition: Policy::None,
            sampled_out: false,
            spf_aligned: false,
            dkim_aligned: Vec::new(),
            reason: Some(reason.into()),
        }
    }

    /// The comment receivers put after `dmarc=` in Authentication-Results,
    /// such as `p=reject dis=none`, when a policy was found.
    pub fn comment(&self) -> Option<String> {
        let policy = self.policy?;
        Some(format!(
            "p={} dis={}",
            policy.as_str().to_ascii_uppercase(),
            self.disposition.as_str().to_ascii_uppercase()
        ))
    }

    /// The result as Authentication-Results writes it:
    /// `dmarc=pass (p=REJECT dis=NONE) header.from=example.com`.
    pub fn to_method_result(&self) -> MethodResult {
        let mut r = MethodResult::new("dmarc", self.result.as_str());
        if let Some(c) = self.comment() {
            r = r.with_comment(&c);
        }
        r.with_property("header", "from", &self.from_domain)
    }
}

/// A DMARC evaluation as a Sans-IO step machine.
pub struct DmarcCheck {
    config: DmarcConfig,
    input: DmarcInput,
    sampler: Box<dyn Sampler + Send>,
    lookups: Lookups,
    started: Option<Instant>,
    done: Option<DmarcOutput>,
}

impl fmt::Debug for DmarcCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmarcCheck")
            .field("config", &self.config)
            .field("input", &self.input)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl DmarcCheck {
    /// A check of `input`; `sampler` gives the random percentage for `pct`
    /// (asked at most once, and only when a failing message meets a
    /// `pct` below 100).
    pub fn new(
        config: DmarcConfig,
        input: DmarcInput,
        sampler: impl Sampler + Send + 'static,
    ) -> Self {
        DmarcCheck {
            config,
            input,
            sampler: Box::new(sampler),
            lookups: Lookups::default(),
            started: None,
            done: None,
        }
    }
}

impl Check for DmarcCheck {
    type Output = DmarcOutput;

    fn progress(&mut self, now: Instant) -> Progress<DmarcOutput> {
        if let Some(done) = &self.done {
            return Progress::Done(done.clone());
        }
        let started = *self.started.get_or_insert(now);
        let out = match evaluate(&self.config, &self.input, &self.lookups) {
            Err(Pending(queries)) => {
                let over = self
                    .config
                    .timeout
                    .is_some_and(|t| now.saturating_duration_since(started) > t);
                if !over {
                    self.lookups.mark_asked(&queries);
                    return Progress::NeedAnswers(queries);
                }
                DmarcOutput::bare(
                    DmarcResult::TempError,
                    &self.input.from_domain,
                    "DNS time budget exhausted",
                )
            }
            Ok(mut out) => {
                if out.result == DmarcResult::Fail {
                    let pct = out.record.as_ref().map_or(100, |r| r.pct);
                    let policy = out.policy.unwrap_or(Policy::None);
                    let sample = if pct >= 100 {
                        0
                    } else {
                        self.sampler.percent()
                    };
                    let (disposition, sampled_out) = sampled_policy(policy, pct, sample);
                    out.disposition = disposition;
                    out.sampled_out = sampled_out;
                }
                out
            }
        };
        self.done = Some(out.clone());
        Progress::Done(out)
    }

    fn answer(&mut self, query: &Query, answer: Answer) {
        self.lookups.store(query, answer);
    }
}

/// Run several sub-evaluations, collecting every pending query so they can
/// be asked together.
struct Gather(Vec<Query>);

impl Gather {
    fn take<T>(&mut self, r: Result<T, Pending>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Pending(q)) => {
                for q in q {
                    if !self.0.contains(&q) {
                        self.0.push(q);
                    }
                }
                None
            }
        }
    }

    fn finish(self) -> Result<(), Pending> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Pending(self.0))
        }
    }
}

enum Discovered {
    Found(String, DmarcRecord),
    Final(DmarcResult, Option<String>, String),
}

fn discover(config: &DmarcConfig, from: &str, lk: &Lookups) -> Result<Discovered, Pending> {
    let names = match config.org_method {
        OrgDomainMethod::PublicSuffixList => {
            let org = psl_org_domain(from);
            if org == from {
                vec![org]
            } else {
                vec![from.to_string(), org]
            }
        }
        OrgDomainMethod::TreeWalk => return discover_by_tree_walk(from, lk),
    };
    for name in names {
        if let Some(d) = discovered_at(&name, record_at(&name, lk)?) {
            return Ok(d);
        }
    }
    Ok(no_record())
}

/// RFC 9989 §4.10.1 DMARC Policy Discovery. The record applied is the one
/// at the first of these that has one: the Author Domain; its
/// Organizational Domain; its Public Suffix Domain. The Author Domain is
/// queried first; without a record there, a DNS Tree Walk from its parent
/// (or, for eight labels or more, its seven-label suffix) finds the other
/// two, and the Organizational Domain is chosen by §4.10.2. So with records
/// at `mail.example.com` and `example.com` and none with a `psd` tag, mail
/// from `a.mail.example.com` gets the `example.com` record (the highest
/// one), not the nearest.
fn discover_by_tree_walk(from: &str, lk: &Lookups) -> Result<Discovered, Pending> {
    let names = tree_walk_names(from);
    let Some(start) = names.first() else {
        return Ok(no_record());
    };
    if let Some(d) = discovered_at(start, record_at(start, lk)?) {
        return Ok(d);
    }
    let walk = match tree_walk(&names[1..], lk)? {
        WalkOutcome::TempFail(name, why) => {
            return Ok(Discovered::Final(
                DmarcResult::TempError,
                Some(name.clone()),
                format!("DNS lookup of _dmarc.{name} failed: {why}"),
            ));
        }
        WalkOutcome::Done(walk) => walk,
    };
    let org = select_org_domain(start, &walk.records);
    // The Organizational Domain's own record if it has one; otherwise (the
    // Organizational Domain is the child of a psd=y domain and publishes
    // nothing) the Public Suffix Domain's record, the last one found.
    let applied = walk
        .records
        .iter()
        .find(|(name, _)| *name == org)
        .or(walk.records.last());
    Ok(match (applied, walk.invalid) {
        (Some((name, rec)), _) => Discovered::Found(name.clone(), rec.clone()),
        (None, Some((name, e))) => invalid_record(name, e),
        (None, None) => no_record(),
    })
}

/// What the record (or its absence) at `name` means for discovery:
/// `None` to go on to the next name.
fn discovered_at(name: &str, at: AtName) -> Option<Discovered> {
    match at {
        AtName::TempFail(why) => Some(Discovered::Final(
            DmarcResult::TempError,
            Some(name.to_string()),
            format!("DNS lookup of _dmarc.{name} failed: {why}"),
        )),
        AtName::Nothing => None,
        AtName::One(Ok(rec)) => Some(Discovered::Found(name.to_string(), rec)),
        AtName::One(Err(e)) => Some(invalid_record(name.to_string(), e)),
    }
}

/// A single DMARC record at `name` that did not parse: without a usable
/// policy it is as if there were none; any other error is a permerror.
fn invalid_record(name: String, e: RecordError) -> Discovered {
    match e {
        RecordError::NoPolicy => Discovered::Final(DmarcResult::None, Some(name), e.to_string()),
        e => Discovered::Final(DmarcResult::PermError, Some(name), e.to_string()),
    }
}

fn no_record() -> Discovered {
    Discovered::Final(DmarcResult::None, None, "no DMARC record".to_string())
}

/// Whether `id` aligns with the author domain: `Some(true/false)`, or
/// `None` when a lookup failed for now.
fn identifier_aligns(
    config: &DmarcConfig,
    mode: Alignment,
    from: &str,
    from_org: &str,
    id: &AuthenticatedIdentifier,
    lk: &Lookups,
) -> Result<Option<bool>, Pending> {
    let Some(domain) = normalize_domain(&id.domain) else {
        return Ok(Some(false));
    };
    if !id.passed {
        return Ok(Some(false));
    }
    if same_domain(from, &domain) {
        return Ok(Some(true));
    }
    if mode == Alignment::Strict {
        return Ok(Some(false));
    }
    // Organizational Domains are suffixes, so names in different
    // top-level domains never share one: save the walk.
    if from.rsplit('.').next() != domain.rsplit('.').next() {
        return Ok(Some(false));
    }
    match org_domain(&domain, config.org_method, lk)? {
        OrgOutcome::TempFail(_) => Ok(None),
        OrgOutcome::Domain(id_org) => Ok(Some(aligned(mode, from, &domain, from_org, &id_org))),
    }
}

/// True when A, AAAA and MX at `domain` are all NXDOMAIN or NODATA
/// (RFC 9989's non-existent domain). A failed lookup counts as existing.
fn nonexistent(domain: &str, lk: &Lookups) -> Result<bool, Pending> {
    let mut g = Gather(Vec::new());
    let answers: Vec<Option<&Answer>> = [RecordType::A, RecordType::Aaaa, RecordType::Mx]
        .into_iter()
        .map(|t| g.take(lk.get(Query::new(domain, t))))
        .collect();
    g.finish()?;
    Ok(answers.into_iter().flatten().all(Answer::is_void))
}

fn evaluate(
    config: &DmarcConfig,
    input: &DmarcInput,
    lk: &Lookups,
) -> Result<DmarcOutput, Pending> {
    let Some(from) = normalize_domain(&input.from_domain) else {
        return Ok(DmarcOutput::bare(
            DmarcResult::PermError,
            &input.from_domain,
            "the author domain is not a valid domain name",
        ));
    };
    let (record_domain, record) = match discover(config, &from, lk)? {
        Discovered::Found(d, r) => (d, r),
        Discovered::Final(result, record_domain, reason) => {
            let mut out = DmarcOutput::bare(result, &from, reason);
            out.record_domain = record_domain;
            return Ok(out);
        }
    };
    let from_org = match org_domain(&from, config.org_method, lk)? {
        OrgOutcome::Domain(d) => d,
        OrgOutcome::TempFail(why) => {
            let mut out = DmarcOutput::bare(
                DmarcResult::TempError,
                &from,
                format!("Organizational Domain lookup failed: {why}"),
            );
            out.record_domain = Some(record_domain);
            out.record = Some(record);
            return Ok(out);
        }
    };

    let mut g = Gather(Vec::new());
    let spf = input.spf.as_ref().map(|id| {
        g.take(identifier_aligns(
            config,
            record.aspf,
            &from,
            &from_org,
            id,
            lk,
        ))
    });
    let dkim: Vec<(String, Option<Option<bool>>)> = input
        .dkim
        .iter()
        .filter(|id| id.passed)
        .take(config.max_dkim_identifiers)
        .map(|id| {
            let r = g.take(identifier_aligns(
                config,
                record.adkim,
                &from,
                &from_org,
                id,
                lk,
            ));
            (id.domain.to_ascii_lowercase(), r)
        })
        .collect();
    g.finish()?;

    let spf_state = spf.flatten();
    let spf_aligned = spf_state == Some(Some(true));
    let dkim_aligned: Vec<String> = dkim
        .iter()
        .filter(|(_, r)| *r == Some(Some(true)))
        .map(|(d, _)| d.trim_end_matches('.').to_string())
        .collect();
    let any_temp = spf_state == Some(None) || dkim.iter().any(|(_, r)| *r == Some(None));

    let result = if spf_aligned || !dkim_aligned.is_empty() {
        DmarcResult::Pass
    } else if any_temp {
        DmarcResult::TempError
    } else {
        DmarcResult::Fail
    };

    let (policy, source) = if record_domain == from {
        (record.policy, PolicySource::Domain)
    } else {
        let sub = record.subdomain_policy.unwrap_or(record.policy);
        match record.nonexistent_policy {
            Some(np) if result == DmarcResult::Fail && nonexistent(&from, lk)? => {
                (np, PolicySource::NonExistent)
            }
            _ => (sub, PolicySource::Subdomain),
        }
    };

    let reason = match result {
        DmarcResult::TempError => {
            Some("an identifier's Organizational Domain lookup failed".into())
        }
        DmarcResult::Fail => Some("no aligned identifier passed".into()),
        _ => None,
    };
    Ok(DmarcOutput {
        result,
        from_domain: from,
        from_org_domain: Some(from_org),
        record_domain: Some(record_domain),
        record: Some(record),
        policy: Some(policy),
        policy_source: Some(source),
        disposition: Policy::None,
        sampled_out: false,
        spf_aligned,
        dkim_aligned,
        reason,
    })
}
