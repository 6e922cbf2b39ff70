//! Character classes of the IMAP grammar (RFC 9051 §9).

/// `CTL`: 0x00–0x1f and 0x7f.
pub const fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `ATOM-CHAR`: a 7-bit printable character that is not an atom-special
/// (`(` `)` `{` SP CTL `%` `*` `"` `\` `]`).
pub const fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR`: an atom character or `]`.
pub const fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// A tag character: an astring character other than `+`.
pub const fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// `list-char`: an atom character, a wildcard (`%`, `*`) or `]`.
pub const fn is_list_char(b: u8) -> bool {
    is_atom_char(b) || matches!(b, b'%' | b'*' | b']')
}

/// Whether `bytes` can be written as a quoted string by this crate: printable
/// US-ASCII only (quotes and backslashes get escaped), no CR, LF or NUL.
pub fn is_quotable(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| (0x20..0x7f).contains(&b))
}

/// Whether `bytes` is a non-empty run of atom characters.
pub fn is_atom(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_atom_char(b))
}

/// Whether `bytes` is a non-empty run of astring characters.
pub fn is_astring_atom(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_astring_char(b))
}
