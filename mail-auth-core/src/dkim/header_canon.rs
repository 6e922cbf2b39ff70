//! Header canonicalization (RFC 6376 §3.4.1, §3.4.2), the choice of signed
//! fields (§5.4.2) and the data a signature signs (§3.7).

use crate::message::HeaderField;

use super::algorithm::Canonicalization;

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Append one field, canonicalized, to `out`, ending with CRLF.
///
/// `raw` is the whole field as it appeared (name, colon, value, folding,
/// final line end optional). Simple keeps it, only writing every line end
/// as CRLF. Relaxed lowercases the name, unfolds, turns each run of white
/// space into one space and drops white space at the ends of the value and
/// around the colon.
pub fn canonicalize_field(canon: Canonicalization, raw: &[u8], out: &mut Vec<u8>) {
    match canon {
        Canonicalization::Simple => simple_field(raw, out),
        Canonicalization::Relaxed => relaxed_field(raw, out),
    }
}

fn simple_field(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

fn relaxed_field(raw: &[u8], out: &mut Vec<u8>) {
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    let mut name_end = colon;
    while name_end > 0 && is_wsp(raw[name_end - 1]) {
        name_end -= 1;
    }
    out.extend(raw[..name_end].iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let value = raw.get(colon + 1..).unwrap_or(&[]);
    let mut pending_wsp = false;
    let mut started = false;
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        match b {
            b'\r' if value.get(i + 1) == Some(&b'\n') => {
                i += 2;
                continue;
            }
            b'\n' => {}
            b' ' | b'\t' => pending_wsp = true,
            _ => {
                if pending_wsp && started {
                    out.push(b' ');
                }
                pending_wsp = false;
                started = true;
                out.push(b);
            }
        }
        i += 1;
    }
    out.extend_from_slice(b"\r\n");
}

/// The field `raw` with the value of its `b=` tag deleted, white space
/// around the value included (RFC 6376 §3.7): everything from the `=` of
/// the tag named `b` up to the next `;` or the end of the field's value. A
/// final line end is kept.
pub fn without_b_value(raw: &[u8]) -> Vec<u8> {
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return raw.to_vec();
    };
    // The value without the final line end.
    let mut end = raw.len();
    if raw[..end].ends_with(b"\n") {
        end -= 1;
        if raw[..end].ends_with(b"\r") {
            end -= 1;
        }
    }
    let mut spec_start = colon + 1;
    while spec_start <= end {
        let spec_end = raw[spec_start..end]
            .iter()
            .position(|&b| b == b';')
            .map_or(end, |p| spec_start + p);
        let spec = &raw[spec_start..spec_end];
        if let Some(eq) = spec.iter().position(|&b| b == b'=') {
            let name: Vec<u8> = spec[..eq]
                .iter()
                .copied()
                .filter(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .collect();
            if name == b"b" {
                let mut out = Vec::with_capacity(raw.len());
                out.extend_from_slice(&raw[..spec_start + eq + 1]);
                out.extend_from_slice(&raw[spec_end..]);
                return out;
            }
        }
        spec_start = spec_end + 1;
    }
    raw.to_vec()
}

/// Pick the fields `names` sign, each name taking the lowest field of that
/// name not yet taken (RFC 6376 §5.4.2). A name with no field left selects
/// nothing (a "nonexistent" field, which signs the empty string: this is
/// how over-signing forbids adding a field).
pub fn select_fields<'f, 'a>(
    fields: &'f [HeaderField<'a>],
    names: &[String],
) -> Vec<&'f HeaderField<'a>> {
    let mut used = vec![false; fields.len()];
    let mut picked = Vec::with_capacity(names.len());
    for name in names {
        let found = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && fields[i].is(name));
        if let Some(i) = found {
            used[i] = true;
            picked.push(&fields[i]);
        }
    }
    picked
}

/// The bytes a signature signs: the selected fields canonicalized, then
/// the signature field itself canonicalized with its `b=` value deleted
/// and without its final CRLF.
pub fn signed_data(
    canon: Canonicalization,
    fields: &[HeaderField<'_>],
    names: &[String],
    signature_field_raw: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    for field in select_fields(fields, names) {
        canonicalize_field(canon, field.raw(), &mut out);
    }
    let stripped = without_b_value(signature_field_raw);
    canonicalize_field(canon, &stripped, &mut out);
    if out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::split;

    #[test]
    fn rfc_6376_3_4_5_headers() {
        let (fields, _) = split(b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n");
        let mut relaxed = Vec::new();
        let mut simple = Vec::new();
        for f in &fields {
            canonicalize_field(Canonicalization::Relaxed, f.raw(), &mut relaxed);
            canonicalize_field(Canonicalization::Simple, f.raw(), &mut simple);
        }
        assert_eq!(relaxed, b"a:X\r\nb:Y Z\r\n");
        assert_eq!(simple, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
    }

    #[test]
    fn b_value_removal() {
        assert_eq!(
            without_b_value(b"DKIM-Signature: a=1; bh=xyz; b=abc\r\n def ; c=2\r\n"),
            b"DKIM-Signature: a=1; bh=xyz; b=; c=2\r\n"
        );
        assert_eq!(
            without_b_value(b"DKIM-Signature: a=1;\r\n b=abc\r\n def\r\n"),
            b"DKIM-Signature: a=1;\r\n b=\r\n"
        );
        assert_eq!(without_b_value(b"X: bh=1"), b"X: bh=1");
    }

    #[test]
    fn bottom_up_and_oversigning() {
        let (fields, _) = split(b"A: 1\r\nB: x\r\nA: 2\r\n\r\n");
        let names: Vec<String> = ["a", "a", "a", "b"].iter().map(|s| s.to_string()).collect();
        let picked: Vec<&[u8]> = select_fields(&fields, &names)
            .iter()
            .map(|f| f.raw())
            .collect();
        assert_eq!(picked, vec![&b"A: 2\r\n"[..], b"A: 1\r\n", b"B: x\r\n"]);
    }
}
