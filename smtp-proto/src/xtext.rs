//! xtext (RFC 3461 §4) and the utf-8-addr encodings of RFC 6533 used by
//! ENVID, ORCPT and AUTH=.

use std::fmt::Write as _;

/// Decodes xtext: `+XX` hex escapes; every other byte must be printable
/// ASCII other than `+` and `=`. Returns `None` when malformed.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => {
                let hi = hex_value(*input.get(i + 1)?)?;
                let lo = hex_value(*input.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b @ 33..=126 if b != b'=' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        // RFC 3461 requires upper case; accept lower case as many do.
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Encodes bytes as xtext: `+`, `=`, controls, space and non-ASCII become `+XX`.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            let _ = write!(out, "+{b:02X}");
        }
    }
    out
}

/// Decodes the `\x{HEX}` escapes of RFC 6533's utf-8-addr-xtext and
/// utf-8-addr-unitext (after any xtext decoding). Returns `None` when an
/// escape is malformed, names no Unicode scalar value or the result is not UTF-8.
pub fn decode_utf8_addr(input: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(input).ok()?;
    if !text.contains("\\x{") {
        return Some(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("\\x{") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 3..];
        let end = after.find('}')?;
        let hex = &after[..end];
        if hex.is_empty() || hex.len() > 6 {
            return None;
        }
        let value = u32::from_str_radix(hex, 16).ok()?;
        out.push(char::from_u32(value)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Encodes a UTF-8 address as utf-8-addr-xtext (RFC 6533 §3): ASCII that
/// xtext allows stays, everything else becomes `\x{HEX}`.
pub fn encode_utf8_addr_xtext(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        if (c as u32) > 32 && (c as u32) < 127 && c != '+' && c != '=' && c != '\\' {
            out.push(c);
        } else {
            let _ = write!(out, "\\x{{{:X}}}", c as u32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_round_trip() {
        assert_eq!(encode(b"a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(decode(b"a+2Bb+3Dc+20d").unwrap(), b"a+b=c d");
        assert_eq!(decode(b"QQwi1234+2BQ").unwrap(), b"QQwi1234+Q");
        assert!(decode(b"a+2").is_none());
        assert!(decode(b"a=b").is_none());
        assert!(decode(b"a b").is_none());
    }

    #[test]
    fn utf8_addr() {
        assert_eq!(
            decode_utf8_addr(b"\\x{4E0A}\\x{6D77}@example.com").unwrap(),
            "上海@example.com"
        );
        assert_eq!(
            encode_utf8_addr_xtext("上海@example.com"),
            "\\x{4E0A}\\x{6D77}@example.com"
        );
        assert!(decode_utf8_addr(b"\\x{D800}").is_none());
        assert!(decode_utf8_addr(b"\\x{41").is_none());
    }
}
