//! DMARC record parsing (RFC 7489 §6.3, RFC 9989 additions).

use postel_auth::dmarc::{
    Alignment, DmarcRecord, FailureOptions, Policy, PsdFlag, RecordError, ReportUri,
};

#[test]
fn minimal_record_gets_defaults() {
    let r = DmarcRecord::parse("v=DMARC1; p=reject").unwrap();
    assert_eq!(r.policy, Policy::Reject);
    assert!(!r.policy_defaulted);
    assert_eq!(r.subdomain_policy, None);
    assert_eq!(r.nonexistent_policy, None);
    assert_eq!(r.adkim, Alignment::Relaxed);
    assert_eq!(r.aspf, Alignment::Relaxed);
    assert_eq!(r.pct, 100);
    assert!(r.rua.is_empty() && r.ruf.is_empty());
    assert_eq!(r.fo, FailureOptions::default());
    assert_eq!(r.rf, ["afrf"]);
    assert_eq!(r.ri, 86400);
    assert_eq!(r.psd, PsdFlag::Unknown);
}

#[test]
fn full_record() {
    let r = DmarcRecord::parse(
        "v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; aspf=s; pct=25; \
         rua=mailto:agg@example.com,mailto:dmarc@thirdparty.example!10m; \
         ruf=mailto:forensic@example.com!512k; fo=1:d:s; rf=afrf; ri=3600; psd=n",
    )
    .unwrap();
    assert_eq!(r.policy, Policy::Quarantine);
    assert_eq!(r.subdomain_policy, Some(Policy::Reject));
    assert_eq!(r.nonexistent_policy, Some(Policy::Reject));
    assert_eq!(r.adkim, Alignment::Strict);
    assert_eq!(r.aspf, Alignment::Strict);
    assert_eq!(r.pct, 25);
    assert_eq!(
        r.rua,
        vec![
            ReportUri {
                uri: "mailto:agg@example.com".into(),
                max_size: None
            },
            ReportUri {
                uri: "mailto:dmarc@thirdparty.example".into(),
                max_size: Some(10 * 1024 * 1024)
            },
        ]
    );
    assert_eq!(r.ruf[0].max_size, Some(512 * 1024));
    assert!(r.fo.any_fail && r.fo.dkim && r.fo.spf && !r.fo.all_fail);
    assert_eq!(r.fo.to_string(), "1:d:s");
    assert_eq!(r.ri, 3600);
    assert_eq!(r.psd, PsdFlag::No);
    assert_eq!(
        r.rua[1].to_string(),
        "mailto:dmarc@thirdparty.example!10485760"
    );
}

#[test]
fn version_must_come_first() {
    assert_eq!(
        DmarcRecord::parse("p=reject; v=DMARC1"),
        Err(RecordError::NotDmarc)
    );
    assert_eq!(
        DmarcRecord::parse("v=DMARC2; p=reject"),
        Err(RecordError::NotDmarc)
    );
    assert_eq!(DmarcRecord::parse(""), Err(RecordError::NotDmarc));
    assert_eq!(
        DmarcRecord::parse_bytes(b"v=spf1 -all"),
        Err(RecordError::NotDmarc)
    );
}

#[test]
fn missing_or_bad_policy_with_rua_acts_as_none() {
    for text in [
        "v=DMARC1; rua=mailto:a@example.com",
        "v=DMARC1; p=bogus; rua=mailto:a@example.com",
        "v=DMARC1; p=reject; sp=bogus; rua=mailto:a@example.com",
    ] {
        let r = DmarcRecord::parse(text).unwrap();
        assert_eq!(r.policy, Policy::None, "{text}");
        assert!(r.policy_defaulted, "{text}");
        assert_eq!(r.subdomain_policy, None, "{text}");
    }
}

#[test]
fn missing_or_bad_policy_without_rua_is_no_policy() {
    for text in [
        "v=DMARC1",
        "v=DMARC1; p=bogus",
        "v=DMARC1; p=reject; sp=all",
        "v=DMARC1; p=bogus; rua=not a uri",
    ] {
        assert_eq!(
            DmarcRecord::parse(text),
            Err(RecordError::NoPolicy),
            "{text}"
        );
    }
}

#[test]
fn bad_optional_values_fall_back_to_defaults() {
    let r = DmarcRecord::parse(
        "v=DMARC1; p=none; adkim=x; aspf=relaxed; pct=101; fo=9; ri=soon; np=maybe; psd=q",
    )
    .unwrap();
    assert_eq!(r.adkim, Alignment::Relaxed);
    assert_eq!(r.aspf, Alignment::Relaxed);
    assert_eq!(r.pct, 100);
    assert_eq!(r.fo, FailureOptions::default());
    assert_eq!(r.ri, 86400);
    assert_eq!(r.nonexistent_policy, None);
    assert_eq!(r.psd, PsdFlag::Unknown);
    let r = DmarcRecord::parse("v=DMARC1; p=none; pct=-1").unwrap();
    assert_eq!(r.pct, 100);
    let r = DmarcRecord::parse("v=DMARC1; p=none; pct=0").unwrap();
    assert_eq!(r.pct, 0);
}

#[test]
fn unknown_tags_ignored_and_case_of_policy() {
    let r = DmarcRecord::parse("v=DMARC1; p=Reject; t=y; future=thing;").unwrap();
    assert_eq!(r.policy, Policy::Reject);
}

#[test]
fn invalid_uris_dropped() {
    let r = DmarcRecord::parse(
        "v=DMARC1; p=none; rua=mailto:ok@example.com, nocolon, mailto:x@example.com!12q",
    )
    .unwrap();
    assert_eq!(r.rua.len(), 1);
    assert_eq!(r.rua[0].uri, "mailto:ok@example.com");
}

#[test]
fn tag_list_syntax_errors() {
    assert!(matches!(
        DmarcRecord::parse("v=DMARC1; p=none; p=reject"),
        Err(RecordError::Syntax(_))
    ));
    assert!(matches!(
        DmarcRecord::parse("v=DMARC1; p=none; garbage"),
        Err(RecordError::Syntax(_))
    ));
}

#[test]
fn whitespace_around_tags() {
    let r = DmarcRecord::parse("  v = DMARC1 ;  p = quarantine ; pct = 50 ").unwrap();
    assert_eq!(r.policy, Policy::Quarantine);
    assert_eq!(r.pct, 50);
}

#[test]
fn policy_weaker() {
    assert_eq!(Policy::Reject.weaker(), Policy::Quarantine);
    assert_eq!(Policy::Quarantine.weaker(), Policy::None);
    assert_eq!(Policy::None.weaker(), Policy::None);
}
