//! The live resolver: hickory-resolver on tokio.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType as HickoryType};

use crate::types::{Answer, Query, Record, RecordType, Resolver, normalize_name};

/// Why a [`HickoryResolver`] could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HickoryError {
    /// The system configuration (`/etc/resolv.conf` on Unix) could not be
    /// read or understood.
    #[error("cannot read the system resolver configuration: {0}")]
    SystemConfig(String),
    /// No name server was given.
    #[error("no name servers given")]
    NoServers,
    /// hickory-resolver refused the configuration.
    #[error("cannot build the resolver: {0}")]
    Build(String),
}

/// Settings of a [`HickoryResolver`]. Those left unset keep the value of the
/// system configuration (for [`HickoryResolver::from_system_conf`]) or
/// hickory-resolver's default: a 5 s timeout, 2 attempts, 8192 cached
/// answers.
///
/// ```
/// use std::time::Duration;
/// use postel_dns::HickoryOptions;
///
/// let options = HickoryOptions::new()
///     .timeout(Duration::from_secs(2))
///     .attempts(3)
///     .cache_size(1024);
/// assert_eq!(options.get_attempts(), Some(3));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HickoryOptions {
    timeout: Option<Duration>,
    attempts: Option<usize>,
    cache_size: Option<u64>,
}

impl HickoryOptions {
    /// Nothing set: the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait for one answer from one server.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How many times to retry a failed query (hickory's `attempts`).
    pub fn attempts(mut self, attempts: usize) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// How many answers the cache keeps (positive and negative answers are
    /// cached for their TTLs).
    pub fn cache_size(mut self, entries: u64) -> Self {
        self.cache_size = Some(entries);
        self
    }

    /// The timeout, if set.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The number of attempts, if set.
    pub fn get_attempts(&self) -> Option<usize> {
        self.attempts
    }

    /// The cache size, if set.
    pub fn get_cache_size(&self) -> Option<u64> {
        self.cache_size
    }

    fn apply(&self, opts: &mut ResolverOpts) {
        if let Some(t) = self.timeout {
            opts.timeout = t;
        }
        if let Some(a) = self.attempts {
            opts.attempts = a;
        }
        if let Some(c) = self.cache_size {
            opts.cache_size = c;
        }
        // Mail authentication asks the DNS, never /etc/hosts.
        opts.use_hosts_file = ResolveHosts::Never;
    }
}

/// A [`Resolver`] that asks name servers, through hickory-resolver, with
/// its cache.
///
/// Lookups must run inside a tokio runtime (hickory spawns its connection
/// tasks on it). Every query is for the fully qualified name: no search
/// list, no `ndots`.
///
/// Results map to [`Answer`] as follows: records of the asked type (after
/// CNAMEs, which hickory follows) are `Records`; NXDOMAIN is `NxDomain`; an
/// empty NOERROR answer is `NoData`; timeouts, SERVFAIL, REFUSED and network
/// errors are `TempFail` with hickory's message. A name that cannot be a DNS
/// name (a label over 63 octets, a name over 255) is `NxDomain`: no such
/// name can exist.
///
/// ```no_run
/// # async fn demo() -> Result<(), postel_dns::HickoryError> {
/// use postel_dns::{HickoryOptions, HickoryResolver, Query, RecordType, Resolver};
///
/// let dns = HickoryResolver::from_system_conf(&HickoryOptions::new())?;
/// let answer = dns.lookup(&Query::new("_dmarc.example.com", RecordType::Txt)).await;
/// println!("{answer}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HickoryResolver")
            .field("options", self.inner.options())
            .finish_non_exhaustive()
    }
}

impl HickoryResolver {
    /// The name servers and options of the system configuration
    /// (`/etc/resolv.conf` on Unix), with `options` applied over them.
    pub fn from_system_conf(options: &HickoryOptions) -> Result<Self, HickoryError> {
        let mut builder = TokioResolver::builder_tokio()
            .map_err(|e| HickoryError::SystemConfig(e.to_string()))?;
        options.apply(builder.options_mut());
        Self::build(builder)
    }

