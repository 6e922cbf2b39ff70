//! Arbitrary server output through the reply parser, split at a point the
//! input chooses: no panic, and the same replies whatever the split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_smtp::reply::{ReplyLimits, ReplyParser};

fn parse(pieces: &[&[u8]]) -> Vec<Result<postel_smtp::Reply, postel_smtp::ReplyError>> {
    let mut p = ReplyParser::new(ReplyLimits {
        max_line: 512,
        max_lines: 32,
    });
    let mut out = Vec::new();
    for piece in pieces {
        p.feed(piece);
        loop {
            match p.next_reply() {
                Ok(Some(r)) => {
                    // A parsed reply serializes to something that parses back the same.
                    let mut q = ReplyParser::default();
                    q.feed(&r.to_bytes());
                    assert_eq!(q.next_reply().ok().flatten().as_ref(), Some(&r));
                    out.push(Ok(r));
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize % data.len();
    let body = &data[1..];
    let split = split.min(body.len());
    let whole = parse(&[body]);
    let halves = parse(&[&body[..split], &body[split..]]);
    assert_eq!(whole, halves);
});
