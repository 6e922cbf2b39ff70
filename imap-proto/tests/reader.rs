//! The command reader: framing, literals, APPEND streaming, limits, and
//! chunking invariance on fixed transcripts.

mod common;

use bytes::Bytes;
use common::run;
use postel_imap::*;

fn cmd(s: &[u8]) -> ReaderEvent {
    ReaderEvent::Command(Bytes::copy_from_slice(s))
}

fn refused(tag: &str, error: ReaderError) -> ReaderEvent {
    ReaderEvent::Refused {
        tag: Tag::new(tag),
        error,
    }
}

fn all_chunkings(limits: ReaderLimits, input: &[u8]) -> Vec<ReaderEvent> {
    let whole = run(limits, input, input.len().max(1));
    for chunk in [1, 2, 3, 7, 64] {
        assert_eq!(run(limits, input, chunk), whole, "chunk size {chunk}");
    }
    whole
}

#[test]
fn splits_pipelined_commands_and_ignores_empty_lines() {
    let events = all_chunkings(ReaderLimits::default(), b"a NOOP\r\n\r\nb CAPABILITY\r\n");
    assert_eq!(events, vec![cmd(b"a NOOP\r\n"), cmd(b"b CAPABILITY\r\n")]);
}

#[test]
fn synchronizing_literal_waits_for_decision() {
    let mut r = CommandReader::default();
    r.enqueue_input(b"A001 LOGIN {4}\r\n");
    let Some(ReaderEvent::Literal(req)) = r.next_event() else {
        panic!()
    };
    assert_eq!(req.tag, Tag::new("A001"));
    assert_eq!(req.size, 4);
    assert!(req.synchronizing && req.append.is_none());
    assert_eq!(&req.command_so_far[..], b"A001 LOGIN {4}\r\n");
    assert!(!r.wants_input());
    r.enqueue_input(b"FRED {6}\r\n");
    assert_eq!(r.next_event(), None, "nothing moves before the decision");
    assert!(r.accept_literal());
    let Some(ReaderEvent::Literal(req)) = r.next_event() else {
        panic!()
    };
    assert_eq!(req.size, 6);
    r.accept_literal();
    r.enqueue_input(b"secret\r\n");
    let Some(ReaderEvent::Command(c)) = r.next_event() else {
        panic!()
    };
    assert_eq!(&c[..], b"A001 LOGIN {4}\r\nFRED {6}\r\nsecret\r\n");
    assert_eq!(
        Command::parse(&c).unwrap().body,
        CommandBody::Login {
            username: b"FRED".to_vec(),
            password: Secret::new("secret")
        }
    );
}

#[test]
fn rejected_synchronizing_literal_drops_the_command() {
    let mut r = CommandReader::default();
    r.enqueue_input(b"A1 LOGIN {5}\r\nA2 NOOP\r\n");
    assert!(matches!(r.next_event(), Some(ReaderEvent::Literal(_))));
    assert!(r.reject_literal());
    assert_eq!(r.next_event(), Some(cmd(b"A2 NOOP\r\n")));
    assert!(!r.reject_literal());
}

#[test]
fn literal_plus_flows_without_decision() {
    let limits = ReaderLimits {
        non_sync: NonSyncLiterals::Plus,
        ..Default::default()
    };
    let input = b"A1 LOGIN {4+}\r\nfred {3+}\r\nabc\r\nA2 NOOP\r\n";
    let events = all_chunkings(limits, input);
    assert_eq!(
        events,
        vec![
            cmd(b"A1 LOGIN {4+}\r\nfred {3+}\r\nabc\r\n"),
            cmd(b"A2 NOOP\r\n")
        ]
    );
}

#[test]
fn non_sync_literal_refused_without_literal_plus_and_skipped() {
    let input = b"A1 LOGIN {4+}\r\n\r\n\r\n x\r\nA2 NOOP\r\n";
    let events = all_chunkings(ReaderLimits::default(), input);
    assert_eq!(
        events,
        vec![
            refused("A1", ReaderError::NonSyncRefused),
            cmd(b"A2 NOOP\r\n")
        ]
    );
}

#[test]
fn literal_minus_over_4096_is_refused_and_skipped() {
    let limits = ReaderLimits {
        non_sync: NonSyncLiterals::Minus,
        ..Default::default()
    };
    let mut input = b"A1 SEARCH TEXT {5000+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'\n', 5000));
    input.extend_from_slice(b" ALL\r\nA2 NOOP\r\n");
    let events = all_chunkings(limits, &input);
    assert_eq!(
        events,
        vec![
            refused("A1", ReaderError::NonSyncTooLarge { size: 5000 }),
            cmd(b"A2 NOOP\r\n")
        ]
    );
    // 4096 itself is fine.
    let mut ok = b"A1 SEARCH TEXT {4096+}\r\n".to_vec();
    ok.extend(std::iter::repeat_n(b'x', 4096));
    ok.extend_from_slice(b"\r\n");
    assert_eq!(all_chunkings(limits, &ok), vec![cmd(&ok)]);
}

