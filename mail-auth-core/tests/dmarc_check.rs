//! DMARC discovery, alignment, policy selection and pct sampling, with
//! DNS answered from tables.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postel_auth::dmarc::{
    AuthenticatedIdentifier as Id, DmarcCheck, DmarcConfig, DmarcInput, DmarcOutput, DmarcResult,
    OrgDomainMethod, Policy, PolicySource,
};
use postel_auth::{Answer, Check, Progress, Query, Record, RecordType};

#[derive(Default)]
struct Zone {
    txt: HashMap<String, Vec<&'static str>>,
    other: HashMap<(String, RecordType), Answer>,
    tempfail: Vec<String>,
}

impl Zone {
    fn txt(mut self, name: &str, text: &'static str) -> Self {
        self.txt.entry(name.to_string()).or_default().push(text);
        self
    }

    fn a(mut self, name: &str) -> Self {
        self.other.insert(
            (name.to_string(), RecordType::A),
            Answer::Records(vec![Record::A("192.0.2.1".parse().unwrap())]),
        );
        self
    }

    fn tempfail(mut self, name: &str) -> Self {
        self.tempfail.push(name.to_string());
        self
    }

    fn answer(&self, q: &Query) -> Answer {
        if self.tempfail.iter().any(|n| n == q.name()) {
            return Answer::TempFail("timeout".into());
        }
        if q.record_type() == RecordType::Txt
            && let Some(t) = self.txt.get(q.name())
        {
            return Answer::Records(
                t.iter()
                    .map(|s| Record::Txt(s.as_bytes().to_vec()))
                    .collect(),
            );
        }
        self.other
            .get(&(q.name().to_string(), q.record_type()))
            .cloned()
            .unwrap_or(Answer::NxDomain)
    }
}

/// Run a check to the end; returns the output and every query asked.
fn run(check: &mut impl Check<Output = DmarcOutput>, zone: &Zone) -> (DmarcOutput, Vec<Query>) {
    let now = Instant::now();
    let mut asked = Vec::new();
    for _ in 0..100 {
        match check.progress(now) {
            Progress::Done(out) => return (out, asked),
            Progress::NeedAnswers(qs) => {
                for q in qs {
                    let a = zone.answer(&q);
                    check.answer(&q, a);
                    asked.push(q);
                }
            }
        }
    }
    panic!("check did not finish");
}

fn input(from: &str, spf: Option<Id>, dkim: Vec<Id>) -> DmarcInput {
    DmarcInput {
        from_domain: from.to_string(),
        spf,
        dkim,
    }
}

fn cfg(method: OrgDomainMethod) -> DmarcConfig {
    DmarcConfig {
        org_method: method,
        ..DmarcConfig::default()
    }
}

fn eval(method: OrgDomainMethod, zone: &Zone, inp: DmarcInput, sample: u8) -> DmarcOutput {
    let mut c = DmarcCheck::new(cfg(method), inp, move || sample);
    run(&mut c, zone).0
}

const BOTH: [OrgDomainMethod; 2] = [OrgDomainMethod::PublicSuffixList, OrgDomainMethod::TreeWalk];

#[test]
fn record_at_from_domain() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject");
    for m in BOTH {
        let out = eval(
            m,
            &zone,
            input("example.com", Some(Id::pass("example.com")), vec![]),
            0,
        );
        assert_eq!(out.result, DmarcResult::Pass);
        assert!(out.spf_aligned);
        assert_eq!(out.record_domain.as_deref(), Some("example.com"));
        assert_eq!(out.policy, Some(Policy::Reject));
        assert_eq!(out.policy_source, Some(PolicySource::Domain));
        assert_eq!(out.disposition, Policy::None);
        assert_eq!(out.comment().as_deref(), Some("p=REJECT dis=NONE"));
    }
}

