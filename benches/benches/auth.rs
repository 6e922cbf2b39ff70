//! Mail authentication of postel-auth side by side with mail-auth 0.13.3
//! (Stalwart's), each pair on the same input bytes and the same DNS data in
//! the same criterion group.
//!
//! Groups:
//! - `dkim_verify_rsa2048_10kb`, `dkim_verify_ed25519_10kb`: verifying one
//!   DKIM signature (relaxed/relaxed, made by our signer) on a 10 KB
//!   newsletter, the key record already at hand. The floor is what no
//!   verifier can skip: SHA-256 over the message bytes plus one ring
//!   signature check of the signed header data.
//! - `dkim_body_hash_1mb`: body canonicalization and SHA-256 of a 1 MB
//!   body (relaxed and simple) against ring's SHA-256 of the same bytes.
//! - `spf_include_chain_3`: SPF with three nested `include:`s, the match in
//!   the deepest record; `spf_cached_ip_record`: one record of `ip4:` and
//!   `ip6:` terms.
//!
//! Neither side touches the network. Ours is Sans-IO: each check is driven
//! by hand and every query answered from a `MemoryResolver` filled before
//! timing. The peer is given a TXT cache filled before timing (its own
//! parsed record types) and a resolver with no name servers; its futures are
//! polled once with a no-op waker, and a future that is not ready at once
//! (one that wanted DNS) stops the benchmark. Every contestant is checked
//! once, before timing, to reach the expected result (`pass`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::hint::black_box;
use std::net::IpAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ring::digest::{SHA256, digest};
use ring::signature::{self as ring_sig, KeyPair as _, UnparsedPublicKey};

use postel_auth::dkim::{
    Algorithm, BodyHasher, Canonicalization, DkimResult, DkimStatus, HashAlgorithm, Signature,
    SignerConfig, SigningKey, VerifierConfig, canonicalize_body, sign_message, signed_data,
    verify_message,
};
use postel_auth::spf::{SpfCheck, SpfConfig, SpfRecordCache, SpfResult};
use postel_auth::{Check, Progress};
use postel_dns::MemoryResolver;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::spf::Spf;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, MessageAuthenticator, Parameters, ResolverCache, Txt};

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// The signing time given to our verifier (no `t=` or `x=` is written, so
/// it only has to be a plausible clock).
const NOW_UNIX: u64 = 1_764_000_000;

const RSA_PEM: &str = include_str!("../../mail-auth-core/tests/dkim_support/rsa2048_pkcs8.pem");
const ED25519_PEM: &str = include_str!("../../mail-auth-core/tests/dkim_support/ed25519_pkcs8.pem");

/// xorshift64: the same pseudo-random sequence on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "release",
    "of",
    "our",
    "spring",
    "catalogue",
    "is",
    "here",
    "and",
    "with",
    "it",
    "a",
    "new",
    "way",
    "to",
    "order",
    "online",
    "members",
    "receive",
    "free",
    "delivery",
    "on",
    "every",
    "purchase",
    "over",
    "twenty",
    "euros",
    "read",
    "more",
    "about",
    "events",
    "in",
    "your",
    "city",
    "this",
    "week",
    "subscribers",
    "can",
    "reserve",
    "tickets",
    "before",
    "general",
    "sale",
    "opens",
    "garden",
    "kitchen",
    "tools",
    "books",
    "music",
    "workshop",
    "recipe",
    "season",
    "community",
    "library",
    "newsletter",
    "update",
    "account",
    "settings",
];

/// Text lines of 40 to 76 characters, CRLF-ended, as a mailing-list
/// program writes them: now and then two spaces after a full stop, a
/// trailing space, or an empty line between paragraphs (things relaxed
/// canonicalization changes). Stops at the first line end at or past
/// `size` bytes.
fn text_body(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(size + 128);
    while body.len() < size {
        let width = 40 + rng.below(37);
        let start = body.len();
        while body.len() - start < width {
            if body.len() > start {
                body.push(b' ');
                if rng.below(12) == 0 {
                    body.extend_from_slice(b". ");
                }
            }
            body.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        }
        match rng.below(16) {
            0 => body.extend_from_slice(b" \r\n"),
            1 => body.extend_from_slice(b"\t\r\n\r\n"),
            2 => body.extend_from_slice(b".\r\n\r\n"),
            _ => body.extend_from_slice(b"\r\n"),
        }
    }
    body
}

