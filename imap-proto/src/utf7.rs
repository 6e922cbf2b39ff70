//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3, RFC 9051 §5.1.3):
//! printable US-ASCII stands for itself (`&` as `&-`), everything else is
//! UTF-16BE in base64 with `,` for `/`, no padding, between `&` and `-`.

use crate::error::MailboxNameError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn sextet(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    } as u32)
}

/// Encodes a mailbox name in modified UTF-7. The result is the canonical
/// form, which [`decode`] accepts.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut run);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut out, &mut run);
    out
}

fn flush(out: &mut String, run: &mut Vec<u16>) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits = 0;
    for unit in run.drain(..) {
        for byte in unit.to_be_bytes() {
            acc = (acc << 8) | u32::from(byte);
            bits += 8;
            while bits >= 6 {
                bits -= 6;
                out.push(char::from(ALPHABET[((acc >> bits) & 0x3f) as usize]));
            }
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize]));
    }
    out.push('-');
}

/// Decodes a modified UTF-7 mailbox name, refusing anything but the
/// canonical encoding (so each name has exactly one wire form).
pub fn decode(wire: &[u8]) -> Result<String, MailboxNameError> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        let b = wire[i];
        if !(0x20..0x7f).contains(&b) {
            return Err(MailboxNameError::BadByte { byte: b, offset: i });
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if wire.get(i) == Some(&b'-') {
            out.push('&');
            i += 1;
            continue;
        }
        let mut units = Vec::new();
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut pending: Option<u8> = None;
        loop {
            let Some(&c) = wire.get(i) else {
                return Err(MailboxNameError::BadBase64 { offset: start });
            };
            i += 1;
            if c == b'-' {
                break;
            }
            let s = sextet(c).ok_or(MailboxNameError::BadBase64 { offset: start })?;
            acc = ((acc << 6) | s) & 0xffff;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                let byte = ((acc >> bits) & 0xff) as u8;
                match pending.take() {
                    None => pending = Some(byte),
                    Some(hi) => units.push(u16::from_be_bytes([hi, byte])),
                }
            }
        }
        if pending.is_some() || bits >= 6 || acc & ((1 << bits) - 1) != 0 || units.is_empty() {
            return Err(MailboxNameError::BadBase64 { offset: start });
        }
        for c in char::decode_utf16(units) {
            out.push(c.map_err(|_| MailboxNameError::BadUtf16 { offset: start })?);
        }
    }
    if encode(&out).as_bytes() != wire {
        return Err(MailboxNameError::NotCanonical);
    }
    Ok(out)
}
