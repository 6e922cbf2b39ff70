//! DMARC aggregate reports: recorder, writer, parser.

use postel_auth::dmarc::report::{
    AggregateReport, AlignedResult, DkimAuthResult, MessageRow, OverrideReason, OverrideType,
    PolicyPublished, Recorder, ReportMetadata, ReportParseError, ResultWord, SpfAuthResult,
};
use postel_auth::dmarc::{Alignment, Policy};

fn metadata() -> ReportMetadata {
    ReportMetadata {
        org_name: "Postel & Co <receiver>".into(),
        email: "dmarc-reports@receiver.example".into(),
        extra_contact_info: Some("https://receiver.example/dmarc".into()),
        report_id: "r-2026-11-28-0001".into(),
        begin: 1_764_288_000,
        end: 1_764_374_399,
        errors: vec![],
    }
}

fn published() -> PolicyPublished {
    PolicyPublished {
        domain: "example.com".into(),
        adkim: Some(Alignment::Relaxed),
        aspf: Some(Alignment::Strict),
        p: Policy::Reject,
        sp: Some(Policy::Quarantine),
        np: None,
        pct: Some(100),
        fo: Some("1".into()),
    }
}

fn row(ip: &str, dkim_pass: bool) -> MessageRow {
    MessageRow {
        source_ip: ip.parse().unwrap(),
        disposition: if dkim_pass {
            Policy::None
        } else {
            Policy::Reject
        },
        dkim_aligned: dkim_pass,
        spf_aligned: false,
        reasons: vec![],
        header_from: "example.com".into(),
        envelope_from: Some("bounce.example.com".into()),
        envelope_to: None,
        dkim: vec![DkimAuthResult {
            domain: "example.com".into(),
            selector: Some("s1".into()),
            result: ResultWord::new(if dkim_pass { "pass" } else { "fail" }),
            human_result: None,
        }],
        spf: vec![SpfAuthResult {
            domain: "bounce.example.com".into(),
            scope: Some("mfrom".into()),
            result: ResultWord::new("pass"),
        }],
    }
}

#[test]
fn recorder_groups_identical_rows() {
    let mut r = Recorder::new(metadata(), published());
    r.record(row("192.0.2.1", true));
    r.record(row("192.0.2.1", true));
    r.record(row("2001:db8::25", true));
    r.record(row("192.0.2.1", false));
    r.record_many(row("192.0.2.1", true), 3);
    assert_eq!(r.message_count(), 7);
    let report = r.finish();
    assert_eq!(report.records.len(), 3);
    assert_eq!(report.records[0].row.count, 5);
    assert_eq!(report.records[1].row.count, 1);
    assert_eq!(
        report.records[2].row.policy_evaluated.dkim,
        AlignedResult::Fail
    );
    assert_eq!(
        report.records[2].row.policy_evaluated.disposition,
        Policy::Reject
    );
}

#[test]
fn write_then_parse_round_trips() {
    let mut r = Recorder::new(metadata(), published());
    r.record(row("192.0.2.1", true));
    let mut sampled = row("198.51.100.7", false);
    sampled.disposition = Policy::Quarantine;
    sampled.reasons = vec![OverrideReason {
        kind: OverrideType::SampledOut,
        comment: Some("pct=50 \"sampling\"".into()),
    }];
    sampled.envelope_to = Some("receiver.example".into());
    sampled.dkim.push(DkimAuthResult {
        domain: "esp.example".into(),
        selector: None,
        result: ResultWord::new("pass"),
        human_result: Some("good <sig>".into()),
    });
    r.record(sampled);
    let report = r.finish();
    let xml = report.to_xml();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>"));
    assert!(xml.contains("<org_name>Postel &amp; Co &lt;receiver&gt;</org_name>"));
    assert!(xml.contains("<source_ip>198.51.100.7</source_ip>"));
    let back = AggregateReport::from_xml(&xml).unwrap();
    assert_eq!(back, report);
}

