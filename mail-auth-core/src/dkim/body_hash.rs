//! Streaming body canonicalization and hashing (RFC 6376 §3.4.3, §3.4.4,
//! §3.7).
//!
//! The body is never buffered. What cannot be written out yet is kept as
//! counts: the number of line ends seen since the last non-empty line (they
//! are dropped if the body ends there), whether white space is pending in
//! the current line (relaxed: it becomes one space if anything follows on
//! that line), and whether the last byte was a CR that may start a CRLF.
//! Canonical output goes through a small fixed buffer into the hash.
//!
//! A bare LF is read as CRLF, and a CR not followed by LF is an ordinary
//! byte (see [`crate::message`]).

use ring::digest;

use super::algorithm::{Canonicalization, HashAlgorithm};

const OUT_BUF: usize = 4096;

/// Finds two spaces in a row, the sign that relaxed canonicalization has
/// something to collapse.
static DOUBLE_SPACE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"  "));
const CRLFS: &[u8; 128] = b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\
\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\
\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\
\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

/// The hash of a canonicalized body and how long the canonical body was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyHash {
    /// The digest of the canonical body (or of its first `l=` bytes).
    pub digest: Vec<u8>,
    /// The length of the whole canonical body, whether or not a limit cut
    /// what was hashed. A verifier compares it with `l=`.
    pub canonical_len: u64,
}

/// Canonicalizes a body arriving in chunks of any size and hashes it.
///
/// ```
/// use postel_auth::dkim::{BodyHasher, Canonicalization, HashAlgorithm};
/// let mut h = BodyHasher::new(Canonicalization::Relaxed, HashAlgorithm::Sha256, None);
/// h.update(b"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n\r\n");
/// let out = h.finish();
/// assert_eq!(out.canonical_len, 54);
/// ```
#[derive(Clone)]
pub struct BodyHasher {
    canon: Canonicalization,
    ctx: digest::Context,
    /// Bytes still to hash under `l=`; `None` for no limit.
    remaining: Option<u64>,
    canonical_len: u64,
    out: Vec<u8>,
    /// Line ends seen since the last content byte, not yet written.
    pending_crlf: u64,
    /// Relaxed: white space seen in the current line since its last content.
    pending_wsp: bool,
    /// The previous byte was a CR that may start a CRLF.
    pending_cr: bool,
    /// Anything non-empty was written.
    any_content: bool,
}

impl std::fmt::Debug for BodyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyHasher")
            .field("canon", &self.canon)
            .field("remaining", &self.remaining)
            .field("canonical_len", &self.canonical_len)
            .field("pending_crlf", &self.pending_crlf)
            .finish_non_exhaustive()
    }
}

impl BodyHasher {
    /// A hasher for one canonicalization and hash; `limit` is the `l=`
    /// count of canonical bytes to hash (`None` hashes all of them).
    pub fn new(canon: Canonicalization, hash: HashAlgorithm, limit: Option<u64>) -> Self {
        BodyHasher {
            canon,
            ctx: digest::Context::new(hash.ring()),
            remaining: limit,
            canonical_len: 0,
            out: Vec::with_capacity(OUT_BUF),
            pending_crlf: 0,
            pending_wsp: false,
            pending_cr: false,
            any_content: false,
        }
    }