#[test]
fn fail_applies_policy() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject");
    for m in BOTH {
        let out = eval(
            m,
            &zone,
            input(
                "example.com",
                Some(Id::pass("evil.example")),
                vec![Id::fail("example.com")],
            ),
            0,
        );
        assert_eq!(out.result, DmarcResult::Fail);
        assert_eq!(out.disposition, Policy::Reject);
        assert!(!out.spf_aligned && out.dkim_aligned.is_empty());
        assert_eq!(
            out.to_method_result().to_string_for_test(),
            "dmarc=fail (p=REJECT dis=REJECT) header.from=example.com"
        );
    }
}

trait ForTest {
    fn to_string_for_test(&self) -> String;
}

impl ForTest for postel_auth::auth_results::MethodResult {
    fn to_string_for_test(&self) -> String {
        let ar = postel_auth::auth_results::AuthenticationResults::new("x").with(self.clone());
        ar.to_value().trim_start_matches("x; ").to_string()
    }
}

#[test]
fn subdomain_falls_back_to_org_record_and_uses_sp() {
    let zone = Zone::default()
        .txt("_dmarc.example.com", "v=DMARC1; p=none; sp=quarantine")
        .a("mail.example.com");
    for m in BOTH {
        let out = eval(m, &zone, input("mail.example.com", None, vec![]), 0);
        assert_eq!(out.result, DmarcResult::Fail, "{m:?}");
        assert_eq!(out.record_domain.as_deref(), Some("example.com"));
        assert_eq!(out.policy, Some(Policy::Quarantine));
        assert_eq!(out.policy_source, Some(PolicySource::Subdomain));
        assert_eq!(out.disposition, Policy::Quarantine);
    }
}

#[test]
fn subdomain_without_sp_uses_p() {
    let zone = Zone::default()
        .txt("_dmarc.example.com", "v=DMARC1; p=reject")
        .a("a.example.com");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("a.example.com", None, vec![]),
        0,
    );
    assert_eq!(out.policy, Some(Policy::Reject));
}

#[test]
fn nonexistent_subdomain_uses_np() {
    let zone = Zone::default().txt(
        "_dmarc.example.com",
        "v=DMARC1; p=none; sp=quarantine; np=reject",
    );
    for m in BOTH {
        let out = eval(m, &zone, input("ghost.example.com", None, vec![]), 0);
        assert_eq!(out.policy, Some(Policy::Reject), "{m:?}");
        assert_eq!(out.policy_source, Some(PolicySource::NonExistent));
    }
    // The same name with an A record exists: sp applies.
    let zone = zone.a("ghost.example.com");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("ghost.example.com", None, vec![]),
        0,
    );
    assert_eq!(out.policy, Some(Policy::Quarantine));
    assert_eq!(out.policy_source, Some(PolicySource::Subdomain));
}

#[test]
fn no_record_is_none() {
    for m in BOTH {
        let out = eval(
            m,
            &Zone::default(),
            input("example.com", Some(Id::pass("example.com")), vec![]),
            0,
        );
        assert_eq!(out.result, DmarcResult::None);
        assert_eq!(out.policy, None);
        assert_eq!(out.disposition, Policy::None);
    }
}

#[test]
fn multiple_records_at_a_name_count_as_none_there() {
    let zone = Zone::default()
        .txt("_dmarc.example.com", "v=DMARC1; p=reject")
        .txt("_dmarc.example.com", "v=DMARC1; p=none");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("example.com", None, vec![]),
        0,
    );
    assert_eq!(out.result, DmarcResult::None);
    // At the From domain: discovery goes on to the org domain.
    let zone = zone
        .txt("_dmarc.sub.example.com", "v=DMARC1; p=reject")
        .txt("_dmarc.sub.example.com", "v=DMARC1; p=quarantine");
    let out = eval(
        OrgDomainMethod::TreeWalk,
        &zone,
        input("sub.example.com", None, vec![]),
        0,
    );
    assert_eq!(out.result, DmarcResult::None);
}

#[test]
fn non_dmarc_txt_records_are_discarded() {
    let zone = Zone::default()
        .txt("_dmarc.example.com", "v=spf1 -all")
        .txt("_dmarc.example.com", "hello")
        .txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("example.com", None, vec![]),
        0,
    );
    assert_eq!(out.policy, Some(Policy::Quarantine));
}

