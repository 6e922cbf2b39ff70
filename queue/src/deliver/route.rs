//! Destination resolution: which transport and next hop a recipient domain
//! goes to (a transport table with Postfix's syntax), and the addresses to
//! try for an SMTP next hop (MX records, RFC 5321 §5.1).
//!
//! | entry | meaning |
//! |---|---|
//! | `[host]:port`, `[host]` | this host (or IP literal), no MX lookup |
//! | `host:port`, `host` | the MX hosts of `host`, on `port` (25) |
//! | `smtp:[127.0.0.1]:2525` | a transport-table entry: SMTP to a fixed host |
//! | `smtp:` | SMTP to the recipient domain's MX hosts |
//! | `lmtp:127.0.0.1:2424`, `lmtp:inet:host:port` | LMTP over TCP (no MX lookup; port 24) |
//! | `lmtp:unix:/path` | LMTP over a Unix socket |
//!
//! MX resolution sorts the exchangers by preference, shuffles those of
//! equal preference with a [`RandomSource`] the caller gives (so tests are
//! deterministic), falls back to the domain's own addresses when it has no
//! MX records (the implicit MX), fails at once for a null MX (RFC 7505) or
//! a domain that does not exist, and tries each exchanger's A and then AAAA
//! addresses in turn.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use postel_dns::{Answer, Query, Record, RecordType, Resolver};

/// The SMTP port.
pub const SMTP_PORT: u16 = 25;
/// The LMTP port (RFC 2033 asks for another port than 25; 24 is the usual one).
pub const LMTP_PORT: u16 = 24;

/// A source of random numbers: the caller's, so that MX shuffling is
/// reproducible in tests. [`SplitMix64`] is a small seeded one.
pub trait RandomSource {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// A number in `0..n` (`n > 0`), by multiply-shift (the bias is
    /// negligible for the small `n` of MX lists).
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        (((self.next_u64() as u128) * (n as u128)) >> 64) as usize
    }
}

/// SplitMix64 (Steele, Lea and Flood): a tiny seeded generator, good enough
/// to spread load over equal MX hosts. Not for anything secret.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A host: a name to look up, or an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, lower case, without the trailing dot.
    Name(String),
    /// An IP address (an address literal).
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// An SMTP next hop.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmtpNexthop {
    /// The host (or the domain whose MX hosts are meant).
    pub host: Host,
    /// The TCP port.
    pub port: u16,
    /// Look up MX records of `host` (`host:port`); false for `[host]:port`
    /// and for addresses.
    pub mx: bool,
}

impl fmt::Display for SmtpNexthop {
    /// Postfix's form: `[host]:port` without MX lookup, `host:port` with.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mx {
            write!(f, "{}:{}", self.host, self.port)
        } else {
            write!(f, "[{}]:{}", self.host, self.port)
        }
    }
}

/// Where an LMTP client connects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LmtpTarget {
    /// A TCP host and port (the host's A and AAAA records; no MX lookup).
    Tcp {
        /// The host.
        host: Host,
        /// The port.
        port: u16,
    },
    /// A Unix-domain socket.
    Unix(PathBuf),
}

impl fmt::Display for LmtpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LmtpTarget::Tcp { host, port } => write!(f, "inet:[{host}]:{port}"),
            LmtpTarget::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A transport-table entry: a transport and its next hop.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// SMTP to a fixed next hop, or (`None`, written `smtp:`) to the
    /// recipient domain's MX hosts.
    Smtp(Option<SmtpNexthop>),
    /// LMTP.
    Lmtp(LmtpTarget),
}

/// Where the recipients of one domain go: the result of
/// [`TransportTable::route`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    /// SMTP to this next hop.
    Smtp(SmtpNexthop),
    /// LMTP to this target.
    Lmtp(LmtpTarget),
}

