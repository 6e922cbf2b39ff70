//! Properties: the body hash does not depend on chunking; what is signed
//! verifies and any change breaks it; no input makes the parsers panic.

mod dkim_support;

use dkim_support::{NOW, Zone, ed_key, rsa_key, statuses};
use postel_auth::dkim::{
    BodyHasher, Canonicalization, DkimStatus, DkimVerifier, HashAlgorithm, KeyRecord, Signature,
    SignerConfig, SigningKey, VerifierConfig, canonicalize_body, sign_message,
};
use postel_auth::message::{HeaderSplitter, split};
use proptest::prelude::*;

/// Bytes rich in the characters canonicalization cares about.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(b'a'),
            1 => Just(b'Z'),
            3 => Just(b' '),
            2 => Just(b'\t'),
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            1 => any::<u8>(),
        ],
        0..200,
    )
}

fn canon() -> impl Strategy<Value = Canonicalization> {
    prop_oneof![
        Just(Canonicalization::Simple),
        Just(Canonicalization::Relaxed)
    ]
}

fn hash_in_chunks(
    canon: Canonicalization,
    limit: Option<u64>,
    body: &[u8],
    cuts: &[usize],
) -> Vec<u8> {
    let mut h = BodyHasher::new(canon, HashAlgorithm::Sha256, limit);
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort_unstable();
    for p in points {
        h.update(&body[start..p.max(start)]);
        start = p.max(start);
    }
    h.update(&body[start..]);
    h.finish().digest
}

proptest! {
    #[test]
    fn body_hash_is_independent_of_chunking(
        body in body_bytes(),
        canon in canon(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        limit in prop::option::of(0u64..250),
    ) {
        let whole = hash_in_chunks(canon, limit, &body, &[]);
        prop_assert_eq!(&hash_in_chunks(canon, limit, &body, &cuts), &whole);
        // One byte at a time.
        let mut h = BodyHasher::new(canon, HashAlgorithm::Sha256, limit);
        for b in &body {
            h.update(std::slice::from_ref(b));
        }
        let out = h.finish();
        prop_assert_eq!(&out.digest, &whole);
        // And the same as canonicalizing in memory.
        let c = canonicalize_body(canon, &body);
        let take = limit.map_or(c.len(), |l| (l as usize).min(c.len()));
        prop_assert_eq!(out.canonical_len, c.len() as u64);
        let expected = ring::digest::digest(&ring::digest::SHA256, &c[..take]);
        prop_assert_eq!(out.digest.as_slice(), expected.as_ref());
    }

    #[test]
    fn header_splitting_is_independent_of_chunking(
        message in body_bytes(),
        cut in any::<usize>(),
    ) {
        let (fields, body) = split(&message);
        let cut = cut % (message.len() + 1);
        let mut s = HeaderSplitter::new(usize::MAX);
        let a = s.feed(&message[..cut]);
        let b = s.feed(&message[cut..]);
        let body_start = if a < cut { a } else { cut + b };
        prop_assert_eq!(&message[body_start..], body);
        let header = s.header().to_vec();
        let fields2 = postel_auth::message::parse_header(&header);
        prop_assert_eq!(fields.len(), fields2.len());
        for (x, y) in fields.iter().zip(&fields2) {
            prop_assert_eq!(x.raw(), y.raw());
        }
    }

    #[test]
    fn parsers_never_panic(value in ".{0,300}", bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Signature::parse(&value);
        let _ = KeyRecord::parse(&value);
        let _ = KeyRecord::parse_bytes(&bytes);
        let _ = split(&bytes);
    }

    #[test]
    fn verifier_never_panics_on_odd_signatures_and_keys(
        tags in prop::collection::vec(
            (prop::sample::select(vec!["v", "a", "b", "bh", "c", "d", "h", "i", "l", "q", "s", "t", "x", "z", "k", "p"]),
             "[ -:<-~\t]{0,30}"),
            0..14,
        ),
        key in "[ -~]{0,80}",
        body in body_bytes(),
    ) {
        let sig: Vec<String> = tags.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let mut message = format!("DKIM-Signature: {}\r\nFrom: a@example.com\r\n\r\n", sig.join("; ")).into_bytes();
        message.extend_from_slice(&body);
        let zone = Zone(Default::default());
        let mut zone = zone;
        // Publish the arbitrary key under whatever name the signature asks for.
        let mut v = DkimVerifier::new(NOW, VerifierConfig::default());
        v.feed(&message);
        let mut check = v.finish();
        use postel_auth::{Check, Progress};
        if let Progress::NeedAnswers(qs) = check.progress(std::time::Instant::now()) {
            for q in qs {
                zone = zone.txt(q.name(), &key);
            }
        }
        let results = zone.run(check);
        prop_assert_eq!(results.len(), 1);
        prop_assert_ne!(results[0].status, DkimStatus::Pass);
    }
}

/// A header field value: words, white space, sometimes folded.
fn field_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            5 => "[a-zA-Z0-9<>@.,()]{1,8}",
            2 => Just(" ".to_string()),
            1 => Just("\t".to_string()),
            1 => Just("\r\n ".to_string()),
            1 => Just("  ".to_string()),
        ],
        1..10,
    )
    .prop_map(|parts| parts.concat())
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        field_value(),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "To",
                    "Subject",
                    "Date",
                    "Message-ID",
                    "Cc",
                    "Reply-To",
                    "X-Other",
                    "Received",
                    "subject",
                    "MIME-Version",
                ]),
                field_value(),
            ),
            0..6,
        ),
        body_bytes(),
    )
        .prop_map(|(from, others, body)| {
            let mut m = format!("From:{from}x\r\n");
            for (name, value) in others {
                m.push_str(&format!("{name}:{value}y\r\n"));
            }
            m.push_str("\r\n");
            let mut bytes = m.into_bytes();
            bytes.extend_from_slice(&body);
            bytes
        })
}

