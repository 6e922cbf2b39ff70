//! Property tests for SPF: no panic on arbitrary records, and evaluation
//! over arbitrary zones always ends, within the RFC 7208 limits, with the
//! same result whatever order the answers arrive in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use postel_auth::spf::{SpfCheck, SpfConfig, SpfRecord, SpfResult};
use postel_auth::{Answer, Check, Progress, Query, Record, RecordType};
use proptest::prelude::*;

const NAMES: [&str; 4] = ["a.example", "b.example", "c.example", "d.example"];

fn term() -> impl Strategy<Value = String> {
    let name = prop::sample::select(NAMES.to_vec());
    let q = prop::sample::select(vec!["", "+", "-", "~", "?"]);
    (
        q,
        0..12usize,
        name,
        0..33u8,
        prop::sample::select(vec!["%{d}", "%{ir}.%{v}", "%{l}", "%{p}", "%{d2}", "x"]),
    )
        .prop_map(|(q, kind, name, len, mac)| match kind {
            0 => format!("{q}all"),
            1 => format!("{q}include:{name}"),
            2 => format!("{q}a:{name}/{len}"),
            3 => format!("{q}mx:{name}"),
            4 => format!("{q}ptr:{name}"),
            5 => format!("{q}ip4:192.0.2.0/{len}"),
            6 => format!("{q}ip6:2001:db8::/{}", u32::from(len) * 4),
            7 => format!("{q}exists:{mac}.{name}"),
            8 => format!("redirect={name}"),
            9 => format!("exp={mac}.{name}"),
            10 => format!("{q}a"),
            _ => format!("{q}mx"),
        })
}

fn record() -> impl Strategy<Value = String> {
    prop::collection::vec(term(), 0..6).prop_map(|t| format!("v=spf1 {}", t.join(" ")))
}

#[derive(Debug, Clone)]
enum Kind {
    Records,
    NxDomain,
    NoData,
    TempFail,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => Just(Kind::Records),
        1 => Just(Kind::NxDomain),
        1 => Just(Kind::NoData),
        1 => Just(Kind::TempFail),
    ]
}

/// A zone: an SPF record per name and a fixed answer kind per (name, type).
#[derive(Debug, Clone)]
struct Zone {
    records: HashMap<String, String>,
    kinds: Vec<Kind>,
}

fn zone() -> impl Strategy<Value = Zone> {
    (
        prop::collection::vec(record(), 4),
        prop::collection::vec(kind(), 32),
    )
        .prop_map(|(recs, kinds)| Zone {
            records: NAMES.iter().map(|n| n.to_string()).zip(recs).collect(),
            kinds,
        })
}

fn answer(zone: &Zone, q: &Query) -> Answer {
    let h = q.name().bytes().fold(q.record_type() as usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    match zone.kinds[h % zone.kinds.len()] {
        Kind::NxDomain => return Answer::NxDomain,
        Kind::NoData => return Answer::NoData,
        Kind::TempFail => return Answer::TempFail("test".into()),
        Kind::Records => {}
    }
    let rec = match q.record_type() {
        RecordType::Txt => match zone.records.get(q.name()) {
            Some(r) => Record::Txt(r.clone().into_bytes()),
            None => return Answer::NxDomain,
        },
        RecordType::A => Record::A([192, 0, 2, (h % 256) as u8].into()),
        RecordType::Aaaa => Record::Aaaa("2001:db8::1".parse().unwrap()),
        RecordType::Mx => Record::Mx {
            preference: 10,
            exchange: NAMES[h % 4].to_string(),
        },
        RecordType::Ptr => Record::Ptr(NAMES[h % 4].to_string()),
    };
    Answer::Records(vec![rec])
}

fn evaluate(zone: &Zone, ip: IpAddr, reverse: bool) -> (postel_auth::spf::SpfOutput, usize) {
    let mut check = SpfCheck::mail_from(ip, "helo.example", "user@a.example", SpfConfig::default());
    let mut queries_total = 0;
    for _ in 0..1000 {
        match check.progress(Instant::now()) {
            Progress::Done(out) => return (out, queries_total),
            Progress::NeedAnswers(mut qs) => {
                assert!(!qs.is_empty(), "a pending check must ask for something");
                queries_total += qs.len();
                if reverse {
                    qs.reverse();
                }
                for q in qs {
                    let a = answer(zone, &q);
                    check.answer(&q, a);
                }
            }
        }
    }
    panic!("SPF evaluation did not end");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = SpfRecord::parse(&bytes);
        let mut with_version = b"v=spf1 ".to_vec();
        with_version.extend_from_slice(&bytes);
        let _ = SpfRecord::parse(&with_version);
    }

    #[test]
    fn parse_never_panics_on_spf_like_text(text in "v=spf1( [-+~?]?[a-z0-9%{}:/._=-]{0,20}){0,8}") {
        let _ = SpfRecord::parse(text.as_bytes());
    }

    #[test]
    fn evaluation_ends_within_limits_in_any_answer_order(zone in zone(), v6 in any::<bool>()) {
        let ip: IpAddr = if v6 { "2001:db8::1".parse().unwrap() } else { "192.0.2.7".parse().unwrap() };
        let (out, queries) = evaluate(&zone, ip, false);
        let (again, _) = evaluate(&zone, ip, true);
        prop_assert_eq!(&out, &again);
        prop_assert!(out.dns_mechanisms <= 11, "{:?}", out);
        prop_assert!(out.void_lookups <= 3, "{:?}", out);
        // 10 terms, each with at most 10 MX/PTR names, plus the record
        // fetches, the p macro and the explanation.
        prop_assert!(queries <= 400, "{} queries", queries);
        if out.result == SpfResult::Fail {
            prop_assert!(out.explanation.is_some());
        }
    }
}