impl Route {
    /// The destination as the scheduler and connection reuse see it:
    /// `smtp:[127.0.0.1]:2525`, `smtp:example.com:25`, `lmtp:unix:/path`.
    /// Recipients of different domains with the same route share it.
    pub fn key(&self) -> String {
        match self {
            Route::Smtp(n) => format!("smtp:{n}"),
            Route::Lmtp(t) => format!("lmtp:{t}"),
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A next hop or transport entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing where a host was expected.
    #[error("empty host in {0:?}")]
    EmptyHost(String),
    /// A `[` without its `]`, or text between `]` and `:port`.
    #[error("unbalanced brackets in {0:?}")]
    Brackets(String),
    /// A host name with characters no host name has.
    #[error("bad host name {0:?}")]
    BadHost(String),
    /// A port that is not a number in 1..=65535.
    #[error("bad port in {0:?}")]
    BadPort(String),
    /// A transport other than `smtp` and `lmtp`.
    #[error("unknown transport in {0:?} (expected smtp: or lmtp:)")]
    UnknownTransport(String),
    /// `lmtp:` without a host or socket.
    #[error("lmtp needs a host or unix:/path in {0:?}")]
    LmtpWithoutTarget(String),
    /// A Unix socket path that is not absolute.
    #[error("the socket path in {0:?} must be absolute")]
    RelativeSocket(String),
}

fn parse_port(text: &str, whole: &str) -> Result<u16, ParseError> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(ParseError::BadPort(whole.to_owned())),
    }
}

fn parse_host(text: &str, whole: &str) -> Result<Host, ParseError> {
    if text.is_empty() {
        return Err(ParseError::EmptyHost(whole.to_owned()));
    }
    let literal = text
        .strip_prefix("IPv6:")
        .or_else(|| text.strip_prefix("ipv6:"))
        .unwrap_or(text);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    // A host name never has the form of an address (RFC 1123 §2.1):
    // `127.0.0.1.` would otherwise become a name that writes back as an
    // address.
    let ok = name.parse::<IpAddr>().is_err()
        && !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !ok {
        return Err(ParseError::BadHost(whole.to_owned()));
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

/// Splits `[host]:port`, `[host]`, `host:port` or `host` into the host
/// text, whether it was bracketed, and the port text.
fn split_host_port(text: &str) -> Result<(&str, bool, Option<&str>), ParseError> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(ParseError::Brackets(text.to_owned()));
        };
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(ParseError::Brackets(text.to_owned())),
            },
        };
        return Ok((host, true, port));
    }
    if text.contains(']') {
        return Err(ParseError::Brackets(text.to_owned()));
    }
    // A bare IPv6 address has several colons and no port.
    if text.matches(':').count() > 1 {
        return Ok((text, false, None));
    }
    match text.split_once(':') {
        Some((h, p)) => Ok((h, false, Some(p))),
        None => Ok((text, false, None)),
    }
}

impl SmtpNexthop {
    /// Parses Postfix's next-hop syntax: `[host]:port` and `[host]` (no MX
    /// lookup), `host:port` and `host` (MX lookup of `host`). The port
    /// defaults to 25. An IP address never gets an MX lookup.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.trim();
        let (host, bracketed, port) = split_host_port(text)?;
        let host = parse_host(host, text)?;
        let port = match port {
            Some(p) => parse_port(p, text)?,
            None => SMTP_PORT,
        };
        let mx = !bracketed && matches!(host, Host::Name(_));
        Ok(SmtpNexthop { host, port, mx })
    }

    /// The next hop for mail to `domain` without a transport entry: the
    /// domain's MX hosts on port 25, or the address of an address literal
    /// (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). `None` for an empty or
    /// malformed domain.
    pub fn for_domain(domain: &str) -> Option<Self> {
        if domain.starts_with('[') {
            let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
            return match parse_host(inner, domain).ok()? {
                Host::Ip(ip) => Some(SmtpNexthop {
                    host: Host::Ip(ip),
                    port: SMTP_PORT,
                    mx: false,
                }),
                Host::Name(_) => None,
            };
        }
        match parse_host(domain, domain).ok()? {
            Host::Name(n) => Some(SmtpNexthop {
                host: Host::Name(n),
                port: SMTP_PORT,
                mx: true,
            }),
            // A bare address as a domain is not valid mail syntax.
            Host::Ip(_) => None,
        }
    }
}

