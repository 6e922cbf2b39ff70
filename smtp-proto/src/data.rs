//! The DATA body: a streaming dot-unstuffing decoder for the server (RFC 5321
//! §4.5.2) that only ever ends a message at `CRLF.CRLF` and catches the bare
//! CR and bare LF that SMTP smuggling relies on, and a dot-stuffing encoder
//! for the client.

use bytes::{Bytes, BytesMut};

use crate::scan::skip_blocks;

/// What the decoder does about a CR or LF that is not part of a CRLF pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLineEndings {
    /// Refuse the message (after reading it to its real end) with a 5xx.
    /// The safe default: another server may read such a line ending as the
    /// end of the message, which is what SMTP smuggling exploits.
    #[default]
    Reject,
    /// Turn each bare CR and bare LF into CRLF and accept the message. Even
    /// here a bare CR or LF never ends the message.
    Normalize,
}

/// A line ending that is not CRLF, found in message data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareLineEnding {
    /// A CR not followed by LF.
    Cr,
    /// An LF not preceded by CR.
    Lf,
}

/// Why the decoder will refuse the message once it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataViolation {
    /// A bare CR or LF, with the policy [`BareLineEndings::Reject`].
    Bare(BareLineEnding),
    /// A text line longer than the limit.
    LineTooLong,
    /// More content than the message size limit.
    TooLarge,
}

/// Limits and policy for [`DotDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Bare CR/LF policy.
    pub bare_line_endings: BareLineEndings,
    /// Longest text line in octets, CRLF included (RFC 5321 §4.5.3.1.6: 1000);
    /// `None` for no limit.
    pub max_line: Option<usize>,
    /// Most content octets accepted (after unstuffing).
    pub max_size: u64,
}

/// Progress of [`DotDecoder::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeStatus {
    /// All complete input was consumed; a few bytes that may begin
    /// `CRLF.CRLF` can stay in the buffer until more arrives.
    NeedMore,
    /// `CRLF.CRLF` was consumed: the message is complete.
    End,
}

const CRLF: Bytes = Bytes::from_static(b"\r\n");

/// Streaming decoder of a DATA body. Feed it the connection's input buffer;
/// it takes the bytes it understands, hands out content chunks (views into
/// that buffer, never copies, except the CRLF it inserts when normalizing)
/// and stops right after the terminating `.CRLF`, leaving any pipelined
/// command bytes in the buffer.
#[derive(Debug, Clone)]
pub struct DotDecoder {
    config: DecoderConfig,
    /// The last bytes consumed were CRLF (or this is the start of the body).
    line_start: bool,
    line_len: usize,
    size: u64,
    /// Every kind of violation seen; see [`DotDecoder::violation`].
    bare: Option<BareLineEnding>,
    too_large: bool,
    line_too_long: bool,
}

impl DotDecoder {
    /// A decoder at the start of a message body.
    pub fn new(config: DecoderConfig) -> Self {
        Self {
            config,
            line_start: true,
            line_len: 0,
            size: 0,
            bare: None,
            too_large: false,
            line_too_long: false,
        }
    }

    /// Content octets seen so far (after unstuffing, before any limit).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Why the message will be refused, if it will. Once any violation is
    /// seen no more content is handed out; the decoder only looks for the end
    /// of the message. When several apply, a bare line ending (the smuggling
    /// signal) wins over size, and size over line length, so the verdict
    /// does not depend on how the input was split.
    pub fn violation(&self) -> Option<DataViolation> {
        if let Some(kind) = self.bare {
            Some(DataViolation::Bare(kind))
        } else if self.too_large {
            Some(DataViolation::TooLarge)
        } else if self.line_too_long {
            Some(DataViolation::LineTooLong)
        } else {
            None
        }
    }

    fn violated(&self) -> bool {
        self.bare.is_some() || self.too_large || self.line_too_long
    }

    fn violate(&mut self, v: DataViolation) {
        match v {
            DataViolation::Bare(kind) => {
                self.bare.get_or_insert(kind);
            }
            DataViolation::TooLarge => self.too_large = true,
            DataViolation::LineTooLong => self.line_too_long = true,
        }
    }

    fn emit(&mut self, input: &mut BytesMut, len: usize, out: &mut impl FnMut(Bytes)) {
        if len == 0 {
            return;
        }
        let chunk = input.split_to(len);
        self.size += len as u64;
        if self.size > self.config.max_size {
            self.violate(DataViolation::TooLarge);
        }
        if !self.violated() {
            out(chunk.freeze());
        }
    }

    fn skip(input: &mut BytesMut, len: usize) {
        let _ = input.split_to(len);
    }

