//! Mailboxes and paths of MAIL and RCPT (RFC 5321 §4.1.2), with the UTF-8
//! forms of RFC 6531, address literals, source routes (parsed and dropped,
//! §C) and the lenient forms real clients send.

use std::borrow::Cow;

use compact_str::CompactString;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::CommandError;

/// A mailbox `local-part@domain`, kept in its wire form in one allocation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// `local@domain` exactly as on the wire (a quoted local part keeps its
    /// quotes). Stored inline, without allocation, up to 24 bytes.
    addr: CompactString,
    /// Index of the `@` that separates local part and domain.
    at: usize,
}

impl Mailbox {
    /// Parses a bare mailbox (no angle brackets), as in `user@example.org`
    /// or `"john doe"@[192.0.2.1]`.
    pub fn parse(text: &str) -> Result<Self, CommandError> {
        let bytes = text.as_bytes();
        let (mailbox, used) = parse_mailbox(bytes, "recipient")?;
        if used != bytes.len() {
            return Err(CommandError::BadPath {
                which: "recipient",
                what: "unexpected characters after the domain",
            });
        }
        Ok(mailbox)
    }

    /// The whole address in wire form.
    pub fn as_str(&self) -> &str {
        &self.addr
    }

    /// The local part in wire form (quoted if it was quoted).
    pub fn local_part_raw(&self) -> &str {
        &self.addr[..self.at]
    }

    /// The local part's meaning: quotes and backslash escapes removed.
    pub fn local_part(&self) -> Cow<'_, str> {
        let raw = self.local_part_raw();
        if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            if !inner.contains('\\') {
                return Cow::Borrowed(inner);
            }
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            Cow::Owned(out)
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// The domain part in wire form (an address literal keeps its brackets).
    pub fn domain(&self) -> &str {
        &self.addr[self.at + 1..]
    }

    /// The domain, classified.
    pub fn domain_kind(&self) -> DomainKind<'_> {
        classify_domain(self.domain())
    }

    /// True when the address needs SMTPUTF8 (RFC 6531): it has non-ASCII characters.
    pub fn needs_smtputf8(&self) -> bool {
        !self.addr.is_ascii()
    }

    /// Sender-specified routing hidden in the local part, which open-relay
    /// tricks use to make a server forward mail elsewhere: `%` (the "percent
    /// hack"), `!` (UUCP bang paths) or `@` inside a quoted local part.
    pub fn routing_hazard(&self) -> Option<RoutingHazard> {
        let raw = self.local_part_raw().as_bytes();
        // Common case: none of the three bytes at all (one pass).
        memchr::memchr3(b'@', b'%', b'!', raw)?;
        let local = self.local_part();
        if local.contains('@') {
            Some(RoutingHazard::EmbeddedAt)
        } else if local.contains('%') {
            Some(RoutingHazard::PercentHack)
        } else if local.contains('!') {
            Some(RoutingHazard::BangPath)
        } else {
            None
        }
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mailbox({})", self.addr)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

/// A form of sender-specified routing in a local part (see [`Mailbox::routing_hazard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingHazard {
    /// `user%other.example@relay.example`.
    PercentHack,
    /// `other!user@relay.example`.
    BangPath,
    /// `"user@other.example"@relay.example`.
    EmbeddedAt,
}

