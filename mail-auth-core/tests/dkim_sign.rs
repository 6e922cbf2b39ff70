//! Signing: keys from PEM, the four canonicalization pairs, the default
//! header list and over-signing, folding, streaming, errors.

mod dkim_support;

use dkim_support::{NOW, RSA_PKCS1_PEM, Zone, ed_key, replace, rsa_key, statuses};
use postel_auth::dkim::{
    Algorithm, Canonicalization, DkimSigner, DkimStatus, SignConfigError, SignError,
    SignMessageError, SignerConfig, SigningKey, SigningKeyError, VerifierConfig, sign_message,
    verify_message,
};

const MESSAGE: &[u8] = concat!(
    "From: Ada <ada@example.com>\r\n",
    "To: Grace <grace@example.org>\r\n",
    "Subject: Hello there\r\n",
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
    "Message-ID: <m1@example.com>\r\n",
    "X-Not-Signed: yes\r\n",
    "\r\n",
    "Hi Grace,\r\n",
    "\r\n",
    "  how are   you?  \r\n",
    "\r\n",
    "\r\n",
)
.as_bytes();

fn zone_for(key: &SigningKey, selector: &str) -> Zone {
    Zone::new().txt(
        &format!("{selector}._domainkey.example.com"),
        &key.dns_record(),
    )
}

fn signed(message: &[u8], config: &SignerConfig, key: &SigningKey) -> Vec<u8> {
    let header = sign_message(message, config, key).unwrap();
    let mut out = header.into_bytes();
    out.extend_from_slice(message);
    out
}

fn verify(zone: &Zone, message: &[u8]) -> Vec<DkimStatus> {
    statuses(&zone.run(verify_message(message, NOW, VerifierConfig::default())))
}

#[test]
fn every_canonicalization_pair_and_algorithm_verifies() {
    for key in [rsa_key(), ed_key()] {
        let zone = zone_for(&key, "sel");
        for hc in [Canonicalization::Simple, Canonicalization::Relaxed] {
            for bc in [Canonicalization::Simple, Canonicalization::Relaxed] {
                let mut config = SignerConfig::new("example.com", "sel");
                config.header_canon = hc;
                config.body_canon = bc;
                let message = signed(MESSAGE, &config, &key);
                assert_eq!(
                    verify(&zone, &message),
                    vec![DkimStatus::Pass],
                    "{:?} {hc}/{bc}\n{}",
                    key.algorithm(),
                    String::from_utf8_lossy(&message)
                );
                // Any change to a signed field or the body fails.
                let tampered = replace(&message, "Hello there", "Hello therE");
                assert_eq!(verify(&zone, &tampered), vec![DkimStatus::Fail]);
                let tampered = replace(&message, "how are", "who are");
                assert_eq!(verify(&zone, &tampered), vec![DkimStatus::Fail]);
            }
        }
    }
}

#[test]
fn pkcs1_and_pkcs8_load_the_same_key() {
    let a = SigningKey::from_pem(RSA_PKCS1_PEM).unwrap();
    let b = rsa_key();
    assert_eq!(a.dns_record(), b.dns_record());
    assert_eq!(a.algorithm(), Algorithm::RsaSha256);
    assert!(a.dns_record().starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"));
    assert_eq!(ed_key().algorithm(), Algorithm::Ed25519Sha256);
    // Deterministic signatures: both encodings sign identically.
    let config = SignerConfig::new("example.com", "sel");
    assert_eq!(
        sign_message(MESSAGE, &config, &a).unwrap(),
        sign_message(MESSAGE, &config, &b).unwrap()
    );
}

#[test]
fn bad_keys_are_the_callers_fault() {
    assert_eq!(
        SigningKey::from_pem("nothing").unwrap_err(),
        SigningKeyError::Pem
    );
    assert!(matches!(
        SigningKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(SigningKeyError::UnsupportedLabel(_))
    ));
    assert!(matches!(
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        Err(SigningKeyError::Rejected(_))
    ));
    assert!(matches!(
        SigningKey::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        ),
        Err(SigningKeyError::Rejected(_))
    ));
}

