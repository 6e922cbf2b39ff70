//! The published examples: RFC 8463 Appendix A (Ed25519 and RSA signatures
//! of one message), RFC 6376 Appendix A (with its errata applied) and the
//! canonicalization examples of RFC 6376 §3.4.5.

mod dkim_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dkim_support::{Zone, replace, statuses};
use postel_auth::dkim::{
    Algorithm, BodyHasher, Canonicalization, DkimStatus, DkimVerifier, HashAlgorithm,
    VerifierConfig, canonicalize_body, canonicalize_field, verify_message,
};
use postel_auth::message::split;

/// RFC 8463 A.3, each line as published, CRLF line ends.
const RFC8463_MESSAGE: &str = concat!(
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n",
    " d=football.example.com; i=@football.example.com;\r\n",
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n",
    " subject : date : message-id : from : subject : date;\r\n",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n",
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n",
    " d=football.example.com; i=@football.example.com;\r\n",
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n",
    " date : message-id : from : subject : date;\r\n",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n",
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n",
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n",
    "From: Joe SixPack <joe@football.example.com>\r\n",
    "To: Suzie Q <suzie@shopping.example.net>\r\n",
    "Subject: Is dinner ready?\r\n",
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n",
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n",
    "\r\n",
    "Hi.\r\n",
    "\r\n",
    "We lost the game.  Are you hungry yet?\r\n",
    "\r\n",
    "Joe.\r\n",
    "\r\n",
);

/// RFC 8463 A.2: the two key records.
const RFC8463_ED25519_KEY: &str =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const RFC8463_RSA_KEY: &str = concat!(
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR",
    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC",
    "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3",
    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
);

fn rfc8463_zone() -> Zone {
    Zone::new()
        .txt(
            "brisbane._domainkey.football.example.com",
            RFC8463_ED25519_KEY,
        )
        .txt("test._domainkey.football.example.com", RFC8463_RSA_KEY)
}

/// RFC 6376 A.2 as corrected by errata 3192 (one space in "game. Are") and
/// 4926 (the indentation of the continuation lines), with the key of
/// erratum 4926 (the key printed in Appendix C does not match the
/// signature).
const RFC6376_MESSAGE: &str = concat!(
    "DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n",
    "      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n",
    "      h=Received : From : To : Subject : Date : Message-ID;\r\n",
    "      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    "      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n",
    "      4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n",
    "      KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n",
    "      4bmp/YzhwvcubU4=;\r\n",
    "Received: from client1.football.example.com  [192.0.2.1]\r\n",
    "      by submitserver.example.com with SUBMISSION;\r\n",
    "      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n",
    "From: Joe SixPack <joe@football.example.com>\r\n",
    "To: Suzie Q <suzie@shopping.example.net>\r\n",
    "Subject: Is dinner ready?\r\n",
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n",
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n",
    "\r\n",
    "Hi.\r\n",
    "\r\n",
    "We lost the game. Are you hungry yet?\r\n",
    "\r\n",
    "Joe.\r\n",
);

const RFC6376_KEY: &str = concat!(
    "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkM",
    "oGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/R",
    "tdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToI",
    "MmPSPDdQPNUYckcQ2QIDAQAB",
);

/// After the RFC's t= (2018-06-10).
const NOW: u64 = 1_700_000_000;

#[test]
fn rfc_8463_both_signatures_verify() {
    let results = rfc8463_zone().run(verify_message(
        RFC8463_MESSAGE.as_bytes(),
        NOW,
        VerifierConfig::default(),
    ));
    assert_eq!(
        statuses(&results),
        vec![DkimStatus::Pass, DkimStatus::Pass],
        "{results:#?}"
    );
    assert_eq!(results[0].algorithm, Some(Algorithm::Ed25519Sha256));
    assert_eq!(results[0].selector, "brisbane");
    assert_eq!(results[0].domain, "football.example.com");
    assert_eq!(results[0].identity, "@football.example.com");
    assert!(results[0].b_prefix.starts_with("/gCrinpc"));
    assert_eq!(results[1].algorithm, Some(Algorithm::RsaSha256));
    assert_eq!(results[1].key_bits, Some(1024));
}

