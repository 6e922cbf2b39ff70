//! ARC sealing and verification (RFC 8617): chains built here, then
//! verified, tampered with and broken in the ways §5.2 names.

mod arc_support;

use std::time::Instant;

use arc_support::{
    Hop, MESSAGE, NOW, Zone, delete_field, ed_key, forward, replace, rsa_key, seal_with, verify,
};
use postel_auth::arc::{
    ArcConfig, ArcResult, ArcSealer, ArcVerifier, SealError, SealerConfig, seal_message, verify_arc,
};
use postel_auth::{Answer, Check, Progress};

fn hops() -> Vec<Hop> {
    vec![
        Hop::new("lists.example", "arc1", rsa_key()),
        Hop::new("relay.example", "arc2", ed_key()),
        Hop::new("mx.example", "arc3", rsa_key()),
    ]
}

fn zone_for(hops: &[Hop]) -> Zone {
    hops.iter().fold(Zone::new(), |z, h| h.publish(z))
}

/// The message after `count` hops.
fn chain(hops: &[Hop], count: usize) -> Vec<u8> {
    let zone = zone_for(hops);
    let mut message = MESSAGE.to_vec();
    for hop in &hops[..count] {
        message = forward(&zone, hop, &message);
    }
    message
}

#[test]
fn no_chain_is_none() {
    let out = verify(&Zone::new(), MESSAGE);
    assert_eq!(out.result, ArcResult::None);
    assert_eq!(out.instances, 0);
    assert_eq!(out.to_method_result().result, "none");
}

#[test]
fn one_two_three_hops_pass() {
    let hops = hops();
    let zone = zone_for(&hops);
    for count in 1..=3 {
        let message = chain(&hops, count);
        let out = verify(&zone, &message);
        assert_eq!(out.result, ArcResult::Pass, "{count} hops: {out:#?}");
        assert_eq!(out.instances, count as u32);
        assert_eq!(out.oldest_pass, Some(0));
        assert_eq!(out.sets.len(), count);
        for (i, set) in out.sets.iter().enumerate() {
            assert_eq!(set.instance, i as u32 + 1);
            assert_eq!(set.seal_domain, hops[i].domain);
            assert_eq!(set.signature_selector, hops[i].selector);
            assert_eq!(set.seal_verified, Some(true));
            assert_eq!(set.signature_verified, Some(true));
            let expected_cv = if i == 0 {
                ArcResult::None
            } else {
                ArcResult::Pass
            };
            assert_eq!(set.cv, Some(expected_cv));
            assert!(
                set.authentication_results
                    .starts_with(&format!("mx.{};", hops[i].domain)),
                "{}",
                set.authentication_results
            );
        }
    }
}

#[test]
fn each_algorithm_alone() {
    for key in [rsa_key(), ed_key()] {
        let algorithm = key.algorithm();
        let hops = vec![
            Hop::new("a.example", "s1", key),
            Hop::new(
                "b.example",
                "s2",
                match algorithm.as_str() {
                    "rsa-sha256" => rsa_key(),
                    _ => ed_key(),
                },
            ),
        ];
        let zone = zone_for(&hops);
        let message = chain(&hops, 2);
        let text = String::from_utf8(message.clone()).unwrap();
        assert!(text.contains(&format!("a={algorithm};")), "{text}");
        assert_eq!(verify(&zone, &message).result, ArcResult::Pass);
    }
}

