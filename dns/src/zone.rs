//! Answers from RFC 1035 master files ("zone files"), parsed with
//! hickory-proto's zone parser.

use std::fmt;
use std::future::{Future, ready};
use std::io;
use std::path::{Path, PathBuf};

use hickory_proto::rr::{DNSClass, Name, RData};
use hickory_proto::serialize::txt::Parser;

use crate::memory::MemoryResolver;
use crate::types::{Answer, Query, Record, Resolver, normalize_name};

/// The TTL given to records of a file that has no `$TTL` and no TTL of its
/// own. The resolver never reports TTLs, so the value does not matter; it
/// only spares test zones a `$TTL` line.
const DEFAULT_TTL_LINE: &str = "$TTL 3600\n";

/// Why a zone could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZoneError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{}: cannot read zone file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The text is not a valid master file. `Display` gives
    /// `FILE:LINE: message`.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file's path, or the label given to
        /// [`ZoneResolver::from_text`].
        file: String,
        /// The 1-based line where the entry (the record or `$` directive,
        /// which may span lines in parentheses) that failed begins.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// The origin given to [`ZoneResolver::from_text`] is not a domain name.
    #[error("{file}: invalid origin {origin:?}: {message}")]
    Origin {
        /// The file's label.
        file: String,
        /// The origin as given.
        origin: String,
        /// Why it is invalid.
        message: String,
    },
}

impl ZoneError {
    /// The file (path or label) the error is about.
    pub fn file(&self) -> String {
        match self {
            ZoneError::Read { path, .. } => path.display().to_string(),
            ZoneError::Syntax { file, .. } | ZoneError::Origin { file, .. } => file.clone(),
        }
    }

    /// The 1-based line of a syntax error.
    pub fn line(&self) -> Option<usize> {
        match self {
            ZoneError::Syntax { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// A [`Resolver`] that answers from RFC 1035 master files.
///
/// Several files (or texts) can be loaded into one resolver; their records
/// are merged. Answers follow the rules of [`MemoryResolver`], which holds
/// the data:
///
/// * a name that no zone has is NXDOMAIN; a name that has records, but none
///   of the asked type, is NODATA (so is a name that only has names below
///   it, and one that only has types this crate does not ask for, like SOA
///   or NS);
/// * CNAMEs are followed, at most [`DEFAULT_MAX_CNAME_HOPS`] links (a loop
///   answers `TempFail`); wildcards (`*.example.com`) answer for names that
///   do not exist below their parent;
/// * TXT character-strings are joined without separators; names are kept in
///   lower case without the trailing dot.
///
/// Relative names, `@`, `$ORIGIN`, `$TTL` and `$INCLUDE` work as
/// hickory-proto's zone parser reads them. Until a file sets `$ORIGIN` (or
/// an origin is passed to [`from_text`](Self::from_text)), the origin is the
/// root, so a relative name `www` means `www.` — write absolute names (ending
/// in a dot) in files without an origin. A file that gives no TTL at all is
/// accepted (a default TTL is assumed). Only class IN records are kept.
///
/// Quoted strings inside parentheses work, as in the usual multi-line DKIM
/// key record `sel._domainkey TXT ( "v=DKIM1; k=rsa; " "p=..." )`: each
/// parenthesized list is put on one line before hickory-proto's lexer (which
/// would not read those quotes) sees it. Files pulled in by `$INCLUDE` are
/// read by hickory-proto alone, without that step.
///
/// [`DEFAULT_MAX_CNAME_HOPS`]: crate::DEFAULT_MAX_CNAME_HOPS
///
/// ```
/// use postel_dns::{Answer, Query, RecordType, ZoneResolver};
///
/// let zone = r#"
/// $ORIGIN example.com.
/// @        IN MX  10 mail
/// mail     IN A   192.0.2.25
/// @        IN TXT "v=spf1 " "mx -all"
/// "#;
/// let dns = ZoneResolver::from_text(zone, None, "example.zone").unwrap();
/// let spf = dns.answer(&Query::new("example.com", RecordType::Txt));
/// assert_eq!(spf.txt().next(), Some(&b"v=spf1 mx -all"[..]));
/// assert_eq!(dns.answer(&Query::new("mail.example.com", RecordType::Mx)), Answer::NoData);
/// assert_eq!(dns.answer(&Query::new("www.example.com", RecordType::A)), Answer::NxDomain);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ZoneResolver {
    table: MemoryResolver,
}

impl ZoneResolver {
    /// An empty resolver: every name is NXDOMAIN until zones are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads and merges the master files at `paths`. Relative `$INCLUDE`s
    /// are read from each file's directory.
    pub fn from_files<I, P>(paths: I) -> Result<Self, ZoneError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut zones = ZoneResolver::new();
        for path in paths {
            zones.add_file(path)?;
        }
        Ok(zones)
    }

    /// Loads one master file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ZoneError> {
        Self::from_files([path])
    }

    /// Parses master-file `text`. `origin` is the initial origin for
    /// relative names (the root when `None`); `file_label` names the text in
    /// errors. A relative `$INCLUDE` is an error here, for want of a
    /// directory.
    pub fn from_text(
        text: &str,
        origin: Option<&str>,
        file_label: &str,
    ) -> Result<Self, ZoneError> {
        let mut zones = ZoneResolver::new();
        zones.add_text(text, origin, file_label)?;
        Ok(zones)
    }

    /// Loads one more master file into this resolver (its origin starts at
    /// the root).
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self, ZoneError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ZoneError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let label = path.display().to_string();
        self.load(&text, None, &label, Some(path.to_path_buf()))?;
        Ok(self)
    }