impl Transport {
    /// Parses a transport-table value: `smtp:`, `smtp:NEXTHOP`,
    /// `lmtp:unix:/path`, `lmtp:inet:host:port`, `lmtp:host:port`,
    /// `lmtp:[host]:port` (the LMTP port defaults to 24).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.trim();
        let Some((transport, nexthop)) = text.split_once(':') else {
            return Err(ParseError::UnknownTransport(text.to_owned()));
        };
        match transport.to_ascii_lowercase().as_str() {
            "smtp" | "relay" => {
                if nexthop.trim().is_empty() {
                    Ok(Transport::Smtp(None))
                } else {
                    Ok(Transport::Smtp(Some(SmtpNexthop::parse(nexthop)?)))
                }
            }
            "lmtp" => {
                let nexthop = nexthop.trim();
                if nexthop.is_empty() {
                    return Err(ParseError::LmtpWithoutTarget(text.to_owned()));
                }
                if let Some(path) = nexthop.strip_prefix("unix:") {
                    if !path.starts_with('/') {
                        return Err(ParseError::RelativeSocket(text.to_owned()));
                    }
                    return Ok(Transport::Lmtp(LmtpTarget::Unix(PathBuf::from(path))));
                }
                let inet = nexthop.strip_prefix("inet:").unwrap_or(nexthop);
                let (host, _, port) = split_host_port(inet)?;
                let host = parse_host(host, text)?;
                let port = match port {
                    Some(p) => parse_port(p, text)?,
                    None => LMTP_PORT,
                };
                Ok(Transport::Lmtp(LmtpTarget::Tcp { host, port }))
            }
            _ => Err(ParseError::UnknownTransport(text.to_owned())),
        }
    }
}

/// The transport table: per-domain entries over a default, with Postfix's
/// lookup order. For a recipient domain `a.example.com` the entries tried
/// are `a.example.com`, `.example.com`, `.com` (a leading dot matches
/// subdomains only), then `*`; without a match the mail goes to the
/// relayhost if one is set, else to the domain's MX hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportTable {
    relayhost: Option<SmtpNexthop>,
    entries: HashMap<String, Transport>,
}

impl TransportTable {
    /// An empty table: every domain goes to its MX hosts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends everything without an entry to `relayhost` (Postfix's
    /// `relayhost`).
    pub fn with_relayhost(relayhost: SmtpNexthop) -> Self {
        TransportTable {
            relayhost: Some(relayhost),
            entries: HashMap::new(),
        }
    }

    /// The relayhost, if set.
    pub fn relayhost(&self) -> Option<&SmtpNexthop> {
        self.relayhost.as_ref()
    }

    /// Adds (or replaces) the entry for `pattern`: a domain, `.domain` for
    /// its subdomains, or `*`.
    pub fn insert(&mut self, pattern: &str, transport: Transport) -> &mut Self {
        let key = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
        self.entries.insert(key, transport);
        self
    }

    /// Parses `transport` ([`Transport::parse`]) and adds it for `pattern`.
    pub fn insert_str(&mut self, pattern: &str, transport: &str) -> Result<&mut Self, ParseError> {
        let t = Transport::parse(transport)?;
        Ok(self.insert(pattern, t))
    }

    fn entry_for(&self, domain: &str) -> Option<&Transport> {
        if let Some(t) = self.entries.get(domain) {
            return Some(t);
        }
        let mut rest = domain;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(t) = self.entries.get(&format!(".{parent}")) {
                return Some(t);
            }
            rest = parent;
        }
        self.entries.get("*")
    }

    /// The route for mail to `domain` (any case). `None` when the domain
    /// is empty or malformed and no entry or relayhost covers it.
    pub fn route(&self, domain: &str) -> Option<Route> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        match self.entry_for(&domain) {
            Some(Transport::Lmtp(t)) => Some(Route::Lmtp(t.clone())),
            Some(Transport::Smtp(Some(n))) => Some(Route::Smtp(n.clone())),
            Some(Transport::Smtp(None)) => SmtpNexthop::for_domain(&domain).map(Route::Smtp),
            None => match &self.relayhost {
                Some(r) => Some(Route::Smtp(r.clone())),
                None => SmtpNexthop::for_domain(&domain).map(Route::Smtp),
            },
        }
    }
}

/// One address to connect to, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The host name the address belongs to (the MX exchanger, the domain
    /// for an implicit MX, the relay host), or the address itself: the
    /// name a certificate is checked against.
    pub host: String,
    /// The socket address.
    pub addr: SocketAddr,
    /// The MX preference, when found through an MX record.
    pub preference: Option<u16>,
}

