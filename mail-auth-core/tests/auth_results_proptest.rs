//! Property tests: the Authentication-Results parser never panics, and
//! whatever the builder writes parses back to the same value.

use postel_auth::auth_results::{AuthenticationResults, MethodResult, Property};
use proptest::prelude::*;

fn keyword() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}"
}

fn text() -> impl Strategy<Value = String> {
    // Printable text, including specials, quotes, backslashes, parens and
    // non-ASCII.
    "[ -~é]{0,20}"
}

fn nonempty_text() -> impl Strategy<Value = String> {
    "[!-~é][ -~é]{0,20}"
}

fn property() -> impl Strategy<Value = Property> {
    (keyword(), keyword(), text(), proptest::option::of(text())).prop_map(
        |(ptype, property, value, comment)| Property {
            ptype,
            property,
            value,
            comment,
        },
    )
}

fn method_result() -> impl Strategy<Value = MethodResult> {
    (
        keyword().prop_filter("not none/reason", |m| m != "none" && m != "reason"),
        proptest::option::of(0u32..5),
        keyword(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::vec(property(), 0..4),
    )
        .prop_map(
            |(method, method_version, result, comment, reason, properties)| MethodResult {
                method,
                method_version,
                result,
                comment,
                reason,
                properties: properties
                    .into_iter()
                    .filter(|p| p.ptype != "reason")
                    .collect(),
            },
        )
}

fn authres() -> impl Strategy<Value = AuthenticationResults> {
    (
        nonempty_text(),
        proptest::option::of(0u32..100),
        proptest::collection::vec(method_result(), 0..5),
    )
        .prop_map(|(authserv_id, version, results)| AuthenticationResults {
            authserv_id,
            version,
            results,
        })
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,300}") {
        let _ = AuthenticationResults::parse(&s);
    }

    #[test]
    fn parse_structured_soup_never_panics(s in "[a-z0-9 ;=.()\"\\\\@/\r\n\t]{0,120}") {
        let _ = AuthenticationResults::parse(&s);
    }

    #[test]
    fn build_then_parse_round_trips(ar in authres()) {
        let value = ar.to_value();
        let back = AuthenticationResults::parse(&value);
        prop_assert_eq!(back.as_ref(), Ok(&ar), "value: {}", value);
        let field = ar.to_header_field();
        prop_assert_eq!(AuthenticationResults::parse(&field), Ok(ar), "field: {}", field);
    }
}