/// In the shape Google sends: no version, `np` in policy_published, DKIM
/// selector after the result, SPF without scope on older reports.
const GOOGLE_STYLE: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>11742830956371045012</report_id>
    <date_range>
      <begin>1764201600</begin>
      <end>1764287999</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.org</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <sp>quarantine</sp>
    <pct>100</pct>
    <np>reject</np>
  </policy_published>
  <record>
    <row>
      <source_ip>209.85.220.41</source_ip>
      <count>12</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <result>pass</result>
        <selector>20230601</selector>
      </dkim>
      <spf>
        <domain>example.org</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>2a01:4f8:c17:1::1</source_ip>
      <count>1</count>
      <policy_evaluated>
        <disposition>quarantine</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <spf>
        <domain>spammer.example</domain>
        <result>softfail</result>
      </spf>
    </auth_results>
  </record>
</feedback>
"#;

#[test]
fn parses_google_style_report() {
    let r = AggregateReport::from_xml(GOOGLE_STYLE).unwrap();
    assert_eq!(r.version, None);
    assert_eq!(r.metadata.org_name, "google.com");
    assert_eq!(r.metadata.report_id, "11742830956371045012");
    assert_eq!((r.metadata.begin, r.metadata.end), (1764201600, 1764287999));
    assert_eq!(r.policy_published.p, Policy::Quarantine);
    assert_eq!(r.policy_published.np, Some(Policy::Reject));
    assert_eq!(r.records.len(), 2);
    assert_eq!(r.records[0].row.count, 12);
    assert_eq!(r.records[0].dkim[0].selector.as_deref(), Some("20230601"));
    assert_eq!(r.records[1].row.source_ip.to_string(), "2a01:4f8:c17:1::1");
    assert_eq!(r.records[1].spf[0].result, ResultWord::new("softfail"));
    assert!(r.records[1].dkim.is_empty());
    assert_eq!(
        r.records[1].row.policy_evaluated.disposition,
        Policy::Quarantine
    );
}

/// In the shape Yahoo sends: a version, `fo` in policy_published,
/// envelope_from present and sometimes empty, scope on SPF, a reason.
const YAHOO_STYLE: &str = r#"<?xml version="1.0"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>Yahoo</org_name>
    <email>dmarchelp@yahooinc.com</email>
    <report_id>1764300000.452317</report_id>
    <date_range><begin>1764201600</begin><end>1764287999</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>example.net</domain>
    <adkim>s</adkim>
    <aspf>r</aspf>
    <p>reject</p>
    <pct>50</pct>
    <fo>1</fo>
  </policy_published>
  <record>
    <row>
      <source_ip>198.51.100.23</source_ip>
      <count>3</count>
      <policy_evaluated>
        <disposition>quarantine</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
        <reason><type>sampled_out</type><comment></comment></reason>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_from></envelope_from>
      <header_from>example.net</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>mailer.example</domain>
        <selector>k1</selector>
        <result>neutral</result>
      </dkim>
      <spf>
        <domain>helo.mailer.example</domain>
        <scope>helo</scope>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
</feedback>"#;

#[test]
fn parses_yahoo_style_report() {
    let r = AggregateReport::from_xml(YAHOO_STYLE).unwrap();
    assert_eq!(r.version.as_deref(), Some("1.0"));
    assert_eq!(r.metadata.extra_contact_info, None);
    assert_eq!(r.policy_published.adkim, Some(Alignment::Strict));
    assert_eq!(r.policy_published.pct, Some(50));
    assert_eq!(r.policy_published.fo.as_deref(), Some("1"));
    let rec = &r.records[0];
    assert_eq!(rec.identifiers.envelope_from, None);
    assert_eq!(
        rec.row.policy_evaluated.reasons[0].kind,
        OverrideType::SampledOut
    );
    assert_eq!(rec.row.policy_evaluated.reasons[0].comment, None);
    assert_eq!(rec.spf[0].scope.as_deref(), Some("helo"));
    assert_eq!(rec.dkim[0].result.0, "neutral");
}