#[test]
fn tempfail_is_temperror() {
    let zone = Zone::default().tempfail("_dmarc.example.com");
    for m in BOTH {
        let out = eval(m, &zone, input("example.com", None, vec![]), 0);
        assert_eq!(out.result, DmarcResult::TempError);
    }
    let zone = Zone::default().tempfail("_dmarc.a.example.com");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("a.example.com", None, vec![]),
        0,
    );
    assert_eq!(out.result, DmarcResult::TempError);
}

#[test]
fn bad_record_syntax_is_permerror_and_no_policy_is_none() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject; p=none");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("example.com", None, vec![]),
        0,
    );
    assert_eq!(out.result, DmarcResult::PermError);
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=bogus");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("example.com", None, vec![]),
        0,
    );
    assert_eq!(out.result, DmarcResult::None);
    let zone = Zone::default().txt(
        "_dmarc.example.com",
        "v=DMARC1; p=bogus; rua=mailto:r@example.com",
    );
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input("example.com", None, vec![]),
        0,
    );
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.policy, Some(Policy::None));
}

#[test]
fn invalid_from_domain_is_permerror() {
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &Zone::default(),
        input("exa mple", None, vec![]),
        0,
    );
    assert_eq!(out.result, DmarcResult::PermError);
}

#[test]
fn pct_sampling() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject; pct=30");
    let inp = || input("example.com", None, vec![]);
    let out = eval(OrgDomainMethod::PublicSuffixList, &zone, inp(), 29);
    assert_eq!((out.disposition, out.sampled_out), (Policy::Reject, false));
    let out = eval(OrgDomainMethod::PublicSuffixList, &zone, inp(), 30);
    assert_eq!(
        (out.disposition, out.sampled_out),
        (Policy::Quarantine, true)
    );
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=quarantine; pct=0");
    let out = eval(OrgDomainMethod::PublicSuffixList, &zone, inp(), 0);
    assert_eq!((out.disposition, out.sampled_out), (Policy::None, true));
}

#[test]
fn sampler_not_called_when_pct_is_100_or_pass() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject");
    let mut c = DmarcCheck::new(
        cfg(OrgDomainMethod::PublicSuffixList),
        input("example.com", None, vec![]),
        || -> u8 { panic!("sampler called") },
    );
    assert_eq!(run(&mut c, &zone).0.disposition, Policy::Reject);
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject; pct=10");
    let mut c = DmarcCheck::new(
        cfg(OrgDomainMethod::PublicSuffixList),
        input("example.com", None, vec![Id::pass("example.com")]),
        || -> u8 { panic!("sampler called") },
    );
    assert_eq!(run(&mut c, &zone).0.result, DmarcResult::Pass);
}

/// (from, identifier, strict?, aligned?) under the Public Suffix List.
const PSL_ALIGNMENT: &[(&str, &str, bool, bool)] = &[
    ("example.com", "example.com", false, true),
    ("example.com", "example.com", true, true),
    ("example.com", "EXAMPLE.com.", true, true),
    ("example.com", "mail.example.com", false, true),
    ("example.com", "mail.example.com", true, false),
    ("mail.example.com", "example.com", false, true),
    ("mail.example.com", "example.com", true, false),
    ("a.mail.example.com", "b.example.com", false, true),
    ("a.mail.example.com", "b.example.com", true, false),
    ("example.com", "example.net", false, false),
    ("example.com", "example.net", true, false),
    ("example.com", "notexample.com", false, false),
    ("example.co.uk", "mail.example.co.uk", false, true),
    ("example.co.uk", "other.co.uk", false, false),
    ("a.example.co.uk", "b.example.co.uk", false, true),
    ("example.co.uk", "co.uk", false, false),
    ("foo.blogspot.com", "bar.blogspot.com", false, false),
    ("foo.github.io", "foo.github.io", true, true),
];

