//! Multi-line responses (RFC 1939 §3): a streaming byte-stuffing encoder for
//! the server and a streaming decoder for the client.
//!
//! On the wire every line ends with CRLF, a line that begins with `.` gets
//! one more `.` in front, and the response ends with a line holding only
//! `.`. Both sides work on chunks of any size and keep only a few bytes of
//! state between them, so a message of any size streams through in bounded
//! memory, and any split of the input gives the same bytes.

use bytes::{Bytes, BytesMut};

/// Whether [`DotStuffer::encode`] wants more of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Send the next chunk.
    Continue,
    /// Everything `TOP` asked for has been encoded: stop reading the
    /// message and finish.
    Done,
}

/// What `TOP` still wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Top {
    /// The whole message (RETR).
    All,
    /// Still in the header; then this many body lines.
    Header(u64),
    /// In the body; this many lines to go.
    Body(u64),
    /// Enough.
    Done,
}

/// Streaming encoder of a message into a multi-line response body.
///
/// It byte-stuffs lines that begin with `.`, turns a bare LF into CRLF (a
/// bare CR is left alone: it ends no line), and with [`DotStuffer::top`]
/// stops after the header, the blank line and the requested number of body
/// lines (RFC 1939 §7). [`finish`](Self::finish) closes the last line if the
/// message did not, and writes the terminating `.`.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    line_start: bool,
    /// The last byte written was a CR (so an LF right after it needs no CR).
    prev_cr: bool,
    /// Bytes of the current line so far, line ending excluded.
    line_len: u64,
    top: Top,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// An encoder for a whole message (RETR).
    pub fn new() -> Self {
        Self {
            line_start: true,
            prev_cr: false,
            line_len: 0,
            top: Top::All,
        }
    }

    /// An encoder for the header and the first `lines` body lines (TOP).
    pub fn top(lines: u64) -> Self {
        Self {
            top: Top::Header(lines),
            ..Self::new()
        }
    }

    /// Whether TOP has all it wanted (further input is ignored).
    pub fn is_done(&self) -> bool {
        self.top == Top::Done
    }

    /// Encodes the next piece of the message, appending the wire form to
    /// `out`.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) -> Flow {
        out.reserve(data.len() + data.len() / 32 + 2);
        let mut i = 0;
        while i < data.len() {
            if self.top == Top::Done {
                return Flow::Done;
            }
            if self.line_start {
                if data[i] == b'.' {
                    out.push(b'.');
                }
                self.line_start = false;
            }
            let Some(off) = memchr::memchr(b'\n', &data[i..]) else {
                out.extend_from_slice(&data[i..]);
                self.line_len += (data.len() - i) as u64;
                self.prev_cr = data[data.len() - 1] == b'\r';
                return Flow::Continue;
            };
            let lf = i + off;
            out.extend_from_slice(&data[i..lf]);
            // The byte before this LF: in this segment, or (for an LF that
            // opens the segment) the end of the previous chunk. A segment in
            // the middle of `data` starts after an LF, never after a CR.
            let cr_before = if lf > i {
                data[lf - 1] == b'\r'
            } else {
                i == 0 && self.prev_cr
            };
            let len = self.line_len + off as u64;
            let empty = len == 0 || (len == 1 && cr_before);
            if !cr_before {
                out.push(b'\r');
            }
            out.push(b'\n');
            self.line_start = true;
            self.line_len = 0;
            self.prev_cr = false;
            i = lf + 1;
            self.end_of_line(empty);
        }
        if self.top == Top::Done {
            Flow::Done
        } else {
            Flow::Continue
        }
    }

    fn end_of_line(&mut self, empty: bool) {
        self.top = match self.top {
            Top::Header(0) if empty => Top::Done,
            Top::Header(n) if empty => Top::Body(n),
            Top::Body(n) if n <= 1 => Top::Done,
            Top::Body(n) => Top::Body(n - 1),
            other => other,
        };
    }

    /// Ends the response: closes an unfinished last line with CRLF and
    /// writes the terminating `.CRLF`. The encoder is then back at its start.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.line_start {
            if !self.prev_cr {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
        out.extend_from_slice(b".\r\n");
        let top = match self.top {
            Top::All => Top::All,
            _ => Top::Done,
        };
        *self = Self { top, ..Self::new() };
    }
}