/// What the domain part of a mailbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainKind<'a> {
    /// A host name (A-labels or U-labels).
    Name(&'a str),
    /// `[192.0.2.1]`.
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`.
    Ipv6(Ipv6Addr),
    /// `[tag:content]`: a general address literal.
    General {
        /// The standardized tag.
        tag: &'a str,
        /// The literal's content.
        content: &'a str,
    },
}

fn classify_domain(domain: &str) -> DomainKind<'_> {
    let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) else {
        return DomainKind::Name(domain);
    };
    if let Ok(v4) = inner.parse() {
        return DomainKind::Ipv4(v4);
    }
    match inner.split_once(':') {
        Some((tag, rest)) if tag.eq_ignore_ascii_case("IPv6") => match rest.parse() {
            Ok(v6) => DomainKind::Ipv6(v6),
            Err(_) => DomainKind::General { tag, content: rest },
        },
        Some((tag, content)) => DomainKind::General { tag, content },
        None => DomainKind::Name(domain),
    }
}

/// The reverse-path of MAIL FROM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the null sender of bounces and other notifications.
    Null,
    /// A sender mailbox.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// The mailbox, unless null.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }

    /// Writes `<...>`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.push(b'<');
        if let ReversePath::Mailbox(m) = self {
            out.extend_from_slice(m.as_str().as_bytes());
        }
        out.push(b'>');
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// The forward-path of RCPT TO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain (RFC 5321 §4.1.1.3): must be accepted.
    Postmaster,
    /// A recipient mailbox.
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// The mailbox, unless it is the bare `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m),
        }
    }

    /// Writes `<...>`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.push(b'<');
        match self {
            ForwardPath::Postmaster => out.extend_from_slice(b"Postmaster"),
            ForwardPath::Mailbox(m) => out.extend_from_slice(m.as_str().as_bytes()),
        }
        out.push(b'>');
    }

    /// True when the address needs SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        self.mailbox().is_some_and(Mailbox::needs_smtputf8)
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// How forgiving path parsing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathSyntax {
    /// Accept `MAIL FROM: <a@b>` (space after the colon) and `MAIL FROM:a@b`
    /// (no angle brackets), as telnet users and some old clients send.
    pub lenient: bool,
}

/// Byte classes for the hot loops: one table lookup per byte.
const ATEXT: u8 = 1;
/// Letters, digits, hyphen and UTF-8 bytes: what a domain label holds.
const LABEL: u8 = 2;

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        let utf8 = c >= 0x80;
        let special = matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        );
        if alnum || utf8 || special {
            t[b] |= ATEXT;
        }
        if alnum || utf8 || c == b'-' {
            t[b] |= LABEL;
        }
        b += 1;
    }
    t
};

/// Length of the run of bytes of `class` at the start of `input`.
#[inline]
fn run_of(input: &[u8], class: u8) -> usize {
    input
        .iter()
        .position(|&b| CLASSES[usize::from(b)] & class == 0)
        .unwrap_or(input.len())
}

/// Parses `local@domain` at the start of `input`; returns the mailbox and the
/// bytes used. Non-ASCII UTF-8 is accepted in atoms, quoted strings and
/// domain labels (RFC 6531); the caller checks SMTPUTF8 was requested.
pub(crate) fn parse_mailbox(
    input: &[u8],
    which: &'static str,
) -> Result<(Mailbox, usize), CommandError> {
    let bad = |what| CommandError::BadPath { which, what };
    let mut i = 0;
    // Local part.
    if input.first() == Some(&b'"') {
        i = 1;
        loop {
            match input.get(i) {
                None => return Err(bad("unterminated quoted local part")),
                Some(b'"') => {
                    i += 1;
                    break;
                }
                Some(b'\\') => match input.get(i + 1) {
                    Some(32..=126) => i += 2,
                    _ => return Err(bad("bad escape in quoted local part")),
                },
                Some(&b) if (32..=126).contains(&b) || b >= 0x80 => i += 1,
                Some(_) => return Err(bad("control character in quoted local part")),
            }
        }
    } else {
        // Dot-string: atoms separated by single dots.
        loop {
            let atom = run_of(&input[i..], ATEXT);
            if atom == 0 {
                return Err(bad(if i == 0 {
                    "empty local part"
                } else {
                    "empty atom in local part"
                }));
            }
            i += atom;
            if input.get(i) != Some(&b'.') {
                break;
            }
            i += 1;
        }
    }
    let at = i;
    if input.get(i) != Some(&b'@') {
        return Err(bad("missing @domain"));
    }
    i += 1;
    i += domain_len(&input[i..]).ok_or(bad("malformed domain"))?;
    let bytes = &input[..i];
    let text = match ascii_str(bytes) {
        Some(text) => text,
        None => std::str::from_utf8(bytes).map_err(|_| bad("invalid UTF-8"))?,
    };
    Ok((
        Mailbox {
            addr: CompactString::new(text),
            at,
        },
        i,
    ))
}

