//! Organizational Domains: by the Public Suffix List (RFC 7489 §3.2) or by
//! the DNS Tree Walk (RFC 9989).

use super::lookups::{Lookups, Pending};
use super::record::{DmarcRecord, PsdFlag, RecordError, is_dmarc_record};
use postel_dns::Answer;

/// How the Organizational Domain of a name is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrgDomainMethod {
    /// The registrable domain by the Public Suffix List built into the
    /// `psl` crate (RFC 7489 §3.2). No DNS queries.
    #[default]
    PublicSuffixList,
    /// The DNS Tree Walk of RFC 9989: `_dmarc` records up the tree,
    /// honouring `psd=`; at most [`MAX_TREE_WALK_QUERIES`] queries per name.
    TreeWalk,
}

/// The most queries one tree walk makes (RFC 9989 §4.10: "Author Domains
/// with more than eight labels do not result in more than eight DNS
/// queries").
pub const MAX_TREE_WALK_QUERIES: usize = 8;

/// The Organizational Domain of `domain` by the Public Suffix List: the
/// public suffix plus one label; the name itself when it is a public
/// suffix or has no known suffix. `domain` should be lower case.
pub fn psl_org_domain(domain: &str) -> String {
    let d = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    match psl::domain_str(&d) {
        Some(org) => org.to_string(),
        None => d,
    }
}

/// The names a tree walk starting at `domain` visits, in order (RFC 9989
/// §4.10 steps 1-7): the name; then, for a name of eight labels or more,
/// its seven-label suffix, otherwise its parent; then one label less each
/// step, down to the single-label top-level name. At most eight names.
pub fn tree_walk_names(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    out.push(labels.join("."));
    let mut count = if n >= 8 { 7 } else { n - 1 };
    while count >= 1 && out.len() < MAX_TREE_WALK_QUERIES {
        out.push(labels[n - count..].join("."));
        count -= 1;
    }
    out
}

/// What the `_dmarc` name of one domain holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AtName {
    /// The lookup failed for now.
    TempFail(String),
    /// No DMARC record (none, or more than one, which counts as none).
    Nothing,
    /// Exactly one DMARC record, parsed or not.
    One(Result<DmarcRecord, RecordError>),
}

/// The DMARC record at `_dmarc.<domain>`.
pub(crate) fn record_at(domain: &str, lk: &Lookups) -> Result<AtName, Pending> {
    let answer = lk.txt(&format!("_dmarc.{domain}"))?;
    if let Answer::TempFail(why) = answer {
        return Ok(AtName::TempFail(why.clone()));
    }
    let dmarc: Vec<&[u8]> = answer.txt().filter(|t| is_dmarc_record(t)).collect();
    Ok(match dmarc.as_slice() {
        [one] => AtName::One(DmarcRecord::parse_bytes(one)),
        _ => AtName::Nothing,
    })
}

/// What one DNS Tree Walk (RFC 9989 §4.10) retrieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Walk {
    /// The valid DMARC Policy Records found, longest name first. The walk
    /// stops after a record with `psd=n` or `psd=y` (§4.10 steps 2 and 6),
    /// so only the last entry can carry one.
    pub(crate) records: Vec<(String, DmarcRecord)>,
    /// The first name whose single DMARC record did not parse, and why.
    pub(crate) invalid: Option<(String, RecordError)>,
}

/// Outcome of a DNS Tree Walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WalkOutcome {
    /// The walk ran to its end.
    Done(Walk),
    /// The lookup at this name failed for now, with this reason.
    TempFail(String, String),
}