#[test]
fn namespaced_report_reads() {
    let xml = GOOGLE_STYLE.replace(
        "<feedback>",
        "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">",
    );
    assert!(AggregateReport::from_xml(&xml).is_ok());
}

#[test]
fn parse_errors() {
    assert!(matches!(
        AggregateReport::from_xml("<other/>"),
        Err(ReportParseError::NotFeedback(_))
    ));
    assert!(matches!(
        AggregateReport::from_xml("<feedback><report_metadata>"),
        Err(ReportParseError::Xml(_))
    ));
    assert!(matches!(
        AggregateReport::from_xml("<feedback></feedback>"),
        Err(ReportParseError::Missing("report_metadata"))
    ));
    let bad_ip = GOOGLE_STYLE.replace("209.85.220.41", "not-an-ip");
    assert!(matches!(
        AggregateReport::from_xml(&bad_ip),
        Err(ReportParseError::BadValue {
            element: "source_ip",
            ..
        })
    ));
    let deep = format!(
        "<feedback>{}{}</feedback>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    assert!(matches!(
        AggregateReport::from_xml(&deep),
        Err(ReportParseError::TooDeep)
    ));
    let entity = GOOGLE_STYLE.replace("google.com</org_name>", "&xxe;</org_name>");
    assert!(matches!(
        AggregateReport::from_xml(&entity),
        Err(ReportParseError::Xml(_))
    ));
}

#[test]
fn character_references() {
    let xml = GOOGLE_STYLE.replace(">google.com<", ">goo&#103;le &amp; co&#x21;<");
    let r = AggregateReport::from_xml(&xml).unwrap();
    assert_eq!(r.metadata.org_name, "google & co!");
}

#[test]
fn rows_from_dmarc_outputs() {
    use postel_auth::dmarc::{
        AuthenticatedIdentifier, DmarcCheck, DmarcConfig, DmarcInput, DmarcRecord,
    };
    use postel_auth::{Answer, Check, Progress, Record};
    let record_text = "v=DMARC1; p=reject; pct=50; fo=1";
    let run = |sample: u8| {
        let mut c = DmarcCheck::new(
            DmarcConfig::default(),
            DmarcInput {
                from_domain: "example.com".into(),
                spf: Some(AuthenticatedIdentifier::fail("example.com")),
                dkim: vec![],
            },
            move || sample,
        );
        loop {
            match c.progress(std::time::Instant::now()) {
                Progress::Done(out) => return out,
                Progress::NeedAnswers(qs) => {
                    for q in qs {
                        c.answer(&q, Answer::Records(vec![Record::Txt(record_text.into())]));
                    }
                }
            }
        }
    };
    let rec = DmarcRecord::parse(record_text).unwrap();
    let mut recorder = Recorder::new(
        metadata(),
        PolicyPublished::from_record("example.com", &rec),
    );
    let ip = "192.0.2.9".parse().unwrap();
    recorder.record(MessageRow::from_output(&run(10), ip));
    recorder.record(MessageRow::from_output(&run(90), ip));
    recorder.record(MessageRow::from_output(&run(20), ip));
    let report = recorder.finish();
    assert_eq!(report.policy_published.pct, Some(50));
    assert_eq!(report.policy_published.fo.as_deref(), Some("1"));
    assert_eq!(report.records.len(), 2);
    assert_eq!(report.records[0].row.count, 2);
    assert_eq!(
        report.records[0].row.policy_evaluated.disposition,
        Policy::Reject
    );
    let sampled = &report.records[1].row.policy_evaluated;
    assert_eq!(sampled.disposition, Policy::Quarantine);
    assert_eq!(sampled.reasons[0].kind, OverrideType::SampledOut);
    assert_eq!(AggregateReport::from_xml(&report.to_xml()).unwrap(), report);
}
