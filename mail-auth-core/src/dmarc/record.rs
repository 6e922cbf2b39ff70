//! The DMARC policy record (RFC 7489 §6.3, with `np` and `psd` from
//! RFC 9989).
//!
//! Parsing follows RFC 7489: the record must start with `v=DMARC1`;
//! unknown tags are ignored; a bad value of an optional tag falls back to
//! the tag's default; a missing or bad `p` (or a bad `sp`) makes the record
//! act as `p=none` when `rua` holds at least one valid URI, and makes it
//! unusable otherwise (§6.6.3 step 6).

use std::fmt;

use thiserror::Error;

use crate::tag_list::{self, TagListError};

/// What the Domain Owner asks receivers to do with failing mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// No specific action; monitoring only.
    None,
    /// Treat as suspicious (spam folder, extra scrutiny).
    Quarantine,
    /// Reject during the SMTP transaction.
    Reject,
}

impl Policy {
    /// Parse a policy keyword (case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }

    /// The keyword as written in records and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// The next weaker policy, applied to messages that `pct` sampling
    /// leaves out (RFC 7489 §6.6.4): reject → quarantine → none.
    pub fn weaker(self) -> Self {
        match self {
            Policy::Reject => Policy::Quarantine,
            Policy::Quarantine | Policy::None => Policy::None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment mode (`adkim`, `aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alignment {
    /// Same Organizational Domain is enough (`r`, the default).
    #[default]
    Relaxed,
    /// The domains must be equal (`s`).
    Strict,
}

impl Alignment {
    /// Parse `r` or `s` (case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "r" | "R" => Some(Alignment::Relaxed),
            "s" | "S" => Some(Alignment::Strict),
            _ => None,
        }
    }

    /// `r` or `s`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alignment::Relaxed => "r",
            Alignment::Strict => "s",
        }
    }
}

/// The `psd` tag of RFC 9989: whether the record's domain is a Public
/// Suffix Domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PsdFlag {
    /// `psd=y`: a Public Suffix Domain; the Organizational Domain is one
    /// label below it.
    Yes,
    /// `psd=n`: this domain is an Organizational Domain.
    No,
    /// `psd=u` or no tag: unknown, the tree walk decides.
    #[default]
    Unknown,
}

/// One reporting address of `rua` or `ruf`, with its optional size limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportUri {
    /// The URI (usually `mailto:`), as written.
    pub uri: String,
    /// The `!size` limit in bytes, units (k, m, g, t) applied.
    pub max_size: Option<u64>,
}

impl ReportUri {
    /// Parse one `dmarc-uri` (RFC 7489 §6.4): a URI with a scheme, then an
    /// optional `!` and a size with an optional unit.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (uri, size) = match text.rfind('!') {
            Some(bang) => (&text[..bang], Some(&text[bang + 1..])),
            None => (text, None),
        };
        let colon = uri.find(':')?;
        let scheme = &uri[..colon];
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok || uri.len() == colon + 1 || uri.bytes().any(|b| b.is_ascii_whitespace()) {
            return None;
        }
        let max_size = match size {
            None => None,
            Some(s) => Some(parse_size(s)?),
        };
        Some(ReportUri {
            uri: uri.to_string(),
            max_size,
        })
    }
}

impl fmt::Display for ReportUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if let Some(size) = self.max_size {
            write!(f, "!{size}")?;
        }
        Ok(())
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let digits_end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    if digits_end == 0 {
        return None;
    }
    let n: u64 = s[..digits_end].parse().ok()?;
    let mult: u64 = match &s[digits_end..] {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        "t" | "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Failure reporting options (`fo`, RFC 7489 §6.3), a colon-separated set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FailureOptions {
    /// `0`: report when all mechanisms fail to pass aligned (the default).
    pub all_fail: bool,
    /// `1`: report when any mechanism fails to pass aligned.
    pub any_fail: bool,
    /// `d`: report DKIM signatures that fail, aligned or not.
    pub dkim: bool,
    /// `s`: report SPF failures, aligned or not.
    pub spf: bool,
}

impl Default for FailureOptions {
    fn default() -> Self {
        FailureOptions {
            all_fail: true,
            any_fail: false,
            dkim: false,
            spf: false,
        }
    }
}

impl FailureOptions {
    /// Parse an `fo` value; `None` when any item is unknown.
    pub fn parse(value: &str) -> Option<Self> {
        let mut fo = FailureOptions {
            all_fail: false,
            any_fail: false,
            dkim: false,
            spf: false,
        };
        for item in value.split(':') {
            match item.trim() {
                "0" => fo.all_fail = true,
                "1" => fo.any_fail = true,
                "d" => fo.dkim = true,
                "s" => fo.spf = true,
                _ => return None,
            }
        }
        Some(fo)
    }
}

impl fmt::Display for FailureOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<&str> = [
            (self.all_fail, "0"),
            (self.any_fail, "1"),
            (self.dkim, "d"),
            (self.spf, "s"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, s)| *s)
        .collect();
        f.write_str(&items.join(":"))
    }
}

/// Why a TXT record is not a usable DMARC record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The text does not start with `v=DMARC1`: not a DMARC record at all
    /// (discarded during discovery, RFC 7489 §6.6.3 step 2).
    #[error("not a DMARC record: it does not start with v=DMARC1")]
    NotDmarc,
    /// The text is not valid UTF-8.
    #[error("DMARC record is not UTF-8")]
    NotUtf8,
    /// The tag list itself is malformed (a permanent error).
    #[error("DMARC record syntax: {0}")]
    Syntax(#[from] TagListError),
    /// `p` is missing or invalid (or `sp` is invalid) and `rua` has no
    /// valid URI, so no DMARC processing applies (RFC 7489 §6.6.3 step 6).
    #[error("DMARC record has no valid p= (or a bad sp=) and no valid rua=")]
    NoPolicy,
}

/// A parsed DMARC record, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcRecord {
    /// `p`: the policy for the domain itself. [`Policy::None`] when the
    /// record had no valid `p` but a valid `rua` (see `policy_defaulted`).
    pub policy: Policy,
    /// True when `policy` was not read from `p` but defaulted to `none`
    /// (RFC 7489 §6.6.3 step 6).
    pub policy_defaulted: bool,
    /// `sp`: the policy for subdomains, when given.
    pub subdomain_policy: Option<Policy>,
    /// `np`: the policy for non-existent subdomains (RFC 9989), when given.
    pub nonexistent_policy: Option<Policy>,
    /// `adkim` (default relaxed).
    pub adkim: Alignment,
    /// `aspf` (default relaxed).
    pub aspf: Alignment,
    /// `pct`: percentage of failing mail the policy applies to (default 100).
    pub pct: u8,
    /// `rua`: aggregate report addresses (invalid ones dropped).
    pub rua: Vec<ReportUri>,
    /// `ruf`: failure report addresses (invalid ones dropped).
    pub ruf: Vec<ReportUri>,
    /// `fo` (default `0`).
    pub fo: FailureOptions,
    /// `rf`: failure report formats (default `afrf`).
    pub rf: Vec<String>,
    /// `ri`: aggregate report interval in seconds (default 86400).
    pub ri: u32,
    /// `psd` (RFC 9989), default unknown.
    pub psd: PsdFlag,
}

/// True when `text` begins with the `v=DMARC1` tag (RFC 7489 §6.6.3 step 2).
pub fn is_dmarc_record(text: &[u8]) -> bool {
    let mut rest = text;
    while let [b' ' | b'\t' | b'\r' | b'\n', tail @ ..] = rest {
        rest = tail;
    }
    let Some(tail) = rest.strip_prefix(b"v") else {
        return false;
    };
    let tail = trim_start_ws(tail);
    let Some(tail) = tail.strip_prefix(b"=") else {
        return false;
    };
    let tail = trim_start_ws(tail);
    let Some(tail) = tail.strip_prefix(b"DMARC1") else {
        return false;
    };
    let tail = trim_start_ws(tail);
    tail.is_empty() || tail[0] == b';'
}

fn trim_start_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', tail @ ..] = s {
        s = tail;
    }
    s
}

fn parse_uris(value: Option<&str>) -> Vec<ReportUri> {
    value
        .map(|v| v.split(',').filter_map(ReportUri::parse).collect())
        .unwrap_or_default()
}

impl DmarcRecord {
    /// Parse a TXT record's joined text.
    pub fn parse_bytes(text: &[u8]) -> Result<Self, RecordError> {
        if !is_dmarc_record(text) {
            return Err(RecordError::NotDmarc);
        }
        let text = std::str::from_utf8(text).map_err(|_| RecordError::NotUtf8)?;
        Self::parse(text)
    }

    /// Parse a record's text.
    pub fn parse(text: &str) -> Result<Self, RecordError> {
        if !is_dmarc_record(text.as_bytes()) {
            return Err(RecordError::NotDmarc);
        }
        let tags = tag_list::parse(text)?;
        let get = |name: &str| tag_list::get(&tags, name);
        let rua = parse_uris(get("rua"));
        let p = get("p").and_then(Policy::parse);
        let sp_raw = get("sp");
        let sp = sp_raw.and_then(Policy::parse);
        let sp_bad = sp_raw.is_some() && sp.is_none();
        let (policy, policy_defaulted, subdomain_policy) = match p {
            Some(p) if !sp_bad => (p, false, sp),
            _ if !rua.is_empty() => (Policy::None, true, None),
            _ => return Err(RecordError::NoPolicy),
        };
        let pct = get("pct")
            .and_then(|v| v.parse::<u8>().ok())
            .filter(|&n| n <= 100)
            .unwrap_or(100);
        let rf: Vec<String> = get("rf")
            .map(|v| {
                v.split(':')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .filter(|v: &Vec<String>| !v.is_empty())
            .unwrap_or_else(|| vec!["afrf".to_string()]);
        Ok(DmarcRecord {
            policy,
            policy_defaulted,
            subdomain_policy,
            nonexistent_policy: get("np").and_then(Policy::parse),
            adkim: get("adkim").and_then(Alignment::parse).unwrap_or_default(),
            aspf: get("aspf").and_then(Alignment::parse).unwrap_or_default(),
            pct,
            rua,
            ruf: parse_uris(get("ruf")),
            fo: get("fo")
                .and_then(FailureOptions::parse)
                .unwrap_or_default(),
            rf,
            ri: get("ri").and_then(|v| v.parse().ok()).unwrap_or(86400),
            psd: match get("psd") {
                Some("y") => PsdFlag::Yes,
                Some("n") => PsdFlag::No,
                _ => PsdFlag::Unknown,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_version_tag() {
        assert!(is_dmarc_record(b"v=DMARC1; p=none"));
        assert!(is_dmarc_record(b" v = DMARC1 ;p=none"));
        assert!(is_dmarc_record(b"v=DMARC1"));
        assert!(!is_dmarc_record(b"v=DMARC10; p=none"));
        assert!(!is_dmarc_record(b"p=none; v=DMARC1"));
        assert!(!is_dmarc_record(b"v=dmarc1; p=none"));
        assert!(!is_dmarc_record(b"v=spf1 -all"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("1x"), None);
    }
}