/// Run a future that must complete without waiting (the peer with every
/// answer in its cache). A future that is not ready at once wanted I/O.
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("mail-auth was not ready: it tried a DNS lookup"),
    }
}

/// Drive one of our checks to its end, answering every query from `dns`.
fn drive_sync<C: Check>(mut check: C, dns: &MemoryResolver, now: Instant) -> C::Output {
    loop {
        match check.progress(now) {
            Progress::Done(out) => return out,
            Progress::NeedAnswers(queries) => {
                for query in queries {
                    let answer = dns.answer(&query);
                    check.answer(&query, answer);
                }
            }
        }
    }
}

/// The peer's TXT cache: a `HashMap` of its parsed records by name (lower
/// case, with the final dot, as mail-auth looks them up).
#[derive(Default)]
struct PeerTxtCache(RefCell<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for PeerTxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.borrow().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.borrow_mut().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _valid_until: Instant) {
        self.0.borrow_mut().insert(key, value);
    }
}

impl PeerTxtCache {
    fn put(&self, name: &str, value: Txt) {
        let key = format!("{}.", name.to_ascii_lowercase());
        self.0.borrow_mut().insert(key.into_boxed_str(), value);
    }
}

/// A peer authenticator whose resolver has no name server: nothing it
/// could look up would succeed, and `run_ready` refuses to wait for it.
fn peer_authenticator() -> MessageAuthenticator {
    MessageAuthenticator::new(
        ResolverConfig::from_parts(None, vec![], vec![]),
        ResolverOpts::default(),
    )
    .expect("resolver without name servers")
}

// ---------------------------------------------------------------------------
// DKIM verification of a 10 KB newsletter
// ---------------------------------------------------------------------------

const DOMAIN: &str = "news.example.com";

/// (In the header text below, a folded line starts with `\x20` because a
/// string continuation `\` drops the line's leading white space.)
fn newsletter() -> Vec<u8> {
    let mut m = Vec::with_capacity(12 * 1024);
    m.extend_from_slice(
        b"Return-Path: <bounce-4417-8812@bounces.news.example.com>\r\n\
Received: from mta7.news.example.com (mta7.news.example.com [198.51.100.27])\r\n\
\tby mx1.example.org (Postfix) with ESMTPS id 4dRq1x3kZ7z9sWb\r\n\
\tfor <reader@example.org>; Thu, 27 Nov 2025 09:14:03 +0000 (UTC)\r\n\
Received: from app3.internal.news.example.com (app3.internal [10.20.3.14])\r\n\
\tby mta7.news.example.com (Postfix) with ESMTP id 9F2C01A0B3\r\n\
\tfor <reader@example.org>; Thu, 27 Nov 2025 09:14:02 +0000 (UTC)\r\n\
Date: Thu, 27 Nov 2025 09:14:02 +0000\r\n\
From: Example News <news@news.example.com>\r\n\
Reply-To: Example News Desk <desk@news.example.com>\r\n\
To: Reader <reader@example.org>\r\n\
Subject: Your weekly digest: spring catalogue, city events and a new way to\r\n\
\x20order online\r\n\
Message-ID: <20251127091402.4417.8812@news.example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8; format=flowed\r\n\
Content-Transfer-Encoding: 7bit\r\n\
List-Id: Example weekly digest <weekly.news.example.com>\r\n\
List-Unsubscribe: <https://news.example.com/u/4417/8812?t=9c1f2e7a>,\r\n\
\x20<mailto:unsubscribe-4417-8812@news.example.com>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
Precedence: bulk\r\n\
Feedback-ID: 4417:weekly:news.example.com:esp\r\n\
X-Mailer: Example Mailer 5.2\r\n\
\r\n",
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    m.extend_from_slice(&text_body(&mut rng, 10 * 1024));
    let fields = postel_auth::message::parse_header(&m);
    assert_eq!(fields.len(), 18, "a folded line lost its white space");
    m
}

struct DkimCase {
    /// The signed message: our `DKIM-Signature:` field, then the newsletter.
    message: Vec<u8>,
    /// Our zone: the key record at `<selector>._domainkey.<DOMAIN>`.
    dns: MemoryResolver,
    /// The peer's cache holding the same key, parsed by the peer.
    peer_cache: PeerTxtCache,
    /// Floor: the signed header data, the signature, the key as ring takes
    /// it, and whether it is Ed25519 (which signs SHA-256 of the data).
    data: Vec<u8>,
    signature: Vec<u8>,
    public_key: Vec<u8>,
    ed25519: bool,
}

fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    STANDARD.decode(b64.trim()).expect("PEM base64")
}

