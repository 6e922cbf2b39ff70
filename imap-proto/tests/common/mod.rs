//! Helpers shared by the integration tests.
#![allow(dead_code)]

use postel_imap::{Command, CommandBody, CommandReader, ReaderEvent, ReaderLimits, WriteOptions};

/// Parses `line` (CRLF appended), checks that writing it back parses to the
/// same command, and returns the body.
pub fn parse(line: &str) -> CommandBody {
    parse_bytes(format!("{line}\r\n").as_bytes())
}

/// As [`parse`], for raw bytes (CRLF included).
pub fn parse_bytes(bytes: &[u8]) -> CommandBody {
    let cmd = Command::parse(bytes)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)));
    for opts in [
        WriteOptions::default(),
        WriteOptions {
            non_sync: postel_imap::NonSyncLiterals::Plus,
        },
        WriteOptions {
            non_sync: postel_imap::NonSyncLiterals::Minus,
        },
    ] {
        let enc = cmd.encode(opts);
        let again = Command::parse(&enc.bytes)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&enc.bytes)));
        assert_eq!(again, cmd, "{:?}", String::from_utf8_lossy(&enc.bytes));
    }
    cmd.body
}

/// Feeds `input` in chunks of `chunk` bytes, accepting every literal, and
/// collects the events (adjacent AppendData merged).
pub fn run(limits: ReaderLimits, input: &[u8], chunk: usize) -> Vec<ReaderEvent> {
    let mut reader = CommandReader::new(limits);
    let mut events: Vec<ReaderEvent> = Vec::new();
    let push = |events: &mut Vec<ReaderEvent>, ev: ReaderEvent| {
        if let (Some(ReaderEvent::AppendData(prev)), ReaderEvent::AppendData(more)) =
            (events.last_mut(), &ev)
        {
            let mut joined = prev.to_vec();
            joined.extend_from_slice(more);
            *prev = joined.into();
        } else {
            events.push(ev);
        }
    };
    for piece in input.chunks(chunk.max(1)) {
        reader.enqueue_input(piece);
        while let Some(ev) = reader.next_event() {
            let decide = ev.needs_decision();
            push(&mut events, ev);
            if decide {
                reader.accept_literal();
            }
        }
    }
    events
}
