//! Authentication-Results (RFC 8601): writing and parsing the header.
//!
//! [`AuthenticationResults`] holds one header field: the authserv-id, an
//! optional version and the method results. [`AuthenticationResults::to_value`]
//! writes the field body the way receiving servers do, e.g.
//!
//! ```text
//! mx.example.org; spf=pass smtp.mailfrom=example.com;
//!  dkim=pass header.d=example.com header.s=sel header.b=AbCdEfGh;
//!  dmarc=pass (p=reject dis=none) header.from=example.com
//! ```
//!
//! and [`AuthenticationResults::parse`] reads such a body back, with
//! comments (CFWS) wherever RFC 8601 §2.2 allows them.

use std::fmt;

use thiserror::Error;

/// The header field name.
pub const FIELD_NAME: &str = "Authentication-Results";

/// Longest line the folding writer aims for (RFC 5322 §2.1.1).
const FOLD_AT: usize = 78;

/// One `ptype.property=value` of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// `smtp`, `header`, `body` or `policy` (lower case).
    pub ptype: String,
    /// The property, such as `mailfrom` or `d` (lower case).
    pub property: String,
    /// The value, unquoted.
    pub value: String,
    /// A comment written after the value, when there is one.
    pub comment: Option<String>,
}

/// One `method=result` with its reason, comment and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// The method (`spf`, `dkim`, `dmarc`, `iprev`, `arc`, `auth`, ...),
    /// lower case.
    pub method: String,
    /// The method version (`dkim/1`), when written.
    pub method_version: Option<u32>,
    /// The result keyword (`pass`, `fail`, ...), lower case.
    pub result: String,
    /// A comment written after the result (or after the reason), such as
    /// `p=reject dis=none`.
    pub comment: Option<String>,
    /// The `reason=` text, unquoted.
    pub reason: Option<String>,
    /// The properties, in order.
    pub properties: Vec<Property>,
}

impl MethodResult {
    /// `method=result` with nothing else.
    pub fn new(method: &str, result: &str) -> Self {
        MethodResult {
            method: method.to_ascii_lowercase(),
            method_version: None,
            result: result.to_ascii_lowercase(),
            comment: None,
            reason: None,
            properties: Vec::new(),
        }
    }

    /// With a comment after the result.
    pub fn with_comment(mut self, comment: &str) -> Self {
        self.comment = Some(comment.to_string());
        self
    }

    /// With a `reason=`.
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_string());
        self
    }

    /// With a method version (`dkim/1=pass`).
    pub fn with_version(mut self, version: u32) -> Self {
        self.method_version = Some(version);
        self
    }

    /// With a property `ptype.property=value`.
    pub fn with_property(mut self, ptype: &str, property: &str, value: &str) -> Self {
        self.properties.push(Property {
            ptype: ptype.to_ascii_lowercase(),
            property: property.to_ascii_lowercase(),
            value: value.to_string(),
            comment: None,
        });
        self
    }

    /// With a property followed by a comment.
    pub fn with_property_comment(
        mut self,
        ptype: &str,
        property: &str,
        value: &str,
        comment: &str,
    ) -> Self {
        self = self.with_property(ptype, property, value);
        if let Some(p) = self.properties.last_mut() {
            p.comment = Some(comment.to_string());
        }
        self
    }

    /// The value of the first `ptype.property`.
    pub fn property(&self, ptype: &str, property: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| {
                p.ptype.eq_ignore_ascii_case(ptype) && p.property.eq_ignore_ascii_case(property)
            })
            .map(|p| p.value.as_str())
    }

    /// The written pieces, which the folding writer keeps whole.
    fn pieces(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut head = self.method.clone();
        if let Some(v) = self.method_version {
            head.push_str(&format!("/{v}"));
        }
        head.push('=');
        head.push_str(&self.result);
        out.push(head);
        if let Some(c) = &self.comment {
            out.push(comment(c));
        }
        if let Some(r) = &self.reason {
            out.push(format!("reason={}", value(r)));
        }
        for p in &self.properties {
            out.push(format!("{}.{}={}", p.ptype, p.property, pvalue(&p.value)));
            if let Some(c) = &p.comment {
                out.push(comment(c));
            }
        }
        out
    }
}

