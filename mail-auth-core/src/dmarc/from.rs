//! The author domain: the domain of the RFC 5322 `From` header field
//! (RFC 7489 §3.1 and §6.6.1).
//!
//! This is a small, tolerant parser of the `address-list` grammar of
//! RFC 5322 §3.4: display names (atoms or quoted strings), comments
//! (nested) anywhere, quoted local parts, groups (`name: a@x, b@y;`), the
//! obsolete route syntax and several addresses per field. It extracts what
//! DMARC needs and leaves the rest.

use thiserror::Error;

/// One mailbox of a `From` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name with quoting undone, when there is one.
    pub display_name: Option<String>,
    /// The local part with quoting undone.
    pub local_part: String,
    /// The domain, lower case, without a trailing dot.
    pub domain: String,
}

/// The domain(s) DMARC evaluates a message against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorDomain {
    /// Every author address is in this one domain.
    Single(String),
    /// The authors are in several distinct domains (listed in order of
    /// appearance). RFC 7489 §6.6.1 lets a receiver reject such a message
    /// or evaluate DMARC for each domain; the caller chooses.
    Multiple(Vec<String>),
}

/// Why no author domain could be taken from the `From` field(s).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FromError {
    /// The message has no `From` field.
    #[error("the message has no From header field")]
    Missing,
    /// The message has more than one `From` field (RFC 5322 allows one;
    /// RFC 7489 §6.6.1 lets receivers reject the message).
    #[error("the message has {0} From header fields")]
    MultipleFields(usize),
    /// The field holds no address.
    #[error("the From header field holds no address")]
    Empty,
    /// The field could not be parsed.
    #[error("From header field syntax: {0}")]
    Syntax(&'static str),
    /// An address has a domain literal (`[192.0.2.1]`), which DMARC
    /// cannot evaluate.
    #[error("a From address has a domain literal")]
    DomainLiteral,
    /// An address's domain is not a valid DNS name.
    #[error("invalid From domain {0:?}")]
    InvalidDomain(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An atom (or dot-separated run of atext).
    Atom(String),
    /// A quoted string, unescaped.
    Quoted(String),
    /// A domain literal, brackets included.
    Literal,
    /// One of `< > @ , : ; .`
    Special(u8),
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

fn tokenize(input: &str) -> Result<Vec<Token>, FromError> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                let mut depth = 0usize;
                loop {
                    match bytes.get(i) {
                        None => return Err(FromError::Syntax("unterminated comment")),
                        Some(b'\\') => i += 1,
                        Some(b'(') => depth += 1,
                        Some(b')') => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    i += 1;
                }
            }
            b'"' => {
                let mut out = Vec::new();
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(FromError::Syntax("unterminated quoted string")),
                        Some(b'\\') => {
                            if let Some(&c) = bytes.get(i + 1) {
                                out.push(c);
                            }
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\r' | b'\n') => i += 1,
                        Some(&c) => {
                            out.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Quoted(String::from_utf8_lossy(&out).into_owned()));
            }
            b'[' => {
                let end = bytes[i..]
                    .iter()
                    .position(|&c| c == b']')
                    .ok_or(FromError::Syntax("unterminated domain literal"))?;
                i += end + 1;
                tokens.push(Token::Literal);
            }
            b'<' | b'>' | b'@' | b',' | b':' | b';' | b'.' => {
                tokens.push(Token::Special(b));
                i += 1;
            }
            _ if is_atext(b) => {
                let start = i;
                while i < bytes.len() && is_atext(bytes[i]) {
                    i += 1;
                }
                tokens.push(Token::Atom(input[start..i].to_string()));
            }
            _ => return Err(FromError::Syntax("unexpected character")),
        }
    }
    Ok(tokens)
}

fn words_to_phrase(tokens: &[Token]) -> Option<String> {
    let words: Vec<&str> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Atom(s) | Token::Quoted(s) => Some(s.as_str()),
            Token::Special(b'.') => Some("."),
            _ => None,
        })
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