#[test]
fn alignment_table_public_suffix_list() {
    for &(from, id, strict, want) in PSL_ALIGNMENT {
        let rec: &'static str = if strict {
            "v=DMARC1; p=reject; adkim=s; aspf=s"
        } else {
            "v=DMARC1; p=reject"
        };
        let org = postel_auth::dmarc::psl_org_domain(from);
        let zone = Zone::default().txt(&format!("_dmarc.{org}"), rec).a(from);
        // SPF alone.
        let out = eval(
            OrgDomainMethod::PublicSuffixList,
            &zone,
            input(from, Some(Id::pass(id)), vec![]),
            0,
        );
        assert_eq!(out.spf_aligned, want, "spf {from} vs {id} strict={strict}");
        assert_eq!(out.result == DmarcResult::Pass, want);
        // DKIM alone.
        let out = eval(
            OrgDomainMethod::PublicSuffixList,
            &zone,
            input(from, None, vec![Id::pass(id)]),
            0,
        );
        assert_eq!(
            !out.dkim_aligned.is_empty(),
            want,
            "dkim {from} vs {id} strict={strict}"
        );
        // A failing identifier never aligns.
        let out = eval(
            OrgDomainMethod::PublicSuffixList,
            &zone,
            input(from, Some(Id::fail(id)), vec![Id::fail(id)]),
            0,
        );
        assert_eq!(out.result, DmarcResult::Fail);
    }
}

#[test]
fn adkim_and_aspf_are_independent() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject; aspf=s");
    let out = eval(
        OrgDomainMethod::PublicSuffixList,
        &zone,
        input(
            "example.com",
            Some(Id::pass("bounce.example.com")),
            vec![Id::pass("mail.example.com")],
        ),
        0,
    );
    assert!(!out.spf_aligned);
    assert_eq!(out.dkim_aligned, ["mail.example.com"]);
    assert_eq!(out.result, DmarcResult::Pass);
}

// ---- Tree walk ----

#[test]
fn tree_walk_org_domain_fewest_labels() {
    // Record only at example.com: org domain of both names is example.com.
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject");
    let out = eval(
        OrgDomainMethod::TreeWalk,
        &zone,
        input("a.b.example.com", None, vec![Id::pass("c.example.com")]),
        0,
    );
    assert_eq!(out.from_org_domain.as_deref(), Some("example.com"));
    assert_eq!(out.result, DmarcResult::Pass);
}

#[test]
fn tree_walk_psd_n_stops() {
    // b.example.com declares itself an organizational domain.
    let zone = Zone::default()
        .txt("_dmarc.example.com", "v=DMARC1; p=reject")
        .txt("_dmarc.b.example.com", "v=DMARC1; p=reject; psd=n");
    let out = eval(
        OrgDomainMethod::TreeWalk,
        &zone,
        input("a.b.example.com", None, vec![Id::pass("example.com")]),
        0,
    );
    assert_eq!(out.from_org_domain.as_deref(), Some("b.example.com"));
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.record_domain.as_deref(), Some("b.example.com"));
}

#[test]
fn tree_walk_psd_y_makes_child_the_org_domain() {
    // A PSD-style record at "example" (a made-up TLD).
    let zone = Zone::default().txt("_dmarc.example", "v=DMARC1; p=reject; psd=y");
    let out = eval(
        OrgDomainMethod::TreeWalk,
        &zone,
        input(
            "mail.shop.example",
            None,
            vec![Id::pass("news.shop.example")],
        ),
        0,
    );
    assert_eq!(out.from_org_domain.as_deref(), Some("shop.example"));
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.record_domain.as_deref(), Some("example"));
    let out = eval(
        OrgDomainMethod::TreeWalk,
        &zone,
        input("mail.shop.example", None, vec![Id::pass("other.example")]),
        0,
    );
    assert_eq!(out.result, DmarcResult::Fail);
}

