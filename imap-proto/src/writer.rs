//! The serializer's primitives: a buffer that knows how to write atoms,
//! strings and literals, and where a client must wait for a continuation.

use crate::lex::{is_astring_atom, is_quotable};
use crate::literal::{LITERAL_MINUS_MAX, NonSyncLiterals};

/// Options for writing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteOptions {
    /// Which literal forms the server accepts.
    pub non_sync: NonSyncLiterals,
}

/// A serialized command: the bytes and the offsets just after each
/// synchronizing literal's `{n}CRLF`, where the client must wait for the
/// server's `+` continuation before sending on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoded {
    /// The whole command, literal data included, ending with CRLF.
    pub bytes: Vec<u8>,
    /// Offsets into `bytes` at which to wait for a continuation request.
    pub sync_points: Vec<usize>,
}

/// Accumulates one command.
pub(crate) struct Writer {
    out: Encoded,
    opts: WriteOptions,
}

impl Writer {
    pub fn new(opts: WriteOptions) -> Self {
        Self {
            out: Encoded::default(),
            opts,
        }
    }

    pub fn finish(mut self) -> Encoded {
        self.raw(b"\r\n");
        self.out
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.bytes.extend_from_slice(bytes);
    }

    pub fn sp(&mut self) {
        self.out.bytes.push(b' ');
    }

    pub fn byte(&mut self, b: u8) {
        self.out.bytes.push(b);
    }

    pub fn str(&mut self, s: &str) {
        self.raw(s.as_bytes());
    }

    pub fn num(&mut self, n: impl std::fmt::Display) {
        use std::io::Write;
        // Writing into a Vec cannot fail.
        let _ = write!(self.out.bytes, "{n}");
    }

    /// A literal (`{n}` or `{n+}`; `~{...}` when `binary`).
    pub fn literal(&mut self, data: &[u8], binary: bool) {
        let len = data.len() as u64;
        let non_sync = match self.opts.non_sync {
            NonSyncLiterals::Refused => false,
            NonSyncLiterals::Plus => true,
            NonSyncLiterals::Minus => len <= LITERAL_MINUS_MAX,
        };
        if binary {
            self.byte(b'~');
        }
        self.byte(b'{');
        self.num(len);
        if non_sync {
            self.byte(b'+');
        }
        self.raw(b"}\r\n");
        if !non_sync {
            self.out.sync_points.push(self.out.bytes.len());
        }
        self.raw(data);
    }

    pub fn quoted(&mut self, data: &[u8]) {
        self.byte(b'"');
        for &b in data {
            if b == b'"' || b == b'\\' {
                self.byte(b'\\');
            }
            self.byte(b);
        }
        self.byte(b'"');
    }

    /// `string`: quoted when printable ASCII, else a literal.
    pub fn string(&mut self, data: &[u8]) {
        if is_quotable(data) {
            self.quoted(data);
        } else {
            self.literal(data, false);
        }
    }

    /// `astring`: bare when it is all astring characters, else a string.
    pub fn astring(&mut self, data: &[u8]) {
        if is_astring_atom(data) {
            self.raw(data);
        } else {
            self.string(data);
        }
    }

    /// `nstring`: NIL or a string.
    pub fn nstring(&mut self, data: Option<&[u8]>) {
        match data {
            None => self.raw(b"NIL"),
            Some(d) => self.string(d),
        }
    }

    /// A space-separated list in parentheses.
    pub fn paren_list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.byte(b'(');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            each(self, item);
        }
        self.byte(b')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Writer), opts: WriteOptions) -> Encoded {
        let mut w = Writer::new(opts);
        f(&mut w);
        w.out
    }

    #[test]
    fn string_forms() {
        let o = WriteOptions::default();
        assert_eq!(written(|w| w.astring(b"abc"), o).bytes, b"abc");
        assert_eq!(written(|w| w.astring(b""), o).bytes, b"\"\"");
        assert_eq!(
            written(|w| w.astring(b"a\"b\\"), o).bytes,
            b"\"a\\\"b\\\\\""
        );
        assert_eq!(written(|w| w.string(b"abc"), o).bytes, b"\"abc\"");
        let e = written(|w| w.astring("ü".as_bytes()), o);
        assert_eq!(e.bytes, b"{2}\r\n\xc3\xbc");
        assert_eq!(e.sync_points, vec![5]);
        assert_eq!(written(|w| w.nstring(None), o).bytes, b"NIL");
        let minus = WriteOptions {
            non_sync: NonSyncLiterals::Minus,
        };
        assert_eq!(
            written(|w| w.literal(b"x", true), minus).bytes,
            b"~{1+}\r\nx"
        );
    }
}
