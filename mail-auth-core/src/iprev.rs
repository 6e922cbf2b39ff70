//! iprev (RFC 8601 §3 and §2.7.3): forward-confirmed reverse DNS of the
//! client address.
//!
//! The check looks up the PTR records of the address, then the A (IPv4)
//! or AAAA (IPv6) records of each name found (at most
//! [`IprevConfig::max_names`]). It passes when any forward lookup holds the
//! address, fails when none does or there is no PTR record, and ends in
//! `temperror` when a lookup that could decide the result failed for now.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use postel_dns::{Answer, Query, Record, RecordType};

use crate::auth_results::MethodResult;
use crate::check::{Check, Progress};

/// How an [`IprevCheck`] works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IprevConfig {
    /// At most this many PTR names get a forward lookup (default 10).
    pub max_names: usize,
    /// The time budget from the first `progress` call; past it the check
    /// ends with `temperror`. `None`: no budget.
    pub timeout: Option<Duration>,
}

impl Default for IprevConfig {
    fn default() -> Self {
        IprevConfig {
            max_names: 10,
            timeout: Some(Duration::from_secs(20)),
        }
    }
}

/// The iprev result (RFC 8601 §2.7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IprevResult {
    /// A PTR name's forward lookup holds the address.
    Pass,
    /// No PTR record, or no forward lookup holds the address.
    Fail,
    /// A lookup failed for now.
    TempError,
    /// The reverse lookup could not be done for a permanent reason (not
    /// produced by this check; listed for completeness of the registry).
    PermError,
}

impl IprevResult {
    /// The Authentication-Results keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            IprevResult::Pass => "pass",
            IprevResult::Fail => "fail",
            IprevResult::TempError => "temperror",
            IprevResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for IprevResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of an iprev check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IprevOutput {
    /// pass, fail or temperror.
    pub result: IprevResult,
    /// The address checked.
    pub ip: IpAddr,
    /// The PTR names found (all of them, even beyond `max_names`).
    pub names: Vec<String>,
    /// The name whose forward lookup holds the address, on `pass`.
    pub confirmed: Option<String>,
    /// Why the result is not `pass`, for logs.
    pub reason: Option<String>,
}

impl IprevOutput {
    /// The result as Authentication-Results writes it:
    /// `iprev=pass policy.iprev=192.0.2.1 (mail.example.com)`.
    pub fn to_method_result(&self) -> MethodResult {
        let r = MethodResult::new("iprev", self.result.as_str());
        match &self.confirmed {
            Some(name) => r.with_property_comment("policy", "iprev", &self.ip.to_string(), name),
            None => r.with_property("policy", "iprev", &self.ip.to_string()),
        }
    }
}

/// The iprev step machine.
#[derive(Debug, Clone)]
pub struct IprevCheck {
    config: IprevConfig,
    ip: IpAddr,
    ptr: Option<Answer>,
    forward: HashMap<Query, Answer>,
    started: Option<Instant>,
    done: Option<IprevOutput>,
}

impl IprevCheck {
    /// A check of `ip`.
    pub fn new(config: IprevConfig, ip: IpAddr) -> Self {
        IprevCheck {
            config,
            ip,
            ptr: None,
            forward: HashMap::new(),
            started: None,
            done: None,
        }
    }

    fn forward_type(&self) -> RecordType {
        match self.ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        }
    }

    fn output(
        &self,
        result: IprevResult,
        names: Vec<String>,
        reason: Option<String>,
    ) -> IprevOutput {
        IprevOutput {
            result,
            ip: self.ip,
            names,
            confirmed: None,
            reason,
        }
    }

    fn evaluate(&self) -> Result<IprevOutput, Vec<Query>> {
        let Some(ptr) = &self.ptr else {
            return Err(vec![Query::reverse(self.ip)]);
        };
        if let Answer::TempFail(why) = ptr {
            return Ok(self.output(
                IprevResult::TempError,
                Vec::new(),
                Some(format!("PTR lookup failed: {why}")),
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for r in ptr.records() {
            if let Record::Ptr(name) = r {
                let n = name.trim_end_matches('.').to_ascii_lowercase();
                if !n.is_empty() && !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        if names.is_empty() {
            return Ok(self.output(IprevResult::Fail, names, Some("no PTR record".into())));
        }
        let rtype = self.forward_type();
        let mut missing = Vec::new();
        let mut temp = None;
        for name in names.iter().take(self.config.max_names) {
            let q = Query::new(name, rtype);
            match self.forward.get(&q) {
                None => missing.push(q),
                Some(Answer::TempFail(why)) => {
                    temp.get_or_insert_with(|| format!("lookup of {q} failed: {why}"));
                }
                Some(a) => {
                    if a.ips().any(|ip| ip == self.ip) {
                        let mut out = self.output(IprevResult::Pass, names.clone(), None);
                        out.confirmed = Some(name.clone());
                        return Ok(out);
                    }
                }
            }
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        Ok(match temp {
            Some(why) => self.output(IprevResult::TempError, names, Some(why)),
            None => self.output(
                IprevResult::Fail,
                names,
                Some("no PTR name resolves back to the address".into()),
            ),
        })
    }
}

impl Check for IprevCheck {
    type Output = IprevOutput;

    fn progress(&mut self, now: Instant) -> Progress<IprevOutput> {
        if let Some(done) = &self.done {
            return Progress::Done(done.clone());
        }
        let started = *self.started.get_or_insert(now);
        let out = match self.evaluate() {
            Ok(out) => out,
            Err(queries) => {
                let over = self
                    .config
                    .timeout
                    .is_some_and(|t| now.saturating_duration_since(started) > t);
                if !over {
                    return Progress::NeedAnswers(queries);
                }
                self.output(
                    IprevResult::TempError,
                    Vec::new(),
                    Some("DNS time budget exhausted".into()),
                )
            }
        };
        self.done = Some(out.clone());
        Progress::Done(out)
    }

    fn answer(&mut self, query: &Query, answer: Answer) {
        if *query == Query::reverse(self.ip) {
            self.ptr = Some(answer);
        } else if query.record_type() == self.forward_type() && self.ptr.is_some() {
            let asked = self.ptr.as_ref().is_some_and(|p| {
                p.records().iter().any(
                    |r| matches!(r, Record::Ptr(n) if Query::new(n, query.record_type()) == *query),
                )
            });
            if asked {
                self.forward.insert(query.clone(), answer);
            }
        }
    }
}
