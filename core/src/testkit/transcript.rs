//! `C:`/`S:` transcripts, as RFCs print sessions.

use std::fmt;

/// Who sent a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// The client.
    Client,
    /// The server.
    Server,
}

/// A session as lines: `C: EHLO x` and `S: 250 ok`, each without its CRLF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    lines: Vec<(Line, String)>,
    partial: [Vec<u8>; 2],
}

fn index(side: Line) -> usize {
    match side {
        Line::Client => 0,
        Line::Server => 1,
    }
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `C:`/`S:` lines (other lines, such as comments, are skipped;
    /// one space after the colon is dropped).
    pub fn parse(text: &str) -> Self {
        let mut t = Self::new();
        for line in text.lines() {
            let (side, rest) = if let Some(rest) = line.strip_prefix("C:") {
                (Line::Client, rest)
            } else if let Some(rest) = line.strip_prefix("S:") {
                (Line::Server, rest)
            } else {
                continue;
            };
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            t.lines.push((side, rest.to_owned()));
        }
        t
    }

    /// Records bytes one side sent; complete lines become entries, the rest
    /// waits for its CRLF (see [`finish`](Self::finish)).
    pub fn record(&mut self, side: Line, bytes: &[u8]) {
        let buf = &mut self.partial[index(side)];
        buf.extend_from_slice(bytes);
        while let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = buf.drain(..pos + 2).take(pos).collect();
            self.lines
                .push((side, String::from_utf8_lossy(&line).into_owned()));
        }
    }

    /// Ends recording: bytes without a final CRLF become a line of their own.
    pub fn finish(&mut self) {
        for side in [Line::Client, Line::Server] {
            let buf = std::mem::take(&mut self.partial[index(side)]);
            if !buf.is_empty() {
                self.lines
                    .push((side, String::from_utf8_lossy(&buf).into_owned()));
            }
        }
    }

    /// The lines in order.
    pub fn lines(&self) -> &[(Line, String)] {
        &self.lines
    }

    /// The bytes one side sent, each line with CRLF.
    pub fn bytes_of(&self, side: Line) -> Vec<u8> {
        let mut out = Vec::new();
        for (s, line) in &self.lines {
            if *s == side {
                out.extend_from_slice(line.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    /// The lines of a server's output, for comparisons that print well.
    pub fn server_lines(output: &[u8]) -> Vec<String> {
        let mut t = Self::new();
        t.record(Line::Server, output);
        t.finish();
        t.lines.into_iter().map(|(_, l)| l).collect()
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (side, line) in &self.lines {
            let tag = match side {
                Line::Client => "C:",
                Line::Server => "S:",
            };
            writeln!(f, "{tag} {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_record_agree() {
        let t = Transcript::parse("S: 220 hi\r\nC: EHLO x\n# comment\nS: 250 ok\n");
        let mut r = Transcript::new();
        r.record(Line::Server, b"220 hi\r\n");
        r.record(Line::Client, b"EH");
        r.record(Line::Client, b"LO x\r\n");
        r.record(Line::Server, b"250 ok\r\n");
        r.finish();
        assert_eq!(t.lines(), r.lines());
        assert_eq!(t.bytes_of(Line::Client), b"EHLO x\r\n");
        assert_eq!(t.to_string(), "S: 220 hi\nC: EHLO x\nS: 250 ok\n");
    }
}
