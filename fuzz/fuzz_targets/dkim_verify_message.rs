//! Arbitrary messages through the streaming DKIM verifier, fed in chunks
//! whose sizes come from the input: never a panic, the same results as one
//! whole feed, and the check ends.
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use postel_auth::dkim::{DkimVerifier, SigningKey, VerifierConfig};
use postel_auth::{Answer, Check, Progress, Record};

/// The key records of the test keys, so that signatures made with them
/// get as far as the cryptography.
fn key_records() -> &'static [String; 2] {
    static KEYS: OnceLock<[String; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let load = |pem: &str| SigningKey::from_pem(pem).expect("test key").dns_record();
        [
            load(include_str!(
                "../../mail-auth-core/tests/dkim_support/rsa2048_pkcs8.pem"
            )),
            load(include_str!(
                "../../mail-auth-core/tests/dkim_support/ed25519_pkcs8.pem"
            )),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let (split, message) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s).max(1), rest),
        None => return,
    };
    let run = |chunk: usize| {
        let mut v = DkimVerifier::new(1_700_000_000, VerifierConfig::default());
        for piece in message.chunks(chunk) {
            v.feed(piece);
        }
        let mut check = v.finish();
        for _ in 0..50 {
            match check.progress(Instant::now()) {
                Progress::Done(results) => return results,
                Progress::NeedAnswers(qs) => {
                    let keys = key_records();
                    for (n, q) in qs.iter().enumerate() {
                        let answer = match n % 3 {
                            2 => Answer::NxDomain,
                            k => Answer::Records(vec![Record::Txt(keys[k].as_bytes().to_vec())]),
                        };
                        check.answer(q, answer);
                    }
                }
            }
        }
        panic!("the DKIM check did not end");
    };
    let chunked = run(split);
    let whole = run(message.len().max(1));
    assert_eq!(chunked, whole, "chunking changed the results");
});
