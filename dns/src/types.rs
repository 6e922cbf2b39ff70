//! The query and answer types, and the resolver trait.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The record types mail authentication asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// IPv4 address (RFC 1035).
    A,
    /// IPv6 address (RFC 3596).
    Aaaa,
    /// Mail exchanger (RFC 1035).
    Mx,
    /// Text strings (RFC 1035); SPF, DKIM keys, DMARC policies.
    Txt,
    /// Domain name pointer, for reverse lookups (RFC 1035).
    Ptr,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Ptr => "PTR",
        })
    }
}

/// One DNS question: a name and a record type.
///
/// The name is kept in lower case without the trailing dot, so two queries
/// for the same name in different spellings compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Query {
    name: String,
    rtype: RecordType,
}

impl Query {
    /// A query for `name` (any case, trailing dot optional) of type `rtype`.
    pub fn new(name: &str, rtype: RecordType) -> Self {
        let trimmed = name.strip_suffix('.').unwrap_or(name);
        Query {
            name: trimmed.to_ascii_lowercase(),
            rtype,
        }
    }

    /// The reverse-lookup (PTR) query for an address: `in-addr.arpa` for
    /// IPv4, nibbles under `ip6.arpa` for IPv6.
    pub fn reverse(ip: IpAddr) -> Self {
        let name = match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
            }
            IpAddr::V6(v6) => {
                let mut s = String::with_capacity(72);
                for byte in v6.octets().iter().rev() {
                    for nibble in [byte & 0x0f, byte >> 4] {
                        s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                        s.push('.');
                    }
                }
                s.push_str("ip6.arpa");
                s
            }
        };
        Query {
            name,
            rtype: RecordType::Ptr,
        }
    }

    /// The queried name, lower case, without the trailing dot.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queried record type.
    pub fn record_type(&self) -> RecordType {
        self.rtype
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rtype)
    }
}

/// One resource record of an answer. CNAME chains are followed by the
/// resolver; the records are those at the end of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Record {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A mail exchanger: preference and host name (lower case, no trailing dot).
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchanger's host name.
        exchange: String,
    },
    /// A TXT record, its character-strings joined without separators
    /// (as RFC 7208 §3.3 and RFC 6376 §3.6.2.2 read them).
    Txt(Vec<u8>),
    /// A PTR record's target name (lower case, no trailing dot).
    Ptr(String),
}

impl Record {
    /// The address of an A or AAAA record.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Record::A(a) => Some(IpAddr::V4(*a)),
            Record::Aaaa(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }
}

/// The outcome of one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The name exists and has records of the asked type (never empty).
    Records(Vec<Record>),
    /// The name does not exist (RCODE 3, NXDOMAIN).
    NxDomain,
    /// The name exists but has no record of the asked type (NODATA).
    NoData,
    /// The lookup failed for now: timeout, SERVFAIL, network error. The text
    /// says which, for logs and result explanations.
    TempFail(String),
}

impl Answer {
    /// Records, or the empty answer for `NxDomain` and `NoData`.
    pub fn from_records(records: Vec<Record>) -> Self {
        if records.is_empty() {
            Answer::NoData
        } else {
            Answer::Records(records)
        }
    }

    /// The records (empty unless this is `Records`).
    pub fn records(&self) -> &[Record] {
        match self {
            Answer::Records(r) => r,
            _ => &[],
        }
    }

    /// The TXT records' joined texts.
    pub fn txt(&self) -> impl Iterator<Item = &[u8]> {
        self.records().iter().filter_map(|r| match r {
            Record::Txt(t) => Some(t.as_slice()),
            _ => None,
        })
    }

    /// The addresses of A and AAAA records.
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.records().iter().filter_map(Record::ip)
    }

    /// True for `NxDomain` and `NoData`: the "void lookup" of RFC 7208 §4.6.4.
    pub fn is_void(&self) -> bool {
        matches!(self, Answer::NxDomain | Answer::NoData)
    }

    /// True for `TempFail`.
    pub fn is_temp_fail(&self) -> bool {
        matches!(self, Answer::TempFail(_))
    }
}

/// Something that answers DNS queries: the live resolver, a zone file, a
/// test's table.
///
/// A lookup never fails with an error: failures are [`Answer::TempFail`],
/// which the checks turn into `temperror` results.
pub trait Resolver: Send + Sync {
    /// Answer one query.
    fn lookup(&self, query: &Query) -> impl Future<Output = Answer> + Send;
}

impl<R: Resolver> Resolver for &R {
    fn lookup(&self, query: &Query) -> impl Future<Output = Answer> + Send {
        (**self).lookup(query)
    }
}

impl<R: Resolver> Resolver for std::sync::Arc<R> {
    fn lookup(&self, query: &Query) -> impl Future<Output = Answer> + Send {
        (**self).lookup(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_are_normalized() {
        assert_eq!(Query::new("MAIL.Example.org.", RecordType::Mx).name(), "mail.example.org");
        assert_eq!(
            Query::new("a.b", RecordType::A),
            Query::new("A.B.", RecordType::A)
        );
    }

    #[test]
    fn reverse_names() {
        let q = Query::reverse("192.0.2.10".parse().unwrap());
        assert_eq!(q.name(), "10.2.0.192.in-addr.arpa");
        let q = Query::reverse("2001:db8::1".parse().unwrap());
        assert_eq!(
            q.name(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(q.record_type(), RecordType::Ptr);
    }
}
