//! SPF identities and inputs beyond the openspf suite: the HELO check, the
//! null reverse-path, IPv4-mapped clients, and the time budget.

use std::time::{Duration, Instant};

use postel_auth::spf::{Identity, SpfCheck, SpfConfig, SpfOutput, SpfRecordCache, SpfResult};
use postel_auth::{Check, Progress, Record};
use postel_dns::MemoryResolver;

fn zone() -> MemoryResolver {
    let mut z = MemoryResolver::new();
    z.add_txt("mx.example.org", "v=spf1 a -all");
    z.add("mx.example.org", Record::A([192, 0, 2, 25].into()));
    z.add_txt("example.com", "v=spf1 ip4:198.51.100.0/24 -all");
    z
}

fn run(mut check: SpfCheck, z: &MemoryResolver) -> SpfOutput {
    loop {
        match check.progress(Instant::now()) {
            Progress::Done(out) => return out,
            Progress::NeedAnswers(qs) => {
                for q in qs {
                    check.answer(&q, z.answer(&q));
                }
            }
        }
    }
}

#[test]
fn helo_identity_is_checked_against_the_helo_domain() {
    let z = zone();
    let pass = run(
        SpfCheck::helo(
            "192.0.2.25".parse().unwrap(),
            "mx.example.org",
            SpfConfig::default(),
        ),
        &z,
    );
    assert_eq!(
        (pass.result, pass.identity),
        (SpfResult::Pass, Identity::Helo)
    );
    assert_eq!(pass.domain, "mx.example.org");
    assert_eq!(pass.sender, "postmaster@mx.example.org");
    let fail = run(
        SpfCheck::helo(
            "192.0.2.26".parse().unwrap(),
            "mx.example.org",
            SpfConfig::default(),
        ),
        &z,
    );
    assert_eq!(fail.result, SpfResult::Fail);
}

#[test]
fn null_reverse_path_checks_postmaster_at_helo() {
    let z = zone();
    let out = run(
        SpfCheck::mail_from(
            "192.0.2.25".parse().unwrap(),
            "mx.example.org",
            "",
            SpfConfig::default(),
        ),
        &z,
    );
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.sender, "postmaster@mx.example.org");
}

#[test]
fn ipv4_mapped_ipv6_client_is_an_ipv4_client() {
    let z = zone();
    let out = run(
        SpfCheck::mail_from(
            "::ffff:198.51.100.7".parse().unwrap(),
            "h.example",
            "a@example.com",
            SpfConfig::default(),
        ),
        &z,
    );
    assert_eq!(out.result, SpfResult::Pass);
}

#[test]
fn time_budget_runs_on_the_callers_clock() {
    let config = SpfConfig {
        time_budget: Duration::from_secs(5),
        ..SpfConfig::default()
    };
    let mut check = SpfCheck::mail_from(
        "192.0.2.1".parse().unwrap(),
        "h.example",
        "a@slow.example",
        config,
    );
    let start = Instant::now();
    // The first record includes another domain; its answer arrives "late".
    let Progress::NeedAnswers(qs) = check.progress(start) else {
        panic!("must ask")
    };
    for q in qs {
        check.answer(
            &q,
            postel_auth::Answer::Records(vec![Record::Txt(
                b"v=spf1 include:next.example -all".to_vec(),
            )]),
        );
    }
    let out = match check.progress(start + Duration::from_secs(6)) {
        Progress::Done(out) => out,
        Progress::NeedAnswers(q) => panic!("budget exceeded but asked for {q:?}"),
    };
    assert_eq!(out.result, SpfResult::TempError);
    assert!(out.problem.unwrap().contains("budget"));
}

