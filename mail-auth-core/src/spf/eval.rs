//! `check_host()` of RFC 7208 §4, written as async code over answer slots so
//! that [`super::SpfCheck`] can drive it Sans-IO.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use postel_dns::{Answer, Query, Record, RecordType};

use super::macros::{MacroString, MacroValues, expand, parse_macro_string, truncate_domain};
use super::record::{Mechanism, Qualifier, SpfRecord, is_spf_record};
use super::{SpfConfig, SpfResult};
use crate::slots::Slots;

/// Why evaluation stopped early.
pub(crate) enum Abort {
    Perm(String),
    Temp(String),
}

type Res<T> = Result<T, Abort>;

/// Everything fixed for one evaluation.
pub(crate) struct Ctx {
    pub ip: IpAddr,
    pub helo: String,
    pub sender_local: String,
    pub sender_domain: String,
    pub config: SpfConfig,
    pub slots: Slots,
}

/// Counters that run across the whole evaluation, includes and redirects
/// included.
#[derive(Default)]
pub(crate) struct State {
    pub dns_mechanisms: u32,
    pub void_lookups: u32,
    validated: HashMap<String, Option<String>>,
}

/// The result of one `check_host()` level, and where a fail's explanation
/// comes from: the domain whose record matched and its `exp=`.
pub(crate) struct Level {
    pub result: SpfResult,
    pub exp: Option<(String, MacroString)>,
}

/// How a `check_host()` call was reached: the top, an include, a redirect.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Top,
    Include,
    Redirect,
}

/// RFC 7208 §4.3: a domain that can be looked up at all. Multi-label,
/// labels of 1..=63 octets, 253 in all.
pub(crate) fn is_valid_domain(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() || d.len() > 253 || !d.contains('.') {
        return false;
    }
    d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && !d.bytes().any(|b| b < b' ' || b == 0x7f)
}

impl Ctx {
    fn values<'a>(&'a self, domain: &'a str, validated: Option<&'a str>) -> MacroValues<'a> {
        MacroValues {
            sender_local: &self.sender_local,
            sender_domain: &self.sender_domain,
            domain,
            ip: self.ip,
            helo: &self.helo,
            validated_name: validated,
            receiver: &self.config.receiver,
            timestamp: self.config.now_unix,
        }
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> Res<Answer> {
        self.budget()?;
        Ok(self.slots.lookup(Query::new(name, rtype)).await)
    }

    fn budget(&self) -> Res<()> {
        if self.slots.elapsed() > self.config.time_budget {
            return Err(Abort::Temp("SPF time budget exhausted".into()));
        }
        Ok(())
    }

    fn address_type(&self) -> RecordType {
        match self.ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        }
    }

    fn in_network(&self, addr: IpAddr, v4_prefix: u8, v6_prefix: u8) -> bool {
        match (self.ip, addr) {
            (IpAddr::V4(ip), IpAddr::V4(net)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(v4_prefix)).unwrap_or(0);
                u32::from(ip) & mask == u32::from(net) & mask
            }
            (IpAddr::V6(ip), IpAddr::V6(net)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(v6_prefix))
                    .unwrap_or(0);
                u128::from(ip) & mask == u128::from(net) & mask
            }
            _ => false,
        }
    }

    fn count_void(&self, st: &mut State, answer: &Answer) -> Res<()> {
        if answer.is_void() {
            st.void_lookups += 1;
            if st.void_lookups > self.config.max_void_lookups {
                return Err(Abort::Perm(format!(
                    "more than {} void DNS lookups",
                    self.config.max_void_lookups
                )));
            }
        }
        Ok(())
    }

    /// Expand a domain-spec for `domain`, doing the `%{p}` lookups first if
    /// the string needs them.
    async fn target(&self, st: &mut State, spec: &MacroString, domain: &str) -> Res<String> {
        let validated = if spec.needs_validated_name() {
            self.validated_name(st, domain).await?
        } else {
            None
        };
        Ok(truncate_domain(expand(
            spec,
            &self.values(domain, validated.as_deref()),
        )))
    }

    /// The names of the client's PTR records whose forward lookup contains
    /// the client address (RFC 7208 §5.5), at most `max_ptr_names` tried.
    /// With `void` (the `ptr` mechanism), an empty PTR answer counts as a
    /// void lookup; the `%{p}` macro's lookups do not count.
    async fn validated_names(&self, void: Option<&mut State>) -> Res<Vec<String>> {
        self.budget()?;
        let ptr = self.slots.lookup(Query::reverse(self.ip)).await;
        if let Some(st) = void {
            self.count_void(st, &ptr)?;
        }
        let names: Vec<String> = ptr
            .records()
            .iter()
            .filter_map(|r| match r {
                Record::Ptr(n) => Some(n.clone()),
                _ => None,
            })
            .take(self.config.max_ptr_names)
            .collect();
        self.budget()?;
        let queries: Vec<Query> = names
            .iter()
            .map(|n| Query::new(n, self.address_type()))
            .collect();
        let answers = self.slots.lookup_all(&queries).await;
        Ok(names
            .into_iter()
            .zip(answers)
            .filter(|(_, a)| a.ips().any(|ip| ip == self.ip))
            .map(|(n, _)| n)
            .collect())
    }

    /// The `p` macro's value for `domain` (RFC 7208 §7.3).
    async fn validated_name(&self, st: &mut State, domain: &str) -> Res<Option<String>> {
        if let Some(v) = st.validated.get(domain) {
            return Ok(v.clone());
        }
        let names = self.validated_names(None).await?;
        let domain_l = domain.to_ascii_lowercase();
        let pick = names
            .iter()
            .find(|n| **n == domain_l)
            .or_else(|| names.iter().find(|n| is_subdomain(n, &domain_l)))
            .or_else(|| names.first())
            .cloned();
        st.validated.insert(domain.to_string(), pick.clone());
        Ok(pick)
    }
}