    /// Like [`from_system_conf`](Self::from_system_conf), from the text of
    /// a `resolv.conf` file instead of the system's.
    #[cfg(unix)]
    pub fn from_resolv_conf(
        text: impl AsRef<[u8]>,
        options: &HickoryOptions,
    ) -> Result<Self, HickoryError> {
        let (config, mut opts) = hickory_resolver::system_conf::parse_resolv_conf(text)
            .map_err(|e| HickoryError::SystemConfig(e.to_string()))?;
        if config.name_servers().is_empty() {
            return Err(HickoryError::NoServers);
        }
        options.apply(&mut opts);
        let builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts);
        Self::build(builder)
    }

    /// Asks the given name servers (each over UDP, and TCP for truncated
    /// answers), in order of their measured speed, with `options`.
    pub fn with_servers(
        servers: &[SocketAddr],
        options: &HickoryOptions,
    ) -> Result<Self, HickoryError> {
        if servers.is_empty() {
            return Err(HickoryError::NoServers);
        }
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let mut opts = ResolverOpts::default();
        options.apply(&mut opts);
        let builder = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            TokioRuntimeProvider::default(),
        )
        .with_options(opts);
        Self::build(builder)
    }

    fn build(
        builder: hickory_resolver::ResolverBuilder<TokioRuntimeProvider>,
    ) -> Result<Self, HickoryError> {
        let inner = builder
            .build()
            .map_err(|e| HickoryError::Build(e.to_string()))?;
        Ok(HickoryResolver { inner })
    }

    /// The timeout in force.
    pub fn timeout(&self) -> Duration {
        self.inner.options().timeout
    }

    /// The number of attempts in force.
    pub fn attempts(&self) -> usize {
        self.inner.options().attempts
    }

    /// The cache size in force.
    pub fn cache_size(&self) -> u64 {
        self.inner.options().cache_size
    }

    /// Empties the cache.
    pub fn clear_cache(&self) {
        self.inner.clear_cache();
    }

    async fn ask(&self, query: Query) -> Answer {
        let Some(name) = fqdn(query.name()) else {
            return Answer::NxDomain;
        };
        let rtype = query.record_type();
        match self.inner.lookup(name, hickory_type(rtype)).await {
            Ok(lookup) => Answer::from_records(
                lookup
                    .answers()
                    .iter()
                    .filter_map(|r| convert(&r.data, rtype))
                    .collect(),
            ),
            Err(e) => map_error(&e),
        }
    }
}

impl Resolver for HickoryResolver {
    fn lookup(&self, query: &Query) -> impl Future<Output = Answer> + Send {
        self.ask(query.clone())
    }
}

/// The absolute DNS name for a normalized query name.
fn fqdn(name: &str) -> Option<Name> {
    if name.is_empty() {
        return Some(Name::root());
    }
    let mut name = Name::from_ascii(name).ok()?;
    name.set_fqdn(true);
    Some(name)
}

fn hickory_type(rtype: RecordType) -> HickoryType {
    match rtype {
        RecordType::A => HickoryType::A,
        RecordType::Aaaa => HickoryType::AAAA,
        RecordType::Mx => HickoryType::MX,
        RecordType::Txt => HickoryType::TXT,
        RecordType::Ptr => HickoryType::PTR,
    }
}

/// Our record for hickory's data, if it is of the asked type (CNAMEs of the
/// chain are left out).
fn convert(data: &RData, rtype: RecordType) -> Option<Record> {
    let record = match data {
        RData::A(a) => Record::A(a.0),
        RData::AAAA(a) => Record::Aaaa(a.0),
        RData::MX(mx) => Record::Mx {
            preference: mx.preference,
            exchange: normalize_name(&mx.exchange.to_ascii()),
        },
        RData::TXT(txt) => Record::Txt(txt.txt_data.concat()),
        RData::PTR(ptr) => Record::Ptr(normalize_name(&ptr.0.to_ascii())),
        _ => return None,
    };
    (record.record_type() == rtype).then_some(record)
}