/// Progress of [`DotDecoder::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeStatus {
    /// All complete input was consumed; up to two bytes that may begin the
    /// terminator stay in the buffer until more arrives.
    NeedMore,
    /// The terminating line was consumed: the response is complete. Bytes
    /// after it (pipelined responses) stay in the buffer.
    End,
}

/// Streaming decoder of a multi-line response body (the client side).
///
/// It hands out the content with the stuffed dots removed, as views into
/// the input buffer (no copies), line endings as sent. A line holding only
/// `.` (ended by CRLF, or leniently by a bare LF) ends the body.
#[derive(Debug, Clone)]
pub struct DotDecoder {
    line_start: bool,
    size: u64,
}

impl Default for DotDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DotDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self {
            line_start: true,
            size: 0,
        }
    }

    /// Content octets handed out so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Decodes from the front of `input`, calling `out` with each piece of
    /// content. Any split of the input gives the same content.
    pub fn decode(&mut self, input: &mut BytesMut, out: &mut impl FnMut(Bytes)) -> DecodeStatus {
        // Content before `pos` has been scanned and not yet handed out.
        let mut pos = 0;
        loop {
            if self.line_start {
                match input.get(pos) {
                    None => {
                        self.emit(input, pos, out);
                        return DecodeStatus::NeedMore;
                    }
                    Some(b'.') => {
                        let end = match (input.get(pos + 1), input.get(pos + 2)) {
                            (Some(b'\n'), _) => Some(2),
                            (Some(b'\r'), Some(b'\n')) => Some(3),
                            (None, _) | (Some(b'\r'), None) => {
                                self.emit(input, pos, out);
                                return DecodeStatus::NeedMore;
                            }
                            _ => None,
                        };
                        self.emit(input, pos, out);
                        match end {
                            Some(n) => {
                                let _ = input.split_to(n);
                                return DecodeStatus::End;
                            }
                            None => {
                                // A stuffed dot: drop it.
                                let _ = input.split_to(1);
                                pos = 0;
                            }
                        }
                    }
                    Some(_) => {}
                }
                self.line_start = false;
            }
            match memchr::memchr(b'\n', &input[pos..]) {
                Some(off) => {
                    pos += off + 1;
                    self.line_start = true;
                }
                None => {
                    let all = input.len();
                    self.emit(input, all, out);
                    return DecodeStatus::NeedMore;
                }
            }
        }
    }

    fn emit(&mut self, input: &mut BytesMut, len: usize, out: &mut impl FnMut(Bytes)) {
        if len > 0 {
            self.size += len as u64;
            out(input.split_to(len).freeze());
        }
    }
}