#[test]
fn output_is_folded_and_oversigns() {
    let key = rsa_key();
    let mut config = SignerConfig::new("example.com", "sel");
    config.timestamp = Some(NOW - 10);
    config.expiration = Some(NOW + 3600);
    config.identity = Some("ada@mail.example.com".to_string());
    let header = sign_message(MESSAGE, &config, &key).unwrap();
    assert!(header.starts_with("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"));
    assert!(header.ends_with("\r\n"));
    assert!(!header[..header.len() - 2].contains("\r\n\r\n"));
    for line in header.split("\r\n") {
        assert!(line.len() <= 78, "{line:?}");
    }
    let unfolded = header.replace("\r\n ", "");
    // From, To, Subject and Date once more than present; the others once.
    assert!(
        unfolded.contains("h=From:From:Subject:Subject:Date:Date:Message-ID:To:To;"),
        "{unfolded}"
    );
    assert!(!unfolded.contains("X-Not-Signed"));
    for tag in [
        "i=ada@mail.example.com;",
        "t=1699999990;",
        "x=1700003600;",
        "bh=",
    ] {
        assert!(unfolded.contains(tag), "{tag} in {unfolded}");
    }
    // Adding a second Subject breaks it; the signature verifies as is.
    let zone = zone_for(&key, "sel");
    let mut message = header.clone().into_bytes();
    message.extend_from_slice(MESSAGE);
    assert_eq!(verify(&zone, &message), vec![DkimStatus::Pass]);
    let results = zone.run(verify_message(&message, NOW, VerifierConfig::default()));
    assert_eq!(results[0].identity, "ada@mail.example.com");
    let added = replace(&message, "X-Not-Signed", "Subject: Buy now\r\nX-Not-Signed");
    assert_eq!(verify(&zone, &added), vec![DkimStatus::Fail]);
    let added = replace(
        &message,
        "X-Not-Signed",
        "Cc: eve@example.net\r\nX-Not-Signed",
    );
    assert_eq!(
        verify(&zone, &added),
        vec![DkimStatus::Pass],
        "Cc was not present and is not over-signed"
    );
}

#[test]
fn explicit_header_list_is_used_as_given() {
    let key = ed_key();
    let mut config = SignerConfig::new("example.com", "sel");
    config.headers = Some(vec![
        "from".into(),
        "x-not-signed".into(),
        "reply-to".into(),
    ]);
    let header = sign_message(MESSAGE, &config, &key).unwrap();
    assert!(
        header
            .replace("\r\n ", "")
            .contains("h=from:x-not-signed:reply-to;")
    );
    let zone = zone_for(&key, "sel");
    let mut message = header.into_bytes();
    message.extend_from_slice(MESSAGE);
    assert_eq!(verify(&zone, &message), vec![DkimStatus::Pass]);
    // Reply-To was signed as absent: adding one fails.
    let added = replace(
        &message,
        "X-Not-Signed",
        "Reply-To: x@y.example\r\nX-Not-Signed",
    );
    assert_eq!(verify(&zone, &added), vec![DkimStatus::Fail]);
}

#[test]
fn streaming_signer_matches_whole_message() {
    let key = ed_key();
    let config = SignerConfig::new("example.com", "sel");
    let whole = sign_message(MESSAGE, &config, &key).unwrap();
    for size in [1, 2, 5, 17, 100] {
        let mut signer = DkimSigner::new(config.clone(), &key).unwrap();
        for chunk in MESSAGE.chunks(size) {
            signer.feed(chunk);
        }
        assert_eq!(signer.finish().unwrap(), whole, "chunks of {size}");
    }
}