fn map_error(e: &NetError) -> Answer {
    if e.is_nx_domain() {
        Answer::NxDomain
    } else if e.is_no_records_found() {
        Answer::NoData
    } else {
        Answer::TempFail(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::net::{DnsError, NoRecords};
    use hickory_resolver::proto::op::{Query as HQuery, ResponseCode};
    use hickory_resolver::proto::rr::rdata::{MX, PTR, TXT};

    #[test]
    fn errors_map_to_answers() {
        let query = HQuery::query(Name::from_ascii("x.example.").unwrap(), HickoryType::TXT);
        let nx = NetError::from(DnsError::NoRecordsFound(NoRecords::new(
            query.clone(),
            ResponseCode::NXDomain,
        )));
        assert_eq!(map_error(&nx), Answer::NxDomain);
        let nodata = NetError::from(DnsError::NoRecordsFound(NoRecords::new(
            query,
            ResponseCode::NoError,
        )));
        assert_eq!(map_error(&nodata), Answer::NoData);
        let servfail = NetError::from(DnsError::ResponseCode(ResponseCode::ServFail));
        assert!(map_error(&servfail).is_temp_fail());
        let timeout = map_error(&NetError::Timeout);
        assert_eq!(timeout, Answer::TempFail("request timed out".into()));
    }

    #[test]
    fn data_converts_and_filters_by_type() {
        let txt = RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()]));
        assert_eq!(
            convert(&txt, RecordType::Txt),
            Some(Record::Txt(b"v=spf1 -all".to_vec()))
        );
        assert_eq!(convert(&txt, RecordType::A), None);
        let mx = RData::MX(MX::new(10, Name::from_ascii("MX.Example.COM.").unwrap()));
        assert_eq!(
            convert(&mx, RecordType::Mx),
            Some(Record::Mx {
                preference: 10,
                exchange: "mx.example.com".into()
            })
        );
        let ptr = RData::PTR(PTR(Name::from_ascii("Host.Example.").unwrap()));
        assert_eq!(
            convert(&ptr, RecordType::Ptr),
            Some(Record::Ptr("host.example".into()))
        );
    }

    #[test]
    fn names_become_absolute() {
        assert_eq!(fqdn("").unwrap(), Name::root());
        let n = fqdn("_dmarc.example.com").unwrap();
        assert!(n.is_fqdn());
        assert_eq!(n.to_ascii(), "_dmarc.example.com.");
        assert!(fqdn(&"a".repeat(64)).is_none());
    }

    #[test]
    fn options_apply() {
        let mut opts = ResolverOpts::default();
        HickoryOptions::new()
            .timeout(Duration::from_millis(300))
            .attempts(1)
            .cache_size(16)
            .apply(&mut opts);
        assert_eq!(opts.timeout, Duration::from_millis(300));
        assert_eq!(opts.attempts, 1);
        assert_eq!(opts.cache_size, 16);
        assert_eq!(opts.use_hosts_file, ResolveHosts::Never);
    }

    #[test]
    fn constructors() {
        assert!(matches!(
            HickoryResolver::with_servers(&[], &HickoryOptions::new()),
            Err(HickoryError::NoServers)
        ));
        let dns = HickoryResolver::with_servers(
            &["127.0.0.1:5353".parse().unwrap()],
            &HickoryOptions::new()
                .timeout(Duration::from_secs(1))
                .attempts(1),
        )
        .unwrap();
        assert_eq!(dns.timeout(), Duration::from_secs(1));
        assert_eq!(dns.attempts(), 1);
        assert_eq!(dns.cache_size(), 8192);
        assert!(format!("{dns:?}").starts_with("HickoryResolver"));

        let dns = HickoryResolver::from_resolv_conf(
            "nameserver 192.0.2.53\noptions timeout:3 attempts:4\n",
            &HickoryOptions::new().cache_size(7),
        )
        .unwrap();
        assert_eq!(dns.timeout(), Duration::from_secs(3));
        assert_eq!(dns.attempts(), 4);
        assert_eq!(dns.cache_size(), 7);
        // hickory itself refuses a configuration without servers.
        let err = HickoryResolver::from_resolv_conf("search example.com\n", &HickoryOptions::new())
            .unwrap_err();
        assert!(
            matches!(err, HickoryError::NoServers | HickoryError::SystemConfig(_)),
            "{err}"
        );
    }
}