#[test]
fn tree_walk_differs_from_psl_where_psl_lists_a_suffix() {
    // blogspot.com is a public suffix; with a record published there and
    // no psd tag, the tree walk makes it the org domain.
    let zone = Zone::default().txt("_dmarc.blogspot.com", "v=DMARC1; p=reject");
    let inp = || input("foo.blogspot.com", None, vec![Id::pass("bar.blogspot.com")]);
    let walk = eval(OrgDomainMethod::TreeWalk, &zone, inp(), 0);
    assert_eq!(walk.result, DmarcResult::Pass);
    let psl = eval(OrgDomainMethod::PublicSuffixList, &zone, inp(), 0);
    assert_eq!(
        psl.result,
        DmarcResult::None,
        "PSL looks only at foo.blogspot.com itself"
    );
}

#[test]
fn tree_walk_at_most_eight_queries_per_walk() {
    let zone = Zone::default();
    let mut c = DmarcCheck::new(
        cfg(OrgDomainMethod::TreeWalk),
        input("a.b.c.d.e.f.g.h.i.j.example.com", None, vec![]),
        || 0,
    );
    let (out, asked) = run(&mut c, &zone);
    assert_eq!(out.result, DmarcResult::None);
    assert_eq!(asked.len(), 8);
    assert_eq!(asked[0].name(), "_dmarc.a.b.c.d.e.f.g.h.i.j.example.com");
    assert_eq!(asked[1].name(), "_dmarc.f.g.h.i.j.example.com");
    assert_eq!(asked[7].name(), "_dmarc.com");
}

/// Run a tree-walk check for `from` with no identifiers.
fn walk_check(zone: &Zone, from: &str) -> (DmarcOutput, Vec<String>) {
    let mut c = DmarcCheck::new(
        cfg(OrgDomainMethod::TreeWalk),
        input(from, None, vec![]),
        || 0,
    );
    let (out, asked) = run(&mut c, zone);
    let txt = asked
        .iter()
        .filter(|q| q.record_type() == RecordType::Txt)
        .map(|q| q.name().to_string())
        .collect();
    (out, txt)
}

#[test]
fn tree_walk_rfc9989_4_10_eight_query_example() {
    // RFC 9989 §4.10: the eight queries of a full walk for the Author
    // Domain "a.b.c.d.e.f.g.h.i.j.mail.example.com".
    let (out, asked) = walk_check(&Zone::default(), "a.b.c.d.e.f.g.h.i.j.mail.example.com");
    assert_eq!(out.result, DmarcResult::None);
    assert_eq!(
        asked,
        [
            "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com",
            "_dmarc.g.h.i.j.mail.example.com",
            "_dmarc.h.i.j.mail.example.com",
            "_dmarc.i.j.mail.example.com",
            "_dmarc.j.mail.example.com",
            "_dmarc.mail.example.com",
            "_dmarc.example.com",
            "_dmarc.com",
        ]
    );
}

#[test]
fn tree_walk_rfc9989_4_10_2_fewest_labels_example() {
    // RFC 9989 §4.10.2, first example: records at mail.example.com and
    // example.com, none at a.mail.example.com or com: the Organizational
    // Domain is example.com. §4.10.1: the Author Domain has no record, so
    // the Organizational Domain's record applies (not the nearer one).
    let zone = Zone::default()
        .txt("_dmarc.mail.example.com", "v=DMARC1; p=none")
        .txt("_dmarc.example.com", "v=DMARC1; p=reject")
        .a("a.mail.example.com");
    let (out, asked) = walk_check(&zone, "a.mail.example.com");
    assert_eq!(out.from_org_domain.as_deref(), Some("example.com"));
    assert_eq!(out.record_domain.as_deref(), Some("example.com"));
    assert_eq!(out.policy, Some(Policy::Reject));
    assert_eq!(out.policy_source, Some(PolicySource::Subdomain));
    assert_eq!(asked.last().map(String::as_str), Some("_dmarc.com"));
}

