//! The LANG command's language ranges (RFC 6856 §3, RFC 4647 §2.1 basic
//! ranges) and the lookup of a supported language for one.

/// The languages the server's responses can be in: tag and name. Postel's
/// texts exist in English only.
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English")];

/// The language a session starts with.
pub const DEFAULT_LANGUAGE: &str = "en";

/// Whether `range` is a basic language range: `*`, or 1 to 8 letters
/// followed by any number of `-` and 1 to 8 letters or digits.
pub fn is_language_range(range: &str) -> bool {
    if range == "*" {
        return true;
    }
    let mut parts = range.split('-');
    let first = parts.next().unwrap_or("");
    let ok_first = (1..=8).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic());
    ok_first
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The supported language a range selects (RFC 4647 §3.4 lookup: the range,
/// then the range with its last subtag cut off, and so on; `*` selects the
/// default), or `None`.
pub fn lookup(range: &str) -> Option<&'static str> {
    if range == "*" {
        return Some(DEFAULT_LANGUAGE);
    }
    let mut candidate = range;
    loop {
        if let Some((tag, _)) = LANGUAGES
            .iter()
            .find(|(tag, _)| tag.eq_ignore_ascii_case(candidate))
        {
            return Some(tag);
        }
        let (shorter, _) = candidate.rsplit_once('-')?;
        candidate = shorter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        for ok in ["*", "en", "en-US", "de-CH-1996", "i-klingon"] {
            assert!(is_language_range(ok), "{ok}");
        }
        for bad in [
            "",
            "-",
            "en-",
            "e n",
            "toolonglang",
            "1en",
            "en--us",
            "*-en",
        ] {
            assert!(!is_language_range(bad), "{bad}");
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup("*"), Some("en"));
        assert_eq!(lookup("EN"), Some("en"));
        assert_eq!(lookup("en-GB-oed"), Some("en"));
        assert_eq!(lookup("de"), None);
        assert_eq!(lookup("eng"), None);
    }
}
