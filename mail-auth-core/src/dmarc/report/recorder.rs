//! Collecting per-message results into report records.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{
    AggregateReport, AlignedResult, DkimAuthResult, Identifiers, OverrideReason, OverrideType,
    PolicyEvaluated, PolicyPublished, ReportMetadata, ReportRecord, Row, SpfAuthResult,
};
use crate::dmarc::DmarcOutput;
use crate::dmarc::record::{DmarcRecord, Policy};

/// What one received message contributes to a report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageRow {
    /// The connecting client address.
    pub source_ip: IpAddr,
    /// What was done with the message.
    pub disposition: Policy,
    /// An aligned DKIM identifier passed.
    pub dkim_aligned: bool,
    /// An aligned SPF identifier passed.
    pub spf_aligned: bool,
    /// Overrides applied (for example `sampled_out`).
    pub reasons: Vec<OverrideReason>,
    /// The author domain.
    pub header_from: String,
    /// The MAIL FROM domain, when known.
    pub envelope_from: Option<String>,
    /// The recipient domain, when reported.
    pub envelope_to: Option<String>,
    /// Every DKIM result.
    pub dkim: Vec<DkimAuthResult>,
    /// Every SPF result.
    pub spf: Vec<SpfAuthResult>,
}

impl MessageRow {
    /// The row for a message DMARC evaluated: disposition, alignment,
    /// author domain and a `sampled_out` reason come from `output`; the
    /// envelope domains and the DKIM and SPF results are left for the
    /// caller to fill in.
    pub fn from_output(output: &DmarcOutput, source_ip: IpAddr) -> Self {
        let reasons = if output.sampled_out {
            vec![OverrideReason {
                kind: OverrideType::SampledOut,
                comment: None,
            }]
        } else {
            Vec::new()
        };
        MessageRow {
            source_ip,
            disposition: output.disposition,
            dkim_aligned: !output.dkim_aligned.is_empty(),
            spf_aligned: output.spf_aligned,
            reasons,
            header_from: output.from_domain.clone(),
            envelope_from: None,
            envelope_to: None,
            dkim: Vec::new(),
            spf: Vec::new(),
        }
    }
}

impl PolicyPublished {
    /// The `policy_published` element for a record found at `domain`.
    pub fn from_record(domain: &str, record: &DmarcRecord) -> Self {
        PolicyPublished {
            domain: domain.to_string(),
            adkim: Some(record.adkim),
            aspf: Some(record.aspf),
            p: record.policy,
            sp: record.subdomain_policy,
            np: record.nonexistent_policy,
            pct: Some(record.pct),
            fo: Some(record.fo.to_string()),
        }
    }
}

/// Collects message rows for one reported domain and period. Messages
/// that agree in everything but their count share one record, as real
/// reports group them; records keep first-seen order.
#[derive(Debug, Clone)]
pub struct Recorder {
    metadata: ReportMetadata,
    policy: PolicyPublished,
    records: Vec<ReportRecord>,
    index: HashMap<MessageRow, usize>,
}

impl Recorder {
    /// A recorder for a report with this metadata and published policy.
    pub fn new(metadata: ReportMetadata, policy: PolicyPublished) -> Self {
        Recorder {
            metadata,
            policy,
            records: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Count one message.
    pub fn record(&mut self, row: MessageRow) {
        self.record_many(row, 1);
    }

    /// Count `count` messages with the same results.
    pub fn record_many(&mut self, row: MessageRow, count: u64) {
        if let Some(&i) = self.index.get(&row) {
            self.records[i].row.count += count;
            return;
        }
        let record = ReportRecord {
            row: Row {
                source_ip: row.source_ip,
                count,
                policy_evaluated: PolicyEvaluated {
                    disposition: row.disposition,
                    dkim: AlignedResult::from_bool(row.dkim_aligned),
                    spf: AlignedResult::from_bool(row.spf_aligned),
                    reasons: row.reasons.clone(),
                },
            },
            identifiers: Identifiers {
                envelope_to: row.envelope_to.clone(),
                envelope_from: row.envelope_from.clone(),
                header_from: row.header_from.clone(),
            },
            dkim: row.dkim.clone(),
            spf: row.spf.clone(),
        };
        self.index.insert(row, self.records.len());
        self.records.push(record);
    }

    /// How many messages were counted.
    pub fn message_count(&self) -> u64 {
        self.records.iter().map(|r| r.row.count).sum()
    }

    /// The finished report.
    pub fn finish(self) -> AggregateReport {
        AggregateReport {
            version: Some("1.0".to_string()),
            metadata: self.metadata,
            policy_published: self.policy,
            records: self.records,
        }
    }
}
