//! Arbitrary client input through the IMAP command reader (in chunks the
//! input chooses, every literal accepted) and the command parser: no panic;
//! the events do not depend on the chunking; every command that parses
//! encodes back to bytes that parse to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_imap::{Command, CommandReader, ReaderEvent, ReaderLimits, WriteOptions};

fn read_all(input: &[u8], chunk: usize) -> Vec<ReaderEvent> {
    let limits = ReaderLimits {
        max_line: 512,
        max_literal: 4096,
        max_append: 8192,
        max_command: 16 * 1024,
        ..ReaderLimits::default()
    };
    let mut reader = CommandReader::new(limits);
    let mut events = Vec::new();
    let feed = |reader: &mut CommandReader, events: &mut Vec<ReaderEvent>| {
        while let Some(ev) = reader.next_event() {
            if ev.needs_decision() {
                reader.accept_literal();
            }
            events.push(ev);
        }
    };
    for piece in input.chunks(chunk.max(1)) {
        reader.enqueue_input(piece);
        feed(&mut reader, &mut events);
    }
    events
}

/// Append data arrives in chunk-sized pieces: compare it joined.
fn normalize(events: Vec<ReaderEvent>) -> Vec<ReaderEvent> {
    let mut out: Vec<ReaderEvent> = Vec::new();
    for ev in events {
        if let (Some(ReaderEvent::AppendData(prev)), ReaderEvent::AppendData(more)) =
            (out.last_mut(), &ev)
        {
            let mut joined = prev.to_vec();
            joined.extend_from_slice(more);
            *prev = joined.into();
            continue;
        }
        out.push(ev);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (chunk, input) = (usize::from(data[0]) + 1, &data[1..]);
    let whole = normalize(read_all(input, input.len()));
    let pieces = normalize(read_all(input, chunk));
    assert_eq!(whole, pieces);
    for ev in whole {
        let ReaderEvent::Command(bytes) = ev else {
            continue;
        };
        if let Ok(command) = Command::parse(&bytes) {
            let encoded = command.encode(WriteOptions::default());
            let again = Command::parse(&encoded.bytes).expect("an encoded command parses");
            assert_eq!(again, command);
        }
    }
    // The parser on its own, for inputs the reader would split.
    if let Ok(command) = Command::parse(input) {
        let encoded = command.encode(WriteOptions::default());
        assert_eq!(Command::parse(&encoded.bytes).ok(), Some(command));
    }
});