#[test]
fn sealed_fields_look_right() {
    let hops = hops();
    let message = chain(&hops, 2);
    let text = String::from_utf8(message).unwrap();
    // The newest set is on top, ARC-Seal first.
    assert!(text.starts_with("ARC-Seal: i=2;"), "{text}");
    let ams = text.find("ARC-Message-Signature: i=2;").unwrap();
    let aar = text.find("ARC-Authentication-Results: i=2;").unwrap();
    let seal1 = text.find("ARC-Seal: i=1;").unwrap();
    assert!(ams < aar && aar < seal1);
    assert!(text.contains("cv=none;") && text.contains("cv=pass;"));
    assert!(text.contains(&format!("t={NOW};")));
    for line in text.split("\r\n") {
        assert!(line.len() <= 998, "{line}");
    }
    // The AMS signs neither ARC fields nor Authentication-Results.
    let h = &text[ams..];
    let h = &h[h.find("h=").unwrap()..];
    let h = &h[..h.find(';').unwrap()].to_ascii_lowercase();
    assert!(h.contains("from") && h.contains("subject"), "{h}");
    assert!(!h.contains("arc-") && !h.contains("authentication-results"));
}

#[test]
fn modified_in_transit_then_sealed_still_passes() {
    // A mailing list changes the body after the first seal, then seals:
    // the chain passes, but the oldest AMS that still verifies is i=2.
    let hops = hops();
    let zone = zone_for(&hops);
    let one = chain(&hops, 1);
    // The list verifies what it received, then changes it, then seals.
    let received = verify(&zone, &one);
    assert_eq!(received.result, ArcResult::Pass);
    let changed = replace(&one, "Joe.\r\n", "Joe.\r\n-- \r\nlist footer\r\n");
    let two = seal_with(&hops[1], &changed, received.result);
    let three = forward(&zone, &hops[2], &two);
    let out = verify(&zone, &three);
    assert_eq!(out.result, ArcResult::Pass, "{out:#?}");
    assert_eq!(out.oldest_pass, Some(2));
    assert_eq!(out.sets[0].signature_verified, Some(false));
    let m = out.to_method_result();
    assert_eq!(m.property("header", "oldest-pass"), Some("2"));
    // Without the oldest-pass computation the older AMS is not checked.
    let config = ArcConfig {
        oldest_pass: false,
        ..ArcConfig::default()
    };
    let out = zone.run(verify_arc(&three, NOW, config));
    assert_eq!(out.result, ArcResult::Pass);
    assert_eq!(out.oldest_pass, None);
    assert_eq!(out.sets[0].signature_verified, None);
}

#[test]
fn tampering_after_sealing_fails() {
    let hops = hops();
    let zone = zone_for(&hops);
    for count in 1..=3 {
        let message = chain(&hops, count);
        let body = replace(&message, "Hi there.", "Hi there!");
        let out = verify(&zone, &body);
        assert_eq!(out.result, ArcResult::Fail);
        assert!(
            out.reason.as_deref().unwrap().contains("body hash"),
            "{out:#?}"
        );
        let header = replace(&message, "Subject: hello", "Subject: hullo");
        let out = verify(&zone, &header);
        assert_eq!(out.result, ArcResult::Fail);
        assert!(
            out.reason
                .as_deref()
                .unwrap()
                .contains("ARC-Message-Signature"),
            "{out:#?}"
        );
    }
}

#[test]
fn changed_aar_breaks_the_seal() {
    let hops = hops();
    let zone = zone_for(&hops);
    let message = chain(&hops, 2);
    let bad = replace(&message, "\tarc=none;", "\tarc=pass;");
    let out = verify(&zone, &bad);
    assert_eq!(out.result, ArcResult::Fail);
    assert!(
        out.reason.as_deref().unwrap().contains("ARC-Seal"),
        "{out:#?}"
    );
}

#[test]
fn corrupted_seal_signature_fails() {
    let hops = hops();
    let zone = zone_for(&hops);
    let message = chain(&hops, 2);
    let text = String::from_utf8(message).unwrap();
    // Flip one base64 character of the first ARC-Seal's b=.
    let seal1 = text.find("ARC-Seal: i=1;").unwrap();
    let b = seal1 + text[seal1..].find(" b=").unwrap() + 3;
    let mut bytes = text.into_bytes();
    bytes[b + 5] = if bytes[b + 5] == b'A' { b'B' } else { b'A' };
    let out = verify(&zone, &bytes);
    assert_eq!(out.result, ArcResult::Fail);
    // The seal of i=2 covers that b= too, so both fail; the newest is
    // checked (and reported) first.
    assert!(
        out.reason.as_deref().unwrap().contains("ARC-Seal i=2"),
        "{out:#?}"
    );
    assert_eq!(out.sets[0].seal_verified, Some(false));
    assert_eq!(out.sets[1].seal_verified, Some(false));
    assert_eq!(out.sets[1].signature_verified, Some(true));
}