/// Query `_dmarc.<name>` for each of `names` in order (a tail of
/// [`tree_walk_names`]), collecting records; stop after a single valid
/// record with `psd=n` or `psd=y` (RFC 9989 §4.10 steps 2 and 6).
pub(crate) fn tree_walk(names: &[String], lk: &Lookups) -> Result<WalkOutcome, Pending> {
    let mut walk = Walk::default();
    for name in names {
        match record_at(name, lk)? {
            AtName::TempFail(why) => return Ok(WalkOutcome::TempFail(name.clone(), why)),
            AtName::Nothing => {}
            AtName::One(Err(e)) => {
                walk.invalid.get_or_insert((name.clone(), e));
            }
            AtName::One(Ok(rec)) => {
                let stop = matches!(rec.psd, PsdFlag::Yes | PsdFlag::No);
                walk.records.push((name.clone(), rec));
                if stop {
                    break;
                }
            }
        }
    }
    Ok(WalkOutcome::Done(walk))
}

/// RFC 9989 §4.10.2: the Organizational Domain of `start` from the
/// records a tree walk starting there retrieved, taken from the longest
/// name to the shortest:
/// 1. a record with `psd=n`: its domain;
/// 2. a record with `psd=y`, other than the one at `start`: the domain one
///    label below it;
/// 3. otherwise the record at the name with the fewest labels.
///
/// "If this process does not determine the Organizational Domain, then
/// the initial target domain is the Organizational Domain."
pub(crate) fn select_org_domain(start: &str, records: &[(String, DmarcRecord)]) -> String {
    for (name, rec) in records {
        match rec.psd {
            PsdFlag::No => return name.clone(),
            PsdFlag::Yes if name != start => {
                let labels: Vec<&str> = start.split('.').collect();
                let n = name.split('.').count();
                if n < labels.len() {
                    return labels[labels.len() - n - 1..].join(".");
                }
            }
            _ => {}
        }
    }
    match records.last() {
        Some((name, _)) => name.clone(),
        None => start.to_string(),
    }
}

/// Outcome of finding an Organizational Domain by tree walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OrgOutcome {
    /// Found.
    Domain(String),
    /// A lookup failed for now.
    TempFail(String),
}

/// The Organizational Domain of `domain` by the given method.
pub(crate) fn org_domain(
    domain: &str,
    method: OrgDomainMethod,
    lk: &Lookups,
) -> Result<OrgOutcome, Pending> {
    match method {
        OrgDomainMethod::PublicSuffixList => Ok(OrgOutcome::Domain(psl_org_domain(domain))),
        OrgDomainMethod::TreeWalk => tree_walk_org_domain(domain, lk),
    }
}

/// RFC 9989 §4.10.2 Organizational Domain of `domain`: a DNS Tree Walk
/// starting at `domain` itself, then [`select_org_domain`].
pub(crate) fn tree_walk_org_domain(domain: &str, lk: &Lookups) -> Result<OrgOutcome, Pending> {
    match tree_walk(&tree_walk_names(domain), lk)? {
        WalkOutcome::TempFail(_, why) => Ok(OrgOutcome::TempFail(why)),
        WalkOutcome::Done(walk) => Ok(OrgOutcome::Domain(select_org_domain(domain, &walk.records))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_names() {
        assert_eq!(
            tree_walk_names("a.b.example.com"),
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        let long = tree_walk_names("1.2.3.4.5.6.7.8.9.example.com");
        assert_eq!(long.len(), 8);
        assert_eq!(long[0], "1.2.3.4.5.6.7.8.9.example.com");
        assert_eq!(long[1], "5.6.7.8.9.example.com");
        assert_eq!(long[7], "com");
        assert_eq!(tree_walk_names("com"), ["com"]);
        // RFC 9989 §4.10: exactly eight labels are cut to seven as well.
        assert_eq!(
            tree_walk_names("1.2.3.4.5.6.example.com")[1],
            "2.3.4.5.6.example.com"
        );
        assert_eq!(tree_walk_names("1.2.3.4.5.6.example.com").len(), 8);
    }

    #[test]
    fn psl() {
        assert_eq!(psl_org_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(psl_org_domain("co.uk"), "co.uk");
        assert_eq!(psl_org_domain("a.b.example.com"), "example.com");
        assert_eq!(psl_org_domain("Example.COM."), "example.com");
    }
}
