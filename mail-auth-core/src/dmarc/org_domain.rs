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

/// The most queries one tree walk makes (RFC 9989).
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

/// The names a tree walk starting at `domain` visits, in order: the name,
/// then (for names of eight labels or more) its seven-label suffix, then one
/// label less each step, down to the single-label top-level name.
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

/// RFC 9989 Organizational Domain: walk up from `domain`; a valid record
/// with `psd=n` makes its domain the answer; a valid record with `psd=y`
/// (not at the starting name) makes the name one label below it the
/// answer; otherwise the valid record with the fewest labels wins; with no
/// record at all the name itself is its Organizational Domain.
pub(crate) fn tree_walk_org_domain(domain: &str, lk: &Lookups) -> Result<OrgOutcome, Pending> {
    let labels: Vec<&str> = domain.split('.').collect();
    let mut fewest: Option<String> = None;
    for (i, name) in tree_walk_names(domain).into_iter().enumerate() {
        match record_at(&name, lk)? {
            AtName::TempFail(why) => return Ok(OrgOutcome::TempFail(why)),
            AtName::Nothing | AtName::One(Err(_)) => {}
            AtName::One(Ok(rec)) => match rec.psd {
                PsdFlag::No => return Ok(OrgOutcome::Domain(name)),
                PsdFlag::Yes if i > 0 => {
                    let n = name.split('.').count();
                    let below = labels[labels.len() - n - 1..].join(".");
                    return Ok(OrgOutcome::Domain(below));
                }
                _ => fewest = Some(name),
            },
        }
    }
    Ok(OrgOutcome::Domain(
        fewest.unwrap_or_else(|| domain.to_string()),
    ))
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
    }

    #[test]
    fn psl() {
        assert_eq!(psl_org_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(psl_org_domain("co.uk"), "co.uk");
        assert_eq!(psl_org_domain("a.b.example.com"), "example.com");
        assert_eq!(psl_org_domain("Example.COM."), "example.com");
    }
}