    /// Parses one more text into this resolver; see
    /// [`from_text`](Self::from_text).
    pub fn add_text(
        &mut self,
        text: &str,
        origin: Option<&str>,
        file_label: &str,
    ) -> Result<&mut Self, ZoneError> {
        self.load(text, origin, file_label, None)?;
        Ok(self)
    }

    /// Answers `query` at once (the lookup never waits).
    pub fn answer(&self, query: &Query) -> Answer {
        self.table.answer(query)
    }

    /// The table the zones were loaded into.
    pub fn as_memory(&self) -> &MemoryResolver {
        &self.table
    }

    /// The table the zones were loaded into, to add test data to it.
    pub fn into_memory(self) -> MemoryResolver {
        self.table
    }

    fn load(
        &mut self,
        text: &str,
        origin: Option<&str>,
        label: &str,
        path: Option<PathBuf>,
    ) -> Result<(), ZoneError> {
        let origin = match origin {
            None => Name::root(),
            Some(o) => {
                let bad = |message: String| ZoneError::Origin {
                    file: label.to_owned(),
                    origin: o.to_owned(),
                    message,
                };
                let mut name = Name::from_ascii(o).map_err(|e| bad(e.to_string()))?;
                name.set_fqdn(true);
                name
            }
        };
        let parse = |prefix: &str| {
            let mut input = String::with_capacity(DEFAULT_TTL_LINE.len() + prefix.len());
            input.push_str(DEFAULT_TTL_LINE);
            input.push_str(prefix);
            Parser::new(input, path.clone(), Some(origin.clone())).parse()
        };
        let flat = flatten(text).map_err(|line| ZoneError::Syntax {
            file: label.to_owned(),
            line,
            message: "unclosed list, missing ')'".to_owned(),
        })?;
        let records = match parse(&flat.text) {
            Ok((_origin, records)) => records,
            Err(error) => {
                return Err(ZoneError::Syntax {
                    file: label.to_owned(),
                    line: failing_line(&flat, |prefix| parse(prefix).is_err()),
                    message: error.to_string(),
                });
            }
        };
        let mut table = MemoryResolver::new();
        for rrset in records.values() {
            for record in rrset.records_without_rrsigs() {
                if record.dns_class != DNSClass::IN {
                    continue;
                }
                let owner = name_text(&record.name);
                let converted = match &record.data {
                    RData::A(a) => Record::A(a.0),
                    RData::AAAA(a) => Record::Aaaa(a.0),
                    RData::MX(mx) => Record::Mx {
                        preference: mx.preference,
                        exchange: name_text(&mx.exchange),
                    },
                    RData::TXT(txt) => Record::Txt(txt.txt_data.concat()),
                    RData::PTR(ptr) => Record::Ptr(name_text(&ptr.0)),
                    RData::CNAME(cname) => {
                        table.alias(&owner, &name_text(&cname.0));
                        continue;
                    }
                    _ => {
                        // A type nobody asks for here: the name exists.
                        table.touch(&owner);
                        continue;
                    }
                };
                table.add(&owner, converted);
            }
        }
        self.table.merge(table);
        Ok(())
    }
}

impl Resolver for ZoneResolver {
    fn lookup(&self, query: &Query) -> impl Future<Output = Answer> + Send {
        ready(self.answer(query))
    }
}