    fn emit_crlf(&mut self, out: &mut impl FnMut(Bytes)) {
        self.size += 2;
        if self.size > self.config.max_size {
            self.violate(DataViolation::TooLarge);
        }
        if !self.violated() {
            out(CRLF);
        }
    }

    /// Decodes from the front of `input`, calling `out` with each content
    /// chunk. Any chunking of the input gives the same content.
    pub fn decode(&mut self, input: &mut BytesMut, out: &mut impl FnMut(Bytes)) -> DecodeStatus {
        // `pos` is the scan position within `input`; content before it that
        // has not been handed out yet starts at 0.
        let mut pos = 0;
        loop {
            if self.line_start {
                match input.get(pos) {
                    None => {
                        self.emit(input, pos, out);
                        return DecodeStatus::NeedMore;
                    }
                    Some(b'.') => {
                        let rest = &input[pos + 1..];
                        if rest.starts_with(b"\r\n") {
                            self.emit(input, pos, out);
                            Self::skip(input, 3);
                            return DecodeStatus::End;
                        }
                        if rest.is_empty() || rest == b"\r" {
                            // Could still become ".CRLF": wait.
                            self.emit(input, pos, out);
                            return DecodeStatus::NeedMore;
                        }
                        // A stuffed dot: drop it. It does not count toward
                        // the line length (RFC 5321 §4.5.3.1.6).
                        self.emit(input, pos, out);
                        Self::skip(input, 1);
                        pos = 0;
                    }
                    Some(_) => {}
                }
                self.line_start = false;
            }
            pos = self.skip_clean_blocks(&input[..], pos);
            if self.line_start {
                continue;
            }
            let Some(off) = memchr::memchr2(b'\r', b'\n', &input[pos..]) else {
                self.line_len += input.len() - pos;
                let all = input.len();
                self.emit(input, all, out);
                return DecodeStatus::NeedMore;
            };
            let i = pos + off;
            self.line_len += off;
            if input[i] == b'\n' {
                self.bare(BareLineEnding::Lf, input, i, out);
                pos = 0;
                continue;
            }
            match input.get(i + 1) {
                None => {
                    // A CR at the end of the input: keep it until we know
                    // what follows.
                    self.emit(input, i, out);
                    return DecodeStatus::NeedMore;
                }
                Some(b'\n') => {
                    self.line_len += 2;
                    self.check_line_len();
                    self.line_len = 0;
                    self.line_start = true;
                    pos = i + 2;
                }
                Some(_) => {
                    self.bare(BareLineEnding::Cr, input, i, out);
                    pos = 0;
                }
            }
        }
    }

    /// The fast path: skips whole 64-byte blocks of ordinary text (lines
    /// ended by CRLF, none starting with a dot, no bare CR or LF, no line
    /// over the limit) and returns where the careful path must take over.
    /// Called with `pos` inside a line (not at its start, not between CR
    /// and LF); leaves `line_len` and `line_start` as the byte-by-byte path
    /// would have.
    fn skip_clean_blocks(&mut self, input: &[u8], pos: usize) -> usize {
        // Each block is scanned with the byte before it (to tell CRLF from a
        // bare LF and to see dots at line starts) and the byte after it (to
        // tell CRLF from a bare CR). At the very start of the buffer the byte
        // before is gone, so the careful path takes the first line.
        if pos == 0 {
            return pos;
        }
        let max = self.config.max_line.unwrap_or(usize::MAX);
        let skipped = skip_blocks(input, pos, self.line_len, max);
        if skipped.pos > pos {
            self.line_len = skipped.line_len;
            self.line_start = input[skipped.pos - 1] == b'\n';
        }
        skipped.pos
    }

    /// Checks the length of a line that just ended (CRLF included). Lines
    /// are measured only when they end, so the verdict does not depend on
    /// how the input was split.
    fn check_line_len(&mut self) {
        if let Some(max) = self.config.max_line
            && self.line_len > max
        {
            self.violate(DataViolation::LineTooLong);
        }
    }

    /// Handles a bare CR or LF at `i`: everything before it is content.
    fn bare(
        &mut self,
        kind: BareLineEnding,
        input: &mut BytesMut,
        i: usize,
        out: &mut impl FnMut(Bytes),
    ) {
        self.emit(input, i, out);
        Self::skip(input, 1);
        match self.config.bare_line_endings {
            BareLineEndings::Reject => {
                self.violate(DataViolation::Bare(kind));
                self.line_len += 1;
            }
            BareLineEndings::Normalize => {
                self.line_len += 2;
                self.check_line_len();
                self.line_len = 0;
                self.emit_crlf(out);
            }
        }
        // Either way no new line starts as far as dot-stuffing and the end
        // of data are concerned: only a real CRLF does that.
    }
}