    /// Feed the next chunk of the body.
    ///
    /// The chunk is walked in runs, not bytes: `memchr2` finds the next CR
    /// or LF, and (relaxed) the next space or tab within a line; the runs
    /// between them are copied to the output buffer whole.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        if self.pending_cr {
            self.pending_cr = false;
            if let Some((&b'\n', tail)) = rest.split_first() {
                self.line_end();
                rest = tail;
            } else if !rest.is_empty() {
                // A lone CR is ordinary content.
                self.content_run(b"\r");
            } else {
                self.pending_cr = true;
                return;
            }
        }
        let relaxed = self.canon == Canonicalization::Relaxed;
        while !rest.is_empty() {
            // Relaxed also stops at tabs, so that segments hold no tab.
            let next = if relaxed {
                memchr::memchr3(b'\r', b'\n', b'\t', rest)
            } else {
                memchr::memchr2(b'\r', b'\n', rest)
            };
            let Some(i) = next else {
                self.line_segment(rest);
                return;
            };
            self.line_segment(&rest[..i]);
            if rest[i] == b'\t' {
                self.pending_wsp = true;
                rest = &rest[i + 1..];
            } else if rest[i] == b'\n' {
                self.line_end();
                rest = &rest[i + 1..];
            } else if i + 1 == rest.len() {
                // A CR at the end of the chunk may start a CRLF.
                self.pending_cr = true;
                return;
            } else if rest[i + 1] == b'\n' {
                self.line_end();
                rest = &rest[i + 2..];
            } else {
                self.content_run(b"\r");
                rest = &rest[i + 1..];
            }
        }
    }

    /// Bytes of a line without line-end characters.
    fn line_segment(&mut self, mut seg: &[u8]) {
        if seg.is_empty() {
            return;
        }
        if self.canon == Canonicalization::Simple {
            self.content_run(seg);
            return;
        }
        // Relaxed: white space around the segment joins the space held back.
        let is_wsp = |b: &u8| *b == b' ' || *b == b'\t';
        let lead = seg.iter().take_while(|b| is_wsp(b)).count();
        if lead > 0 {
            self.pending_wsp = true;
            seg = &seg[lead..];
        }
        if seg.is_empty() {
            return;
        }
        let trail = seg.iter().rev().take_while(|b| is_wsp(b)).count();
        let inner = &seg[..seg.len() - trail];
        // Segments hold no tabs (update stops at them). Usual text has single
        // spaces between words: then the canonical form of the inner part is
        // the inner part itself.
        if DOUBLE_SPACE.find(inner).is_none() {
            self.content_run(inner);
        } else {
            self.collapse_white_space(inner);
        }
        if trail > 0 {
            self.pending_wsp = true;
        }
    }

    /// Relaxed, the slow way: every run of spaces and tabs becomes one
    /// pending space.
    fn collapse_white_space(&mut self, mut seg: &[u8]) {
        while !seg.is_empty() {
            match memchr::memchr2(b' ', b'\t', seg) {
                None => {
                    self.content_run(seg);
                    return;
                }
                Some(j) => {
                    if j > 0 {
                        self.content_run(&seg[..j]);
                    }
                    self.pending_wsp = true;
                    let skip = seg[j..]
                        .iter()
                        .position(|&b| b != b' ' && b != b'\t')
                        .unwrap_or(seg.len() - j);
                    seg = &seg[j + skip..];
                }
            }
        }
    }

    fn line_end(&mut self) {
        // Relaxed: white space at the end of a line is dropped.
        self.pending_wsp = false;
        self.pending_crlf += 1;
    }

    /// Content bytes (never empty): first the line ends and the space held
    /// back before them, then the bytes.
    fn content_run(&mut self, run: &[u8]) {
        if self.pending_crlf > 0 {
            self.emit_crlfs(self.pending_crlf);
            self.pending_crlf = 0;
        }
        if self.pending_wsp {
            self.pending_wsp = false;
            self.emit(b" ");
        }
        self.any_content = true;
        self.emit(run);
    }

    /// Canonical output: into the buffer, or straight to the hash when it
    /// is larger than the buffer.
    fn emit(&mut self, bytes: &[u8]) {
        if self.out.len() + bytes.len() > OUT_BUF {
            self.flush();
            if bytes.len() >= OUT_BUF {
                self.hash(bytes);
                return;
            }
        }
        self.out.extend_from_slice(bytes);
    }

    fn emit_crlfs(&mut self, mut n: u64) {
        while n > 0 {
            if self.remaining == Some(0) {
                // Nothing more is hashed: only count.
                self.flush();
                self.canonical_len = self.canonical_len.saturating_add(n.saturating_mul(2));
                return;
            }
            let take = n.min((CRLFS.len() / 2) as u64);
            // `take` is at most 64, so the cast is exact.
            self.emit(&CRLFS[..(take as usize) * 2]);
            n -= take;
        }
    }

    fn flush(&mut self) {
        if !self.out.is_empty() {
            let out = std::mem::take(&mut self.out);
            self.hash(&out);
            self.out = out;
            self.out.clear();
        }
    }

    fn hash(&mut self, bytes: &[u8]) {
        self.canonical_len = self.canonical_len.saturating_add(bytes.len() as u64);
        match &mut self.remaining {
            None => self.ctx.update(bytes),
            Some(rem) => {
                let take = usize::try_from(*rem).unwrap_or(usize::MAX).min(bytes.len());
                self.ctx.update(&bytes[..take]);
                *rem -= take as u64;
            }
        }
    }

    /// End the body and return its hash.
    ///
    /// Simple: trailing empty lines are dropped, a final CRLF is added if
    /// missing, and an empty body is one CRLF. Relaxed: the same, but an
    /// empty body stays empty (RFC 6376 erratum 1384).
    pub fn finish(mut self) -> BodyHash {
        if self.pending_cr {
            self.pending_cr = false;
            self.content_run(b"\r");
        }
        // Trailing white space of the last line and trailing empty lines are
        // dropped; what remains ends with exactly one CRLF.
        self.pending_wsp = false;
        self.pending_crlf = 0;
        if self.any_content || self.canon == Canonicalization::Simple {
            self.emit(b"\r\n");
        }
        self.flush();
        BodyHash {
            digest: self.ctx.finish().as_ref().to_vec(),
            canonical_len: self.canonical_len,
        }
    }
}