#[test]
fn append_streams_the_message() {
    let mut message = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n".to_vec();
    message.resize(310, b'.');
    let mut input = b"A003 APPEND saved-messages (\\Seen) {310}\r\n".to_vec();
    input.extend_from_slice(&message);
    input.extend_from_slice(b"\r\nA004 NOOP\r\n");
    let events = all_chunkings(ReaderLimits::default(), &input);
    assert_eq!(events.len(), 4);
    let ReaderEvent::Literal(req) = &events[0] else {
        panic!()
    };
    let head = req.append.as_ref().unwrap();
    assert_eq!(head.tag.as_str(), "A003");
    assert_eq!(head.mailbox, Mailbox::from_wire("saved-messages"));
    assert_eq!(head.flags, vec![Flag::Seen]);
    assert!(req.synchronizing && !head.utf8 && req.size == 310);
    assert_eq!(
        &req.command_so_far[..],
        b"A003 APPEND saved-messages (\\Seen) "
    );
    assert_eq!(events[1], ReaderEvent::AppendData(message.into()));
    assert_eq!(events[2], ReaderEvent::AppendEnd);
    assert_eq!(events[3], cmd(b"A004 NOOP\r\n"));
}

#[test]
fn append_message_is_never_buffered_whole() {
    let limits = ReaderLimits {
        max_command: 1024,
        max_literal: 100,
        ..Default::default()
    };
    let mut r = CommandReader::new(limits);
    r.enqueue_input(b"A1 APPEND INBOX {1000000}\r\n");
    assert!(matches!(r.next_event(), Some(ReaderEvent::Literal(_))));
    r.accept_literal();
    let mut total = 0;
    for _ in 0..1000 {
        r.enqueue_input(&[b'x'; 1000]);
        while let Some(ev) = r.next_event() {
            let ReaderEvent::AppendData(d) = ev else {
                panic!("{ev:?}")
            };
            total += d.len();
        }
        assert_eq!(r.buffered(), 0);
    }
    assert_eq!(total, 1_000_000);
    r.enqueue_input(b"\r\n");
    assert_eq!(r.next_event(), Some(ReaderEvent::AppendEnd));
}

#[test]
fn append_utf8_and_mailbox_literal() {
    let limits = ReaderLimits {
        non_sync: NonSyncLiterals::Plus,
        ..Default::default()
    };
    let input = b"A1 APPEND {5+}\r\nDraft \"01-Jan-2020 00:00:00 +0000\" UTF8 (~{3+}\r\na\0b)\r\n";
    let events = all_chunkings(limits, input);
    let ReaderEvent::Literal(req) = &events[0] else {
        panic!("{events:?}")
    };
    let head = req.append.as_ref().unwrap();
    assert_eq!(head.mailbox, Mailbox::from_wire("Draft"));
    assert!(head.utf8 && head.date.is_some() && req.binary && !req.synchronizing);
    assert_eq!(
        &events[1..],
        &[
            ReaderEvent::AppendData(Bytes::from_static(b"a\0b")),
            ReaderEvent::AppendEnd
        ]
    );
}

#[test]
fn rejected_non_sync_append_is_skipped() {
    let limits = ReaderLimits {
        non_sync: NonSyncLiterals::Plus,
        ..Default::default()
    };
    let mut r = CommandReader::new(limits);
    r.enqueue_input(b"A1 APPEND INBOX {10+}\r\n0123456789\r\nA2 NOOP\r\n");
    let Some(ReaderEvent::Literal(req)) = r.next_event() else {
        panic!()
    };
    assert!(!req.synchronizing);
    r.reject_literal();
    assert_eq!(r.next_event(), Some(cmd(b"A2 NOOP\r\n")));
}

#[test]
fn bad_append_tail_is_refused() {
    let input = b"A1 APPEND INBOX {2}\r\nab junk\r\nA2 NOOP\r\n";
    let events = all_chunkings(ReaderLimits::default(), input);
    assert_eq!(
        events[1],
        ReaderEvent::AppendData(Bytes::from_static(b"ab"))
    );
    assert_eq!(events[2], refused("A1", ReaderError::BadAppendTail));
    assert_eq!(events[3], cmd(b"A2 NOOP\r\n"));
}