#[test]
fn cv_rules() {
    let hops = hops();
    let zone = zone_for(&hops);
    let message = chain(&hops, 2);
    // Instance 1 claiming cv=pass.
    let out = verify(&zone, &replace(&message, "cv=none;", "cv=pass;"));
    assert_eq!(out.result, ArcResult::Fail);
    assert!(
        out.reason
            .as_deref()
            .unwrap()
            .contains("cv=none is required"),
        "{out:#?}"
    );
    // A later instance claiming cv=none.
    let out = verify(&zone, &replace(&message, "cv=pass;", "cv=none;"));
    assert_eq!(out.result, ArcResult::Fail);
    // The newest seal saying cv=fail.
    let out = verify(&zone, &replace(&message, "cv=pass;", "cv=fail;"));
    assert_eq!(out.result, ArcResult::Fail);
    assert!(
        out.reason.as_deref().unwrap().contains("cv=fail"),
        "{out:#?}"
    );
    // A sealer that says cv=fail on instance 1 (honestly) ends the chain.
    let one = chain(&hops, 1);
    let out = verify(&zone, &replace(&one, "cv=none;", "cv=fail;"));
    assert_eq!(out.result, ArcResult::Fail);
}

#[test]
fn structure_rules() {
    let hops = hops();
    let zone = zone_for(&hops);
    let message = chain(&hops, 2);
    for prefix in [
        "ARC-Authentication-Results: i=1;",
        "ARC-Message-Signature: i=1;",
        "ARC-Seal: i=1;",
        "ARC-Seal: i=2;",
    ] {
        let out = verify(&zone, &delete_field(&message, prefix));
        assert_eq!(out.result, ArcResult::Fail, "{prefix}");
        assert!(
            out.reason.as_deref().unwrap().contains("has no"),
            "{out:#?}"
        );
    }
    // A whole set missing: instances 2 and 3 without 1.
    let three = chain(&hops, 3);
    let mut gap = three.clone();
    for prefix in [
        "ARC-Authentication-Results: i=1;",
        "ARC-Message-Signature: i=1;",
        "ARC-Seal: i=1;",
    ] {
        gap = delete_field(&gap, prefix);
    }
    let out = verify(&zone, &gap);
    assert_eq!(out.result, ArcResult::Fail);
    assert!(
        out.reason.as_deref().unwrap().contains("i=1 has no"),
        "{out:#?}"
    );
    // A duplicate instance.
    let mut dup = b"ARC-Authentication-Results: i=2; mx.evil.example; none\r\n".to_vec();
    dup.extend_from_slice(&message);
    let out = verify(&zone, &dup);
    assert_eq!(out.result, ArcResult::Fail);
    assert!(
        out.reason.as_deref().unwrap().contains("more than one"),
        "{out:#?}"
    );
    // An unreadable instance.
    let out = verify(
        &zone,
        &replace(&message, "ARC-Seal: i=2;", "ARC-Seal: i=two;"),
    );
    assert_eq!(out.result, ArcResult::Fail);
}