#[test]
fn tree_walk_rfc9989_4_10_2_psd_n_example() {
    // RFC 9989 §4.10.2, second example: a record with psd=n at
    // mail.example.com makes it the Organizational Domain; the walk stops
    // there (§4.10 step 6).
    let zone = Zone::default()
        .txt("_dmarc.mail.example.com", "v=DMARC1; p=quarantine; psd=n")
        .txt("_dmarc.example.com", "v=DMARC1; p=reject")
        .a("a.mail.example.com");
    let (out, asked) = walk_check(&zone, "a.mail.example.com");
    assert_eq!(out.from_org_domain.as_deref(), Some("mail.example.com"));
    assert_eq!(out.record_domain.as_deref(), Some("mail.example.com"));
    assert_eq!(out.policy, Some(Policy::Quarantine));
    assert!(
        !asked.iter().any(|n| n == "_dmarc.example.com"),
        "{asked:?}"
    );
}

#[test]
fn tree_walk_rfc9989_4_10_2_psd_y_example() {
    // RFC 9989 §4.10.2, last example: only _dmarc.com, with psd=y: the
    // Organizational Domain is example.com, which publishes nothing, so
    // the Public Suffix Domain's record applies (§4.10.1).
    let zone = Zone::default()
        .txt("_dmarc.com", "v=DMARC1; p=reject; psd=y")
        .a("a.mail.example.com");
    let (out, _) = walk_check(&zone, "a.mail.example.com");
    assert_eq!(out.from_org_domain.as_deref(), Some("example.com"));
    assert_eq!(out.record_domain.as_deref(), Some("com"));
    assert_eq!(out.policy, Some(Policy::Reject));
}

#[test]
fn tree_walk_psd_y_org_domain_record_beats_psd_record() {
    // RFC 9989 §4.10.1: the Organizational Domain's record is preferred to
    // the Public Suffix Domain's.
    let zone = Zone::default()
        .txt("_dmarc.com", "v=DMARC1; p=reject; psd=y")
        .txt("_dmarc.example.com", "v=DMARC1; p=quarantine")
        .a("a.mail.example.com");
    let (out, _) = walk_check(&zone, "a.mail.example.com");
    assert_eq!(out.from_org_domain.as_deref(), Some("example.com"));
    assert_eq!(out.record_domain.as_deref(), Some("example.com"));
    assert_eq!(out.policy, Some(Policy::Quarantine));
}

#[test]
fn tree_walk_psd_y_at_the_start_stops_the_walk() {
    // RFC 9989 §4.10 step 2: a record with psd=y where the walk starts
    // stops it; §4.10.2 rule 2 does not apply to that record, so rule 3
    // makes the starting name its own Organizational Domain.
    let zone = Zone::default()
        .txt("_dmarc.mail.example.com", "v=DMARC1; p=quarantine; psd=y")
        .txt("_dmarc.example.com", "v=DMARC1; p=reject; psd=n");
    let (out, asked) = walk_check(&zone, "mail.example.com");
    assert_eq!(out.from_org_domain.as_deref(), Some("mail.example.com"));
    assert_eq!(out.record_domain.as_deref(), Some("mail.example.com"));
    assert_eq!(out.policy, Some(Policy::Quarantine));
    assert_eq!(asked, ["_dmarc.mail.example.com"]);
}

#[test]
fn tree_walk_tempfail_during_identifier_walk_is_temperror_unless_another_passes() {
    let zone = Zone::default()
        .txt("_dmarc.example.com", "v=DMARC1; p=reject")
        .tempfail("_dmarc.x.example.com");
    let out = eval(
        OrgDomainMethod::TreeWalk,
        &zone,
        input("example.com", None, vec![Id::pass("x.example.com")]),
        0,
    );
    assert_eq!(out.result, DmarcResult::TempError);
    let out = eval(
        OrgDomainMethod::TreeWalk,
        &zone,
        input(
            "example.com",
            Some(Id::pass("example.com")),
            vec![Id::pass("x.example.com")],
        ),
        0,
    );
    assert_eq!(out.result, DmarcResult::Pass);
}

