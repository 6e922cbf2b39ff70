//! The server's command reader: input in any chunking in, complete commands
//! out, under explicit limits.
//!
//! - A command is one line, or lines joined by literals; it comes out
//!   whole ([`ReaderEvent::Command`]) for [`Command::parse`].
//! - Each synchronizing literal stops the reader with
//!   [`ReaderEvent::Literal`]: the session sends `+ ...` and calls
//!   [`CommandReader::accept_literal`], or answers `NO`/`BAD` and calls
//!   [`CommandReader::reject_literal`]. Non-synchronizing literals
//!   (LITERAL+, LITERAL-) are read on without stopping.
//! - The message literal of an APPEND is never buffered: the reader
//!   announces it (synchronizing or not) with its parsed head
//!   ([`AppendHeader`]), and after acceptance passes it on as
//!   [`ReaderEvent::AppendData`] chunks, then [`ReaderEvent::AppendEnd`].
//! - A command that breaks a limit or the framing is refused
//!   ([`ReaderEvent::Refused`], with its tag when known); the reader then
//!   skips whatever the client still sends of it, non-synchronizing
//!   literal data included, and carries on with the next command.
//!
//! Empty lines between commands are ignored. Lines that are not commands
//! (`DONE` after IDLE, SASL responses) come out as `Command` too; see
//! [`is_done`](crate::command::is_done) and
//! [`parse_sasl_response`](crate::command::parse_sasl_response).
//!
//! [`Command::parse`]: crate::Command::parse

pub(crate) mod scan;

use bytes::{Bytes, BytesMut};

use crate::command::parse::{AppendPrefix, append_prefix};
use crate::datetime::DateTime;
use crate::error::ReaderError;
use crate::flag::Flag;
use crate::literal::{LITERAL_MINUS_MAX, NonSyncLiterals};
use crate::mailbox::Mailbox;
use crate::tag::Tag;
use scan::{LineEnd, LiteralHeader, line_end, push_tail, scan_depth, tail_end};

/// The reader's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Longest line, CRLF included (default 8192).
    pub max_line: usize,
    /// Largest literal other than an APPEND message (default 64 KiB).
    pub max_literal: u64,
    /// Largest APPEND message (default 64 MiB); the session may refuse
    /// smaller ones (APPENDLIMIT) when it answers the announcement.
    pub max_append: u64,
    /// Most literals in one command (default 64).
    pub max_literals: usize,
    /// Longest command buffered, lines and literals (default 256 KiB).
    pub max_command: usize,
    /// Deepest parenthesis nesting (default 32).
    pub max_depth: usize,
    /// Which non-synchronizing literals are allowed (default none).
    pub non_sync: NonSyncLiterals,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        Self {
            max_line: 8192,
            max_literal: 64 * 1024,
            max_append: 64 * 1024 * 1024,
            max_literals: 64,
            max_command: 256 * 1024,
            max_depth: 32,
            non_sync: NonSyncLiterals::Refused,
        }
    }
}

/// The head of an APPEND whose message is about to flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendHeader {
    /// The command's tag.
    pub tag: Tag,
    /// The destination.
    pub mailbox: Mailbox,
    /// The flags to set.
    pub flags: Vec<Flag>,
    /// The internal date.
    pub date: Option<DateTime>,
    /// `UTF8 (~{n})` (RFC 6855).
    pub utf8: bool,
}

/// An announced literal, waiting for the session's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralRequest {
    /// The command's tag, when it has a valid one.
    pub tag: Option<Tag>,
    /// The announced size.
    pub size: u64,
    /// A literal8 (`~{n}`).
    pub binary: bool,
    /// A synchronizing literal: the client waits for `+` before sending
    /// it. When false (an APPEND message under LITERAL+/-) the data is on
    /// its way; rejecting makes the reader skip it.
    pub synchronizing: bool,
    /// The command so far: for an APPEND message, everything before the
    /// literal's header; otherwise everything up to and including it.
    pub command_so_far: Bytes,
    /// Set when this literal is an APPEND message.
    pub append: Option<AppendHeader>,
}

/// What the reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A complete command, CRLF and literal data included.
    Command(Bytes),
    /// A literal that needs a decision (`accept_literal` / `reject_literal`).
    Literal(LiteralRequest),
    /// The next piece of an accepted APPEND message.
    AppendData(Bytes),
    /// The APPEND message and its command are complete: the session may
    /// commit the message and answer. If `Refused` comes instead (bytes
    /// after the message that do not end the command), the message must be
    /// discarded.
    AppendEnd,
    /// A command refused by the reader; the session answers `BAD` (tagged
    /// when `tag` is known). The reader has already moved past it.
    Refused {
        /// The command's tag, when known.
        tag: Option<Tag>,
        /// Why.
        error: ReaderError,
    },
}