impl fmt::Display for Target {
    /// `host[addr]:port`, as Postfix logs it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]:{}", self.host, self.addr.ip(), self.addr.port())
    }
}

/// Why no address could be found for a next hop. [`is_permanent`]
/// tells whether the recipients fail or wait.
///
/// [`is_permanent`]: RouteError::is_permanent
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    #[error("{domain} does not accept mail (null MX)")]
    NullMx {
        /// The domain.
        domain: String,
    },
    /// The domain (or relay host) does not exist (NXDOMAIN).
    #[error("host or domain name not found: {name}")]
    NoSuchDomain {
        /// The name.
        name: String,
    },
    /// The name exists but has no usable address (and, for a domain, no
    /// MX), or none of its MX hosts has one.
    #[error("no address found for {name}")]
    NoAddress {
        /// The name.
        name: String,
    },
    /// A lookup failed for now (timeout, SERVFAIL).
    #[error("DNS lookup of {query} failed: {reason}")]
    TempFail {
        /// The query, e.g. `example.com MX`.
        query: String,
        /// What the resolver said.
        reason: String,
    },
    /// The recipient domain is empty or malformed and nothing routes it.
    #[error("no route to recipient domain {domain:?}")]
    BadDomain {
        /// The domain as given.
        domain: String,
    },
}

impl RouteError {
    /// True when retrying cannot help: the recipients fail.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, RouteError::TempFail { .. })
    }

    /// The reply recorded for the recipients: basic code, enhanced code
    /// (RFC 3463, RFC 7505 §4.2 for the null MX) and text.
    pub fn reply(&self) -> String {
        let (code, status) = match self {
            RouteError::NullMx { .. } => ("556", "5.1.10"),
            RouteError::NoSuchDomain { .. } => ("550", "5.1.2"),
            RouteError::NoAddress { .. } => ("550", "5.4.4"),
            RouteError::TempFail { .. } => ("451", "4.4.3"),
            RouteError::BadDomain { .. } => ("553", "5.1.2"),
        };
        format!("{code} {status} {self}")
    }
}

/// Limits of resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolveOptions {
    /// The most MX hosts considered (Postfix looks at all; this bounds a
    /// hostile answer).
    pub max_mx_hosts: usize,
    /// The most addresses returned (Postfix's `smtp_mx_address_limit`
    /// is 5; 10 here).
    pub max_addresses: usize,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            max_mx_hosts: 20,
            max_addresses: 10,
        }
    }
}

/// What the address lookup of one name found.
enum Addresses {
    Found(Vec<IpAddr>),
    NxDomain,
    NoData,
    TempFail(String, String),
}

/// A then AAAA records of `name`.
async fn addresses<R: Resolver + ?Sized>(resolver: &R, name: &str) -> Addresses {
    let mut found = Vec::new();
    let mut temp = None;
    let mut nxdomain = true;
    for rtype in [RecordType::A, RecordType::Aaaa] {
        let query = Query::new(name, rtype);
        match resolver.lookup(&query).await {
            Answer::Records(records) => {
                nxdomain = false;
                found.extend(records.iter().filter_map(Record::ip));
            }
            Answer::NoData => nxdomain = false,
            Answer::NxDomain => {}
            Answer::TempFail(why) => {
                nxdomain = false;
                temp.get_or_insert((query.to_string(), why));
            }
        }
    }
    if !found.is_empty() {
        Addresses::Found(found)
    } else if let Some((q, why)) = temp {
        Addresses::TempFail(q, why)
    } else if nxdomain {
        Addresses::NxDomain
    } else {
        Addresses::NoData
    }
}

/// The addresses of a host (A, then AAAA), for a fixed next hop such as a
/// bracketed relay host or an LMTP server.
pub async fn resolve_host<R: Resolver + ?Sized>(
    resolver: &R,
    host: &Host,
    port: u16,
) -> Result<Vec<Target>, RouteError> {
    let name = match host {
        Host::Ip(ip) => {
            return Ok(vec![Target {
                host: ip.to_string(),
                addr: SocketAddr::new(*ip, port),
                preference: None,
            }]);
        }
        Host::Name(n) => n,
    };
    match addresses(resolver, name).await {
        Addresses::Found(ips) => Ok(ips
            .into_iter()
            .map(|ip| Target {
                host: name.clone(),
                addr: SocketAddr::new(ip, port),
                preference: None,
            })
            .collect()),
        Addresses::NxDomain => Err(RouteError::NoSuchDomain { name: name.clone() }),
        Addresses::NoData => Err(RouteError::NoAddress { name: name.clone() }),
        Addresses::TempFail(query, reason) => Err(RouteError::TempFail { query, reason }),
    }
}

