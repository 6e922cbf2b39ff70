//! DMARC aggregate reports (RFC 7489 §7.2 and Appendix C): the report
//! structure, a [`Recorder`] that groups per-message rows the way real
//! reports do, an XML writer and a parser for received reports.

mod parse;
mod recorder;
mod write;

use std::fmt;
use std::net::IpAddr;

pub use parse::ReportParseError;
pub use recorder::{MessageRow, Recorder};

use super::record::{Alignment, Policy};

/// A whole aggregate report: the `feedback` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateReport {
    /// The `version` element, when present (`1.0` in RFC 7489 reports).
    pub version: Option<String>,
    /// Who reports, for which period.
    pub metadata: ReportMetadata,
    /// The policy the reporter found for the domain.
    pub policy_published: PolicyPublished,
    /// One entry per group of messages.
    pub records: Vec<ReportRecord>,
}

/// The `report_metadata` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportMetadata {
    /// The reporting organization.
    pub org_name: String,
    /// Its contact address.
    pub email: String,
    /// More contact information, when given.
    pub extra_contact_info: Option<String>,
    /// A unique identifier of the report.
    pub report_id: String,
    /// Start of the period, seconds since the Unix epoch (UTC).
    pub begin: u64,
    /// End of the period, seconds since the Unix epoch (UTC).
    pub end: u64,
    /// `error` elements.
    pub errors: Vec<String>,
}

/// The `policy_published` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPublished {
    /// The domain where the record was found.
    pub domain: String,
    /// `adkim`, when reported.
    pub adkim: Option<Alignment>,
    /// `aspf`, when reported.
    pub aspf: Option<Alignment>,
    /// `p`.
    pub p: Policy,
    /// `sp`, when reported.
    pub sp: Option<Policy>,
    /// `np` (RFC 9989), when reported.
    pub np: Option<Policy>,
    /// `pct`, when reported.
    pub pct: Option<u8>,
    /// `fo`, when reported, as written.
    pub fo: Option<String>,
}

/// `pass` or `fail`: a DMARC-aligned result in `policy_evaluated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlignedResult {
    /// An aligned identifier of this kind passed.
    Pass,
    /// None did.
    Fail,
}

impl AlignedResult {
    /// `Pass` when `passed`.
    pub fn from_bool(passed: bool) -> Self {
        if passed {
            AlignedResult::Pass
        } else {
            AlignedResult::Fail
        }
    }

    /// The XML keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AlignedResult::Pass => "pass",
            AlignedResult::Fail => "fail",
        }
    }
}

/// Why the receiver applied something other than the published policy
/// (`PolicyOverrideType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideType {
    /// `forwarded`
    Forwarded,
    /// `sampled_out`
    SampledOut,
    /// `trusted_forwarder`
    TrustedForwarder,
    /// `mailing_list`
    MailingList,
    /// `local_policy`
    LocalPolicy,
    /// `other`
    Other,
}

impl OverrideType {
    /// The XML keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideType::Forwarded => "forwarded",
            OverrideType::SampledOut => "sampled_out",
            OverrideType::TrustedForwarder => "trusted_forwarder",
            OverrideType::MailingList => "mailing_list",
            OverrideType::LocalPolicy => "local_policy",
            OverrideType::Other => "other",
        }
    }

    /// Parse the XML keyword.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "forwarded" => OverrideType::Forwarded,
            "sampled_out" => OverrideType::SampledOut,
            "trusted_forwarder" => OverrideType::TrustedForwarder,
            "mailing_list" => OverrideType::MailingList,
            "local_policy" => OverrideType::LocalPolicy,
            "other" => OverrideType::Other,
            _ => return None,
        })
    }
}

/// A `reason` element of `policy_evaluated`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OverrideReason {
    /// The kind of override.
    pub kind: OverrideType,
    /// Free text, when given.
    pub comment: Option<String>,
}

/// The `policy_evaluated` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyEvaluated {
    /// What was done with the messages.
    pub disposition: Policy,
    /// Whether an aligned DKIM identifier passed.
    pub dkim: AlignedResult,
    /// Whether an aligned SPF identifier passed.
    pub spf: AlignedResult,
    /// Overrides applied.
    pub reasons: Vec<OverrideReason>,
}

/// The `identifiers` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifiers {
    /// `envelope_to`, when reported.
    pub envelope_to: Option<String>,
    /// `envelope_from`, when reported.
    pub envelope_from: Option<String>,
    /// `header_from`.
    pub header_from: String,
}

/// A mechanism result word as reports write it (`pass`, `fail`,
/// `softfail`, ...). Kept as text, lower case, so unusual values from
/// real reporters survive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultWord(pub String);

impl ResultWord {
    /// A result word, lower-cased.
    pub fn new(s: &str) -> Self {
        ResultWord(s.trim().to_ascii_lowercase())
    }
}

impl fmt::Display for ResultWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One `dkim` element of `auth_results`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DkimAuthResult {
    /// The signature's `d=`.
    pub domain: String,
    /// The signature's `s=`, when reported.
    pub selector: Option<String>,
    /// none, pass, fail, policy, neutral, temperror or permerror.
    pub result: ResultWord,
    /// `human_result`, when given.
    pub human_result: Option<String>,
}

/// One `spf` element of `auth_results`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpfAuthResult {
    /// The checked domain.
    pub domain: String,
    /// `mfrom` or `helo`, when reported.
    pub scope: Option<String>,
    /// none, neutral, pass, fail, softfail, temperror or permerror.
    pub result: ResultWord,
}

/// The `row` of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Row {
    /// The connecting client address.
    pub source_ip: IpAddr,
    /// How many messages the record stands for.
    pub count: u64,
    /// The DMARC evaluation.
    pub policy_evaluated: PolicyEvaluated,
}

/// One `record` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportRecord {
    /// Address, count and evaluation.
    pub row: Row,
    /// Domains seen in the message.
    pub identifiers: Identifiers,
    /// Every DKIM result (zero or more).
    pub dkim: Vec<DkimAuthResult>,
    /// Every SPF result (RFC 7489 requires at least one).
    pub spf: Vec<SpfAuthResult>,
}
