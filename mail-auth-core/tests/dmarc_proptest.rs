//! Property tests: no panics on arbitrary DMARC records and From values.

use postel_auth::dmarc::{DmarcRecord, author_domain, parse_from};
use proptest::prelude::*;

proptest! {
    #[test]
    fn record_parse_never_panics(s in "\\PC{0,200}") {
        let _ = DmarcRecord::parse(&s);
        let _ = DmarcRecord::parse(&format!("v=DMARC1; {s}"));
    }

    #[test]
    fn record_parse_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut with_v = b"v=DMARC1;".to_vec();
        with_v.extend_from_slice(&b);
        let _ = DmarcRecord::parse_bytes(&b);
        let _ = DmarcRecord::parse_bytes(&with_v);
    }

    #[test]
    fn record_tag_soup_never_panics(
        tags in proptest::collection::vec(
            (prop::sample::select(vec!["p", "sp", "np", "adkim", "aspf", "pct", "rua", "ruf", "fo", "rf", "ri", "psd", "x"]),
             "[ -:<-~]{0,20}"),
            0..12)
    ) {
        let mut text = String::from("v=DMARC1");
        for (k, v) in &tags {
            text.push_str(&format!("; {k}={v}"));
        }
        if let Ok(r) = DmarcRecord::parse(&text) {
            prop_assert!(r.pct <= 100);
        }
    }

    #[test]
    fn from_parse_never_panics(s in "\\PC{0,200}") {
        let _ = parse_from(&s);
        let _ = author_domain(&[&s]);
    }

    #[test]
    fn from_structured_never_panics(s in "[a-z\"()<>@,;:.\\\\ \\[\\]]{0,60}") {
        let _ = parse_from(&s);
    }
}