#[test]
fn fifty_sets_and_no_more() {
    let hop = Hop::new("loop.example", "s", ed_key());
    let zone = hop.publish(Zone::new());
    let mut message = MESSAGE.to_vec();
    for i in 0..50 {
        let cv = if i == 0 {
            ArcResult::None
        } else {
            ArcResult::Pass
        };
        message = seal_with(&hop, &message, cv);
    }
    let out = verify(&zone, &message);
    assert_eq!(out.result, ArcResult::Pass, "{:?}", out.reason);
    assert_eq!(out.instances, 50);
    let config = SealerConfig::new("loop.example", "s");
    assert_eq!(
        seal_message(
            &message,
            ArcResult::Pass,
            "mx.loop.example; none",
            &hop.key,
            &config
        ),
        Err(SealError::TooManyInstances)
    );
    // Instance 51, even as a complete set, is beyond the limit.
    let fake = b"ARC-Seal: i=51; a=ed25519-sha256; cv=pass; d=loop.example; s=s; b=AAAA\r\nARC-Message-Signature: i=51; a=ed25519-sha256; d=loop.example; s=s; h=from; bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i=51; mx.loop.example; none\r\n";
    let mut more = fake.to_vec();
    more.extend_from_slice(&message);
    let out = verify(&zone, &more);
    assert_eq!(out.result, ArcResult::Fail);
    assert!(out.reason.as_deref().unwrap().contains("51"), "{out:#?}");
}

#[test]
fn sealer_refuses_what_it_must() {
    let key = rsa_key();
    let config = SealerConfig::new("lists.example", "arc1");
    let ar = "mx.lists.example; arc=none";
    assert_eq!(
        seal_message(MESSAGE, ArcResult::Fail, ar, &key, &config),
        Err(SealError::ChainFailed)
    );
    assert!(matches!(
        seal_message(MESSAGE, ArcResult::Pass, ar, &key, &config),
        Err(SealError::ChainMismatch { .. })
    ));
    let hops = hops();
    let one = chain(&hops, 1);
    assert!(matches!(
        seal_message(&one, ArcResult::None, ar, &key, &config),
        Err(SealError::ChainMismatch { instances: 1, .. })
    ));
    let broken = delete_field(&one, "ARC-Seal: i=1;");
    assert!(matches!(
        seal_message(&broken, ArcResult::Pass, ar, &key, &config),
        Err(SealError::MalformedChain(_))
    ));
    assert_eq!(
        seal_message(
            b"To: x@y.example\r\n\r\nhi\r\n",
            ArcResult::None,
            ar,
            &key,
            &config
        ),
        Err(SealError::NoFrom)
    );
    assert!(matches!(
        seal_message(MESSAGE, ArcResult::None, "", &key, &config),
        Err(SealError::BadAuthenticationResults(_))
    ));
    let mut bad = config.clone();
    bad.headers = Some(vec!["From".into(), "Authentication-Results".into()]);
    assert!(matches!(
        seal_message(MESSAGE, ArcResult::None, ar, &key, &bad),
        Err(SealError::ForbiddenHeader(_))
    ));
    assert!(matches!(
        ArcSealer::new(SealerConfig::new("bad domain", "s"), &key),
        Err(SealError::BadDomain(_))
    ));
}

#[test]
fn explicit_header_list() {
    let hop = Hop::new("lists.example", "arc1", ed_key());
    let zone = hop.publish(Zone::new());
    let mut config = SealerConfig::new(hop.domain, hop.selector);
    config.headers = Some(vec!["From".into(), "Subject".into(), "Subject".into()]);
    let set = seal_message(
        MESSAGE,
        ArcResult::None,
        "mx.lists.example; none",
        &hop.key,
        &config,
    )
    .unwrap();
    assert!(set.message_signature.contains("h=From:Subject:Subject;"));
    let mut message = set.to_prepend().into_bytes();
    message.extend_from_slice(MESSAGE);
    assert_eq!(verify(&zone, &message).result, ArcResult::Pass);
    // Over-signed Subject: adding one breaks the AMS.
    let mut added = b"Subject: second\r\n".to_vec();
    added.extend_from_slice(&message);
    assert_eq!(verify(&zone, &added).result, ArcResult::Fail);
}