/// Check and normalise a domain name: lower case, no trailing dot, LDH
/// (and `_`) labels of 1..=63 bytes, at most 253 bytes in all.
pub fn normalize_domain(domain: &str) -> Option<String> {
    let d = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    if d.is_empty() || d.len() > 253 {
        return None;
    }
    let ok = d.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    ok.then_some(d)
}

fn addr_spec(tokens: &[Token], display_name: Option<String>) -> Result<Mailbox, FromError> {
    // Obsolete route: everything up to the last ':' is dropped.
    let tokens = match tokens.iter().rposition(|t| *t == Token::Special(b':')) {
        Some(p) => &tokens[p + 1..],
        None => tokens,
    };
    let at = tokens
        .iter()
        .rposition(|t| *t == Token::Special(b'@'))
        .ok_or(FromError::Syntax("address without @"))?;
    let local: String = tokens[..at]
        .iter()
        .map(|t| match t {
            Token::Atom(s) | Token::Quoted(s) => s.as_str(),
            Token::Special(b'.') => ".",
            _ => "",
        })
        .collect();
    let domain_tokens = &tokens[at + 1..];
    if domain_tokens.contains(&Token::Literal) {
        return Err(FromError::DomainLiteral);
    }
    let mut domain = String::new();
    for t in domain_tokens {
        match t {
            Token::Atom(s) => domain.push_str(s),
            Token::Special(b'.') => domain.push('.'),
            _ => return Err(FromError::Syntax("bad domain")),
        }
    }
    let domain = normalize_domain(&domain).ok_or(FromError::InvalidDomain(domain))?;
    Ok(Mailbox {
        display_name,
        local_part: local,
        domain,
    })
}

fn mailbox(tokens: &[Token]) -> Result<Mailbox, FromError> {
    match tokens.iter().position(|t| *t == Token::Special(b'<')) {
        Some(open) => {
            let close = tokens[open..]
                .iter()
                .position(|t| *t == Token::Special(b'>'))
                .ok_or(FromError::Syntax("unterminated angle address"))?
                + open;
            addr_spec(&tokens[open + 1..close], words_to_phrase(&tokens[..open]))
        }
        None => addr_spec(tokens, None),
    }
}

/// Parse the value of one `From` field into its mailboxes.
pub fn parse_from(value: &str) -> Result<Vec<Mailbox>, FromError> {
    let tokens = tokenize(value)?;
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_angle = false;
    let mut in_group = false;
    let mut i = 0;
    while i <= tokens.len() {
        let t = tokens.get(i);
        match t {
            Some(Token::Special(b'<')) => in_angle = true,
            Some(Token::Special(b'>')) => in_angle = false,
            Some(Token::Special(b':')) if !in_angle && !in_group => {
                // Group display name ends here.
                in_group = true;
                start = i + 1;
            }
            Some(Token::Special(b',' | b';')) | None if !in_angle => {
                let piece = &tokens[start..i];
                if !piece.is_empty() {
                    out.push(mailbox(piece)?);
                }
                if t == Some(&Token::Special(b';')) {
                    in_group = false;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if in_angle {
        return Err(FromError::Syntax("unterminated angle address"));
    }
    Ok(out)
}

/// The author domain from the values of every `From` field of a message.
pub fn author_domain(from_values: &[&str]) -> Result<AuthorDomain, FromError> {
    let value = match from_values {
        [] => return Err(FromError::Missing),
        [one] => *one,
        more => return Err(FromError::MultipleFields(more.len())),
    };
    let mut domains: Vec<String> = Vec::new();
    for mb in parse_from(value)? {
        if !domains.contains(&mb.domain) {
            domains.push(mb.domain);
        }
    }
    match domains.len() {
        0 => Err(FromError::Empty),
        1 => Ok(AuthorDomain::Single(domains.remove(0))),
        _ => Ok(AuthorDomain::Multiple(domains)),
    }
}
