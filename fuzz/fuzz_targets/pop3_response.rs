//! Arbitrary server output through the status-line parser and the
//! multi-line decoder, split at a point the input chooses: no panic, status
//! lines write back to themselves, and the decoded content is the same
//! whatever the split.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use postel_pop3::Response;
use postel_pop3::multiline::{DecodeStatus, DotDecoder};

fn decode(pieces: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut decoder = DotDecoder::new();
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    for piece in pieces {
        input.extend_from_slice(piece);
        if decoder.decode(&mut input, &mut |b| out.extend_from_slice(&b)) == DecodeStatus::End {
            return (out, true);
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let body = &data[1..];
    if let Some(line) = body.split(|&b| b == b'\n').next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Ok(r) = Response::parse(line) {
            let bytes = r.to_bytes();
            assert_eq!(Response::parse(&bytes[..bytes.len() - 2]).ok(), Some(r));
        }
    }
    let split = (data[0] as usize).min(body.len());
    let whole = decode(&[body]);
    let halves = decode(&[&body[..split], &body[split..]]);
    assert_eq!(whole.1, halves.1);
    if whole.1 {
        assert_eq!(whole.0, halves.0);
    }
});