#[test]
fn lf_only_messages_sign_and_verify_either_way() {
    let key = rsa_key();
    let zone = zone_for(&key, "sel");
    let lf: Vec<u8> = String::from_utf8(MESSAGE.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    for (hc, bc) in [
        (Canonicalization::Simple, Canonicalization::Simple),
        (Canonicalization::Relaxed, Canonicalization::Relaxed),
    ] {
        let mut config = SignerConfig::new("example.com", "sel");
        config.header_canon = hc;
        config.body_canon = bc;
        let header = sign_message(&lf, &config, &key).unwrap();
        let mut crlf = header.clone().into_bytes();
        crlf.extend_from_slice(MESSAGE);
        assert_eq!(verify(&zone, &crlf), vec![DkimStatus::Pass]);
        let mut all_lf = header.replace("\r\n", "\n").into_bytes();
        all_lf.extend_from_slice(&lf);
        assert_eq!(verify(&zone, &all_lf), vec![DkimStatus::Pass]);
    }
}

#[test]
fn body_length_tag() {
    let key = ed_key();
    let zone = zone_for(&key, "sel");
    let mut config = SignerConfig::new("example.com", "sel");
    config.body_length = true;
    let message = signed(MESSAGE, &config, &key);
    // relaxed canonical body: "Hi Grace,\r\n\r\n how are you?\r\n" = 28 bytes
    let text = String::from_utf8_lossy(&message).into_owned();
    assert!(text.contains("l=28;"), "{text}");
    assert_eq!(verify(&zone, &message), vec![DkimStatus::Pass]);
    // Content appended after l= is not covered.
    let mut appended = message.clone();
    appended.extend_from_slice(b"P.S. buy now\r\n");
    assert_eq!(verify(&zone, &appended), vec![DkimStatus::Pass]);
    // A policy that refuses l= says so.
    let config = VerifierConfig {
        reject_body_length: true,
        ..VerifierConfig::default()
    };
    let results = zone.run(verify_message(&appended, NOW, config));
    assert_eq!(statuses(&results), vec![DkimStatus::Policy]);
    // A body shorter than l= fails.
    let truncated = replace(&message, "  how are   you?  \r\n", "");
    let results = zone.run(verify_message(&truncated, NOW, VerifierConfig::default()));
    assert_eq!(statuses(&results), vec![DkimStatus::Fail]);
    assert!(results[0].reason.contains("l=28"), "{}", results[0].reason);
}

#[test]
fn config_and_message_errors() {
    let key = ed_key();
    let bad = |f: &dyn Fn(&mut SignerConfig)| {
        let mut c = SignerConfig::new("example.com", "sel");
        f(&mut c);
        sign_message(MESSAGE, &c, &key).unwrap_err()
    };
    assert!(matches!(
        bad(&|c| c.domain = "exa mple.com".into()),
        SignError::Config(SignConfigError::BadDomain(_))
    ));
    assert!(matches!(
        bad(&|c| c.selector = "".into()),
        SignError::Config(SignConfigError::BadSelector(_))
    ));
    assert!(matches!(
        bad(&|c| c.identity = Some("a@example.net".into())),
        SignError::Config(SignConfigError::BadIdentity(_))
    ));
    assert!(matches!(
        bad(&|c| c.headers = Some(vec!["To".into()])),
        SignError::Config(SignConfigError::FromNotSigned)
    ));
    assert!(matches!(
        bad(&|c| c.headers = Some(vec!["From".into(), "Bad:Name".into()])),
        SignError::Config(SignConfigError::BadHeaderName(_))
    ));
    assert!(matches!(
        bad(&|c| {
            c.timestamp = Some(10);
            c.expiration = Some(5);
        }),
        SignError::Config(SignConfigError::ExpiresBeforeTimestamp { .. })
    ));
    assert!(matches!(
        bad(&|c| c.max_header_bytes = 20),
        SignError::Message(SignMessageError::HeaderTooLarge(20))
    ));
    let config = SignerConfig::new("example.com", "sel");
    assert_eq!(
        sign_message(b"To: x@example.com\r\n\r\nhi\r\n", &config, &key).unwrap_err(),
        SignError::Message(SignMessageError::NoFrom)
    );
}

#[test]
fn empty_body_and_headers_only() {
    let key = rsa_key();
    let zone = zone_for(&key, "sel");
    for message in [
        &b"From: a@example.com\r\n\r\n"[..],
        b"From: a@example.com\r\n",
        b"From: a@example.com",
    ] {
        for bc in [Canonicalization::Simple, Canonicalization::Relaxed] {
            let mut config = SignerConfig::new("example.com", "sel");
            config.body_canon = bc;
            let signed = signed(message, &config, &key);
            assert_eq!(
                verify(&zone, &signed),
                vec![DkimStatus::Pass],
                "{message:?} {bc}"
            );
        }
    }
}
