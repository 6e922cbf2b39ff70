//! The tag=value list syntax of RFC 6376 §3.2, shared by DKIM signatures,
//! DKIM key records, ARC headers and DMARC records.
//!
//! ```text
//! tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//! tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//! tag-name  =  ALPHA *ALNUMPUNC        ; ALNUMPUNC = ALPHA / DIGIT / "_"
//! ```

use thiserror::Error;

/// Why a tag list could not be parsed. Offsets are byte positions in the
/// input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TagListError {
    /// A tag-spec had no `=`.
    #[error("tag list: no '=' in the tag-spec at byte {at}")]
    MissingEquals {
        /// Where the tag-spec starts.
        at: usize,
    },
    /// A tag name was empty or had a character outside ALPHA / DIGIT / "_".
    #[error("tag list: bad tag name {name:?} at byte {at}")]
    BadTagName {
        /// The name as written.
        name: String,
        /// Where it starts.
        at: usize,
    },
    /// The same tag appeared twice (RFC 6376 §3.2: a permanent error).
    #[error("tag list: tag {name:?} appears twice")]
    DuplicateTag {
        /// The repeated name.
        name: String,
    },
    /// A value held a byte that no tag value may hold (outside VCHAR / WSP,
    /// or a `;` that cannot be there).
    #[error("tag list: bad byte 0x{byte:02x} in the value of {name:?}")]
    BadValueByte {
        /// The tag whose value it is.
        name: String,
        /// The byte.
        byte: u8,
    },
}

/// One tag and its value, with surrounding folding white space removed.
/// Inner white space is kept as written; callers that need it gone (base64
/// values) strip it themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The tag name (case-sensitive, as RFC 6376 says).
    pub name: &'a str,
    /// The value as written, outer FWS trimmed.
    pub value: &'a str,
}

fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_fws(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii() && is_fws(c as u8))
}

/// Parse a tag list. Duplicate names are an error; an empty trailing
/// tag-spec (a final `;`) is allowed.
pub fn parse(input: &str) -> Result<Vec<Tag<'_>>, TagListError> {
    let mut tags: Vec<Tag<'_>> = Vec::new();
    let mut offset = 0;
    for spec in input.split(';') {
        let at = offset;
        offset += spec.len() + 1;
        if trim_fws(spec).is_empty() {
            continue;
        }
        let Some(eq) = spec.find('=') else {
            return Err(TagListError::MissingEquals { at });
        };
        let name = trim_fws(&spec[..eq]);
        let value = trim_fws(&spec[eq + 1..]);
        let good_name = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !good_name {
            return Err(TagListError::BadTagName {
                name: name.to_string(),
                at,
            });
        }
        if let Some(&byte) = value
            .as_bytes()
            .iter()
            .find(|&&b| !(b.is_ascii_graphic() || is_fws(b) || b >= 0x80))
        {
            return Err(TagListError::BadValueByte {
                name: name.to_string(),
                byte,
            });
        }
        if tags.iter().any(|t| t.name == name) {
            return Err(TagListError::DuplicateTag {
                name: name.to_string(),
            });
        }
        tags.push(Tag { name, value });
    }
    Ok(tags)
}

/// The value of `name` in a parsed list.
pub fn get<'a>(tags: &[Tag<'a>], name: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.name == name).map(|t| t.value)
}

/// A value with every FWS byte removed (for base64 values such as `b=`,
/// `bh=` and `p=`).
pub fn without_fws(value: &str) -> String {
    value
        .bytes()
        .filter(|&b| !is_fws(b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_signature_like_list() {
        let tags =
            parse("v=1; a=rsa-sha256;\r\n\td=example.net; s=brisbane;\r\n h=from : to;").unwrap();
        assert_eq!(get(&tags, "v"), Some("1"));
        assert_eq!(get(&tags, "d"), Some("example.net"));
        assert_eq!(get(&tags, "h"), Some("from : to"));
        assert_eq!(tags.len(), 5);
    }

    #[test]
    fn empty_value_and_trailing_semicolon() {
        let tags = parse("v=DKIM1; p=;").unwrap();
        assert_eq!(get(&tags, "p"), Some(""));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse("v=1; a"),
            Err(TagListError::MissingEquals { .. })
        ));
        assert!(matches!(
            parse("v=1; v=2"),
            Err(TagListError::DuplicateTag { .. })
        ));
        assert!(matches!(
            parse("1x=1"),
            Err(TagListError::BadTagName { .. })
        ));
        assert!(matches!(parse("=1"), Err(TagListError::BadTagName { .. })));
        assert!(matches!(
            parse("a=\u{1}"),
            Err(TagListError::BadValueByte { .. })
        ));
    }

    #[test]
    fn fws_removal() {
        assert_eq!(without_fws("ab c\r\n\td"), "abcd");
    }
}