#[test]
fn psl_needs_at_most_two_txt_queries() {
    let mut c = DmarcCheck::new(
        cfg(OrgDomainMethod::PublicSuffixList),
        input("a.b.example.co.uk", Some(Id::pass("example.co.uk")), vec![]),
        || 0,
    );
    let (_, asked) = run(&mut c, &Zone::default());
    let names: Vec<&str> = asked.iter().map(|q| q.name()).collect();
    assert_eq!(names, ["_dmarc.a.b.example.co.uk", "_dmarc.example.co.uk"]);
}

#[test]
fn time_budget() {
    let mut c = DmarcCheck::new(
        DmarcConfig {
            timeout: Some(Duration::from_secs(5)),
            ..DmarcConfig::default()
        },
        input("example.com", None, vec![]),
        || 0,
    );
    let t0 = Instant::now();
    assert!(matches!(c.progress(t0), Progress::NeedAnswers(_)));
    match c.progress(t0 + Duration::from_secs(6)) {
        Progress::Done(out) => assert_eq!(out.result, DmarcResult::TempError),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unasked_answers_are_ignored() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject");
    let mut c = DmarcCheck::new(
        cfg(OrgDomainMethod::PublicSuffixList),
        input("example.com", None, vec![]),
        || 0,
    );
    c.answer(
        &Query::new("_dmarc.example.com", RecordType::Txt),
        Answer::NxDomain,
    );
    let (out, _) = run(&mut c, &zone);
    assert_eq!(out.policy, Some(Policy::Reject));
}

/// (from, identifier, strict?, aligned?) under the tree walk, with records
/// at `_dmarc.example.com` and `_dmarc.example.co.uk` only.
const WALK_ALIGNMENT: &[(&str, &str, bool, bool)] = &[
    ("example.com", "example.com", false, true),
    ("example.com", "example.com", true, true),
    ("example.com", "mail.example.com", false, true),
    ("example.com", "mail.example.com", true, false),
    ("mail.example.com", "example.com", false, true),
    ("a.mail.example.com", "b.example.com", false, true),
    ("a.mail.example.com", "b.example.com", true, false),
    ("example.com", "example.net", false, false),
    ("example.co.uk", "mail.example.co.uk", false, true),
    ("mail.example.co.uk", "other.co.uk", false, false),
];

#[test]
fn alignment_table_tree_walk() {
    for &(from, id, strict, want) in WALK_ALIGNMENT {
        let rec: &'static str = if strict {
            "v=DMARC1; p=reject; adkim=s; aspf=s"
        } else {
            "v=DMARC1; p=reject"
        };
        let zone = Zone::default()
            .txt("_dmarc.example.com", rec)
            .txt("_dmarc.example.co.uk", rec)
            .a(from);
        let out = eval(
            OrgDomainMethod::TreeWalk,
            &zone,
            input(from, Some(Id::pass(id)), vec![]),
            0,
        );
        assert_eq!(out.spf_aligned, want, "spf {from} vs {id} strict={strict}");
        let out = eval(
            OrgDomainMethod::TreeWalk,
            &zone,
            input(from, None, vec![Id::pass(id)]),
            0,
        );
        assert_eq!(
            !out.dkim_aligned.is_empty(),
            want,
            "dkim {from} vs {id} strict={strict}"
        );
    }
}

#[test]
fn only_max_dkim_identifiers_passing_signatures_are_tried() {
    let zone = Zone::default().txt("_dmarc.example.com", "v=DMARC1; p=reject");
    // Two unaligned passing signatures come before the aligned one.
    let dkim = vec![
        Id::pass("other.example"),
        Id::pass("third.example"),
        Id::pass("example.com"),
    ];
    for (limit, expected) in [(2, DmarcResult::Fail), (3, DmarcResult::Pass)] {
        let config = DmarcConfig {
            max_dkim_identifiers: limit,
            ..DmarcConfig::default()
        };
        let mut c = DmarcCheck::new(config, input("example.com", None, dkim.clone()), || 0);
        let (out, _) = run(&mut c, &zone);
        assert_eq!(out.result, expected, "limit {limit}");
    }
}