/// `bytes` as text when they are all ASCII, without the general UTF-8
/// validation, which costs more than the rest of parsing a short address.
#[allow(unsafe_code)]
fn ascii_str(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

/// Length of a domain or address literal at the start of `input`.
pub(crate) fn domain_len(input: &[u8]) -> Option<usize> {
    if input.first() == Some(&b'[') {
        let end = memchr::memchr(b']', input)?;
        let inner = std::str::from_utf8(&input[1..end]).ok()?;
        let valid = match classify_domain(&format!("[{inner}]")) {
            DomainKind::Ipv4(_) | DomainKind::Ipv6(_) => true,
            DomainKind::General { tag, content } => {
                !tag.eq_ignore_ascii_case("IPv6")
                    && !tag.is_empty()
                    && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !content.is_empty()
                    && content
                        .bytes()
                        .all(|b| (33..=126).contains(&b) && b != b'[' && b != b'\\')
            }
            DomainKind::Name(_) => false,
        };
        return valid.then_some(end + 1);
    }
    let mut i = 0;
    loop {
        // One label: let-dig [ldh-str], or U-label bytes.
        let start = i;
        i += run_of(&input[i..], LABEL);
        let label = &input[start..i];
        if label.is_empty() || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return None;
        }
        if input.get(i) == Some(&b'.')
            && input
                .get(i + 1)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b >= 0x80)
        {
            i += 1;
            continue;
        }
        return Some(i);
    }
}

/// Parses the path after `MAIL FROM:` or `RCPT TO:`; returns the mailbox
/// (`None` for `<>`), whether it was the bare `<postmaster>`, and the rest
/// of the line (parameters).
pub(crate) fn parse_path<'a>(
    input: &'a [u8],
    which: &'static str,
    syntax: PathSyntax,
) -> Result<(PathKind, &'a [u8]), CommandError> {
    let bad = |what| CommandError::BadPath { which, what };
    let mut input = input;
    if input.first() == Some(&b' ') {
        if !syntax.lenient {
            return Err(CommandError::Syntax {
                command: if which == "sender" { "MAIL" } else { "RCPT" },
                what: "space after the colon",
            });
        }
        while input.first() == Some(&b' ') {
            input = &input[1..];
        }
    }
    if input.first() != Some(&b'<') {
        if !syntax.lenient {
            return Err(CommandError::MissingBrackets { which });
        }
        if input.is_empty() {
            return Err(bad("empty address"));
        }
        let (mailbox, used) = parse_mailbox(input, which)?;
        return Ok((
            PathKind::Mailbox(mailbox),
            after_path(&input[used..], which)?,
        ));
    }
    let mut i = 1;
    if input.get(1) == Some(&b'>') {
        return Ok((PathKind::Null, after_path(&input[2..], which)?));
    }
    // Source route: @a,@b: ... accepted and dropped (RFC 5321 §4.1.2, App. C).
    if input.get(1) == Some(&b'@') {
        loop {
            if input.get(i) != Some(&b'@') {
                return Err(bad("malformed source route"));
            }
            i += 1;
            i += domain_len(&input[i..]).ok_or(bad("malformed source route domain"))?;
            match input.get(i) {
                Some(b',') => i += 1,
                Some(b':') => {
                    i += 1;
                    break;
                }
                _ => return Err(bad("malformed source route")),
            }
        }
    }
    if which == "recipient"
        && input.len() >= i + 11
        && input[i..i + 10].eq_ignore_ascii_case(b"postmaster")
        && input[i + 10] == b'>'
    {
        return Ok((PathKind::Postmaster, after_path(&input[i + 11..], which)?));
    }
    let (mailbox, used) = parse_mailbox(&input[i..], which)?;
    i += used;
    if input.get(i) != Some(&b'>') {
        return Err(bad("missing closing '>'"));
    }
    Ok((
        PathKind::Mailbox(mailbox),
        after_path(&input[i + 1..], which)?,
    ))
}

fn after_path<'a>(rest: &'a [u8], which: &'static str) -> Result<&'a [u8], CommandError> {
    match rest.first() {
        None => Ok(rest),
        Some(b' ') => Ok(&rest[1..]),
        Some(_) => Err(CommandError::BadPath {
            which,
            what: "unexpected characters after the address",
        }),
    }
}

