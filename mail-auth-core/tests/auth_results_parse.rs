//! Authentication-Results (RFC 8601): builder output, parsing, the
//! RFC 8601 Appendix B examples as vectors, and round trips.

use postel_auth::auth_results::{AuthResultsError, AuthenticationResults, MethodResult};

fn typical() -> AuthenticationResults {
    AuthenticationResults::new("mx.example.org")
        .with(MethodResult::new("spf", "pass").with_property("smtp", "mailfrom", "example.com"))
        .with(
            MethodResult::new("dkim", "pass")
                .with_property("header", "d", "example.com")
                .with_property("header", "s", "sel")
                .with_property("header", "b", "AbCdEfGh"),
        )
        .with(
            MethodResult::new("dmarc", "pass")
                .with_comment("p=reject dis=none")
                .with_property("header", "from", "example.com"),
        )
        .with(MethodResult::new("arc", "none"))
        .with(MethodResult::new("iprev", "pass").with_property_comment(
            "policy",
            "iprev",
            "192.0.2.1",
            "mail.example.com",
        ))
}

#[test]
fn builder_writes_what_receivers_write() {
    assert_eq!(
        typical().to_value(),
        "mx.example.org; spf=pass smtp.mailfrom=example.com; \
         dkim=pass header.d=example.com header.s=sel header.b=AbCdEfGh; \
         dmarc=pass (p=reject dis=none) header.from=example.com; arc=none; \
         iprev=pass policy.iprev=192.0.2.1 (mail.example.com)"
    );
}

#[test]
fn builder_quotes_reason_and_non_token_values() {
    let ar = AuthenticationResults::new("mx.example.org").with(
        MethodResult::new("dkim", "fail")
            .with_reason("signature did not verify")
            .with_property("header", "i", "@example.com")
            .with_property("header", "b", "a+b/c=")
            .with_property("smtp", "mailfrom", "user@example.com"),
    );
    assert_eq!(
        ar.to_value(),
        "mx.example.org; dkim=fail reason=\"signature did not verify\" \
         header.i=@example.com header.b=\"a+b/c=\" smtp.mailfrom=user@example.com"
    );
}

#[test]
fn builder_none_and_version() {
    let mut ar = AuthenticationResults::new("example.org");
    ar.version = Some(1);
    assert_eq!(ar.to_value(), "example.org 1; none");
}

#[test]
fn folded_header_field() {
    let field = typical().to_header_field();
    assert!(field.starts_with("Authentication-Results: mx.example.org;\r\n\tspf=pass"));
    assert!(field.ends_with("\r\n"));
    for line in field.trim_end_matches("\r\n").split("\r\n") {
        assert!(line.len() <= 78, "long line {line:?}");
    }
    assert_eq!(AuthenticationResults::parse(&field).unwrap(), typical());
}

#[test]
fn long_results_fold_between_pieces() {
    let mut r = MethodResult::new("dkim", "pass");
    for i in 0..6 {
        r = r.with_property("header", "d", &format!("subdomain{i}.example.com"));
    }
    let ar = AuthenticationResults::new("mx.example.org").with(r);
    let field = ar.to_header_field();
    assert!(field.matches("\r\n").count() > 2);
    for line in field.trim_end_matches("\r\n").split("\r\n") {
        assert!(line.len() <= 78, "long line {line:?}");
    }
    assert_eq!(AuthenticationResults::parse(&field).unwrap(), ar);
}

#[test]
fn parses_what_it_builds() {
    let ar = typical();
    assert_eq!(AuthenticationResults::parse(&ar.to_value()).unwrap(), ar);
    let back = AuthenticationResults::parse(&ar.to_value()).unwrap();
    let dmarc = back.method("dmarc").next().unwrap();
    assert_eq!(dmarc.comment.as_deref(), Some("p=reject dis=none"));
    assert_eq!(dmarc.property("header", "from"), Some("example.com"));
    let iprev = back.method("iprev").next().unwrap();
    assert_eq!(
        iprev.properties[0].comment.as_deref(),
        Some("mail.example.com")
    );
}

// ---- RFC 8601 Appendix B examples ----

#[test]
fn rfc8601_b2_nothing_done() {
    let ar = AuthenticationResults::parse("Authentication-Results: example.org 1; none").unwrap();
    assert_eq!(ar.authserv_id, "example.org");
    assert_eq!(ar.version, Some(1));
    assert!(ar.results.is_empty());
}

#[test]
fn rfc8601_b3_spf() {
    let ar = AuthenticationResults::parse(
        "Authentication-Results: example.com;\r\n                  spf=pass smtp.mailfrom=example.net",
    )
    .unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.results.len(), 1);
    assert_eq!(ar.results[0].method, "spf");
    assert_eq!(ar.results[0].result, "pass");
    assert_eq!(
        ar.results[0].property("smtp", "mailfrom"),
        Some("example.net")
    );
}

#[test]
fn rfc8601_b4_smtp_auth_and_iprev() {
    let ar = AuthenticationResults::parse(
        "Authentication-Results: example.com;\r\n\
         \x20                 auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n\
         \x20                 spf=pass smtp.mailfrom=example.net",
    )
    .unwrap();
    assert_eq!(ar.results.len(), 2);
    assert_eq!(ar.results[0].method, "auth");
    assert_eq!(ar.results[0].comment.as_deref(), Some("cram-md5"));
    assert_eq!(
        ar.results[0].property("smtp", "auth"),
        Some("sender@example.net")
    );
    let ar = AuthenticationResults::parse(
        "Authentication-Results: example.com;\r\n                  iprev=pass\r\n                  policy.iprev=192.0.2.200",
    )
    .unwrap();
    assert_eq!(
        ar.results[0].property("policy", "iprev"),
        Some("192.0.2.200")
    );
}

