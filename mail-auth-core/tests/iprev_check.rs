//! iprev (RFC 8601 §3): PTR, then forward lookups, with tables for DNS.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use postel_auth::iprev::{IprevCheck, IprevConfig, IprevOutput, IprevResult};
use postel_auth::{Answer, Check, Progress, Query, Record, RecordType};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn run(check: &mut IprevCheck, zone: &HashMap<Query, Answer>) -> (IprevOutput, Vec<Query>) {
    let now = Instant::now();
    let mut asked = Vec::new();
    for _ in 0..10 {
        match check.progress(now) {
            Progress::Done(out) => return (out, asked),
            Progress::NeedAnswers(qs) => {
                for q in qs {
                    let a = zone.get(&q).cloned().unwrap_or(Answer::NxDomain);
                    check.answer(&q, a);
                    asked.push(q);
                }
            }
        }
    }
    panic!("iprev did not finish");
}

fn ptr(addr: &str, names: &[&str]) -> (Query, Answer) {
    (
        Query::reverse(ip(addr)),
        Answer::Records(names.iter().map(|n| Record::Ptr(n.to_string())).collect()),
    )
}

fn fwd(name: &str, addrs: &[&str]) -> (Query, Answer) {
    let recs: Vec<Record> = addrs
        .iter()
        .map(|a| match ip(a) {
            IpAddr::V4(v4) => Record::A(v4),
            IpAddr::V6(v6) => Record::Aaaa(v6),
        })
        .collect();
    let rtype = if addrs.first().is_some_and(|a| a.contains(':')) {
        RecordType::Aaaa
    } else {
        RecordType::A
    };
    (Query::new(name, rtype), Answer::from_records(recs))
}

fn check(addr: &str) -> IprevCheck {
    IprevCheck::new(IprevConfig::default(), ip(addr))
}

#[test]
fn pass_when_forward_confirms() {
    let zone = HashMap::from([
        ptr("192.0.2.1", &["mail.example.com"]),
        fwd("mail.example.com", &["192.0.2.7", "192.0.2.1"]),
    ]);
    let (out, asked) = run(&mut check("192.0.2.1"), &zone);
    assert_eq!(out.result, IprevResult::Pass);
    assert_eq!(out.confirmed.as_deref(), Some("mail.example.com"));
    assert_eq!(out.names, ["mail.example.com"]);
    assert_eq!(asked.len(), 2);
    let ar = postel_auth::auth_results::AuthenticationResults::new("mx.example.org")
        .with(out.to_method_result());
    assert_eq!(
        ar.to_value(),
        "mx.example.org; iprev=pass policy.iprev=192.0.2.1 (mail.example.com)"
    );
}

#[test]
fn ipv6_uses_aaaa() {
    let zone = HashMap::from([
        ptr("2001:db8::25", &["mx6.example.net."]),
        fwd("mx6.example.net", &["2001:db8::25"]),
    ]);
    let (out, asked) = run(&mut check("2001:db8::25"), &zone);
    assert_eq!(out.result, IprevResult::Pass);
    assert_eq!(asked[1].record_type(), RecordType::Aaaa);
}

#[test]
fn second_name_confirms() {
    let zone = HashMap::from([
        ptr("192.0.2.1", &["a.example.com", "b.example.com"]),
        fwd("a.example.com", &["192.0.2.99"]),
        fwd("b.example.com", &["192.0.2.1"]),
    ]);
    let (out, _) = run(&mut check("192.0.2.1"), &zone);
    assert_eq!(out.result, IprevResult::Pass);
    assert_eq!(out.confirmed.as_deref(), Some("b.example.com"));
    assert_eq!(out.names.len(), 2);
}

#[test]
fn fail_when_no_forward_match() {
    let zone = HashMap::from([
        ptr("192.0.2.1", &["liar.example.com"]),
        fwd("liar.example.com", &["198.51.100.1"]),
    ]);
    let (out, _) = run(&mut check("192.0.2.1"), &zone);
    assert_eq!(out.result, IprevResult::Fail);
    assert_eq!(out.confirmed, None);
    assert_eq!(out.names, ["liar.example.com"]);
}

#[test]
fn fail_when_no_ptr() {
    let (out, asked) = run(&mut check("192.0.2.1"), &HashMap::new());
    assert_eq!(out.result, IprevResult::Fail);
    assert!(out.names.is_empty());
    assert_eq!(asked.len(), 1);
    let zone = HashMap::from([(Query::reverse(ip("192.0.2.1")), Answer::NoData)]);
    assert_eq!(
        run(&mut check("192.0.2.1"), &zone).0.result,
        IprevResult::Fail
    );
}

#[test]
fn temperror_on_ptr_tempfail() {
    let zone = HashMap::from([(
        Query::reverse(ip("192.0.2.1")),
        Answer::TempFail("SERVFAIL".into()),
    )]);
    assert_eq!(
        run(&mut check("192.0.2.1"), &zone).0.result,
        IprevResult::TempError
    );
}

#[test]
fn temperror_on_forward_tempfail_unless_another_confirms() {
    let mut zone = HashMap::from([
        ptr("192.0.2.1", &["a.example.com", "b.example.com"]),
        (
            Query::new("a.example.com", RecordType::A),
            Answer::TempFail("timeout".into()),
        ),
        fwd("b.example.com", &["192.0.2.2"]),
    ]);
    assert_eq!(
        run(&mut check("192.0.2.1"), &zone).0.result,
        IprevResult::TempError
    );
    zone.extend([fwd("b.example.com", &["192.0.2.1"])]);
    assert_eq!(
        run(&mut check("192.0.2.1"), &zone).0.result,
        IprevResult::Pass
    );
}

#[test]
fn name_limit() {
    let names: Vec<String> = (0..15).map(|i| format!("h{i}.example.com")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut zone = HashMap::from([ptr("192.0.2.1", &refs)]);
    // Only the 15th name would confirm, beyond the limit of 10.
    zone.extend([fwd("h14.example.com", &["192.0.2.1"])]);
    let (out, asked) = run(&mut check("192.0.2.1"), &zone);
    assert_eq!(out.result, IprevResult::Fail);
    assert_eq!(out.names.len(), 15);
    assert_eq!(asked.len(), 11);
    let mut c = IprevCheck::new(
        IprevConfig {
            max_names: 20,
            ..IprevConfig::default()
        },
        ip("192.0.2.1"),
    );
    assert_eq!(run(&mut c, &zone).0.result, IprevResult::Pass);
}

#[test]
fn forward_answers_for_unlisted_names_are_ignored() {
    let mut c = check("192.0.2.1");
    let (q, a) = fwd("evil.example", &["192.0.2.1"]);
    c.answer(&q, a);
    let zone = HashMap::from([ptr("192.0.2.1", &["good.example"])]);
    assert_eq!(run(&mut c, &zone).0.result, IprevResult::Fail);
}

#[test]
fn time_budget() {
    let mut c = IprevCheck::new(
        IprevConfig {
            timeout: Some(Duration::from_secs(1)),
            ..IprevConfig::default()
        },
        ip("192.0.2.1"),
    );
    let t0 = Instant::now();
    assert!(matches!(c.progress(t0), Progress::NeedAnswers(_)));
    match c.progress(t0 + Duration::from_secs(2)) {
        Progress::Done(out) => assert_eq!(out.result, IprevResult::TempError),
        other => panic!("{other:?}"),
    }
}