#[test]
fn append_over_max_append_is_refused() {
    let limits = ReaderLimits {
        max_append: 100,
        ..Default::default()
    };
    let events = all_chunkings(limits, b"A1 APPEND INBOX {101}\r\nA2 NOOP\r\n");
    assert_eq!(
        events,
        vec![
            refused(
                "A1",
                ReaderError::LiteralTooLarge {
                    size: 101,
                    limit: 100
                }
            ),
            cmd(b"A2 NOOP\r\n")
        ]
    );
}

#[test]
fn line_too_long_is_refused_and_skipped() {
    let limits = ReaderLimits {
        max_line: 20,
        ..Default::default()
    };
    let input = b"A1 SEARCH TEXT aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nA2 NOOP\r\n";
    let events = all_chunkings(limits, input);
    assert_eq!(
        events,
        vec![
            refused("A1", ReaderError::LineTooLong { limit: 20 }),
            cmd(b"A2 NOOP\r\n")
        ]
    );
    // A long line that ends in a non-synchronizing literal: its data is skipped too.
    let limits = ReaderLimits {
        max_line: 20,
        non_sync: NonSyncLiterals::Plus,
        ..Default::default()
    };
    let input = b"A1 SEARCH TEXT aaaaaaaaaaaaaaaaaaaaaaaa {4+}\r\nA9 X\r\nA2 NOOP\r\n";
    let events = all_chunkings(limits, input);
    assert_eq!(
        events,
        vec![
            refused("A1", ReaderError::LineTooLong { limit: 20 }),
            cmd(b"A2 NOOP\r\n")
        ]
    );
}

#[test]
fn literal_and_command_limits() {
    let limits = ReaderLimits {
        max_literal: 10,
        ..Default::default()
    };
    assert_eq!(
        all_chunkings(limits, b"A1 LOGIN {11}\r\nA2 NOOP\r\n"),
        vec![
            refused(
                "A1",
                ReaderError::LiteralTooLarge {
                    size: 11,
                    limit: 10
                }
            ),
            cmd(b"A2 NOOP\r\n")
        ]
    );
    let limits = ReaderLimits {
        max_literals: 2,
        non_sync: NonSyncLiterals::Plus,
        ..Default::default()
    };
    assert_eq!(
        all_chunkings(limits, b"A1 X {1+}\r\na {1+}\r\nb {1+}\r\nc\r\nA2 NOOP\r\n"),
        vec![
            refused("A1", ReaderError::TooManyLiterals { limit: 2 }),
            cmd(b"A2 NOOP\r\n")
        ]
    );
    let limits = ReaderLimits {
        max_command: 30,
        non_sync: NonSyncLiterals::Plus,
        ..Default::default()
    };
    assert_eq!(
        all_chunkings(
            limits,
            b"A1 X {10+}\r\n0123456789 {10+}\r\n0123456789\r\nA2 NOOP\r\n"
        ),
        vec![
            refused("A1", ReaderError::CommandTooLarge { limit: 30 }),
            cmd(b"A2 NOOP\r\n")
        ]
    );
    assert_eq!(
        all_chunkings(
            ReaderLimits::default(),
            b"A1 X {99999999999999999999}\r\nA2 NOOP\r\n"
        ),
        vec![
            refused("A1", ReaderError::BadLiteralSize),
            cmd(b"A2 NOOP\r\n")
        ]
    );
}

#[test]
fn depth_and_bare_lf() {
    let limits = ReaderLimits {
        max_depth: 3,
        ..Default::default()
    };
    assert_eq!(
        all_chunkings(
            limits,
            b"A1 SEARCH ((((ALL))))\r\nA2 SEARCH \"((((\" (ALL)\r\n"
        ),
        vec![
            refused("A1", ReaderError::TooDeep { limit: 3 }),
            cmd(b"A2 SEARCH \"((((\" (ALL)\r\n")
        ]
    );
    assert_eq!(
        all_chunkings(ReaderLimits::default(), b"A1 NOOP\nA2 NOOP\r\n"),
        vec![
            refused("A1", ReaderError::BareLineFeed),
            cmd(b"A2 NOOP\r\n")
        ]
    );
}

#[test]
fn literal_header_inside_quotes_is_not_a_literal() {
    let events = all_chunkings(ReaderLimits::default(), b"A1 LOGIN \"a {3}\r\nA2 NOOP\r\n");
    assert_eq!(
        events,
        vec![cmd(b"A1 LOGIN \"a {3}\r\n"), cmd(b"A2 NOOP\r\n")]
    );
}