#[test]
fn rfc8601_b5_sender_id_and_dkim_comment() {
    let ar = AuthenticationResults::parse(
        "Authentication-Results: example.com;\r\n\
         \x20         sender-id=fail header.from=example.com;\r\n\
         \x20         dkim=pass (good signature) header.d=example.com",
    )
    .unwrap();
    assert_eq!(ar.results[0].method, "sender-id");
    assert_eq!(ar.results[0].result, "fail");
    assert_eq!(ar.results[1].comment.as_deref(), Some("good signature"));
    assert_eq!(ar.results[1].property("header", "d"), Some("example.com"));
}

#[test]
fn rfc8601_b6_multiple_signatures_with_header_b() {
    let ar = AuthenticationResults::parse(
        "Authentication-Results: mail-router.example.net;\r\n\
         \x20         dkim=pass (good signature) header.d=newyork.example.com\r\n\
         \x20               header.b=oINEO8hg;\r\n\
         \x20         dkim=fail (bad signature) header.d=mail-router.example.net\r\n\
         \x20               header.b=EToRSuvU",
    )
    .unwrap();
    assert_eq!(ar.results.len(), 2);
    assert_eq!(ar.results[0].property("header", "b"), Some("oINEO8hg"));
    assert_eq!(ar.results[1].result, "fail");
    assert_eq!(ar.results[1].comment.as_deref(), Some("bad signature"));
}

#[test]
fn rfc8601_b7_reason_and_header_i() {
    let ar = AuthenticationResults::parse(
        "Authentication-Results: example.com;\r\n\
         \x20     dkim=pass reason=\"good signature\"\r\n\
         \x20       header.i=@mail-router.example.net;\r\n\
         \x20     dkim=fail reason=\"bad signature\"\r\n\
         \x20       header.i=@newyork.example.com",
    )
    .unwrap();
    assert_eq!(ar.results[0].reason.as_deref(), Some("good signature"));
    assert_eq!(
        ar.results[0].property("header", "i"),
        Some("@mail-router.example.net")
    );
    assert_eq!(ar.results[1].reason.as_deref(), Some("bad signature"));
}

#[test]
fn unknown_method_and_cfws_in_every_position() {
    let ar = AuthenticationResults::parse(
        "Authentication-Results: example.com (site-wide);\r\n\
         \x20     foo=pass bar.baz=blob (2 of 3 tests OK);\r\n\
         \x20     (dkim next) dkim (method) = (result) pass (all good) header (a) . (b) d = example.org (x)",
    )
    .unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.results[0].method, "foo");
    assert_eq!(
        ar.results[0].properties[0].comment.as_deref(),
        Some("2 of 3 tests OK")
    );
    assert_eq!(ar.results[1].method, "dkim");
    assert_eq!(ar.results[1].result, "pass");
    assert_eq!(ar.results[1].comment.as_deref(), Some("all good"));
    assert_eq!(ar.results[1].property("header", "d"), Some("example.org"));
}

#[test]
fn method_version_and_quoted_authserv_id() {
    let ar =
        AuthenticationResults::parse("\"mx example\"; dkim/1=pass header.d=x.example").unwrap();
    assert_eq!(ar.authserv_id, "mx example");
    assert_eq!(ar.results[0].method_version, Some(1));
    assert_eq!(
        ar.to_value(),
        "\"mx example\"; dkim/1=pass header.d=x.example"
    );
}

#[test]
fn gmail_style_value() {
    let ar = AuthenticationResults::parse(
        "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=\"Kx/Ab+3c\";\r\n       \
         spf=pass (google.com: domain of bounce@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=bounce@example.com;\r\n       \
         dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
    )
    .unwrap();
    assert_eq!(ar.results.len(), 3);
    assert_eq!(ar.results[0].property("header", "b"), Some("Kx/Ab+3c"));
    assert_eq!(
        ar.results[1].property("smtp", "mailfrom"),
        Some("bounce@example.com")
    );
    assert_eq!(
        ar.results[2].comment.as_deref(),
        Some("p=REJECT sp=REJECT dis=NONE")
    );
}

#[test]
fn errors() {
    assert_eq!(
        AuthenticationResults::parse(""),
        Err(AuthResultsError::MissingAuthservId)
    );
    assert_eq!(
        AuthenticationResults::parse("; spf=pass"),
        Err(AuthResultsError::MissingAuthservId)
    );
    assert!(matches!(
        AuthenticationResults::parse("x; spf=pass (open"),
        Err(AuthResultsError::UnterminatedComment(_))
    ));
    assert!(matches!(
        AuthenticationResults::parse("x; spf=pass reason=\"open"),
        Err(AuthResultsError::UnterminatedQuote(_))
    ));
    assert!(matches!(
        AuthenticationResults::parse("x; spf pass"),
        Err(AuthResultsError::Expected { .. })
    ));
    assert!(matches!(
        AuthenticationResults::parse("x; spf=pass smtp=x"),
        Err(AuthResultsError::Expected { .. })
    ));
    assert!(matches!(
        AuthenticationResults::parse("x spf=pass"),
        Err(AuthResultsError::Expected { .. })
    ));
}
