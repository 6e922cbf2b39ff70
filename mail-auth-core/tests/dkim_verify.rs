//! Verification outcomes other than a plain pass: RFC 8301 rules, key
//! records, DNS failures, expiry, limits.

mod dkim_support;

use std::time::{Duration, Instant};

use dkim_support::{NOW, RSA_512_SPKI, Zone, ed_key, replace, rsa_key, statuses};
use postel_auth::dkim::{
    DkimStatus, DkimVerifier, SignerConfig, SigningKey, VerifierConfig, sign_message,
    verify_message,
};
use postel_auth::{Answer, Check, Progress, Record};

const MESSAGE: &[u8] = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n";
const KEY_NAME: &str = "sel._domainkey.example.com";

fn signed_with(key: &SigningKey, config: &SignerConfig) -> Vec<u8> {
    let mut out = sign_message(MESSAGE, config, key).unwrap().into_bytes();
    out.extend_from_slice(MESSAGE);
    out
}

fn signed(key: &SigningKey) -> Vec<u8> {
    signed_with(key, &SignerConfig::new("example.com", "sel"))
}

fn one(zone: &Zone, message: &[u8]) -> (DkimStatus, String) {
    let results = zone.run(verify_message(message, NOW, VerifierConfig::default()));
    assert_eq!(results.len(), 1, "{results:#?}");
    (results[0].status, results[0].reason.clone())
}

#[test]
fn rsa_sha1_is_rejected() {
    let key = rsa_key();
    let zone = Zone::new().txt(KEY_NAME, &key.dns_record());
    let message = replace(&signed(&key), "a=rsa-sha256", "a=rsa-sha1");
    let (status, reason) = one(&zone, &message);
    assert_eq!(status, DkimStatus::PermError);
    assert!(reason.contains("rsa-sha1"), "{reason}");
}

#[test]
fn short_rsa_key_is_rejected() {
    let key = rsa_key();
    let zone = Zone::new().txt(KEY_NAME, &format!("v=DKIM1; k=rsa; p={RSA_512_SPKI}"));
    let (status, reason) = one(&zone, &signed(&key));
    assert_eq!(status, DkimStatus::PermError);
    assert!(reason.contains("512 bits"), "{reason}");
}

#[test]
fn revoked_and_unusable_keys() {
    let key = ed_key();
    let message = signed(&key);
    let good = key.dns_record();
    let p = good.split("p=").nth(1).unwrap();
    for (record, expect) in [
        ("v=DKIM1; k=ed25519; p=".to_string(), "revoked"),
        (format!("v=DKIM1; k=rsa; p={p}"), "key type"),
        (format!("v=DKIM1; k=ed25519; h=sha1; p={p}"), "h="),
        (format!("v=DKIM1; k=ed25519; s=tlsrpt; p={p}"), "s="),
        (format!("v=DKIM1; k=ed25519; p={}", &p[..20]), "Ed25519"),
        ("v=DKIM1; k=dsa; p=AAAA".to_string(), "key type"),
        ("v=spf1 -all".to_string(), "key record"),
    ] {
        let zone = Zone::new().txt(KEY_NAME, &record);
        let (status, reason) = one(&zone, &message);
        assert_eq!(status, DkimStatus::PermError, "{record}");
        assert!(reason.contains(expect), "{record}: {reason}");
    }
    // A good record after one that does not parse is used.
    let zone = Zone::new().answer(
        KEY_NAME,
        Answer::Records(vec![
            Record::Txt(b"garbage without equals".to_vec()),
            Record::Txt(good.clone().into_bytes()),
        ]),
    );
    assert_eq!(one(&zone, &message).0, DkimStatus::Pass);
    // Testing mode is reported.
    let zone = Zone::new().txt(KEY_NAME, &format!("{good}; t=y"));
    let results = zone.run(verify_message(&message, NOW, VerifierConfig::default()));
    assert!(results[0].testing);
    assert_eq!(results[0].status, DkimStatus::Pass);
}

#[test]
fn strict_key_requires_identity_equal_to_domain() {
    let key = ed_key();
    let mut config = SignerConfig::new("example.com", "sel");
    config.identity = Some("@news.example.com".to_string());
    let message = signed_with(&key, &config);
    let strict = Zone::new().txt(KEY_NAME, &format!("{}; t=s", key.dns_record()));
    let (status, reason) = one(&strict, &message);
    assert_eq!(status, DkimStatus::PermError);
    assert!(reason.contains("t=s"), "{reason}");
    let relaxed = Zone::new().txt(KEY_NAME, &key.dns_record());
    assert_eq!(one(&relaxed, &message).0, DkimStatus::Pass);
}