/// One Authentication-Results header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// The authserv-id: the host that did the checks.
    pub authserv_id: String,
    /// The version after the authserv-id, when written.
    pub version: Option<u32>,
    /// The results; empty means `none`.
    pub results: Vec<MethodResult>,
}

/// Why an Authentication-Results value could not be parsed. Offsets are
/// byte positions in the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthResultsError {
    /// The value has no authserv-id.
    #[error("Authentication-Results: no authserv-id")]
    MissingAuthservId,
    /// A comment was not closed.
    #[error("Authentication-Results: unterminated comment at byte {0}")]
    UnterminatedComment(usize),
    /// A quoted string was not closed.
    #[error("Authentication-Results: unterminated quoted string at byte {0}")]
    UnterminatedQuote(usize),
    /// Something else than the grammar allows.
    #[error("Authentication-Results: expected {expected} at byte {at}")]
    Expected {
        /// What the grammar wanted.
        expected: &'static str,
        /// Where.
        at: usize,
    },
}

fn is_tspecial(c: char) -> bool {
    "()<>@,;:\\\"/[]?=".contains(c)
}

/// True when `s` is an RFC 2045 token (so it needs no quotes).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii() && !c.is_ascii_control() && c != ' ' && !is_tspecial(c))
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_atext))
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        if c == '\r' || c == '\n' {
            out.push(' ');
            continue;
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn value(s: &str) -> String {
    if is_token(s) {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn pvalue(s: &str) -> String {
    if is_token(s) {
        return s.to_string();
    }
    if let Some((local, domain)) = s.rsplit_once('@')
        && (local.is_empty() || is_dot_atom(local))
        && is_dot_atom(domain)
    {
        return s.to_string();
    }
    quoted(s)
}

fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('(');
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push(')');
    out
}

impl AuthenticationResults {
    /// A field for `authserv_id` with no results yet.
    pub fn new(authserv_id: &str) -> Self {
        AuthenticationResults {
            authserv_id: authserv_id.to_string(),
            version: None,
            results: Vec::new(),
        }
    }

    /// Add a result.
    pub fn push(&mut self, result: MethodResult) -> &mut Self {
        self.results.push(result);
        self
    }

    /// With a result added.
    pub fn with(mut self, result: MethodResult) -> Self {
        self.results.push(result);
        self
    }

    /// The results of one method.
    pub fn method<'a>(&'a self, method: &'a str) -> impl Iterator<Item = &'a MethodResult> + 'a {
        self.results
            .iter()
            .filter(move |r| r.method.eq_ignore_ascii_case(method))
    }

    fn lines(&self) -> (String, Vec<Vec<String>>) {
        let mut head = value(&self.authserv_id);
        if let Some(v) = self.version {
            head.push_str(&format!(" {v}"));
        }
        head.push(';');
        let mut resinfos: Vec<Vec<String>> =
            self.results.iter().map(MethodResult::pieces).collect();
        if resinfos.is_empty() {
            resinfos.push(vec!["none".to_string()]);
        }
        let n = resinfos.len();
        for (i, r) in resinfos.iter_mut().enumerate() {
            if i + 1 < n
                && let Some(last) = r.last_mut()
            {
                last.push(';');
            }
        }
        (head, resinfos)
    }

    /// The field body on one line.
    pub fn to_value(&self) -> String {
        let (head, resinfos) = self.lines();
        let mut out = head;
        for r in resinfos {
            out.push(' ');
            out.push_str(&r.join(" "));
        }
        out
    }

    /// The whole header field, `Authentication-Results: ...` folded so
    /// each result starts a line and lines stay near 78 characters where
    /// the pieces allow, ending in CRLF.
    pub fn to_header_field(&self) -> String {
        let (head, resinfos) = self.lines();
        let mut out = format!("{FIELD_NAME}: {head}");
        for r in resinfos {
            out.push_str("\r\n\t");
            let mut line_len = 8;
            for (i, piece) in r.iter().enumerate() {
                if i > 0 {
                    if line_len + 1 + piece.len() > FOLD_AT {
                        out.push_str("\r\n\t\t");
                        line_len = 16;
                    } else {
                        out.push(' ');
                        line_len += 1;
                    }
                }
                out.push_str(piece);
                line_len += piece.len();
            }
        }
        out.push_str("\r\n");
        out
    }

    /// Parse a field body (a leading `Authentication-Results:` name is
    /// skipped; folding is allowed).
    pub fn parse(input: &str) -> Result<Self, AuthResultsError> {
        let mut start = 0;
        if let Some(colon) = input.find(':') {
            let name = input[..colon].trim();
            if name.eq_ignore_ascii_case(FIELD_NAME) {
                start = colon + 1;
            }
        }
        let mut p = Parser { s: input, i: start };
        p.cfws()?;
        let authserv_id = p.value()?.ok_or(AuthResultsError::MissingAuthservId)?;
        let ws = p.cfws()?;
        let mut version = None;
        if ws.had_space && p.peek().is_some_and(|c| c.is_ascii_digit()) {
            let at = p.i;
            let digits = p.take_while(|c| c.is_ascii_digit());
            version = Some(digits.parse().map_err(|_| AuthResultsError::Expected {
                expected: "a version number",
                at,
            })?);
            p.cfws()?;
        }
        let mut results = Vec::new();
        loop {
            p.cfws()?;
            match p.peek() {
                None => break,
                Some(';') => p.i += 1,
                Some(_) => {
                    return Err(AuthResultsError::Expected {
                        expected: "';'",
                        at: p.i,
                    });
                }
            }
            p.cfws()?;
            if p.peek().is_none() {
                break;
            }
            let at = p.i;
            let method = p.keyword();
            if method.is_empty() {
                return Err(AuthResultsError::Expected {
                    expected: "a method",
                    at,
                });
            }
            p.cfws()?;
            if method.eq_ignore_ascii_case("none") && !matches!(p.peek(), Some('=' | '/')) {
                continue;
            }
            let mut method_version = None;
            if p.peek() == Some('/') {
                p.i += 1;
                p.cfws()?;
                let at = p.i;
                let digits = p.take_while(|c| c.is_ascii_digit());
                method_version = Some(digits.parse().map_err(|_| AuthResultsError::Expected {
                    expected: "a method version",
                    at,
                })?);
                p.cfws()?;
            }
            p.expect('=', "'=' after the method")?;
            p.cfws()?;
            let at = p.i;
            let result = p.keyword();
            if result.is_empty() {
                return Err(AuthResultsError::Expected {
                    expected: "a result",
                    at,
                });
            }
            let mut r = MethodResult::new(&method, &result);
            r.method_version = method_version;
            r.comment = p.cfws()?.comment;
            loop {
                match p.peek() {
                    None | Some(';') => break,
                    _ => {}
                }
                let at = p.i;
                let name = p.keyword();
                if name.is_empty() {
                    return Err(AuthResultsError::Expected {
                        expected: "a reason or property",
                        at,
                    });
                }
                p.cfws()?;
                if name.eq_ignore_ascii_case("reason") && p.peek() == Some('=') {
                    p.i += 1;
                    p.cfws()?;
                    let v = p.value()?.ok_or(AuthResultsError::Expected {
                        expected: "a reason value",
                        at: p.i,
                    })?;
                    r.reason = Some(v);
                    let c = p.cfws()?.comment;
                    if r.comment.is_none() {
                        r.comment = c;
                    }
                    continue;
                }
                p.expect('.', "'.' in ptype.property")?;
                p.cfws()?;
                let at = p.i;
                let property = p.keyword();
                if property.is_empty() {
                    return Err(AuthResultsError::Expected {
                        expected: "a property name",
                        at,
                    });
                }
                p.cfws()?;
                p.expect('=', "'=' after the property")?;
                p.cfws()?;
                let v = p.pvalue()?;
                let c = p.cfws()?.comment;
                r.properties.push(Property {
                    ptype: name.to_ascii_lowercase(),
                    property: property.to_ascii_lowercase(),
                    value: v,
                    comment: c,
                });
            }
            results.push(r);
        }
        Ok(AuthenticationResults {
            authserv_id,
            version,
            results,
        })
    }
}

impl fmt::Display for AuthenticationResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_value())
    }
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