/// What [`parse_path`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathKind {
    Null,
    Postmaster,
    Mailbox(Mailbox),
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: PathSyntax = PathSyntax { lenient: false };
    const LENIENT: PathSyntax = PathSyntax { lenient: true };

    fn mb(s: &str) -> Mailbox {
        Mailbox::parse(s).unwrap()
    }

    #[test]
    fn plain_and_quoted_local_parts() {
        assert_eq!(mb("user@example.org").local_part(), "user");
        let q = mb(r#""john \"jd\" doe"@example.org"#);
        assert_eq!(q.local_part(), r#"john "jd" doe"#);
        assert_eq!(q.domain(), "example.org");
        assert!(Mailbox::parse("a..b@example.org").is_err());
        assert!(Mailbox::parse(".a@example.org").is_err());
        assert!(Mailbox::parse("a.@example.org").is_err());
        assert!(Mailbox::parse("a@-x.org").is_err());
        assert!(Mailbox::parse("a@x-.org").is_err());
        assert!(Mailbox::parse("a@").is_err());
    }

    #[test]
    fn address_literals() {
        assert_eq!(
            mb("a@[192.0.2.1]").domain_kind(),
            DomainKind::Ipv4("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            mb("a@[IPv6:2001:db8::1]").domain_kind(),
            DomainKind::Ipv6("2001:db8::1".parse().unwrap())
        );
        assert!(Mailbox::parse("a@[300.1.1.1]").is_err());
        assert!(Mailbox::parse("a@[IPv6:zz]").is_err());
        assert!(matches!(
            mb("a@[x-tag:abc]").domain_kind(),
            DomainKind::General { tag: "x-tag", .. }
        ));
    }

    #[test]
    fn smtputf8_addresses() {
        let m = mb("пользователь@пример.рф");
        assert!(m.needs_smtputf8());
        assert_eq!(m.domain(), "пример.рф");
        assert!(!mb("a@b.example").needs_smtputf8());
    }

    #[test]
    fn paths_strict_and_lenient() {
        let (p, rest) = parse_path(b"<a@b.example> SIZE=10", "sender", STRICT).unwrap();
        assert_eq!(p, PathKind::Mailbox(mb("a@b.example")));
        assert_eq!(rest, b"SIZE=10");
        assert_eq!(
            parse_path(b"<>", "sender", STRICT).unwrap().0,
            PathKind::Null
        );
        assert_eq!(
            parse_path(b"<PostMaster>", "recipient", STRICT).unwrap().0,
            PathKind::Postmaster
        );
        assert!(matches!(
            parse_path(b"a@b.example", "sender", STRICT),
            Err(CommandError::MissingBrackets { .. })
        ));
        assert!(parse_path(b" <a@b.example>", "sender", STRICT).is_err());
        assert_eq!(
            parse_path(b" <a@b.example>", "sender", LENIENT).unwrap().0,
            PathKind::Mailbox(mb("a@b.example"))
        );
        assert_eq!(
            parse_path(b"a@b.example", "sender", LENIENT).unwrap().0,
            PathKind::Mailbox(mb("a@b.example"))
        );
        assert_eq!(
            parse_path(b" a@b.example", "recipient", LENIENT).unwrap().0,
            PathKind::Mailbox(mb("a@b.example"))
        );
    }

    #[test]
    fn source_route_is_dropped() {
        let (p, _) = parse_path(
            b"<@hosta.int,@jkl.org:userc@d.bar.org>",
            "recipient",
            STRICT,
        )
        .unwrap();
        assert_eq!(p, PathKind::Mailbox(mb("userc@d.bar.org")));
        assert!(parse_path(b"<@hosta.int,userc@d.bar.org>", "recipient", STRICT).is_err());
    }

    #[test]
    fn routing_hazards() {
        assert_eq!(
            mb("a%b.example@relay.example").routing_hazard(),
            Some(RoutingHazard::PercentHack)
        );
        assert_eq!(
            mb("b.example!a@relay.example").routing_hazard(),
            Some(RoutingHazard::BangPath)
        );
        assert_eq!(
            mb("\"a@b.example\"@relay.example").routing_hazard(),
            Some(RoutingHazard::EmbeddedAt)
        );
        assert_eq!(mb("a@relay.example").routing_hazard(), None);
    }
}