fn is_subdomain(name: &str, of: &str) -> bool {
    let of = of.trim_end_matches('.');
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case(of)
        || (name.len() > of.len()
            && name.as_bytes()[name.len() - of.len() - 1] == b'.'
            && name[name.len() - of.len()..].eq_ignore_ascii_case(of))
}

/// Fetch and select the SPF record of `domain` (RFC 7208 §4.4, §4.5).
async fn fetch_record(
    ctx: &Ctx,
    st: &mut State,
    domain: &str,
    via: Via,
) -> Res<Option<Arc<SpfRecord>>> {
    let answer = ctx.lookup(domain, RecordType::Txt).await?;
    match &answer {
        Answer::TempFail(why) => {
            return Err(Abort::Temp(format!("DNS error looking up {domain}: {why}")));
        }
        Answer::NxDomain | Answer::NoData => {
            if via != Via::Top {
                ctx.count_void(st, &answer)?;
            }
            return Ok(None);
        }
        Answer::Records(_) => {}
    }
    let mut found = answer.txt().filter(|t| is_spf_record(t));
    let Some(text) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(Abort::Perm(format!(
            "{domain} has more than one SPF record"
        )));
    }
    if let Some(cache) = &ctx.config.record_cache
        && let Some(record) = cache.get(text)
    {
        return Ok(Some(record));
    }
    let record = SpfRecord::parse(text)
        .map(Arc::new)
        .map_err(|e| Abort::Perm(format!("SPF record of {domain}: {e}")))?;
    if let Some(cache) = &ctx.config.record_cache {
        cache.insert(text, Arc::clone(&record));
    }
    Ok(Some(record))
}

/// `check_host()` for one domain.
pub(crate) fn check_host<'a>(
    ctx: &'a Ctx,
    st: &'a mut State,
    domain: String,
    via: Via,
) -> Pin<Box<dyn Future<Output = Res<Level>> + Send + 'a>> {
    Box::pin(async move {
        if !is_valid_domain(&domain) {
            return Ok(Level {
                result: SpfResult::None,
                exp: None,
            });
        }
        let Some(record) = fetch_record(ctx, st, &domain, via).await? else {
            return Ok(Level {
                result: SpfResult::None,
                exp: None,
            });
        };
        for directive in &record.directives {
            if directive.mechanism.does_dns() {
                st.dns_mechanisms += 1;
                if st.dns_mechanisms > ctx.config.max_dns_mechanisms {
                    return Err(Abort::Perm(format!(
                        "more than {} DNS-querying mechanisms",
                        ctx.config.max_dns_mechanisms
                    )));
                }
            }
            if matches(ctx, st, &directive.mechanism, &domain).await? {
                let result = match directive.qualifier {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Fail => SpfResult::Fail,
                    Qualifier::SoftFail => SpfResult::SoftFail,
                    Qualifier::Neutral => SpfResult::Neutral,
                };
                let exp = match (result, &record.exp) {
                    (SpfResult::Fail, Some(e)) => Some((domain.clone(), e.clone())),
                    _ => None,
                };
                return Ok(Level { result, exp });
            }
        }
        if let Some(redirect) = &record.redirect {
            st.dns_mechanisms += 1;
            if st.dns_mechanisms > ctx.config.max_dns_mechanisms {
                return Err(Abort::Perm(format!(
                    "more than {} DNS-querying mechanisms",
                    ctx.config.max_dns_mechanisms
                )));
            }
            let target = ctx.target(st, redirect, &domain).await?;
            let level = check_host(ctx, st, target.clone(), Via::Redirect).await?;
            if level.result == SpfResult::None {
                return Err(Abort::Perm(format!(
                    "redirect target {target} has no SPF record"
                )));
            }
            return Ok(level);
        }
        Ok(Level {
            result: SpfResult::Neutral,
            exp: None,
        })
    })
}

