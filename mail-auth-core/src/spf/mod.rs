//! SPF (RFC 7208): record parsing, macro expansion and the evaluation
//! machine.
//!
//! [`SpfCheck`] is a Sans-IO [`Check`]: it asks for DNS answers and ends
//! with an [`SpfOutput`]. The limits of RFC 7208 §4.6.4 (10 DNS-querying
//! terms, 2 void lookups, 10 MX and PTR names) and a time budget measured on
//! the caller's clock are enforced inside; each is a field of [`SpfConfig`].
//!
//! ```
//! use postel_auth::spf::{SpfCheck, SpfConfig, SpfResult};
//! use postel_auth::{Answer, Check, Progress, Record};
//! use std::time::Instant;
//!
//! let mut check = SpfCheck::mail_from(
//!     "192.0.2.10".parse().unwrap(),
//!     "mail.example.com",
//!     "alice@example.com",
//!     SpfConfig::default(),
//! );
//! let output = loop {
//!     match check.progress(Instant::now()) {
//!         Progress::Done(output) => break output,
//!         Progress::NeedAnswers(queries) => {
//!             for q in queries {
//!                 // Here the caller would ask its resolver.
//!                 let text = b"v=spf1 ip4:192.0.2.0/24 -all".to_vec();
//!                 check.answer(&q, Answer::Records(vec![Record::Txt(text)]));
//!             }
//!         }
//!     }
//! };
//! assert_eq!(output.result, SpfResult::Pass);
//! ```

mod cache;
mod eval;
pub mod macros;
pub mod record;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use postel_dns::{Answer, Query};
use thiserror::Error;

use crate::check::{Check, Progress};
use crate::slots::Slots;

pub use cache::SpfRecordCache;
pub use macros::{Macro, MacroLetter, MacroPart, MacroString, parse_macro_string};
pub use record::{Directive, Mechanism, Qualifier, SpfRecord, is_spf_record};

/// The SPF results of RFC 7208 §2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No SPF record, or no valid domain to check.
    None,
    /// The record says nothing definite about this client.
    Neutral,
    /// The client is authorized.
    Pass,
    /// The client is not authorized.
    Fail,
    /// The client is probably not authorized.
    SoftFail,
    /// A transient DNS error; trying later may give a definite answer.
    TempError,
    /// The published records are broken; a human must fix them.
    PermError,
}

impl SpfResult {
    /// The result's name as written in headers (`pass`, `softfail`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a record's text is not valid SPF (each is a `permerror`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpfSyntaxError {
    /// The text does not start with `v=spf1`.
    #[error("not an SPF record (no v=spf1)")]
    NotSpf,
    /// The record holds bytes outside ASCII.
    #[error("record has non-ASCII bytes")]
    NonAscii,
    /// A term is malformed.
    #[error("malformed term {0:?}")]
    BadTerm(String),
    /// A mechanism name is not one of RFC 7208's.
    #[error("unknown mechanism {0:?}")]
    UnknownMechanism(String),
    /// `redirect=` or `exp=` appears twice.
    #[error("modifier {0}= appears twice")]
    DuplicateModifier(&'static str),
    /// A macro-string is malformed.
    #[error("malformed macro string {0:?}")]
    BadMacro(String),
    /// A domain-spec does not end in a macro or a valid top label.
    #[error("malformed domain-spec {0:?}")]
    BadDomainSpec(String),
}

/// Which identity is checked (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The MAIL FROM domain (or the HELO domain for a null reverse-path).
    MailFrom,
    /// The HELO/EHLO domain.
    Helo,
}

/// Limits and local values for SPF evaluation. The defaults are RFC 7208's.
#[derive(Debug, Clone)]
pub struct SpfConfig {
    /// DNS-querying terms (include, a, mx, ptr, exists, redirect) allowed
    /// in one evaluation; beyond is `permerror`. RFC 7208: 10.
    pub max_dns_mechanisms: u32,
    /// Lookups answered NXDOMAIN or NODATA allowed; beyond is `permerror`.
    /// RFC 7208: 2.
    pub max_void_lookups: u32,
    /// MX names one `mx` mechanism may have; beyond is `permerror`. RFC: 10.
    pub max_mx_names: usize,
    /// PTR names tried by `ptr` and `%{p}`; the rest are ignored. RFC: 10.
    pub max_ptr_names: usize,
    /// Time allowed from the first `progress` call, by the caller's clock;
    /// beyond is `temperror`. RFC 7208 §4.6.4 suggests at least 20 seconds.
    pub time_budget: Duration,
    /// The receiving host's domain, for `%{r}` in explanations.
    pub receiver: String,
    /// The current Unix time, for `%{t}` in explanations.
    pub now_unix: Option<u64>,
    /// The explanation of a `fail` when the record has no usable `exp=`;
    /// a macro-string (explain form).
    pub default_explanation: String,
    /// Parsed records to reuse across checks (`None`: parse every time).
    pub record_cache: Option<SpfRecordCache>,
}