/// Canonicalize a whole body in memory, the same way [`BodyHasher`] does
/// as it streams. Meant for tests, examples and small bodies: it copies the
/// body.
pub fn canonicalize_body(canon: Canonicalization, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut pending_crlf = 0usize;
    let mut pending_wsp = false;
    let mut any = false;
    let mut bytes = Vec::with_capacity(body.len());
    // Normalize line ends: bare LF -> CRLF marker; lone CR is content.
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                bytes.push(None);
                i += 2;
            }
            b'\n' => {
                bytes.push(None);
                i += 1;
            }
            b => {
                bytes.push(Some(b));
                i += 1;
            }
        }
    }
    for item in bytes {
        match item {
            None => {
                pending_wsp = false;
                pending_crlf += 1;
            }
            Some(b' ' | b'\t') if canon == Canonicalization::Relaxed => pending_wsp = true,
            Some(b) => {
                for _ in 0..pending_crlf {
                    out.extend_from_slice(b"\r\n");
                }
                pending_crlf = 0;
                if pending_wsp {
                    out.push(b' ');
                    pending_wsp = false;
                }
                any = true;
                out.push(b);
            }
        }
    }
    if any || canon == Canonicalization::Simple {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The distinct body hashes a set of signatures needs, each computed once
/// while the body streams past. DKIM and ARC verifiers share it: signatures
/// with the same canonicalization, `l=` and hash share one hasher.
#[derive(Debug, Default)]
pub(crate) struct BodyHashSet {
    hashers: Vec<(HashKey, BodyHasher)>,
}

/// What makes two body hashes the same: canonicalization, `l=` and hash.
type HashKey = (Canonicalization, Option<u64>, HashAlgorithm);

impl BodyHashSet {
    /// The index of the hasher for this combination, made on first use.
    pub(crate) fn index_for(
        &mut self,
        canon: Canonicalization,
        length: Option<u64>,
        hash: HashAlgorithm,
    ) -> usize {
        let key = (canon, length, hash);
        match self.hashers.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.hashers
                    .push((key, BodyHasher::new(canon, hash, length)));
                self.hashers.len() - 1
            }
        }
    }

    /// Hash the next piece of the body with every hasher.
    pub(crate) fn update(&mut self, body: &[u8]) {
        for (_, hasher) in &mut self.hashers {
            hasher.update(body);
        }
    }

    /// The results, in [`index_for`](Self::index_for) order.
    pub(crate) fn finish(self) -> Vec<BodyHash> {
        self.hashers.into_iter().map(|(_, h)| h.finish()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(canon: Canonicalization, body: &[u8], limit: Option<u64>) -> BodyHash {
        let mut h = BodyHasher::new(canon, HashAlgorithm::Sha256, limit);
        h.update(body);
        h.finish()
    }

    fn expected(canon: Canonicalization, body: &[u8], limit: Option<u64>) -> BodyHash {
        let c = canonicalize_body(canon, body);
        let take = limit.map_or(c.len(), |l| (l as usize).min(c.len()));
        BodyHash {
            digest: digest::digest(&digest::SHA256, &c[..take])
                .as_ref()
                .to_vec(),
            canonical_len: c.len() as u64,
        }
    }

    #[test]
    fn rfc_6376_3_4_5_bodies() {
        let body = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(
            canonicalize_body(Canonicalization::Relaxed, body),
            b" C\r\nD E\r\n"
        );
        assert_eq!(
            canonicalize_body(Canonicalization::Simple, body),
            b" C \r\nD \t E\r\n"
        );
        for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
            assert_eq!(digest_of(canon, body, None), expected(canon, body, None));
        }
    }

    #[test]
    fn empty_bodies() {
        assert_eq!(canonicalize_body(Canonicalization::Simple, b""), b"\r\n");
        assert_eq!(
            canonicalize_body(Canonicalization::Simple, b"\r\n\r\n"),
            b"\r\n"
        );
        assert_eq!(canonicalize_body(Canonicalization::Relaxed, b""), b"");
        assert_eq!(
            canonicalize_body(Canonicalization::Relaxed, b" \r\n\t\r\n"),
            b""
        );
        // The well-known hashes of the empty bodies.
        let b64 = |d: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(d)
        };
        assert_eq!(
            b64(&digest_of(Canonicalization::Simple, b"", None).digest),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
        );
        assert_eq!(
            b64(&digest_of(Canonicalization::Relaxed, b"", None).digest),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn lone_cr_lf_and_limits() {
        for body in [&b"a\rb\r"[..], b"x\ny\n\n", b"a  \t\n\n \n b", b"\r\r\n"] {
            for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
                for limit in [None, Some(0), Some(1), Some(3), Some(100)] {
                    assert_eq!(
                        digest_of(canon, body, limit),
                        expected(canon, body, limit),
                        "{body:?} {canon:?} {limit:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn runs_longer_than_the_output_buffer() {
        let mut body = vec![b'x'; 3 * OUT_BUF + 7];
        body.extend_from_slice(b" \t \r\n");
        body.extend(std::iter::repeat_n(b' ', OUT_BUF + 1));
        body.extend_from_slice(b"y\r\n");
        body.extend(std::iter::repeat_n(b"\r\n", 200).flatten());
        body.extend(std::iter::repeat_n(b'z', OUT_BUF - 1));
        body.push(b'\r');
        for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
            for limit in [None, Some(5), Some(OUT_BUF as u64 + 3)] {
                assert_eq!(
                    digest_of(canon, &body, limit),
                    expected(canon, &body, limit)
                );
                let mut h = BodyHasher::new(canon, HashAlgorithm::Sha256, limit);
                for piece in body.chunks(977) {
                    h.update(piece);
                }
                assert_eq!(h.finish(), expected(canon, &body, limit));
            }
        }
    }

    #[test]
    fn many_trailing_lines_are_counted() {
        let mut h = BodyHasher::new(Canonicalization::Simple, HashAlgorithm::Sha256, None);
        h.update(b"x");
        for _ in 0..10_000 {
            h.update(b"\r\n");
        }
        h.update(b"y");
        let out = h.finish();
        assert_eq!(out.canonical_len, 1 + 20_000 + 1 + 2);
    }
}
