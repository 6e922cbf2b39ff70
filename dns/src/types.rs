//! The query and answer types, and the resolver trait.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

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

impl RecordType {
    /// Every record type, in declaration order.
    pub const ALL: [RecordType; 5] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Ptr,
    ];
}

/// The error of parsing a [`RecordType`] from a mnemonic that is not one of
/// `A`, `AAAA`, `MX`, `TXT`, `PTR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown or unsupported record type {0:?} (expected A, AAAA, MX, TXT or PTR)")]
pub struct UnknownRecordType(pub String);

impl FromStr for RecordType {
    type Err = UnknownRecordType;

    /// Parses the mnemonic, in any case: `"mx"` and `"MX"` are both
    /// [`RecordType::Mx`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.to_string().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRecordType(s.to_owned()))
    }
}

/// The normal form of a domain name: ASCII lower case, without the trailing
/// dot. The same rule as [`Query::new`].
pub(crate) fn normalize_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
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
    /// The type of this record.
    pub fn record_type(&self) -> RecordType {
        match self {
            Record::A(_) => RecordType::A,
            Record::Aaaa(_) => RecordType::Aaaa,
            Record::Mx { .. } => RecordType::Mx,
            Record::Txt(_) => RecordType::Txt,
            Record::Ptr(_) => RecordType::Ptr,
        }
    }

    /// The same record with its host names (MX exchange, PTR target) in the
    /// normal form: lower case, no trailing dot.
    pub fn normalized(self) -> Record {
        match self {
            Record::Mx {
                preference,
                exchange,
            } => Record::Mx {
                preference,
                exchange: normalize_name(&exchange),
            },
            Record::Ptr(target) => Record::Ptr(normalize_name(&target)),
            other => other,
        }
    }

    /// The address of an A or AAAA record.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Record::A(a) => Some(IpAddr::V4(*a)),
            Record::Aaaa(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }
}

/// Zone-file-like presentation: `A 192.0.2.1`, `MX 10 mx.example.com`,
/// `TXT "v=spf1 -all"` (bytes outside printable ASCII, `"` and `\` escaped
/// as `\DDD` and `\"`, `\\`), `PTR host.example.com`.
impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::A(a) => write!(f, "A {a}"),
            Record::Aaaa(a) => write!(f, "AAAA {a}"),
            Record::Mx {
                preference,
                exchange,
            } => write!(f, "MX {preference} {exchange}"),
            Record::Ptr(target) => write!(f, "PTR {target}"),
            Record::Txt(text) => {
                f.write_str("TXT \"")?;
                for &b in text {
                    match b {
                        b'"' | b'\\' => write!(f, "\\{}", char::from(b))?,
                        0x20..=0x7e => write!(f, "{}", char::from(b))?,
                        _ => write!(f, "\\{b:03}")?,
                    }
                }
                f.write_str("\"")
            }
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

/// One line per record, or `NXDOMAIN`, `NODATA`, `TEMPFAIL: reason`.
impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Records(records) => {
                for (i, r) in records.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{r}")?;
                }
                Ok(())
            }
            Answer::NxDomain => f.write_str("NXDOMAIN"),
            Answer::NoData => f.write_str("NODATA"),
            Answer::TempFail(why) => write!(f, "TEMPFAIL: {why}"),
        }
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
        assert_eq!(
            Query::new("MAIL.Example.org.", RecordType::Mx).name(),
            "mail.example.org"
        );
        assert_eq!(
            Query::new("a.b", RecordType::A),
            Query::new("A.B.", RecordType::A)
        );
    }

    #[test]
    fn record_types_parse_in_any_case() {
        for t in RecordType::ALL {
            assert_eq!(t.to_string().parse::<RecordType>(), Ok(t));
            assert_eq!(t.to_string().to_lowercase().parse::<RecordType>(), Ok(t));
        }
        assert_eq!(
            "SRV".parse::<RecordType>(),
            Err(UnknownRecordType("SRV".into()))
        );
    }

    #[test]
    fn records_know_their_type_and_normalize() {
        let mx = Record::Mx {
            preference: 10,
            exchange: "MX.Example.NET.".into(),
        };
        assert_eq!(mx.record_type(), RecordType::Mx);
        assert_eq!(
            mx.normalized(),
            Record::Mx {
                preference: 10,
                exchange: "mx.example.net".into()
            }
        );
        assert_eq!(
            Record::Ptr("Host.".into()).normalized(),
            Record::Ptr("host".into())
        );
        assert_eq!(Record::Txt(vec![]).record_type(), RecordType::Txt);
    }

    #[test]
    fn display_forms() {
        let answer = Answer::Records(vec![
            Record::A("192.0.2.1".parse().unwrap()),
            Record::Txt(b"a \"q\" \\ \x01".to_vec()),
        ]);
        assert_eq!(
            answer.to_string(),
            "A 192.0.2.1\nTXT \"a \\\"q\\\" \\\\ \\001\""
        );
        assert_eq!(Answer::NxDomain.to_string(), "NXDOMAIN");
        assert_eq!(
            Answer::TempFail("timeout".into()).to_string(),
            "TEMPFAIL: timeout"
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