#[test]
fn streaming_matches_one_shot() {
    let hops = hops();
    let zone = zone_for(&hops);
    let message = chain(&hops, 2);
    for size in [1, 7, 64, 1000] {
        let mut v = ArcVerifier::new(NOW, ArcConfig::default());
        for chunk in message.chunks(size) {
            v.feed(chunk);
        }
        let out = zone.run(v.finish());
        assert_eq!(out, verify(&zone, &message), "chunk size {size}");
    }
    // The sealer too: the same body hash and signed fields (Ed25519 is
    // deterministic).
    let hop = Hop::new("relay.example", "arc2", ed_key());
    let config = SealerConfig::new(hop.domain, hop.selector);
    let one_shot = seal_message(
        &message,
        ArcResult::Pass,
        "mx.relay.example; none",
        &hop.key,
        &config,
    )
    .unwrap();
    let mut s = ArcSealer::new(config, &hop.key).unwrap();
    for chunk in message.chunks(5) {
        s.feed(chunk);
    }
    assert_eq!(
        s.finish(ArcResult::Pass, "mx.relay.example; none").unwrap(),
        one_shot
    );
}

#[test]
fn lf_line_ends_verify() {
    let hops = hops();
    let zone = zone_for(&hops);
    let message = chain(&hops, 2);
    let lf = String::from_utf8(message).unwrap().replace("\r\n", "\n");
    assert_eq!(verify(&zone, lf.as_bytes()).result, ArcResult::Pass);
}

#[test]
fn key_problems() {
    let hops = hops();
    let message = chain(&hops, 1);
    // No key published.
    let out = verify(&Zone::new(), &message);
    assert_eq!(out.result, ArcResult::Fail);
    assert!(!out.temporary);
    assert!(
        out.reason.as_deref().unwrap().contains("no key"),
        "{out:#?}"
    );
    // A temporary DNS failure.
    let zone = Zone::new().answer(
        "arc1._domainkey.lists.example",
        Answer::TempFail("timeout".into()),
    );
    let out = verify(&zone, &message);
    assert_eq!(out.result, ArcResult::Fail);
    assert!(out.temporary);
    // The wrong key.
    let zone = Zone::new().txt("arc1._domainkey.lists.example", &ed_key().dns_record());
    assert_eq!(verify(&zone, &message).result, ArcResult::Fail);
}

#[test]
fn asks_for_each_key_once_and_honours_the_budget() {
    let hops = hops();
    let message = chain(&hops, 3);
    let mut check = verify_arc(&message, NOW, ArcConfig::default());
    let Progress::NeedAnswers(queries) = check.progress(Instant::now()) else {
        panic!("expected queries");
    };
    let mut names: Vec<&str> = queries.iter().map(|q| q.name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "arc1._domainkey.lists.example",
            "arc2._domainkey.relay.example",
            "arc3._domainkey.mx.example"
        ]
    );
    let config = ArcConfig {
        time_budget: Some(std::time::Duration::ZERO),
        ..ArcConfig::default()
    };
    let mut check = verify_arc(&message, NOW, config);
    let Progress::Done(out) = check.progress(Instant::now()) else {
        panic!("expected a result");
    };
    assert_eq!(out.result, ArcResult::Fail);
    assert!(out.temporary);
}

#[test]
fn method_result() {
    let hops = hops();
    let zone = zone_for(&hops);
    let out = verify(&zone, &chain(&hops, 2));
    let m = out.to_method_result();
    let ar = postel_auth::auth_results::AuthenticationResults::new("mx.example.net").with(m);
    assert_eq!(
        ar.to_value(),
        "mx.example.net; arc=pass (i=2 d=relay.example) header.oldest-pass=0"
    );
    let out = verify(&Zone::new(), &chain(&hops, 1));
    let value = postel_auth::auth_results::AuthenticationResults::new("mx")
        .with(out.to_method_result())
        .to_value();
    assert!(
        value.starts_with("mx; arc=fail (i=1 d=lists.example) reason="),
        "{value}"
    );
}
