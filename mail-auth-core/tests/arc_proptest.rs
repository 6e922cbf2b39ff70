//! Properties: no ARC header value makes parsing or verification panic;
//! what is sealed verifies, whatever the body, and a changed body fails.

mod arc_support;

use arc_support::{Hop, MESSAGE, Zone, ed_key, forward, verify};
use postel_auth::arc::{ArcAuthenticationResults, ArcMessageSignature, ArcResult, ArcSeal};
use proptest::prelude::*;

/// Text rich in the pieces of ARC tag lists.
fn header_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("i=".to_string()),
            Just("1".to_string()),
            Just("2".to_string()),
            Just("51".to_string()),
            Just("; ".to_string()),
            Just("cv=pass".to_string()),
            Just("cv=none".to_string()),
            Just("a=rsa-sha256".to_string()),
            Just("a=ed25519-sha256".to_string()),
            Just("d=example.org".to_string()),
            Just("s=sel".to_string()),
            Just("h=from:to".to_string()),
            Just("bh=AAAA".to_string()),
            Just("b=AAAA".to_string()),
            Just("c=relaxed/relaxed".to_string()),
            Just("l=5".to_string()),
            Just("=".to_string()),
            Just("\r\n ".to_string()),
            Just("mx.example.org".to_string()),
            any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn field_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("ARC-Seal"),
        Just("ARC-Message-Signature"),
        Just("ARC-Authentication-Results"),
        Just("arc-seal"),
    ]
}

/// Body bytes rich in line ends and white space.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(b'a'),
            3 => Just(b' '),
            2 => Just(b'\t'),
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            1 => any::<u8>(),
        ],
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_do_not_panic(value in header_value()) {
        let _ = ArcSeal::parse(&value);
        let _ = ArcMessageSignature::parse(&value);
        if let Ok(aar) = ArcAuthenticationResults::parse(&value) {
            let _ = aar.results();
        }
    }

    #[test]
    fn verifier_does_not_panic(
        fields in prop::collection::vec((field_name(), header_value()), 0..8),
        sealed in any::<bool>(),
    ) {
        let hop = Hop::new("lists.example", "s", ed_key());
        let zone = hop.publish(Zone::new());
        let base = if sealed {
            forward(&zone, &hop, MESSAGE)
        } else {
            MESSAGE.to_vec()
        };
        let mut message = Vec::new();
        for (name, value) in &fields {
            message.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        message.extend_from_slice(&base);
        let out = verify(&zone, &message);
        if fields.is_empty() {
            let expected = if sealed { ArcResult::Pass } else { ArcResult::None };
            prop_assert_eq!(out.result, expected);
        }
        let _ = out.to_method_result();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sealed_bodies_verify(body in body_bytes(), extra in body_bytes()) {
        let hops = [
            Hop::new("a.example", "s1", ed_key()),
            Hop::new("b.example", "s2", ed_key()),
        ];
        let zone = hops.iter().fold(Zone::new(), |z, h| h.publish(z));
        let mut message = b"From: x@origin.example\r\nSubject: p\r\n\r\n".to_vec();
        message.extend_from_slice(&body);
        for hop in &hops {
            message = forward(&zone, hop, &message);
        }
        let out = verify(&zone, &message);
        prop_assert_eq!(out.result, ArcResult::Pass);
        prop_assert_eq!(out.oldest_pass, Some(0));
        // Appending content (not just white space or line ends) breaks it.
        if extra.iter().any(|b| !b" \t\r\n".contains(b)) {
            let mut changed = message.clone();
            changed.extend_from_slice(b"\r\n");
            changed.extend_from_slice(&extra);
            prop_assert_eq!(verify(&zone, &changed).result, ArcResult::Fail);
        }
    }
}
