//! SPF record syntax (RFC 7208 §4.5, §5, §6, §12): the version, directives
//! with qualifiers, modifiers, dual CIDR lengths and domain-specs.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::SpfSyntaxError;
use super::macros::{MacroString, parse_macro_string};

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfRecord {
    /// The directives, in record order.
    pub directives: Vec<Directive>,
    /// The `redirect=` modifier's domain-spec.
    pub redirect: Option<MacroString>,
    /// The `exp=` modifier's domain-spec.
    pub exp: Option<MacroString>,
}

/// A qualifier and a mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The result when the mechanism matches.
    pub qualifier: Qualifier,
    /// What to match.
    pub mechanism: Mechanism,
}

/// The result a matching mechanism gives (RFC 7208 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+` (the default).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

/// A mechanism (RFC 7208 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`: always matches.
    All,
    /// `include:<domain-spec>`.
    Include(MacroString),
    /// `a[:<domain-spec>][/<ip4-cidr>][//<ip6-cidr>]`.
    A {
        /// The target (the current domain when absent).
        domain: Option<MacroString>,
        /// IPv4 prefix length.
        v4_prefix: u8,
        /// IPv6 prefix length.
        v6_prefix: u8,
    },
    /// `mx[:<domain-spec>][/<ip4-cidr>][//<ip6-cidr>]`.
    Mx {
        /// The target (the current domain when absent).
        domain: Option<MacroString>,
        /// IPv4 prefix length.
        v4_prefix: u8,
        /// IPv6 prefix length.
        v6_prefix: u8,
    },
    /// `ptr[:<domain-spec>]`.
    Ptr(Option<MacroString>),
    /// `ip4:<network>[/<prefix>]`.
    Ip4 {
        /// The network address.
        addr: Ipv4Addr,
        /// Prefix length.
        prefix: u8,
    },
    /// `ip6:<network>[/<prefix>]`.
    Ip6 {
        /// The network address.
        addr: Ipv6Addr,
        /// Prefix length.
        prefix: u8,
    },
    /// `exists:<domain-spec>`.
    Exists(MacroString),
}

impl Mechanism {
    /// True for the mechanisms that cost a DNS lookup (RFC 7208 §4.6.4).
    pub fn does_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// True when `text` is an SPF record at all: `v=spf1` (any case) followed by
/// a space or the end (RFC 7208 §4.5). Records that are not are skipped when
/// selecting.
pub fn is_spf_record(text: &[u8]) -> bool {
    text.len() >= 6
        && text[..6].eq_ignore_ascii_case(b"v=spf1")
        && (text.len() == 6 || text[6] == b' ')
}

impl SpfRecord {
    /// Parse a record's text, version included.
    pub fn parse(text: &[u8]) -> Result<SpfRecord, SpfSyntaxError> {
        if !is_spf_record(text) {
            return Err(SpfSyntaxError::NotSpf);
        }
        let text = std::str::from_utf8(text).map_err(|_| SpfSyntaxError::NonAscii)?;
        if !text.is_ascii() {
            return Err(SpfSyntaxError::NonAscii);
        }
        let mut record = SpfRecord {
            directives: Vec::new(),
            redirect: None,
            exp: None,
        };
        for term in text[6..].split(' ').filter(|t| !t.is_empty()) {
            parse_term(term, &mut record)?;
        }
        Ok(record)
    }
}

fn is_modifier_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn parse_term(term: &str, record: &mut SpfRecord) -> Result<(), SpfSyntaxError> {
    let bad = || SpfSyntaxError::BadTerm(term.to_string());
    // A modifier is `name=macro-string`; a mechanism name never has `=`
    // before its `:` or `/`.
    if let Some(eq) = term.find('=') {
        let name = &term[..eq];
        if is_modifier_name(name) {
            let value = &term[eq + 1..];
            if name.eq_ignore_ascii_case("redirect") {
                if record.redirect.is_some() {
                    return Err(SpfSyntaxError::DuplicateModifier("redirect"));
                }
                record.redirect = Some(parse_domain_spec(value).map_err(|_| bad())?);
            } else if name.eq_ignore_ascii_case("exp") {
                if record.exp.is_some() {
                    return Err(SpfSyntaxError::DuplicateModifier("exp"));
                }
                record.exp = Some(parse_domain_spec(value).map_err(|_| bad())?);
            } else {
                // Unknown modifiers are ignored, but must be well formed.
                parse_macro_string(value, false).map_err(|_| bad())?;
            }
            return Ok(());
        }
    }
    let (qualifier, rest) = match term.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &term[1..]),
        b'-' => (Qualifier::Fail, &term[1..]),
        b'~' => (Qualifier::SoftFail, &term[1..]),
        b'?' => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let name_end = rest.find([':', '/']).unwrap_or(rest.len());
    let name = &rest[..name_end];
    let args = &rest[name_end..];
    let lower = name.to_ascii_lowercase();
    let mechanism = match lower.as_str() {
        "all" if args.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(required_domain(args).ok_or_else(bad)?),
        "exists" => Mechanism::Exists(required_domain(args).ok_or_else(bad)?),
        "ptr" => Mechanism::Ptr(optional_domain(args).ok_or_else(bad)?),
        "a" | "mx" => {
            let (spec, v4_prefix, v6_prefix) = split_dual_cidr(args).ok_or_else(bad)?;
            let domain = optional_domain(spec).ok_or_else(bad)?;
            if lower == "a" {
                Mechanism::A {
                    domain,
                    v4_prefix,
                    v6_prefix,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    v4_prefix,
                    v6_prefix,
                }
            }
        }
        "ip4" => {
            let net = args.strip_prefix(':').ok_or_else(bad)?;
            let (addr, prefix) = match net.split_once('/') {
                Some((a, p)) => (a, parse_prefix(p, 32).ok_or_else(bad)?),
                None => (net, 32),
            };
            Mechanism::Ip4 {
                addr: parse_ip4(addr).ok_or_else(bad)?,
                prefix,
            }
        }
        "ip6" => {
            let net = args.strip_prefix(':').ok_or_else(bad)?;
            let (addr, prefix) = match net.split_once('/') {
                Some((a, p)) => (a, parse_prefix(p, 128).ok_or_else(bad)?),
                None => (net, 128),
            };
            Mechanism::Ip6 {
                addr: addr.parse().map_err(|_| bad())?,
                prefix,
            }
        }
        _ => return Err(SpfSyntaxError::UnknownMechanism(term.to_string())),
    };
    record.directives.push(Directive {
        qualifier,
        mechanism,
    });
    Ok(())
}

