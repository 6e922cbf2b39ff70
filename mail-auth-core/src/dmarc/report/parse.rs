//! Reading received aggregate reports.
//!
//! The XML is read into a small element tree (with `quick-xml`), then
//! mapped. Element order does not matter and unknown elements (such as
//! `extensions`, or anything a reporter adds) are ignored; namespaces are
//! ignored too, so RFC 7489 reports and DMARCbis-style reports with an
//! `xmlns` both read.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event;
use thiserror::Error;

use super::{
    AggregateReport, AlignedResult, DkimAuthResult, Identifiers, OverrideReason, OverrideType,
    PolicyEvaluated, PolicyPublished, ReportMetadata, ReportRecord, ResultWord, Row, SpfAuthResult,
};
use crate::dmarc::record::{Alignment, Policy};

/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 16;

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReportParseError {
    /// The XML itself is malformed.
    #[error("report XML: {0}")]
    Xml(String),
    /// The root element is not `feedback`.
    #[error("report root element is {0:?}, not feedback")]
    NotFeedback(String),
    /// A required element is missing.
    #[error("report element {0} is missing")]
    Missing(&'static str),
    /// An element holds a value that does not fit.
    #[error("report element {element} has bad value {value:?}")]
    BadValue {
        /// The element.
        element: &'static str,
        /// Its text.
        value: String,
    },
    /// Elements nest deeper than any report needs.
    #[error("report nests elements too deeply")]
    TooDeep,
}

#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn text_of(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_string())
    }

    fn req(&self, name: &'static str) -> Result<String, ReportParseError> {
        self.text_of(name).ok_or(ReportParseError::Missing(name))
    }

    fn req_child(&self, name: &'static str) -> Result<&Element, ReportParseError> {
        self.child(name).ok_or(ReportParseError::Missing(name))
    }
}

fn local(name: &[u8]) -> String {
    let n = match name.iter().rposition(|&b| b == b':') {
        Some(p) => &name[p + 1..],
        None => name,
    };
    String::from_utf8_lossy(n).into_owned()
}

fn xml_err(e: impl std::fmt::Display) -> ReportParseError {
    ReportParseError::Xml(e.to_string())
}

fn read_tree(xml: &str) -> Result<Element, ReportParseError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().map_err(xml_err)? {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ReportParseError::TooDeep);
                }
                stack.push(Element {
                    name: local(e.name().as_ref()),
                    ..Element::default()
                });
            }
            Event::Empty(e) => {
                let el = Element {
                    name: local(e.name().as_ref()),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| xml_err("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content().map_err(xml_err)?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(xml_err)?);
                }
            }
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref().map_err(xml_err)? {
                        Some(c) => Cow::Owned(c.to_string()),
                        None => return Err(xml_err("bad character reference")),
                    }
                } else {
                    match r.decode().map_err(xml_err)?.as_ref() {
                        "amp" => Cow::Borrowed("&"),
                        "lt" => Cow::Borrowed("<"),
                        "gt" => Cow::Borrowed(">"),
                        "quot" => Cow::Borrowed("\""),
                        "apos" => Cow::Borrowed("'"),
                        other => return Err(xml_err(format!("unknown entity &{other};"))),
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => return Err(xml_err("document ended before the root element closed")),
            _ => {}
        }
    }
}

fn policy(element: &'static str, s: &str) -> Result<Policy, ReportParseError> {
    Policy::parse(s).ok_or_else(|| ReportParseError::BadValue {
        element,
        value: s.to_string(),
    })
}

fn opt_policy(el: &Element, name: &'static str) -> Result<Option<Policy>, ReportParseError> {
    el.text_of(name)
        .filter(|s| !s.is_empty())
        .map(|s| policy(name, &s))
        .transpose()
}

fn alignment(el: &Element, name: &'static str) -> Result<Option<Alignment>, ReportParseError> {
    el.text_of(name)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Alignment::parse(&s).ok_or(ReportParseError::BadValue {
                element: name,
                value: s,
            })
        })
        .transpose()
}

fn number<T: std::str::FromStr>(element: &'static str, s: &str) -> Result<T, ReportParseError> {
    s.trim().parse().map_err(|_| ReportParseError::BadValue {
        element,
        value: s.to_string(),
    })
}