impl Default for SpfConfig {
    fn default() -> Self {
        SpfConfig {
            max_dns_mechanisms: 10,
            max_void_lookups: 2,
            max_mx_names: 10,
            max_ptr_names: 10,
            time_budget: Duration::from_secs(20),
            receiver: "unknown".into(),
            now_unix: None,
            default_explanation: "%{c} is not an authorized sender for %{d}".into(),
            record_cache: None,
        }
    }
}

/// The outcome of an SPF check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutput {
    /// The result.
    pub result: SpfResult,
    /// Which identity was checked.
    pub identity: Identity,
    /// The domain checked (the MAIL FROM domain, or the HELO name).
    pub domain: String,
    /// The sender as used for macros (`local@domain`).
    pub sender: String,
    /// For `fail`: the explanation (from `exp=` or the default).
    pub explanation: Option<String>,
    /// For `permerror` and `temperror`: what went wrong.
    pub problem: Option<String>,
    /// DNS-querying terms evaluated.
    pub dns_mechanisms: u32,
    /// Void lookups seen.
    pub void_lookups: u32,
}

/// A Sans-IO SPF evaluation. See the [module](self) example.
pub struct SpfCheck {
    slots: Slots,
    future: Pin<Box<dyn Future<Output = SpfOutput> + Send>>,
    done: Option<SpfOutput>,
}

impl fmt::Debug for SpfCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpfCheck")
            .field("done", &self.done)
            .finish()
    }
}

impl SpfCheck {
    /// Check the MAIL FROM identity. An empty `mail_from` (the null
    /// reverse-path) checks `postmaster@helo` instead, as RFC 7208 §2.4 says.
    pub fn mail_from(ip: IpAddr, helo: &str, mail_from: &str, config: SpfConfig) -> Self {
        if mail_from.is_empty() {
            return Self::start(ip, helo, "postmaster", helo, Identity::MailFrom, config);
        }
        let (local, domain) = match mail_from.rsplit_once('@') {
            Some((l, d)) => (if l.is_empty() { "postmaster" } else { l }, d),
            None => ("postmaster", mail_from),
        };
        Self::start(ip, helo, local, domain, Identity::MailFrom, config)
    }

    /// Check the HELO identity.
    pub fn helo(ip: IpAddr, helo: &str, config: SpfConfig) -> Self {
        Self::start(ip, helo, "postmaster", helo, Identity::Helo, config)
    }

    fn start(
        ip: IpAddr,
        helo: &str,
        local: &str,
        domain: &str,
        identity: Identity,
        config: SpfConfig,
    ) -> Self {
        let slots = Slots::default();
        let ctx = eval::Ctx {
            // An IPv4-mapped IPv6 client is an IPv4 client.
            ip: ip.to_canonical(),
            helo: helo.to_string(),
            sender_local: local.to_string(),
            sender_domain: domain.to_string(),
            config,
            slots: slots.clone(),
        };
        let future = Box::pin(async move {
            let mut st = eval::State::default();
            let domain = ctx.sender_domain.clone();
            let level = eval::check_host(&ctx, &mut st, domain.clone(), eval::Via::Top).await;
            let (result, explanation, problem) = match level {
                Ok(level) if level.result == SpfResult::Fail => {
                    let text = eval::explanation(&ctx, &mut st, level.exp, &domain).await;
                    (SpfResult::Fail, Some(text), None)
                }
                Ok(level) => (level.result, None, None),
                Err(eval::Abort::Perm(why)) => (SpfResult::PermError, None, Some(why)),
                Err(eval::Abort::Temp(why)) => (SpfResult::TempError, None, Some(why)),
            };
            SpfOutput {
                result,
                identity,
                sender: format!("{}@{}", ctx.sender_local, ctx.sender_domain),
                domain,
                explanation,
                problem,
                dns_mechanisms: st.dns_mechanisms,
                void_lookups: st.void_lookups,
            }
        });
        SpfCheck {
            slots,
            future,
            done: None,
        }
    }
}

impl Check for SpfCheck {
    type Output = SpfOutput;

    fn progress(&mut self, now: Instant) -> Progress<SpfOutput> {
        if let Some(done) = &self.done {
            return Progress::Done(done.clone());
        }
        match self.slots.poll(&mut self.future, now) {
            Progress::Done(out) => {
                self.done = Some(out.clone());
                Progress::Done(out)
            }
            Progress::NeedAnswers(q) => Progress::NeedAnswers(q),
        }
    }

    fn answer(&mut self, query: &Query, answer: Answer) {
        self.slots.fill(query, answer);
    }
}