impl From<ZoneResolver> for MemoryResolver {
    fn from(zones: ZoneResolver) -> Self {
        zones.table
    }
}

impl fmt::Display for ZoneResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zone data for {} names", self.table.len())
    }
}

/// A name in the normal form of [`Query`].
fn name_text(name: &Name) -> String {
    normalize_name(&name.to_ascii())
}

/// One master-file entry: where it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// 1-based line of its first character in the original text.
    line: usize,
    /// Byte offset just past its end in the flattened text (past its
    /// newlines, if any).
    end: usize,
}

/// Master-file text with every parenthesized list put on one line.
#[derive(Debug)]
struct Flat {
    text: String,
    entries: Vec<Entry>,
}

/// Rewrites master-file text so that hickory-proto's lexer reads it as
/// RFC 1035 means: the lexer does not treat quotes as quotes inside `( )`,
/// so `TXT ( "v=DKIM1; k=rsa; " "p=..." )` would keep the quote marks and
/// lose the spaces. Each list is replaced by its contents on one line
/// (parentheses and the comments inside dropped); the newlines it spanned
/// are written after the entry as empty lines, so that every later entry
/// keeps its line number.
///
/// Also splits the text into entries: a newline ends an entry unless it is
/// inside quotes or a list. Quotes and lists open only where a token starts;
/// `;` starts a comment; `\` escapes the next character inside quotes.
///
/// Fails with the line of a `(` that is never closed.
fn flatten(text: &str) -> Result<Flat, usize> {
    let mut out = String::with_capacity(text.len());
    let mut entries = Vec::new();
    let (mut line, mut start_line, mut list_line) = (1, 1, 1);
    let (mut in_quote, mut in_list, mut in_comment, mut in_token) = (false, false, false, false);
    let mut pending_newlines = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        if in_comment {
            if c != '\n' {
                if !in_list {
                    out.push(c);
                }
                continue;
            }
            in_comment = false;
        }
        if in_quote {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        if next == '\n' {
                            line += 1;
                        }
                        out.push(next);
                    }
                }
                '"' => {
                    in_quote = false;
                    in_token = false;
                }
                _ => {}
            }
            continue;
        }
        match c {
            '\n' | '\r' if in_list => {
                out.push(' ');
                if c == '\n' {
                    pending_newlines += 1;
                }
                in_token = false;
            }
            '\n' => {
                out.push('\n');
                out.extend(std::iter::repeat_n('\n', pending_newlines));
                pending_newlines = 0;
                entries.push(Entry {
                    line: start_line,
                    end: out.len(),
                });
                start_line = line;
                in_token = false;
            }
            ';' => {
                in_comment = true;
                in_token = false;
                if !in_list {
                    out.push(';');
                }
            }
            '"' if !in_token => {
                in_quote = true;
                out.push('"');
            }
            '(' if !in_token && !in_list => {
                in_list = true;
                list_line = line;
                out.push(' ');
            }
            ')' if in_list => {
                in_list = false;
                in_token = false;
                out.push(' ');
            }
            c if c.is_whitespace() => {
                in_token = false;
                out.push(c);
            }
            c => {
                in_token = true;
                out.push(c);
            }
        }
    }
    if in_list {
        return Err(list_line);
    }
    out.extend(std::iter::repeat_n('\n', pending_newlines));
    if entries.last().is_none_or(|e| e.end < out.len()) {
        entries.push(Entry {
            line: start_line,
            end: out.len(),
        });
    }
    Ok(Flat { text: out, entries })
}