#[test]
fn dns_failures() {
    let message = signed(&ed_key());
    let (status, reason) = one(&Zone::new(), &message);
    assert_eq!(status, DkimStatus::PermError);
    assert!(reason.contains("no key"), "{reason}");
    let nodata = Zone::new().answer(KEY_NAME, Answer::NoData);
    assert_eq!(one(&nodata, &message).0, DkimStatus::PermError);
    let temp = Zone::new().answer(KEY_NAME, Answer::TempFail("SERVFAIL".into()));
    let (status, reason) = one(&temp, &message);
    assert_eq!(status, DkimStatus::TempError);
    assert!(reason.contains("SERVFAIL"), "{reason}");
}

#[test]
fn expired_signature_fails() {
    let key = ed_key();
    let zone = Zone::new().txt(KEY_NAME, &key.dns_record());
    let mut config = SignerConfig::new("example.com", "sel");
    config.timestamp = Some(NOW - 100);
    config.expiration = Some(NOW - 1);
    let (status, reason) = one(&zone, &signed_with(&key, &config));
    assert_eq!(status, DkimStatus::Fail);
    assert!(reason.contains("expired"), "{reason}");
    config.expiration = Some(NOW);
    assert_eq!(one(&zone, &signed_with(&key, &config)).0, DkimStatus::Pass);
}

#[test]
fn malformed_signatures_are_permerrors_with_what_was_wrong() {
    let key = ed_key();
    let zone = Zone::new().txt(KEY_NAME, &key.dns_record());
    let message = signed(&key);
    for (from, to, expect) in [
        ("v=1;", "v=2;", "version"),
        (
            "d=example.com;",
            "d=example.com; i=x@other.example;",
            "not within",
        ),
        ("h=From:From:", "h=", "From"),
        ("s=sel;", "", "s="),
        ("a=ed25519-sha256", "a=ed448-shake", "algorithm"),
        ("c=relaxed/relaxed", "c=fancy", "canonicalization"),
    ] {
        let broken = replace(&message, from, to);
        let results = zone.run(verify_message(&broken, NOW, VerifierConfig::default()));
        assert_eq!(results[0].status, DkimStatus::PermError, "{from} -> {to}");
        assert!(
            results[0].reason.contains(expect),
            "{from} -> {to}: {}",
            results[0].reason
        );
        assert_eq!(results[0].domain, "example.com");
    }
}

#[test]
fn signature_limit_bounds_the_work() {
    let key = ed_key();
    let zone = Zone::new().txt(KEY_NAME, &key.dns_record());
    let header = sign_message(MESSAGE, &SignerConfig::new("example.com", "sel"), &key).unwrap();
    let mut message = header.repeat(15).into_bytes();
    message.extend_from_slice(MESSAGE);
    let mut check = verify_message(&message, NOW, VerifierConfig::default());
    // One key, one query, however many signatures use it.
    let Progress::NeedAnswers(queries) = check.progress(Instant::now()) else {
        panic!("expected queries");
    };
    assert_eq!(queries.len(), 1);
    let results = zone.run(check);
    assert_eq!(results.len(), 15);
    assert_eq!(statuses(&results[..10]), vec![DkimStatus::Pass; 10]);
    assert_eq!(statuses(&results[10..]), vec![DkimStatus::Neutral; 5]);
    assert!(results[14].reason.contains("more than 10"));
}

#[test]
fn oversized_header_is_one_permerror() {
    let key = ed_key();
    let message = signed(&key);
    let config = VerifierConfig {
        max_header_bytes: 64,
        ..VerifierConfig::default()
    };
    let mut v = DkimVerifier::new(NOW, config);
    v.feed(&message);
    let results = Zone::new().run(v.finish());
    assert_eq!(statuses(&results), vec![DkimStatus::PermError]);
    assert!(results[0].reason.contains("larger than 64"));
}

#[test]
fn time_budget_turns_silence_into_temperror() {
    let message = signed(&ed_key());
    let config = VerifierConfig {
        time_budget: Some(Duration::from_secs(5)),
        ..VerifierConfig::default()
    };
    let mut check = verify_message(&message, NOW, config);
    let start = Instant::now();
    assert!(matches!(check.progress(start), Progress::NeedAnswers(_)));
    let Progress::Done(results) = check.progress(start + Duration::from_secs(6)) else {
        panic!("expected the budget to end the check");
    };
    assert_eq!(statuses(&results), vec![DkimStatus::TempError]);
}

#[test]
fn messages_without_signatures_or_header() {
    for message in [&b""[..], b"\r\n", b"From: a\r\n\r\n", b"no header at all"] {
        let results = Zone::new().run(verify_message(message, NOW, VerifierConfig::default()));
        assert!(results.is_empty());
    }
}