impl ReaderEvent {
    /// Whether the session must call `accept_literal` or `reject_literal`
    /// before the reader goes on.
    pub fn needs_decision(&self) -> bool {
        matches!(self, Self::Literal(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Line,
    Literal {
        remaining: u64,
    },
    Decision {
        size: u64,
        synchronizing: bool,
        append: Option<bool>,
    },
    AppendData {
        remaining: u64,
        utf8: bool,
    },
    AppendTail {
        utf8: bool,
    },
    Skip {
        remaining: u64,
    },
    SkipLine,
}

/// Splits server input into commands. See the module documentation.
#[derive(Debug)]
pub struct CommandReader {
    limits: ReaderLimits,
    input: BytesMut,
    scanned: usize,
    cmd: BytesMut,
    literals: usize,
    depth: usize,
    tail: Vec<u8>,
    state: State,
    raw_lines: bool,
}

impl CommandReader {
    /// A reader with the given limits.
    pub fn new(limits: ReaderLimits) -> Self {
        Self {
            limits,
            input: BytesMut::new(),
            scanned: 0,
            cmd: BytesMut::new(),
            literals: 0,
            depth: 0,
            tail: Vec::new(),
            state: State::Line,
            raw_lines: false,
        }
    }

    /// In raw-line mode every line (empty ones included) comes out whole as
    /// a [`ReaderEvent::Command`] without looking for literals: for the
    /// client's SASL responses and IDLE's `DONE`. Line limits still apply.
    pub fn set_raw_lines(&mut self, raw: bool) {
        self.raw_lines = raw;
    }

    /// Drops every byte received and not yet consumed, and any partial
    /// command (STARTTLS: what came before the handshake must not be read
    /// after it).
    pub fn discard_input(&mut self) {
        self.input.clear();
        self.scanned = 0;
        self.reset();
        self.state = State::Line;
    }

    /// The limits in force.
    pub fn limits(&self) -> &ReaderLimits {
        &self.limits
    }

    /// Changes which non-synchronizing literals are allowed (after the
    /// session advertises LITERAL+ or LITERAL-).
    pub fn set_non_sync(&mut self, non_sync: NonSyncLiterals) {
        self.limits.non_sync = non_sync;
    }

    /// Bytes from the client.
    pub fn enqueue_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// False while a literal waits for a decision: the caller should stop
    /// reading so pipelined input stays bounded.
    pub fn wants_input(&self) -> bool {
        !matches!(self.state, State::Decision { .. })
    }

    /// Bytes received but not yet consumed.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// The session sent `+ ...` (or, for a non-synchronizing APPEND
    /// message, accepts it): the literal is read on. Returns false when no
    /// literal was waiting.
    pub fn accept_literal(&mut self) -> bool {
        match self.state {
            State::Decision {
                size, append: None, ..
            } => self.state = State::Literal { remaining: size },
            State::Decision {
                size,
                append: Some(utf8),
                ..
            } => {
                self.state = State::AppendData {
                    remaining: size,
                    utf8,
                }
            }
            _ => return false,
        }
        true
    }

    /// The session refused the literal (and answers the command itself):
    /// the command is dropped; a non-synchronizing literal's data is
    /// skipped. Returns false when no literal was waiting.
    pub fn reject_literal(&mut self) -> bool {
        let State::Decision {
            size,
            synchronizing,
            ..
        } = self.state
        else {
            return false;
        };
        self.reset();
        self.state = if synchronizing {
            State::Line
        } else {
            State::Skip { remaining: size }
        };
        true
    }

    /// The next event, or `None` when more input (or a decision) is needed.
    pub fn next_event(&mut self) -> Option<ReaderEvent> {
        loop {
            match self.state {
                State::Line => match self.take_line() {
                    Some(line) => {
                        if let Some(ev) = self.on_line(line) {
                            return Some(ev);
                        }
                    }
                    None => {
                        if self.input.len() > self.limits.max_line {
                            return Some(self.partial_line_too_long());
                        }
                        return None;
                    }
                },
                State::Literal { remaining } => {
                    if remaining == 0 {
                        self.state = State::Line;
                        continue;
                    }
                    if self.input.is_empty() {
                        return None;
                    }
                    let n = take_len(remaining, self.input.len());
                    let piece = self.input.split_to(n);
                    self.cmd.extend_from_slice(&piece);
                    self.state = State::Literal {
                        remaining: remaining - n as u64,
                    };
                }
                State::Decision { .. } => return None,
                State::AppendData { remaining, utf8 } => {
                    if remaining == 0 {
                        self.state = State::AppendTail { utf8 };
                        continue;
                    }
                    if self.input.is_empty() {
                        return None;
                    }
                    let n = take_len(remaining, self.input.len());
                    let chunk = self.input.split_to(n).freeze();
                    self.state = State::AppendData {
                        remaining: remaining - n as u64,
                        utf8,
                    };
                    return Some(ReaderEvent::AppendData(chunk));
                }
                State::AppendTail { utf8 } => match self.take_line() {
                    Some(line) => {
                        let expected: &[u8] = if utf8 { b")\r\n" } else { b"\r\n" };
                        if line[..] == *expected {
                            self.reset();
                            self.state = State::Line;
                            return Some(ReaderEvent::AppendEnd);
                        }
                        let tag = self.tag_of(&line);
                        let error = if line.len() > self.limits.max_line {
                            ReaderError::LineTooLong {
                                limit: self.limits.max_line,
                            }
                        } else {
                            ReaderError::BadAppendTail
                        };
                        return Some(self.abort(tag, error, tail_end(&line)));
                    }
                    None => {
                        if self.input.len() > self.limits.max_line {
                            return Some(self.partial_line_too_long());
                        }
                        return None;
                    }
                },
                State::Skip { remaining } => {
                    if remaining == 0 {
                        self.tail.clear();
                        self.state = State::SkipLine;
                        continue;
                    }
                    if self.input.is_empty() {
                        return None;
                    }
                    let n = take_len(remaining, self.input.len());
                    let _ = self.input.split_to(n);
                    self.state = State::Skip {
                        remaining: remaining - n as u64,
                    };
                }
                State::SkipLine => match memchr::memchr(b'\n', &self.input) {
                    None => {
                        push_tail(&mut self.tail, &self.input);
                        self.input.clear();
                        return None;
                    }
                    Some(i) => {
                        let line = self.input.split_to(i + 1);
                        push_tail(&mut self.tail, &line);
                        self.state = match line_end(&self.tail) {
                            LineEnd::Literal(h) if h.non_sync => State::Skip { remaining: h.size },
                            _ => State::Line,
                        };
                        self.tail.clear();
                    }
                },
            }
        }
    }

    /// A complete line from the input, if there is one.
    fn take_line(&mut self) -> Option<BytesMut> {
        match memchr::memchr(b'\n', &self.input[self.scanned..]) {
            Some(i) => {
                let end = self.scanned + i + 1;
                self.scanned = 0;
                Some(self.input.split_to(end))
            }
            None => {
                self.scanned = self.input.len();
                None
            }
        }
    }

    /// The tag of the current command: from what is buffered of it, or
    /// from `line` when it is the command's first line.
    fn tag_of(&self, line: &[u8]) -> Option<Tag> {
        if self.cmd.is_empty() {
            Tag::peek(line)
        } else {
            Tag::peek(&self.cmd)
        }
    }

    fn reset(&mut self) {
        self.cmd.clear();
        self.literals = 0;
        self.depth = 0;
        self.tail.clear();
    }

    /// Refuses the current command and arranges to skip what follows of it.
    fn abort(&mut self, tag: Option<Tag>, error: ReaderError, end: LineEnd) -> ReaderEvent {
        self.reset();
        self.state = match end {
            LineEnd::Literal(h) if h.non_sync => State::Skip { remaining: h.size },
            _ => State::Line,
        };
        ReaderEvent::Refused { tag, error }
    }

    /// A line grew past the limit before its end arrived.
    fn partial_line_too_long(&mut self) -> ReaderEvent {
        let tag = self.tag_of(&self.input);
        let error = ReaderError::LineTooLong {
            limit: self.limits.max_line,
        };
        self.reset();
        push_tail(&mut self.tail, &self.input);
        self.input.clear();
        self.scanned = 0;
        self.state = State::SkipLine;
        ReaderEvent::Refused { tag, error }
    }

    /// Handles one complete line of a command.
    fn on_line(&mut self, line: BytesMut) -> Option<ReaderEvent> {
        let limits = self.limits;
        let tag = self.tag_of(&line);
        if line.len() > limits.max_line {
            let error = ReaderError::LineTooLong {
                limit: limits.max_line,
            };
            return Some(self.abort(tag, error, tail_end(&line)));
        }
        if !line.ends_with(b"\r\n") {
            return Some(self.abort(tag, ReaderError::BareLineFeed, LineEnd::Plain));
        }
        if self.raw_lines && self.cmd.is_empty() {
            return Some(ReaderEvent::Command(line.freeze()));
        }
        if self.cmd.is_empty() && line[..] == b"\r\n"[..] {
            return None;
        }
        let end = line_end(&line);
        if self.cmd.len() + line.len() > limits.max_command {
            let error = ReaderError::CommandTooLarge {
                limit: limits.max_command,
            };
            return Some(self.abort(tag, error, end));
        }
        let (depth, in_quote) = scan_depth(&line, &mut self.depth);
        if depth > limits.max_depth {
            let error = ReaderError::TooDeep {
                limit: limits.max_depth,
            };
            return Some(self.abort(tag, error, end));
        }
        let header = match (in_quote, end) {
            (true, _) | (false, LineEnd::Plain) => None,
            (false, LineEnd::BadSize) => {
                return Some(self.abort(tag, ReaderError::BadLiteralSize, end));
            }
            (false, LineEnd::Literal(h)) => Some(h),
        };
        let line_start = self.cmd.len();
        self.cmd.extend_from_slice(&line);
        match header {
            None => {
                let command = self.cmd.split().freeze();
                self.reset();
                Some(ReaderEvent::Command(command))
            }
            Some(h) => self.on_literal(tag, h, line_start + h.start),
        }
    }

    /// A line of the current command ended with a literal header.
    fn on_literal(
        &mut self,
        tag: Option<Tag>,
        h: LiteralHeader,
        header_at: usize,
    ) -> Option<ReaderEvent> {
        let limits = self.limits;
        let end = LineEnd::Literal(h);
        self.literals += 1;
        if self.literals > limits.max_literals {
            let error = ReaderError::TooManyLiterals {
                limit: limits.max_literals,
            };
            return Some(self.abort(tag, error, end));
        }
        if h.non_sync {
            match limits.non_sync {
                NonSyncLiterals::Refused => {
                    return Some(self.abort(tag, ReaderError::NonSyncRefused, end));
                }
                NonSyncLiterals::Minus if h.size > LITERAL_MINUS_MAX => {
                    let error = ReaderError::NonSyncTooLarge { size: h.size };
                    return Some(self.abort(tag, error, end));
                }
                _ => {}
            }
        }
        let prefix = append_prefix(&self.cmd[..header_at], limits.max_depth)
            .filter(|p: &AppendPrefix| h.binary || !p.utf8);
        if let Some(p) = prefix {
            if h.size > limits.max_append {
                let error = ReaderError::LiteralTooLarge {
                    size: h.size,
                    limit: limits.max_append,
                };
                return Some(self.abort(tag, error, end));
            }
            self.state = State::Decision {
                size: h.size,
                synchronizing: !h.non_sync,
                append: Some(p.utf8),
            };
            return Some(ReaderEvent::Literal(LiteralRequest {
                tag: Some(p.tag.clone()),
                size: h.size,
                binary: h.binary,
                synchronizing: !h.non_sync,
                command_so_far: Bytes::copy_from_slice(&self.cmd[..header_at]),
                append: Some(AppendHeader {
                    tag: p.tag,
                    mailbox: p.mailbox,
                    flags: p.flags,
                    date: p.date,
                    utf8: p.utf8,
                }),
            }));
        }
        if h.size > limits.max_literal {
            let error = ReaderError::LiteralTooLarge {
                size: h.size,
                limit: limits.max_literal,
            };
            return Some(self.abort(tag, error, end));
        }
        if self.cmd.len() as u64 + h.size > limits.max_command as u64 {
            let error = ReaderError::CommandTooLarge {
                limit: limits.max_command,
            };
            return Some(self.abort(tag, error, end));
        }
        if h.non_sync {
            self.state = State::Literal { remaining: h.size };
            return None;
        }
        self.state = State::Decision {
            size: h.size,
            synchronizing: true,
            append: None,
        };
        Some(ReaderEvent::Literal(LiteralRequest {
            tag,
            size: h.size,
            binary: h.binary,
            synchronizing: true,
            command_so_far: Bytes::copy_from_slice(&self.cmd),
            append: None,
        }))
    }
}

impl Default for CommandReader {
    fn default() -> Self {
        Self::new(ReaderLimits::default())
    }
}

/// `min(remaining, available)` as a usize.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}