fn dkim_case(pem: &str, selector: &str) -> DkimCase {
    let key = SigningKey::from_pem(pem).expect("test key");
    let ed25519 = key.algorithm() == Algorithm::Ed25519Sha256;
    let body = newsletter();
    let config = SignerConfig::new(DOMAIN, selector);
    assert_eq!(config.header_canon, Canonicalization::Relaxed);
    assert_eq!(config.body_canon, Canonicalization::Relaxed);
    let mut message = sign_message(&body, &config, &key)
        .expect("sign")
        .into_bytes();
    message.extend_from_slice(&body);

    let key_name = format!("{selector}._domainkey.{DOMAIN}");
    let record = key.dns_record();
    let mut dns = MemoryResolver::new();
    dns.add_txt(&key_name, &record);
    let peer_cache = PeerTxtCache::default();
    let peer_key = DomainKey::parse(record.as_bytes()).expect("peer parses our key record");
    peer_cache.put(&key_name, Txt::from(peer_key));

    // The floor's inputs, from our own parse of the field we wrote.
    let (fields, _) = postel_auth::message::split(&message);
    assert!(fields[0].is("DKIM-Signature"));
    let sig = Signature::parse(std::str::from_utf8(fields[0].raw_value()).unwrap()).unwrap();
    let data = signed_data(
        Canonicalization::Relaxed,
        &fields,
        &sig.signed_headers,
        fields[0].raw(),
    );
    let der = pem_der(pem);
    let public_key = if ed25519 {
        ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec()
    } else {
        // ring takes the PKCS#1 RSAPublicKey.
        ring_sig::RsaKeyPair::from_pkcs8(&der)
            .unwrap()
            .public()
            .as_ref()
            .to_vec()
    };
    DkimCase {
        message,
        dns,
        peer_cache,
        data,
        signature: sig.signature,
        public_key,
        ed25519,
    }
}

/// Ours: `verify_message` (header split, signature parse, body hash, signed
/// data), then the check driven with the key from the in-memory zone (key
/// record parse, signature check, results).
fn postel_dkim(message: &[u8], dns: &MemoryResolver, now: Instant) -> Vec<DkimResult> {
    drive_sync(
        verify_message(message, NOW_UNIX, VerifierConfig::default()),
        dns,
        now,
    )
}

/// The peer: `AuthenticatedMessage::parse` (headers, body hashes), then
/// `verify_dkim` with the key from its cache. Returns whether every
/// signature passed.
fn mail_auth_dkim(
    authenticator: &MessageAuthenticator,
    cache: &PeerTxtCache,
    message: &[u8],
) -> bool {
    let parsed = AuthenticatedMessage::parse(message).expect("peer parses the message");
    let outputs =
        run_ready(authenticator.verify_dkim(Parameters::new(&parsed).with_txt_cache(cache)));
    !outputs.is_empty()
        && outputs
            .iter()
            .all(|o| *o.result() == mail_auth::DkimResult::Pass)
}