#[test]
fn rfc_8463_verifies_in_any_chunking_and_with_lf_only() {
    let message = RFC8463_MESSAGE.as_bytes();
    for size in [1, 2, 3, 7, 64, 1000] {
        let mut v = DkimVerifier::new(NOW, VerifierConfig::default());
        for chunk in message.chunks(size) {
            v.feed(chunk);
        }
        let results = rfc8463_zone().run(v.finish());
        assert_eq!(
            statuses(&results),
            vec![DkimStatus::Pass; 2],
            "chunks of {size}"
        );
    }
    let lf = RFC8463_MESSAGE.replace("\r\n", "\n");
    let results = rfc8463_zone().run(verify_message(
        lf.as_bytes(),
        NOW,
        VerifierConfig::default(),
    ));
    assert_eq!(statuses(&results), vec![DkimStatus::Pass; 2]);
}

#[test]
fn rfc_8463_tampering_fails() {
    let msg = RFC8463_MESSAGE.as_bytes();
    let check =
        |m: &[u8]| statuses(&rfc8463_zone().run(verify_message(m, NOW, VerifierConfig::default())));
    assert_eq!(
        check(&replace(msg, "hungry", "angry")),
        vec![DkimStatus::Fail; 2]
    );
    assert_eq!(
        check(&replace(msg, "dinner", "lunch")),
        vec![DkimStatus::Fail; 2]
    );
    // From is over-signed: another From breaks both signatures.
    assert_eq!(
        check(&replace(
            msg,
            "From: Joe",
            "From: Mallory <m@evil.example>\r\nFrom: Joe"
        )),
        vec![DkimStatus::Fail; 2]
    );
    // An unsigned field may be added; relaxed tolerates white space.
    assert_eq!(
        check(&replace(msg, "Message-ID:", "X-Extra: 1\r\nMessage-ID:")),
        vec![DkimStatus::Pass; 2]
    );
    assert_eq!(
        check(&replace(
            msg,
            "Subject: Is dinner",
            "SUBJECT:   Is \t dinner"
        )),
        vec![DkimStatus::Pass; 2]
    );
    // Trailing empty lines are not signed.
    let mut longer = msg.to_vec();
    longer.extend_from_slice(b"\r\n\r\n");
    assert_eq!(check(&longer), vec![DkimStatus::Pass; 2]);
}

#[test]
fn rfc_6376_example_verifies_with_errata() {
    let zone = Zone::new().txt("brisbane._domainkey.example.com", RFC6376_KEY);
    let results = zone.run(verify_message(
        RFC6376_MESSAGE.as_bytes(),
        NOW,
        VerifierConfig::default(),
    ));
    assert_eq!(statuses(&results), vec![DkimStatus::Pass], "{results:#?}");
    assert_eq!(results[0].identity, "joe@football.example.com");
    // simple/simple: a changed indentation breaks it.
    let changed = RFC6376_MESSAGE.replacen("      by submitserver", "  by submitserver", 1);
    let results = zone.run(verify_message(
        changed.as_bytes(),
        NOW,
        VerifierConfig::default(),
    ));
    assert_eq!(statuses(&results), vec![DkimStatus::Fail]);
}

#[test]
fn the_example_body_hash() {
    // Both examples share bh=; the RFC 6376 body under simple and the
    // RFC 8463 body under relaxed give the same canonical body.
    let b64 = |canon, body: &str| {
        let mut h = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
        h.update(body.as_bytes());
        STANDARD.encode(h.finish().digest)
    };
    let (_, body6376) = RFC6376_MESSAGE.split_once("\r\n\r\n").unwrap();
    let (_, body8463) = RFC8463_MESSAGE.split_once("\r\n\r\n").unwrap();
    let expected = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
    assert_eq!(b64(Canonicalization::Simple, body6376), expected);
    assert_eq!(b64(Canonicalization::Relaxed, body8463), expected);
    assert_ne!(b64(Canonicalization::Simple, body8463), expected);
}

/// RFC 6376 §3.4.5.
#[test]
fn rfc_6376_canonicalization_examples() {
    let message = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
    let (fields, body) = split(message);
    let header = |canon| {
        let mut out = Vec::new();
        for f in &fields {
            canonicalize_field(canon, f.raw(), &mut out);
        }
        out
    };
    assert_eq!(header(Canonicalization::Relaxed), b"a:X\r\nb:Y Z\r\n");
    assert_eq!(
        header(Canonicalization::Simple),
        b"A: X\r\nB : Y\t\r\n\tZ  \r\n"
    );
    assert_eq!(
        canonicalize_body(Canonicalization::Relaxed, body),
        b" C\r\nD E\r\n"
    );
    assert_eq!(
        canonicalize_body(Canonicalization::Simple, body),
        b" C \r\nD \t E\r\n"
    );
}