/// The line where the first failing entry starts: the smallest prefix of
/// whole entries for which `fails` holds, found by bisection. The parser
/// reads entries in order and fails at the first bad one, so once a prefix
/// fails every longer one does.
fn failing_line(flat: &Flat, fails: impl Fn(&str) -> bool) -> usize {
    let entries = &flat.entries;
    // Invariant: the first `lo` entries parse; the first `hi` entries fail.
    let (mut lo, mut hi) = (0, entries.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fails(&flat.text[..entries[mid - 1].end]) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    entries.get(hi.saturating_sub(1)).map_or(1, |e| e.line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RecordType;

    fn q(name: &str, t: RecordType) -> Query {
        Query::new(name, t)
    }

    const ZONE: &str = r#"$ORIGIN Example.COM.
$TTL 300
@           IN SOA  ns1 hostmaster ( 2024010101 ; serial
                        3600 900 604800 300 )
            IN NS   ns1
            IN MX   10 Mail
            IN MX   20 mail.backup.example.net.
            IN TXT  "v=spf1 ip4:192.0.2.0/24 " "include:_spf.example.net -all"
ns1         IN A    192.0.2.53
mail        IN A    192.0.2.25
mail        IN AAAA 2001:db8::25
smtp        IN CNAME mail
loop1       IN CNAME loop2
loop2       IN CNAME loop1
sel._domainkey IN TXT "v=DKIM1; k=rsa; p=MIIB"
*.wild      IN TXT  wildcard
25.2.0.192.in-addr.arpa. IN PTR mail.example.com.
"#;

    fn zone() -> ZoneResolver {
        ZoneResolver::from_text(ZONE, None, "test.zone").unwrap()
    }

    #[test]
    fn records_of_each_type() {
        let z = zone();
        assert_eq!(
            z.answer(&q("mail.example.com", RecordType::A)).records(),
            &[Record::A("192.0.2.25".parse().unwrap())]
        );
        assert_eq!(
            z.answer(&q("mail.example.com", RecordType::Aaaa)).records(),
            &[Record::Aaaa("2001:db8::25".parse().unwrap())]
        );
        let mut mx = z
            .answer(&q("example.com", RecordType::Mx))
            .records()
            .to_vec();
        mx.sort_by_key(|r| r.to_string());
        assert_eq!(
            mx,
            [
                Record::Mx {
                    preference: 10,
                    exchange: "mail.example.com".into()
                },
                Record::Mx {
                    preference: 20,
                    exchange: "mail.backup.example.net".into()
                },
            ]
        );
        assert_eq!(
            z.answer(&q("example.com", RecordType::Txt)).records(),
            &[Record::Txt(
                b"v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all".to_vec()
            )]
        );
        assert_eq!(
            z.answer(&Query::reverse("192.0.2.25".parse().unwrap()))
                .records(),
            &[Record::Ptr("mail.example.com".into())]
        );
    }

    #[test]
    fn nxdomain_nodata_and_empty_non_terminals() {
        let z = zone();
        assert_eq!(
            z.answer(&q("www.example.com", RecordType::A)),
            Answer::NxDomain
        );
        assert_eq!(z.answer(&q("example.com", RecordType::A)), Answer::NoData);
        assert_eq!(
            z.answer(&q("ns1.example.com", RecordType::Txt)),
            Answer::NoData
        );
        assert_eq!(
            z.answer(&q("_domainkey.example.com", RecordType::Txt)),
            Answer::NoData
        );
        assert_eq!(
            z.answer(&q("sel._domainkey.example.com", RecordType::Txt))
                .txt()
                .next(),
            Some(&b"v=DKIM1; k=rsa; p=MIIB"[..])
        );
    }

    #[test]
    fn cnames_and_wildcards() {
        let z = zone();
        assert_eq!(
            z.answer(&q("SMTP.example.com.", RecordType::A)).records(),
            &[Record::A("192.0.2.25".parse().unwrap())]
        );
        assert!(
            z.answer(&q("loop1.example.com", RecordType::A))
                .is_temp_fail()
        );
        assert_eq!(
            z.answer(&q("x.wild.example.com", RecordType::Txt))
                .txt()
                .next(),
            Some(&b"wildcard"[..])
        );
    }

    #[test]
    fn files_without_origin_use_the_root() {
        let text = "$TTL 60\nhost.example.org. IN A 192.0.2.7\nrel IN TXT \"relative\"\n";
        let z = ZoneResolver::from_text(text, None, "noorigin").unwrap();
        assert_eq!(
            z.answer(&q("host.example.org", RecordType::A))
                .ips()
                .count(),
            1
        );
        assert_eq!(z.answer(&q("rel", RecordType::Txt)).txt().count(), 1);
        // Given origin for relative names, and no TTL anywhere.
        let z =
            ZoneResolver::from_text("www A 192.0.2.8\n@ MX 0 .", Some("example.net"), "t").unwrap();
        assert_eq!(
            z.answer(&q("www.example.net", RecordType::A)).ips().count(),
            1
        );
        assert_eq!(
            z.answer(&q("example.net", RecordType::Mx)).records(),
            &[Record::Mx {
                preference: 0,
                exchange: String::new()
            }]
        );
    }

    #[test]
    fn several_texts_merge() {
        let mut z = ZoneResolver::from_text("a.example. A 192.0.2.1\n", None, "one").unwrap();
        z.add_text("a.example. A 192.0.2.2\nb.example. TXT hi\n", None, "two")
            .unwrap();
        assert_eq!(z.answer(&q("a.example", RecordType::A)).ips().count(), 2);
        assert_eq!(z.answer(&q("b.example", RecordType::Txt)).txt().count(), 1);
        assert_eq!(z.as_memory().len(), 2);
        let memory: MemoryResolver = z.into();
        assert_eq!(memory.len(), 2);
    }

    #[test]
    fn syntax_errors_say_file_and_line() {
        let text = "$ORIGIN example.com.\n\n; comment\nok A 192.0.2.1\nbad A 192.0.2.300\nlater A 192.0.2.2\n";
        let err = ZoneResolver::from_text(text, None, "bad.zone").unwrap_err();
        assert_eq!(err.line(), Some(5), "{err}");
        assert_eq!(err.file(), "bad.zone");
        assert!(err.to_string().starts_with("bad.zone:5: "), "{err}");

        // An unknown type.
        let err = ZoneResolver::from_text("a. A 192.0.2.1\nb. BOGUS x\n", None, "t").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");

        // An error inside a record spread over lines: the entry's first line.
        let text =
            "$ORIGIN example.com.\n@ SOA ns1 host ( 1\n  2 3\n  notanumber 5 )\nx A 192.0.2.1\n";
        let err = ZoneResolver::from_text(text, None, "soa").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");

        // A multi-line quoted string before the error does not shift it.
        let text = "a. TXT \"one\ntwo\"\nb. TXT ok\nc. MX x y\n";
        let err = ZoneResolver::from_text(text, None, "q").unwrap_err();
        assert_eq!(err.line(), Some(4), "{err}");

        // Error on the last line without a newline.
        let err = ZoneResolver::from_text("a. A 192.0.2.1\nb. A nope", None, "t").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");
    }

    #[test]
    fn bad_origin_and_unreadable_files() {
        let err = ZoneResolver::from_text("", Some("a..b"), "t").unwrap_err();
        assert!(matches!(err, ZoneError::Origin { .. }), "{err}");
        let err = ZoneResolver::from_file("/nonexistent/postel-dns/zone").unwrap_err();
        assert!(matches!(err, ZoneError::Read { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("/nonexistent/postel-dns/zone: "),
            "{err}"
        );
        assert_eq!(err.line(), None);
    }

    #[test]
    fn flattening_keeps_lines_and_splits_entries() {
        let text = "a ( 1 ; note\n 2 ) ; c (\n\"x\ny\" z\n\nlast";
        let flat = flatten(text).unwrap();
        assert_eq!(flat.text, "a   1   2   ; c (\n\n\"x\ny\" z\n\nlast");
        let lines: Vec<usize> = flat.entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3, 5, 6]);
        assert_eq!(flat.entries.last().unwrap().end, flat.text.len());
        assert_eq!(flat.text.matches('\n').count(), text.matches('\n').count());
        // Quotes open only at a token's start; `(` inside a token is text.
        let flat = flatten("a\"b f(x) \"(\" ( \"q;)\" )\n").unwrap();
        assert_eq!(flat.text, "a\"b f(x) \"(\"   \"q;)\"  \n");
        assert_eq!(flatten("x\ny ( 1\n2\n").unwrap_err(), 2);
        assert_eq!(flatten("").unwrap().entries.len(), 1);
    }

    #[test]
    fn quoted_strings_in_parentheses() {
        let text = "$ORIGIN example.com.\nsel._domainkey IN TXT ( \"v=DKIM1; k=rsa; \"   ; key\n    \"p=MIIB\" )\nnext IN A 192.0.2.1\nbad IN A x\n";
        let err = ZoneResolver::from_text(text, None, "dkim").unwrap_err();
        assert_eq!(err.line(), Some(5), "{err}");
        let z = ZoneResolver::from_text(&text.replace("bad IN A x\n", ""), None, "dkim").unwrap();
        assert_eq!(
            z.answer(&q("sel._domainkey.example.com", RecordType::Txt))
                .txt()
                .next(),
            Some(&b"v=DKIM1; k=rsa; p=MIIB"[..])
        );
        let err =
            ZoneResolver::from_text("a. A 192.0.2.1\nb. TXT ( \"x\"\n", None, "u").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");
        assert!(err.to_string().contains("unclosed"), "{err}");
    }
}