fn sign_and_check(
    key: &SigningKey,
    hc: Canonicalization,
    bc: Canonicalization,
    message: &[u8],
    insert_at: usize,
) -> Result<(), TestCaseError> {
    let zone = Zone::new().txt("sel._domainkey.example.com", &key.dns_record());
    let mut config = SignerConfig::new("example.com", "sel");
    config.header_canon = hc;
    config.body_canon = bc;
    let header = sign_message(message, &config, key).unwrap();
    let mut signed = header.into_bytes();
    let header_len = signed.len();
    signed.extend_from_slice(message);
    let verify = |m: &[u8]| {
        statuses(&zone.run(postel_auth::dkim::verify_message(
            m,
            NOW,
            VerifierConfig::default(),
        )))
    };
    prop_assert_eq!(verify(&signed), vec![DkimStatus::Pass]);

    // A letter added to the body breaks it.
    let (_, body) = split(message);
    let body_start = header_len + message.len() - body.len();
    let at = body_start + insert_at % (body.len() + 1);
    let mut changed = signed.clone();
    changed.insert(at, b'Q');
    prop_assert_eq!(verify(&changed), vec![DkimStatus::Fail]);

    // A letter added to the From value breaks it.
    let from_at = header_len + "From:".len();
    let mut changed = signed.clone();
    changed.insert(from_at, b'Q');
    prop_assert_eq!(verify(&changed), vec![DkimStatus::Fail]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn ed25519_sign_then_verify(message in message(), hc in canon(), bc in canon(), at in any::<usize>()) {
        sign_and_check(&ed_key(), hc, bc, &message, at)?;
    }

    #[test]
    fn rsa_sign_then_verify(message in message(), hc in canon(), bc in canon(), at in any::<usize>()) {
        sign_and_check(&rsa_key(), hc, bc, &message, at)?;
    }
}