/// Sorts MX records by preference and shuffles each run of equal
/// preference with `rng` (RFC 5321 §5.1: "randomize them to spread the load").
pub fn order_mx(mut mx: Vec<(u16, String)>, rng: &mut dyn RandomSource) -> Vec<(u16, String)> {
    mx.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut start = 0;
    while start < mx.len() {
        let pref = mx[start].0;
        let end = mx[start..]
            .iter()
            .position(|(p, _)| *p != pref)
            .map_or(mx.len(), |n| start + n);
        // Fisher-Yates on mx[start..end].
        for i in (start + 1..end).rev() {
            let j = start + rng.below(i - start + 1);
            mx.swap(i, j);
        }
        start = end;
    }
    mx
}

/// The addresses to try for an SMTP next hop, in order: for `host:port`
/// the MX hosts (by preference, equal ones shuffled by `rng`), each with
/// its A then AAAA addresses; the domain's own addresses when it has no MX
/// records; for `[host]:port` and addresses, the host itself.
pub async fn resolve_smtp<R: Resolver + ?Sized>(
    resolver: &R,
    nexthop: &SmtpNexthop,
    rng: &mut (dyn RandomSource + Send),
    options: &ResolveOptions,
) -> Result<Vec<Target>, RouteError> {
    let domain = match (&nexthop.host, nexthop.mx) {
        (Host::Name(n), true) => n,
        (host, _) => {
            let mut targets = resolve_host(resolver, host, nexthop.port).await?;
            targets.truncate(options.max_addresses.max(1));
            return Ok(targets);
        }
    };
    let query = Query::new(domain, RecordType::Mx);
    let records = match resolver.lookup(&query).await {
        Answer::Records(records) => records,
        Answer::NoData => {
            // Implicit MX (RFC 5321 §5.1): the domain itself.
            let mut targets = resolve_host(resolver, &nexthop.host, nexthop.port).await?;
            targets.truncate(options.max_addresses.max(1));
            return Ok(targets);
        }
        Answer::NxDomain => {
            return Err(RouteError::NoSuchDomain {
                name: domain.clone(),
            });
        }
        Answer::TempFail(reason) => {
            return Err(RouteError::TempFail {
                query: query.to_string(),
                reason,
            });
        }
    };
    let mx: Vec<(u16, String)> = records
        .into_iter()
        .filter_map(|r| match r.normalized() {
            Record::Mx {
                preference,
                exchange,
            } => Some((preference, exchange)),
            _ => None,
        })
        .collect();
    let (null, real): (Vec<_>, Vec<_>) = mx.into_iter().partition(|(_, e)| e.is_empty());
    if real.is_empty() {
        if !null.is_empty() {
            return Err(RouteError::NullMx {
                domain: domain.clone(),
            });
        }
        // Records of other types only: as good as no MX.
        let mut targets = resolve_host(resolver, &nexthop.host, nexthop.port).await?;
        targets.truncate(options.max_addresses.max(1));
        return Ok(targets);
    }
    let mut ordered = order_mx(real, rng);
    ordered.truncate(options.max_mx_hosts.max(1));
    let mut targets = Vec::new();
    let mut temp = None;
    for (preference, exchange) in ordered {
        if targets.len() >= options.max_addresses {
            break;
        }
        let host = match exchange.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(exchange.clone()),
        };
        match resolve_host(resolver, &host, nexthop.port).await {
            Ok(found) => targets.extend(found.into_iter().map(|t| Target {
                host: exchange.clone(),
                preference: Some(preference),
                ..t
            })),
            Err(e @ RouteError::TempFail { .. }) => {
                temp.get_or_insert(e);
            }
            Err(_) => {}
        }
    }
    targets.truncate(options.max_addresses.max(1));
    if targets.is_empty() {
        return Err(temp.unwrap_or(RouteError::NoAddress {
            name: domain.clone(),
        }));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nexthop_syntax() {
        let n = SmtpNexthop::parse("[127.0.0.1]:2525").unwrap();
        assert_eq!(
            (n.host.clone(), n.port, n.mx),
            (Host::Ip("127.0.0.1".parse().unwrap()), 2525, false)
        );
        assert_eq!(n.to_string(), "[127.0.0.1]:2525");
        let n = SmtpNexthop::parse("Relay.Example.COM").unwrap();
        assert_eq!(
            (n.host.clone(), n.port, n.mx),
            (Host::Name("relay.example.com".into()), 25, true)
        );
        let n = SmtpNexthop::parse("[relay.example.com]").unwrap();
        assert!(!n.mx);
        let n = SmtpNexthop::parse("[IPv6:2001:db8::1]:587").unwrap();
        assert_eq!(n.host, Host::Ip("2001:db8::1".parse().unwrap()));
        assert_eq!(n.port, 587);
        // An address is never looked up as MX, bracketed or not.
        assert!(!SmtpNexthop::parse("192.0.2.1:26").unwrap().mx);
        for bad in [
            "",
            "[x",
            "[x]y",
            "a b",
            "host:0",
            "host:70000",
            "host:x",
            "x]",
            // Found by fuzzing: an address with a trailing dot is neither
            // an address nor a host name.
            "[127.0.0.1.]:2525",
            "10.0.0.1.",
        ] {
            assert!(SmtpNexthop::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn transport_syntax() {
        assert_eq!(Transport::parse("smtp:").unwrap(), Transport::Smtp(None));
        assert_eq!(
            Transport::parse("lmtp:unix:/run/lmtp").unwrap(),
            Transport::Lmtp(LmtpTarget::Unix("/run/lmtp".into()))
        );
        assert_eq!(
            Transport::parse("lmtp:127.0.0.1:2424").unwrap(),
            Transport::Lmtp(LmtpTarget::Tcp {
                host: Host::Ip("127.0.0.1".parse().unwrap()),
                port: 2424
            })
        );
        assert_eq!(
            Transport::parse("lmtp:inet:mda.example").unwrap(),
            Transport::Lmtp(LmtpTarget::Tcp {
                host: Host::Name("mda.example".into()),
                port: 24
            })
        );
        for bad in ["pop3:x", "lmtp:", "lmtp:unix:rel", "nothing"] {
            assert!(Transport::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_lookup_order() {
        let mut t = TransportTable::with_relayhost(SmtpNexthop::parse("[relay]:26").unwrap());
        t.insert_str("example.com", "smtp:[127.0.0.1]:2525")
            .unwrap()
            .insert_str(".example.com", "lmtp:unix:/sock")
            .unwrap()
            .insert_str("direct.org", "smtp:")
            .unwrap();
        assert_eq!(
            t.route("Example.COM").unwrap().key(),
            "smtp:[127.0.0.1]:2525"
        );
        assert_eq!(t.route("a.b.example.com").unwrap().key(), "lmtp:unix:/sock");
        assert_eq!(t.route("direct.org").unwrap().key(), "smtp:direct.org:25");
        assert_eq!(t.route("other.net").unwrap().key(), "smtp:[relay]:26");
        let direct = TransportTable::new();
        assert_eq!(
            direct.route("[192.0.2.7]").unwrap().key(),
            "smtp:[192.0.2.7]:25"
        );
        assert_eq!(direct.route(""), None);
        assert_eq!(direct.route("bad domain"), None);
        assert_eq!(t.route("").unwrap().key(), "smtp:[relay]:26");
    }

    #[test]
    fn seeded_shuffle_keeps_preference_order() {
        let mx = vec![
            (20, "d".to_string()),
            (10, "a".to_string()),
            (10, "b".to_string()),
            (10, "c".to_string()),
            (5, "z".to_string()),
        ];
        let mut seen = std::collections::HashSet::new();
        for seed in 0..50 {
            let a = order_mx(mx.clone(), &mut SplitMix64::new(seed));
            let b = order_mx(mx.clone(), &mut SplitMix64::new(seed));
            assert_eq!(a, b, "same seed, same order");
            assert_eq!(a[0].1, "z");
            assert_eq!(a[4].1, "d");
            seen.insert(a[1..4].iter().map(|x| x.1.clone()).collect::<String>());
        }
        assert_eq!(seen.len(), 6, "every order of the equal three appears");
    }
}