/// Streaming dot-stuffing encoder for the client side: bytes in, DATA wire
/// form out. Bare CR and bare LF become CRLF (RFC 5321 §2.3.8 allows only
/// CRLF on the wire), and a line that starts with `.` gets another.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    line_start: bool,
    /// The previous chunk ended with CR.
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// An encoder at the start of a message.
    pub fn new() -> Self {
        Self {
            line_start: true,
            pending_cr: false,
        }
    }

    /// Encodes `input`, appending the wire form to `out`.
    pub fn encode(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 4);
        if self.pending_cr && !input.is_empty() {
            self.pending_cr = false;
            out.extend_from_slice(b"\r\n");
            self.line_start = true;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }
        while !input.is_empty() {
            if self.line_start {
                if input[0] == b'.' {
                    out.push(b'.');
                }
                self.line_start = false;
            }
            match memchr::memchr2(b'\r', b'\n', input) {
                None => {
                    out.extend_from_slice(input);
                    return;
                }
                Some(i) => {
                    out.extend_from_slice(&input[..i]);
                    if input[i] == b'\r' {
                        match input.get(i + 1) {
                            None => {
                                self.pending_cr = true;
                                return;
                            }
                            Some(b'\n') => input = &input[i + 2..],
                            Some(_) => input = &input[i + 1..],
                        }
                    } else {
                        input = &input[i + 1..];
                    }
                    out.extend_from_slice(b"\r\n");
                    self.line_start = true;
                }
            }
        }
    }

    /// Ends the message: completes the last line if needed and writes `.CRLF`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            self.line_start = true;
            out.extend_from_slice(b"\r\n");
        }
        if !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.line_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(policy: BareLineEndings) -> DecoderConfig {
        DecoderConfig {
            bare_line_endings: policy,
            max_line: Some(1000),
            max_size: 1 << 20,
        }
    }

    /// Decodes `input` fed in pieces of `step` bytes; returns content, status,
    /// violation and the bytes left after the end.
    fn run(
        input: &[u8],
        step: usize,
        policy: BareLineEndings,
    ) -> (Vec<u8>, DecodeStatus, Option<DataViolation>, Vec<u8>) {
        let mut d = DotDecoder::new(config(policy));
        let mut buf = BytesMut::new();
        let mut content = Vec::new();
        let mut status = DecodeStatus::NeedMore;
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            if status == DecodeStatus::End {
                continue;
            }
            status = d.decode(&mut buf, &mut |b: Bytes| content.extend_from_slice(&b));
        }
        (content, status, d.violation(), buf.to_vec())
    }

    #[test]
    fn unstuffs_and_stops_at_the_end() {
        for step in [1, 2, 3, 7, 1000] {
            let (c, s, v, rest) = run(
                b"Hi\r\n..dot\r\n.\r\nQUIT\r\n",
                step,
                BareLineEndings::Reject,
            );
            assert_eq!(c, b"Hi\r\n.dot\r\n", "step {step}");
            assert_eq!(s, DecodeStatus::End);
            assert_eq!(v, None);
            assert_eq!(rest, b"QUIT\r\n");
        }
    }

    #[test]
    fn empty_message() {
        let (c, s, _, _) = run(b".\r\n", 1, BareLineEndings::Reject);
        assert!(c.is_empty());
        assert_eq!(s, DecodeStatus::End);
    }

    #[test]
    fn encoder_round_trip() {
        let body = b"a\r\n.b\r\n..\r\n.\r\nend";
        let mut wire = Vec::new();
        let mut e = DotStuffer::new();
        e.encode(&body[..5], &mut wire);
        e.encode(&body[5..], &mut wire);
        e.finish(&mut wire);
        assert_eq!(wire, b"a\r\n..b\r\n...\r\n..\r\nend\r\n.\r\n");
        let (c, s, _, _) = run(&wire, 3, BareLineEndings::Reject);
        assert_eq!(s, DecodeStatus::End);
        assert_eq!(c, b"a\r\n.b\r\n..\r\n.\r\nend\r\n");
    }

    /// A byte-at-a-time decoder written for clarity, the reference the
    /// block-scanning one must agree with.
    fn reference(
        input: &[u8],
        cfg: DecoderConfig,
    ) -> (Vec<u8>, DecodeStatus, Option<DataViolation>, usize) {
        let (mut i, mut line_start, mut line_len) = (0, true, 0usize);
        let mut content = Vec::new();
        let mut violation = None;
        // The decoder reports by priority: bare line ending, size, length.
        let rank = |v: &DataViolation| match v {
            DataViolation::Bare(_) => 0,
            DataViolation::TooLarge => 1,
            DataViolation::LineTooLong => 2,
        };
        let violate = |v: &mut Option<DataViolation>, x: DataViolation| {
            if v.is_none_or(|old| rank(&x) < rank(&old)) {
                *v = Some(x);
            }
        };
        let max = cfg.max_line.unwrap_or(usize::MAX);
        loop {
            if line_start {
                if i >= input.len() {
                    break;
                }
                if input[i] == b'.' {
                    if input[i + 1..].starts_with(b"\r\n") {
                        if content.len() as u64 > cfg.max_size {
                            violate(&mut violation, DataViolation::TooLarge);
                        }
                        return (content, DecodeStatus::End, violation, i + 3);
                    }
                    if input.len() - i < 3 && b".\r".starts_with(&input[i..]) {
                        break;
                    }
                    i += 1;
                }
                line_start = false;
            }
            let Some(&b) = input.get(i) else { break };
            match b {
                b'\r' if i + 1 == input.len() => break,
                b'\r' if input[i + 1] == b'\n' => {
                    if line_len + 2 > max {
                        violate(&mut violation, DataViolation::LineTooLong);
                    }
                    content.extend_from_slice(b"\r\n");
                    i += 2;
                    line_len = 0;
                    line_start = true;
                }
                b'\r' | b'\n' => {
                    let kind = if b == b'\r' {
                        BareLineEnding::Cr
                    } else {
                        BareLineEnding::Lf
                    };
                    match cfg.bare_line_endings {
                        BareLineEndings::Reject => {
                            violate(&mut violation, DataViolation::Bare(kind));
                            line_len += 1;
                        }
                        BareLineEndings::Normalize => {
                            if line_len + 2 > max {
                                violate(&mut violation, DataViolation::LineTooLong);
                            }
                            line_len = 0;
                            content.extend_from_slice(b"\r\n");
                        }
                    }
                    i += 1;
                }
                _ => {
                    content.push(b);
                    line_len += 1;
                    i += 1;
                }
            }
        }
        if content.len() as u64 > cfg.max_size {
            violate(&mut violation, DataViolation::TooLarge);
        }
        (content, DecodeStatus::NeedMore, violation, i)
    }

    /// Pseudo-random mail-like bodies: long and short lines, dots at line
    /// starts, the odd bare CR or LF, and sometimes the terminator.
    fn body(seed: &mut u64, len: usize, bare: bool) -> Vec<u8> {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            let line_len = match next() % 10 {
                0 => next() % 5,
                1 => 900 + next() % 200,
                _ => 40 + next() % 80,
            } as usize;
            if next() % 7 == 0 {
                out.push(b'.');
            }
            for _ in 0..line_len {
                out.push(match next() % 97 {
                    0 if bare => b'\n',
                    1 if bare => b'\r',
                    2 => b'.',
                    n => b'a' + (n % 26) as u8,
                });
            }
            out.extend_from_slice(b"\r\n");
        }
        if next() % 2 == 0 {
            out.extend_from_slice(b".\r\nNOOP\r\n");
        }
        out
    }

    #[test]
    fn block_scanner_agrees_with_the_reference() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..300 {
            let bare = round % 3 == 0;
            let input = body(&mut seed, 50 + (round * 97) % 6000, bare);
            for policy in [BareLineEndings::Reject, BareLineEndings::Normalize] {
                let cfg = DecoderConfig {
                    bare_line_endings: policy,
                    max_line: if round % 2 == 0 { Some(1000) } else { None },
                    max_size: 1 << 30,
                };
                let (want, want_status, want_violation, used) = reference(&input, cfg);
                for step in [1, 63, 64, 65, 4096, input.len()] {
                    let mut d = DotDecoder::new(cfg);
                    let mut buf = BytesMut::new();
                    let mut got = Vec::new();
                    let mut status = DecodeStatus::NeedMore;
                    let mut fed = 0;
                    for piece in input.chunks(step) {
                        buf.extend_from_slice(piece);
                        fed += piece.len();
                        status = d.decode(&mut buf, &mut |b: Bytes| got.extend_from_slice(&b));
                        if status == DecodeStatus::End {
                            break;
                        }
                    }
                    let ctx = format!("round {round} step {step} {policy:?}");
                    assert_eq!(status, want_status, "{ctx}");
                    assert_eq!(d.violation(), want_violation, "{ctx}");
                    if want_violation.is_none() {
                        assert_eq!(got, want, "{ctx}");
                    }
                    if status == DecodeStatus::End {
                        assert_eq!(fed - buf.len(), used, "{ctx}: bytes consumed");
                    }
                }
            }
        }
    }

    #[test]
    fn encoder_normalizes_bare_line_endings() {
        let mut wire = Vec::new();
        let mut e = DotStuffer::new();
        e.encode(b"a\n.\nb\r", &mut wire);
        e.encode(b"c", &mut wire);
        e.finish(&mut wire);
        assert_eq!(wire, b"a\r\n..\r\nb\r\nc\r\n.\r\n");
    }
}