fn aligned_result(element: &'static str, s: &str) -> Result<AlignedResult, ReportParseError> {
    match s.to_ascii_lowercase().as_str() {
        "pass" => Ok(AlignedResult::Pass),
        "fail" => Ok(AlignedResult::Fail),
        _ => Err(ReportParseError::BadValue {
            element,
            value: s.to_string(),
        }),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl AggregateReport {
    /// Read a report from its XML text.
    pub fn from_xml(xml: &str) -> Result<Self, ReportParseError> {
        let root = read_tree(xml)?;
        if root.name != "feedback" {
            return Err(ReportParseError::NotFeedback(root.name));
        }
        let md = root.req_child("report_metadata")?;
        let range = md.req_child("date_range")?;
        let metadata = ReportMetadata {
            org_name: md.req("org_name")?,
            email: md.text_of("email").unwrap_or_default(),
            extra_contact_info: non_empty(md.text_of("extra_contact_info")),
            report_id: md.req("report_id")?,
            begin: number("begin", &range.req("begin")?)?,
            end: number("end", &range.req("end")?)?,
            errors: md
                .children("error")
                .map(|e| e.text.trim().to_string())
                .collect(),
        };
        let pp = root.req_child("policy_published")?;
        let policy_published = PolicyPublished {
            domain: pp.req("domain")?,
            adkim: alignment(pp, "adkim")?,
            aspf: alignment(pp, "aspf")?,
            p: policy("p", &pp.req("p")?)?,
            sp: opt_policy(pp, "sp")?,
            np: opt_policy(pp, "np")?,
            pct: pp
                .text_of("pct")
                .filter(|s| !s.is_empty())
                .map(|s| number("pct", &s))
                .transpose()?,
            fo: non_empty(pp.text_of("fo")),
        };
        let records = root
            .children("record")
            .map(read_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AggregateReport {
            version: non_empty(root.text_of("version")),
            metadata,
            policy_published,
            records,
        })
    }
}

fn read_record(rec: &Element) -> Result<ReportRecord, ReportParseError> {
    let row = rec.req_child("row")?;
    let pe = row.req_child("policy_evaluated")?;
    let reasons = pe
        .children("reason")
        .map(|r| {
            let t = r.req("type")?;
            Ok(OverrideReason {
                kind: OverrideType::parse(&t.to_ascii_lowercase()).ok_or(
                    ReportParseError::BadValue {
                        element: "type",
                        value: t,
                    },
                )?,
                comment: non_empty(r.text_of("comment")),
            })
        })
        .collect::<Result<Vec<_>, ReportParseError>>()?;
    let ip_text = row.req("source_ip")?;
    let row = Row {
        source_ip: ip_text.parse().map_err(|_| ReportParseError::BadValue {
            element: "source_ip",
            value: ip_text.clone(),
        })?,
        count: number("count", &row.req("count")?)?,
        policy_evaluated: PolicyEvaluated {
            disposition: policy("disposition", &pe.req("disposition")?)?,
            dkim: aligned_result("dkim", &pe.req("dkim")?)?,
            spf: aligned_result("spf", &pe.req("spf")?)?,
            reasons,
        },
    };
    let ids = rec.req_child("identifiers")?;
    let identifiers = Identifiers {
        envelope_to: non_empty(ids.text_of("envelope_to")),
        envelope_from: non_empty(ids.text_of("envelope_from")),
        header_from: ids.req("header_from")?,
    };
    let (dkim, spf) = match rec.child("auth_results") {
        Some(ar) => (
            ar.children("dkim")
                .map(|d| {
                    Ok(DkimAuthResult {
                        domain: d.req("domain")?,
                        selector: non_empty(d.text_of("selector")),
                        result: ResultWord::new(&d.req("result")?),
                        human_result: non_empty(d.text_of("human_result")),
                    })
                })
                .collect::<Result<Vec<_>, ReportParseError>>()?,
            ar.children("spf")
                .map(|s| {
                    Ok(SpfAuthResult {
                        domain: s.req("domain")?,
                        scope: non_empty(s.text_of("scope")),
                        result: ResultWord::new(&s.req("result")?),
                    })
                })
                .collect::<Result<Vec<_>, ReportParseError>>()?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(ReportRecord {
        row,
        identifiers,
        dkim,
        spf,
    })
}