#[derive(Default)]
struct Cfws {
    had_space: bool,
    comment: Option<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.i += c.len_utf8();
        }
        self.s[start..self.i].to_string()
    }

    fn expect(&mut self, c: char, expected: &'static str) -> Result<(), AuthResultsError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(AuthResultsError::Expected {
                expected,
                at: self.i,
            })
        }
    }

    /// Skip white space, folding and comments; the first comment's text
    /// (outer parentheses removed, quoted-pairs undone) is kept.
    fn cfws(&mut self) -> Result<Cfws, AuthResultsError> {
        let mut out = Cfws::default();
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r' | '\n') => {
                    out.had_space = true;
                    self.i += 1;
                }
                Some('(') => {
                    out.had_space = true;
                    let start = self.i;
                    let mut depth = 0usize;
                    let mut text = String::new();
                    loop {
                        let Some(c) = self.peek() else {
                            return Err(AuthResultsError::UnterminatedComment(start));
                        };
                        self.i += c.len_utf8();
                        match c {
                            '\\' => {
                                if let Some(n) = self.peek() {
                                    self.i += n.len_utf8();
                                    // An escaped line end is folding all the
                                    // same: dropped, as unescaped ones are.
                                    if n != '\r' && n != '\n' {
                                        text.push(n);
                                    }
                                }
                            }
                            '(' => {
                                if depth > 0 {
                                    text.push(c);
                                }
                                depth += 1;
                            }
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                                text.push(c);
                            }
                            '\r' | '\n' => {}
                            c => text.push(c),
                        }
                    }
                    if out.comment.is_none() {
                        out.comment = Some(text);
                    }
                }
                _ => return Ok(out),
            }
        }
    }

    /// A method, result, ptype or property name.
    fn keyword(&mut self) -> String {
        self.take_while(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    fn quoted_string(&mut self) -> Result<String, AuthResultsError> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(AuthResultsError::UnterminatedQuote(start));
            };
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    if let Some(n) = self.peek() {
                        self.i += n.len_utf8();
                        if n != '\r' && n != '\n' {
                            out.push(n);
                        }
                    }
                }
                '\r' | '\n' => {}
                c => out.push(c),
            }
        }
    }

    /// A token or quoted string; `None` when neither starts here.
    fn value(&mut self) -> Result<Option<String>, AuthResultsError> {
        if self.peek() == Some('"') {
            return self.quoted_string().map(Some);
        }
        let t = self.take_while(|c| !c.is_ascii_control() && c != ' ' && !is_tspecial(c));
        Ok(if t.is_empty() { None } else { Some(t) })
    }

    /// A property value: a quoted string, or everything up to white space,
    /// `;` or a comment (so `user@example.com`, `@example.com` and
    /// unquoted base64 read as written).
    fn pvalue(&mut self) -> Result<String, AuthResultsError> {
        if self.peek() == Some('"') {
            return self.quoted_string();
        }
        Ok(self
            .take_while(|c| !matches!(c, ' ' | '\t' | '\r' | '\n' | ';' | '(') && !c.is_control()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(value("good"), "good");
        assert_eq!(value("good signature"), "\"good signature\"");
        assert_eq!(pvalue("user@example.com"), "user@example.com");
        assert_eq!(pvalue("@example.com"), "@example.com");
        assert_eq!(pvalue("a/b+c"), "\"a/b+c\"");
        assert_eq!(comment("a (b) c\\"), "(a \\(b\\) c\\\\)");
    }
}