/// Dotted quad, exactly four decimal parts (RFC 7208 §5.6 / RFC 3986).
fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = p.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// A CIDR length: "0" or a number without leading zeros, at most `max`.
fn parse_prefix(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    let n: u16 = s.parse().ok()?;
    (n <= u16::from(max)).then_some(n as u8)
}

/// Split `[:domain-spec][/v4][//v6]` into the domain part and the lengths.
fn split_dual_cidr(args: &str) -> Option<(&str, u8, u8)> {
    let mut rest = args;
    let mut v6 = 128;
    let mut v4 = 32;
    if let Some(pos) = rest.rfind("//") {
        let digits = &rest[pos + 2..];
        v6 = parse_prefix(digits, 128)?;
        rest = &rest[..pos];
    }
    if let Some(pos) = rest.rfind('/') {
        let digits = &rest[pos + 1..];
        // A `/` inside the domain-spec followed by non-digits is part of the
        // domain-spec; the domain-end check then rejects it.
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            v4 = parse_prefix(digits, 32)?;
            rest = &rest[..pos];
        }
    }
    Some((rest, v4, v6))
}

fn required_domain(args: &str) -> Option<MacroString> {
    parse_domain_spec(args.strip_prefix(':')?).ok()
}

/// `None` when the argument is malformed; `Some(None)` when it is absent.
fn optional_domain(args: &str) -> Option<Option<MacroString>> {
    if args.is_empty() {
        return Some(None);
    }
    Some(Some(required_domain(args)?))
}

/// A domain-spec: a macro-string whose end is a macro or `.toplabel[.]`
/// (RFC 7208 §7.1).
pub(crate) fn parse_domain_spec(s: &str) -> Result<MacroString, SpfSyntaxError> {
    let spec = parse_macro_string(s, false)?;
    if spec.ends_with_macro() {
        return Ok(spec);
    }
    let lit = s.strip_suffix('.').unwrap_or(s);
    match lit.rsplit_once('.') {
        Some((_, top)) if is_toplabel(top) => Ok(spec),
        _ => Err(SpfSyntaxError::BadDomainSpec(s.to_string())),
    }
}

/// RFC 7208 §7.1 toplabel: letters, digits and inner hyphens, not all digits.
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && b.iter().any(|c| !c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_mechanism() {
        let r = SpfRecord::parse(
            b"v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx/30 \
              ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.bl.example \
              redirect=_spf.example.net exp=exp.%{d} unknown-mod=x",
        )
        .unwrap();
        assert_eq!(r.directives.len(), 10);
        assert_eq!(r.directives[0].mechanism, Mechanism::All);
        assert_eq!(r.directives[2].qualifier, Qualifier::SoftFail);
        assert!(matches!(
            r.directives[3].mechanism,
            Mechanism::A {
                v4_prefix: 24,
                v6_prefix: 64,
                ..
            }
        ));
        assert!(matches!(
            r.directives[4].mechanism,
            Mechanism::Mx {
                domain: None,
                v4_prefix: 30,
                v6_prefix: 128
            }
        ));
        assert!(r.redirect.is_some() && r.exp.is_some());
    }

    #[test]
    fn rejects_bad_terms() {
        for bad in [
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:1.2.3.4/024",
            "v=spf1 a:example",
            "v=spf1 a:111.222.33.44",
            "v=spf1 foo",
            "v=spf1 include",
            "v=spf1 redirect=a.example.com redirect=b.example.com",
            "v=spf1 exists:%{x}.example.com",
            "v=spf1 a:%{c}.example.com",
            "v=spf1 all:foo",
        ] {
            assert!(SpfRecord::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_selection() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SPF1 -all"));
        assert!(!is_spf_record(b"v=spf10"));
        assert!(!is_spf_record(b"v=spf1-all"));
    }
}