/// The floor: SHA-256 over the whole message, and one signature check of
/// the signed data with ring (Ed25519 signs SHA-256 of the data, RFC 8463).
fn floor_dkim(case: &DkimCase, message: &[u8]) -> bool {
    let whole = digest(&SHA256, message);
    black_box(whole.as_ref());
    if case.ed25519 {
        let hash = digest(&SHA256, &case.data);
        UnparsedPublicKey::new(&ring_sig::ED25519, &case.public_key)
            .verify(hash.as_ref(), &case.signature)
            .is_ok()
    } else {
        UnparsedPublicKey::new(&ring_sig::RSA_PKCS1_2048_8192_SHA256, &case.public_key)
            .verify(&case.data, &case.signature)
            .is_ok()
    }
}

fn bench_dkim_verify(c: &mut Criterion) {
    let authenticator = peer_authenticator();
    for (group_name, pem, selector) in [
        ("dkim_verify_rsa2048_10kb", RSA_PEM, "rsa2048"),
        ("dkim_verify_ed25519_10kb", ED25519_PEM, "ed25519"),
    ] {
        let case = dkim_case(pem, selector);
        let message = case.message.as_slice();
        let now = Instant::now();

        // Everyone must say pass on these bytes.
        let ours = postel_dkim(message, &case.dns, now);
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].status, DkimStatus::Pass, "{ours:?}");
        if !mail_auth_dkim(&authenticator, &case.peer_cache, message) {
            let parsed = AuthenticatedMessage::parse(message).unwrap();
            let outputs = run_ready(
                authenticator
                    .verify_dkim(Parameters::new(&parsed).with_txt_cache(&case.peer_cache)),
            );
            let results: Vec<_> = outputs.iter().map(|o| o.result()).collect();
            panic!(
                "mail-auth does not verify our {selector} signature: {results:?}\n{}",
                String::from_utf8_lossy(&message[..1200])
            );
        }
        assert!(floor_dkim(&case, message), "ring floor does not verify");
        // And nobody says pass on a changed body.
        let mut tampered = message.to_vec();
        let last = tampered.len() - 3;
        tampered[last] ^= 0x01;
        assert_eq!(
            postel_dkim(&tampered, &case.dns, now)[0].status,
            DkimStatus::Fail
        );
        assert!(!mail_auth_dkim(&authenticator, &case.peer_cache, &tampered));

        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Bytes(message.len() as u64));
        group.bench_function("postel_verify_message", |b| {
            b.iter(|| postel_dkim(black_box(message), &case.dns, now))
        });
        group.bench_function("mail_auth_verify_dkim", |b| {
            b.iter(|| mail_auth_dkim(&authenticator, &case.peer_cache, black_box(message)))
        });
        group.bench_function("floor_ring_sha256_plus_verify", |b| {
            b.iter(|| floor_dkim(&case, black_box(message)))
        });
        group.finish();
    }
}

// ---------------------------------------------------------------------------
// Body canonicalization and hashing, 1 MB
// ---------------------------------------------------------------------------