#[test]
fn answers_nobody_asked_for_are_ignored() {
    let z = zone();
    let query = postel_auth::Query::new("example.com", postel_auth::RecordType::Txt);
    let mut check = SpfCheck::mail_from(
        "198.51.100.1".parse().unwrap(),
        "h.example",
        "a@example.com",
        SpfConfig::default(),
    );
    check.answer(
        &query,
        postel_auth::Answer::Records(vec![Record::Txt(b"v=spf1 +all".to_vec())]),
    );
    // The check still asks for the record itself.
    match check.progress(Instant::now()) {
        Progress::NeedAnswers(qs) => assert_eq!(qs, vec![query.clone()]),
        Progress::Done(out) => panic!("ended on an unsolicited answer: {out:?}"),
    }
    let mut check = SpfCheck::mail_from(
        "203.0.113.1".parse().unwrap(),
        "h.example",
        "a@example.com",
        SpfConfig::default(),
    );
    check.answer(
        &postel_auth::Query::new("example.com", postel_auth::RecordType::Txt),
        postel_auth::Answer::Records(vec![Record::Txt(b"v=spf1 +all".to_vec())]),
    );
    // The unsolicited "+all" did not count: the real record fails the client.
    assert_eq!(run(check, &z).result, SpfResult::Fail);
}

#[test]
fn a_record_cache_is_shared_and_gives_the_same_results() {
    let z = zone();
    let cache = SpfRecordCache::new(16);
    let config = SpfConfig {
        record_cache: Some(cache.clone()),
        ..SpfConfig::default()
    };
    for ip in ["198.51.100.7", "203.0.113.9", "198.51.100.8"] {
        let cached = run(
            SpfCheck::mail_from(
                ip.parse().unwrap(),
                "h.example",
                "a@example.com",
                config.clone(),
            ),
            &z,
        );
        let fresh = run(
            SpfCheck::mail_from(
                ip.parse().unwrap(),
                "h.example",
                "a@example.com",
                SpfConfig::default(),
            ),
            &z,
        );
        assert_eq!(cached, fresh);
    }
    assert_eq!(cache.len(), 1);
    let tiny = SpfRecordCache::new(0);
    let config = SpfConfig {
        record_cache: Some(tiny.clone()),
        ..SpfConfig::default()
    };
    run(
        SpfCheck::mail_from(
            "198.51.100.7".parse().unwrap(),
            "h",
            "a@example.com",
            config,
        ),
        &z,
    );
    assert!(tiny.is_empty());
}

#[test]
fn configured_limits_apply() {
    let mut z = MemoryResolver::new();
    z.add_txt(
        "chain.example",
        "v=spf1 a:missing1.chain.example a:missing2.chain.example mx:mx.chain.example -all",
    );
    z.add_txt("mx.chain.example", "v=spf1 -all");
    for i in 0..3 {
        z.add(
            "mx.chain.example",
            Record::Mx {
                preference: i,
                exchange: format!("h{i}.chain.example"),
            },
        );
    }
    let check = |config: SpfConfig| {
        run(
            SpfCheck::mail_from("192.0.2.1".parse().unwrap(), "h", "a@chain.example", config),
            &z,
        )
    };
    // The defaults: two void lookups and three MX names are allowed.
    assert_eq!(check(SpfConfig::default()).result, SpfResult::Fail);
    let lower = |f: fn(&mut SpfConfig)| {
        let mut c = SpfConfig::default();
        f(&mut c);
        check(c)
    };
    let out = lower(|c| c.max_void_lookups = 1);
    assert_eq!(out.result, SpfResult::PermError);
    assert!(out.problem.unwrap().contains("void"));
    let out = lower(|c| c.max_dns_mechanisms = 2);
    assert_eq!(out.result, SpfResult::PermError);
    assert!(out.problem.unwrap().contains("DNS-querying"));
    let out = lower(|c| c.max_mx_names = 2);
    assert_eq!(out.result, SpfResult::PermError);
    assert!(out.problem.unwrap().contains("MX"));
}

#[test]
fn ptr_names_past_the_limit_are_ignored() {
    let mut z = MemoryResolver::new();
    z.add_txt("ptr.example", "v=spf1 ptr -all");
    for name in [
        "a.elsewhere.example",
        "b.elsewhere.example",
        "mail.ptr.example",
    ] {
        z.add("1.2.0.192.in-addr.arpa", Record::Ptr(name.into()));
        z.add(name, Record::A([192, 0, 2, 1].into()));
    }
    let check = |max_ptr_names| {
        let config = SpfConfig {
            max_ptr_names,
            ..SpfConfig::default()
        };
        run(
            SpfCheck::mail_from("192.0.2.1".parse().unwrap(), "h", "a@ptr.example", config),
            &z,
        )
        .result
    };
    assert_eq!(check(3), SpfResult::Pass);
    assert_eq!(check(2), SpfResult::Fail);
}