async fn matches(ctx: &Ctx, st: &mut State, mechanism: &Mechanism, domain: &str) -> Res<bool> {
    match mechanism {
        Mechanism::All => Ok(true),
        Mechanism::Ip4 { addr, prefix } => Ok(ctx.in_network(IpAddr::V4(*addr), *prefix, 0)),
        Mechanism::Ip6 { addr, prefix } => Ok(ctx.in_network(IpAddr::V6(*addr), 0, *prefix)),
        Mechanism::Include(spec) => {
            let target = ctx.target(st, spec, domain).await?;
            let level = check_host(ctx, st, target.clone(), Via::Include).await?;
            match level.result {
                SpfResult::Pass => Ok(true),
                SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                SpfResult::None => Err(Abort::Perm(format!(
                    "included domain {target} has no SPF record"
                ))),
                SpfResult::TempError | SpfResult::PermError => Ok(false),
            }
        }
        Mechanism::A {
            domain: spec,
            v4_prefix,
            v6_prefix,
        } => {
            let target = match spec {
                Some(s) => ctx.target(st, s, domain).await?,
                None => domain.to_string(),
            };
            if !is_valid_domain(&target) {
                return Ok(false);
            }
            let answer = ctx.lookup(&target, ctx.address_type()).await?;
            if let Answer::TempFail(why) = &answer {
                return Err(Abort::Temp(format!("DNS error looking up {target}: {why}")));
            }
            ctx.count_void(st, &answer)?;
            Ok(answer
                .ips()
                .any(|ip| ctx.in_network(ip, *v4_prefix, *v6_prefix)))
        }
        Mechanism::Mx {
            domain: spec,
            v4_prefix,
            v6_prefix,
        } => {
            let target = match spec {
                Some(s) => ctx.target(st, s, domain).await?,
                None => domain.to_string(),
            };
            if !is_valid_domain(&target) {
                return Ok(false);
            }
            let answer = ctx.lookup(&target, RecordType::Mx).await?;
            if let Answer::TempFail(why) = &answer {
                return Err(Abort::Temp(format!("DNS error looking up {target}: {why}")));
            }
            ctx.count_void(st, &answer)?;
            let hosts: Vec<&str> = answer
                .records()
                .iter()
                .filter_map(|r| match r {
                    Record::Mx { exchange, .. } => Some(exchange.as_str()),
                    _ => None,
                })
                .collect();
            if hosts.len() > ctx.config.max_mx_names {
                return Err(Abort::Perm(format!(
                    "{target} has more than {} MX records",
                    ctx.config.max_mx_names
                )));
            }
            ctx.budget()?;
            let queries: Vec<Query> = hosts
                .iter()
                .filter(|h| is_valid_domain(h))
                .map(|h| Query::new(h, ctx.address_type()))
                .collect();
            let answers = ctx.slots.lookup_all(&queries).await;
            for answer in &answers {
                if let Answer::TempFail(why) = answer {
                    return Err(Abort::Temp(format!(
                        "DNS error on an MX host of {target}: {why}"
                    )));
                }
            }
            Ok(answers
                .iter()
                .flat_map(|a| a.ips())
                .any(|ip| ctx.in_network(ip, *v4_prefix, *v6_prefix)))
        }
        Mechanism::Ptr(spec) => {
            let target = match spec {
                Some(s) => ctx.target(st, s, domain).await?,
                None => domain.to_string(),
            };
            let names = ctx.validated_names(Some(st)).await?;
            Ok(names.iter().any(|n| is_subdomain(n, &target)))
        }
        Mechanism::Exists(spec) => {
            let target = ctx.target(st, spec, domain).await?;
            if !is_valid_domain(&target) {
                return Ok(false);
            }
            let answer = ctx.lookup(&target, RecordType::A).await?;
            if let Answer::TempFail(why) = &answer {
                return Err(Abort::Temp(format!("DNS error looking up {target}: {why}")));
            }
            ctx.count_void(st, &answer)?;
            Ok(!answer.records().is_empty())
        }
    }
}

/// The explanation of a `fail` (RFC 7208 §6.2): the `exp=` text when it can
/// be fetched and expanded, the configured default otherwise.
pub(crate) async fn explanation(
    ctx: &Ctx,
    st: &mut State,
    exp: Option<(String, MacroString)>,
    top_domain: &str,
) -> String {
    if let Some((domain, spec)) = exp
        && let Some(text) = fetch_explanation(ctx, st, &spec, &domain).await
    {
        return text;
    }
    match parse_macro_string(&ctx.config.default_explanation, true) {
        Ok(ms) => expand(&ms, &ctx.values(top_domain, None)),
        Err(_) => ctx.config.default_explanation.clone(),
    }
}

async fn fetch_explanation(
    ctx: &Ctx,
    st: &mut State,
    spec: &MacroString,
    domain: &str,
) -> Option<String> {
    let target = ctx.target(st, spec, domain).await.ok()?;
    if !is_valid_domain(&target) {
        return None;
    }
    let answer = ctx.lookup(&target, RecordType::Txt).await.ok()?;
    let mut texts = answer.txt();
    let text = texts.next()?;
    if texts.next().is_some() {
        return None;
    }
    let text = std::str::from_utf8(text).ok()?;
    let ms = parse_macro_string(text, true).ok()?;
    let validated = if ms.needs_validated_name() {
        ctx.validated_name(st, domain).await.ok()?
    } else {
        None
    };
    Some(expand(&ms, &ctx.values(domain, validated.as_deref())))
}