fn bench_body_hash(c: &mut Criterion) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut body = text_body(&mut rng, 1 << 20);
    // Trailing empty lines, which both canonicalizations drop.
    body.extend_from_slice(b"\r\n\r\n\r\n");
    let body = body.as_slice();

    let hash = |canon| {
        let mut h = BodyHasher::new(canon, HashAlgorithm::Sha256, None);
        h.update(body);
        h.finish()
    };
    for canon in [Canonicalization::Relaxed, Canonicalization::Simple] {
        let canonical = canonicalize_body(canon, body);
        let out = hash(canon);
        assert_eq!(out.digest, digest(&SHA256, &canonical).as_ref());
        assert_eq!(out.canonical_len, canonical.len() as u64);
    }
    assert_ne!(
        canonicalize_body(Canonicalization::Relaxed, body),
        canonicalize_body(Canonicalization::Simple, body)
    );

    let mut group = c.benchmark_group("dkim_body_hash_1mb");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("postel_body_hasher_relaxed", |b| {
        b.iter(|| hash(black_box(Canonicalization::Relaxed)))
    });
    group.bench_function("postel_body_hasher_simple", |b| {
        b.iter(|| hash(black_box(Canonicalization::Simple)))
    });
    group.bench_function("ring_sha256", |b| {
        b.iter(|| digest(&SHA256, black_box(body)))
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// SPF
// ---------------------------------------------------------------------------

struct SpfCase {
    client: IpAddr,
    dns: MemoryResolver,
    peer_cache: PeerTxtCache,
}

fn spf_case(client: &str, records: &[(&str, &str)]) -> SpfCase {
    let mut dns = MemoryResolver::new();
    let peer_cache = PeerTxtCache::default();
    for (name, text) in records {
        dns.add_txt(name, text);
        let record = Spf::parse(text.as_bytes()).expect("peer parses the SPF record");
        peer_cache.put(name, Txt::from(record));
    }
    SpfCase {
        client: client.parse().unwrap(),
        dns,
        peer_cache,
    }
}

const HELO: &str = "mta7.news.example.com";
const SENDER: &str = "bounce-4417@example.com";
const RECEIVER: &str = "mx1.example.org";

fn postel_spf(case: &SpfCase, config: &SpfConfig, now: Instant) -> SpfResult {
    let check = SpfCheck::mail_from(case.client, HELO, SENDER, config.clone());
    drive_sync(check, &case.dns, now).result
}

fn mail_auth_spf(authenticator: &MessageAuthenticator, case: &SpfCase) -> mail_auth::SpfResult {
    let params = SpfParameters::verify_mail_from(case.client, HELO, RECEIVER, SENDER);
    run_ready(authenticator.verify_spf(Parameters::new(params).with_txt_cache(&case.peer_cache)))
        .result()
}

fn bench_spf(c: &mut Criterion) {
    let authenticator = peer_authenticator();
    let cases = [
        (
            "spf_include_chain_3",
            spf_case(
                "192.0.2.77",
                &[
                    (
                        "example.com",
                        "v=spf1 ip4:203.0.113.0/24 include:_spf1.example.com -all",
                    ),
                    (
                        "_spf1.example.com",
                        "v=spf1 ip4:198.51.100.0/25 ip4:198.51.100.128/26 ip6:2001:db8:1::/48 \
                         include:_spf2.example.com ~all",
                    ),
                    (
                        "_spf2.example.com",
                        "v=spf1 ip4:203.0.113.128/25 ip4:100.64.10.0/24 ip6:2001:db8:2::/48 \
                         include:_spf3.example.com ~all",
                    ),
                    (
                        "_spf3.example.com",
                        "v=spf1 ip4:100.64.20.0/24 ip4:192.0.2.0/24 ip6:2001:db8:3::/48 ~all",
                    ),
                ],
            ),
        ),
        (
            "spf_cached_ip_record",
            spf_case(
                "2001:db8:5::25",
                &[(
                    "example.com",
                    "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8:5::/48 -all",
                )],
            ),
        ),
    ];
    for (group_name, case) in &cases {
        let now = Instant::now();
        let parse_each_time = SpfConfig::default();
        // Like the peer's warm cache: parsed records kept between checks.
        let warm = SpfConfig {
            record_cache: Some(SpfRecordCache::new(64)),
            ..SpfConfig::default()
        };
        assert_eq!(postel_spf(case, &parse_each_time, now), SpfResult::Pass);
        assert_eq!(postel_spf(case, &warm, now), SpfResult::Pass);
        assert_eq!(
            mail_auth_spf(&authenticator, case),
            mail_auth::SpfResult::Pass
        );
        let mut group = c.benchmark_group(*group_name);
        group.bench_function("postel_spf_check", |b| {
            b.iter(|| postel_spf(black_box(case), &parse_each_time, now))
        });
        group.bench_function("postel_spf_check_record_cache", |b| {
            b.iter(|| postel_spf(black_box(case), &warm, now))
        });
        group.bench_function("mail_auth_verify_spf", |b| {
            b.iter(|| mail_auth_spf(&authenticator, black_box(case)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_dkim_verify, bench_body_hash, bench_spf);
criterion_main!(benches);