/// `data` with every bare LF turned into CRLF: the form a message takes on
/// the wire, whose length is the size LIST and STAT report. Maildrops that
/// store LF line endings use it to compute exact sizes.
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// `data` as RETR sends it: [`to_crlf`], with an unfinished last line
/// closed by CRLF (as [`DotStuffer::finish`] does). Its length is the exact
/// size to report for the message.
pub fn wire_form(data: &[u8]) -> Vec<u8> {
    let mut out = to_crlf(data);
    if !out.is_empty() && !out.ends_with(b"\n") {
        if out.ends_with(b"\r") {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The length of [`wire_form`]`(data)` without building it: the size to
/// report for a message stored as `data`.
pub fn wire_size(data: &[u8]) -> u64 {
    let open_last_line = match data.last() {
        None | Some(b'\n') => 0,
        Some(b'\r') => 1,
        Some(_) => 2,
    };
    crlf_size(data) + open_last_line
}

/// The size of [`to_crlf`]`(data)` without building it.
pub fn crlf_size(data: &[u8]) -> u64 {
    let mut extra = 0u64;
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            extra += 1;
        }
        prev = b;
    }
    data.len() as u64 + extra
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_all(enc: &mut DotStuffer, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        enc.encode(data, &mut out);
        enc.finish(&mut out);
        out
    }

    fn decode_all(wire: &[u8]) -> (Vec<u8>, DecodeStatus, Vec<u8>) {
        let mut input = BytesMut::from(wire);
        let mut out = Vec::new();
        let status = DotDecoder::new().decode(&mut input, &mut |b| out.extend_from_slice(&b));
        (out, status, input.to_vec())
    }

    #[test]
    fn stuffs_dots_and_terminates() {
        let out = encode_all(&mut DotStuffer::new(), b"a\r\n.b\r\n..\r\n.\r\nend");
        assert_eq!(out, b"a\r\n..b\r\n...\r\n..\r\nend\r\n.\r\n");
        assert_eq!(encode_all(&mut DotStuffer::new(), b""), b".\r\n");
    }

    #[test]
    fn normalizes_bare_lf_only() {
        let out = encode_all(&mut DotStuffer::new(), b"a\nb\rc\r\n");
        assert_eq!(out, b"a\r\nb\rc\r\n.\r\n");
        // A CR at the end of one chunk and LF at the start of the next.
        let mut enc = DotStuffer::new();
        let mut out = Vec::new();
        enc.encode(b"a\r", &mut out);
        enc.encode(b"\n.b", &mut out);
        enc.finish(&mut out);
        assert_eq!(out, b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn top_stops_after_header_and_n_lines() {
        let msg = b"Subject: x\r\nFrom: y\r\n\r\nline1\r\n.line2\r\nline3\r\n";
        assert_eq!(
            encode_all(&mut DotStuffer::top(0), msg),
            b"Subject: x\r\nFrom: y\r\n\r\n.\r\n"
        );
        assert_eq!(
            encode_all(&mut DotStuffer::top(2), msg),
            b"Subject: x\r\nFrom: y\r\n\r\nline1\r\n..line2\r\n.\r\n"
        );
        assert_eq!(
            encode_all(&mut DotStuffer::top(99), msg),
            b"Subject: x\r\nFrom: y\r\n\r\nline1\r\n..line2\r\nline3\r\n.\r\n"
        );
        // LF-only message, header end found across chunks.
        let mut enc = DotStuffer::top(1);
        let mut out = Vec::new();
        assert_eq!(enc.encode(b"H: 1\n", &mut out), Flow::Continue);
        assert_eq!(enc.encode(b"\nb1\nb2\n", &mut out), Flow::Done);
        enc.finish(&mut out);
        assert_eq!(out, b"H: 1\r\n\r\nb1\r\n.\r\n");
    }

    #[test]
    fn decodes_and_leaves_the_rest() {
        let (content, status, rest) = decode_all(b"a\r\n..b\r\n.\r\n+OK next\r\n");
        assert_eq!(content, b"a\r\n.b\r\n");
        assert_eq!(status, DecodeStatus::End);
        assert_eq!(rest, b"+OK next\r\n");
        let (content, status, rest) = decode_all(b"a\r\n.\r");
        assert_eq!(content, b"a\r\n");
        assert_eq!(status, DecodeStatus::NeedMore);
        assert_eq!(rest, b".\r");
        let (content, status, _) = decode_all(b".\n");
        assert_eq!((content.len(), status), (0, DecodeStatus::End));
    }

    #[test]
    fn crlf_helpers_agree() {
        for data in [&b"a\nb\r\nc\r"[..], b"", b"\n\n", b"x", b"a\r\n"] {
            assert_eq!(to_crlf(data).len() as u64, crlf_size(data));
            assert_eq!(wire_form(data).len() as u64, wire_size(data));
            let mut wire = Vec::new();
            let mut enc = DotStuffer::new();
            enc.encode(data, &mut wire);
            enc.finish(&mut wire);
            let (content, _, _) = decode_all(&wire);
            assert_eq!(content, wire_form(data));
        }
        assert_eq!(wire_form(b"x"), b"x\r\n");
        assert_eq!(wire_form(b"x\r"), b"x\r\n");
        assert_eq!(to_crlf(b"a\nb\r\n"), b"a\r\nb\r\n");
    }
}
