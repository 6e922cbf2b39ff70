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
//
// Each vector is the Authentication-Results field of an RFC 8601 Appendix B
// example, as printed there (without the RFC's page indentation), lines
// joined with CRLF. B.1 has no Authentication-Results field.

/// RFC 8601 Appendix B.2, "Nearly Trivial Case; Service Provided, but No
/// Authentication Done".
const B2: &str = "Authentication-Results: example.org 1; none";

/// RFC 8601 Appendix B.3, "Service Provided, Authentication Done".
const B3: &str = "Authentication-Results: example.com;\r\n\
                  \x20         spf=pass smtp.mailfrom=example.net";

/// RFC 8601 Appendix B.4, "Service Provided, Several Authentications Done,
/// Single MTA": the first of its two fields.
const B4_AUTH_SPF: &str = "Authentication-Results: example.com;\r\n\
                           \x20         auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n\
                           \x20         spf=pass smtp.mailfrom=example.net";

/// RFC 8601 Appendix B.4: the second field.
const B4_IPREV: &str = "Authentication-Results: example.com; iprev=pass\r\n\
                        \x20         policy.iprev=192.0.2.200";

/// RFC 8601 Appendix B.5, "Service Provided, Several Authentications Done,
/// Different MTAs": the field added by the second MTA (topmost).
const B5_DKIM: &str = "Authentication-Results: example.com;\r\n\
                       \x20         dkim=pass (good signature) header.d=example.com";

/// RFC 8601 Appendix B.5: the field added by the first MTA.
const B5_AUTH_SPF: &str = "Authentication-Results: example.com;\r\n\
                           \x20         auth=pass (cram-md5) smtp.auth=sender@example.com;\r\n\
                           \x20         spf=fail smtp.mailfrom=example.com";

/// RFC 8601 Appendix B.6, "Service Provided, Multi-Tiered Authentication
/// Done": the field added at example.com (topmost).
const B6_TOP: &str = "Authentication-Results: example.com;\r\n\
                      \x20     dkim=pass reason=\"good signature\"\r\n\
                      \x20       header.i=@mail-router.example.net;\r\n\
                      \x20     dkim=fail reason=\"bad signature\"\r\n\
                      \x20       header.i=@newyork.example.com";

/// RFC 8601 Appendix B.6: the field added at example.net.
const B6_LOWER: &str = "Authentication-Results: example.net;\r\n\
                        \x20     dkim=pass (good signature) header.i=@newyork.example.com";

/// RFC 8601 Appendix B.7, "Comment-Heavy Example".
const B7: &str = "Authentication-Results: foo.example.net (foobar) 1 (baz);\r\n\
                  \x20   dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n\
                  \x20     policy (A dot can go here) . (like that) expired\r\n\
                  \x20     (this surprised me) = (as I wasn't expecting it) 1362471462";

#[test]
fn rfc8601_b2_service_provided_no_authentication_done() {
    let ar = AuthenticationResults::parse(B2).unwrap();
    assert_eq!(ar.authserv_id, "example.org");
    assert_eq!(ar.version, Some(1));
    assert!(ar.results.is_empty());
}

#[test]
fn rfc8601_b3_spf() {
    let ar = AuthenticationResults::parse(B3).unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.version, None);
    assert_eq!(ar.results.len(), 1);
    assert_eq!(ar.results[0].method, "spf");
    assert_eq!(ar.results[0].result, "pass");
    assert_eq!(
        ar.results[0].property("smtp", "mailfrom"),
        Some("example.net")
    );
}

#[test]
fn rfc8601_b4_smtp_auth_spf_and_iprev() {
    let ar = AuthenticationResults::parse(B4_AUTH_SPF).unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.results.len(), 2);
    assert_eq!(ar.results[0].method, "auth");
    assert_eq!(ar.results[0].result, "pass");
    assert_eq!(ar.results[0].comment.as_deref(), Some("cram-md5"));
    assert_eq!(
        ar.results[0].property("smtp", "auth"),
        Some("sender@example.net")
    );
    assert_eq!(ar.results[1].method, "spf");
    assert_eq!(ar.results[1].result, "pass");
    assert_eq!(
        ar.results[1].property("smtp", "mailfrom"),
        Some("example.net")
    );

    let ar = AuthenticationResults::parse(B4_IPREV).unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.results.len(), 1);
    assert_eq!(ar.results[0].method, "iprev");
    assert_eq!(ar.results[0].result, "pass");
    assert_eq!(
        ar.results[0].property("policy", "iprev"),
        Some("192.0.2.200")
    );
}

#[test]
fn rfc8601_b5_different_mtas() {
    let ar = AuthenticationResults::parse(B5_DKIM).unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.results.len(), 1);
    assert_eq!(ar.results[0].method, "dkim");
    assert_eq!(ar.results[0].result, "pass");
    assert_eq!(ar.results[0].comment.as_deref(), Some("good signature"));
    assert_eq!(ar.results[0].property("header", "d"), Some("example.com"));

    let ar = AuthenticationResults::parse(B5_AUTH_SPF).unwrap();
    assert_eq!(ar.results.len(), 2);
    assert_eq!(ar.results[0].method, "auth");
    assert_eq!(
        ar.results[0].property("smtp", "auth"),
        Some("sender@example.com")
    );
    assert_eq!(ar.results[1].method, "spf");
    assert_eq!(ar.results[1].result, "fail");
    assert_eq!(
        ar.results[1].property("smtp", "mailfrom"),
        Some("example.com")
    );
}

#[test]
fn rfc8601_b6_multi_tiered_reason_and_header_i() {
    let ar = AuthenticationResults::parse(B6_TOP).unwrap();
    assert_eq!(ar.authserv_id, "example.com");
    assert_eq!(ar.results.len(), 2);
    assert_eq!(ar.results[0].method, "dkim");
    assert_eq!(ar.results[0].result, "pass");
    assert_eq!(ar.results[0].reason.as_deref(), Some("good signature"));
    assert_eq!(
        ar.results[0].property("header", "i"),
        Some("@mail-router.example.net")
    );
    assert_eq!(ar.results[1].result, "fail");
    assert_eq!(ar.results[1].reason.as_deref(), Some("bad signature"));
    assert_eq!(
        ar.results[1].property("header", "i"),
        Some("@newyork.example.com")
    );

    let ar = AuthenticationResults::parse(B6_LOWER).unwrap();
    assert_eq!(ar.authserv_id, "example.net");
    assert_eq!(ar.results.len(), 1);
    assert_eq!(ar.results[0].result, "pass");
    assert_eq!(ar.results[0].comment.as_deref(), Some("good signature"));
    assert_eq!(
        ar.results[0].property("header", "i"),
        Some("@newyork.example.com")
    );
}

#[test]
fn rfc8601_b7_comment_heavy() {
    let ar = AuthenticationResults::parse(B7).unwrap();
    assert_eq!(ar.authserv_id, "foo.example.net");
    assert_eq!(ar.version, Some(1));
    assert_eq!(ar.results.len(), 1);
    let r = &ar.results[0];
    assert_eq!(r.method, "dkim");
    assert_eq!(r.method_version, Some(1));
    assert_eq!(r.result, "fail");
    assert_eq!(r.reason, None);
    assert_eq!(r.properties.len(), 1);
    assert_eq!(r.property("policy", "expired"), Some("1362471462"));
}

#[test]
fn rfc8601_appendix_b_vectors_round_trip() {
    for v in [
        B2,
        B3,
        B4_AUTH_SPF,
        B4_IPREV,
        B5_DKIM,
        B5_AUTH_SPF,
        B6_TOP,
        B6_LOWER,
        B7,
    ] {
        let ar = AuthenticationResults::parse(v).unwrap();
        assert_eq!(
            AuthenticationResults::parse(&ar.to_value()).unwrap(),
            ar,
            "{v:?}"
        );
    }
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

/// Found by the authentication_results fuzz target: a backslash before a
/// CR or LF inside a comment or quoted string kept the line end in the
/// parsed text, which the writer turns into a space, so parsing what was
/// written gave a different value. Escaped line ends are folding too.
#[test]
fn escaped_line_ends_round_trip() {
    let text = "mx.example.org 1; spf=pass (a\\\rb) smtp.mailfrom=\"c\\\nd\" (e\\\r\nf)";
    let ar = AuthenticationResults::parse(text).unwrap();
    let again = AuthenticationResults::parse(&ar.to_value()).unwrap();
    assert_eq!(again, ar);
    assert_eq!(ar.results[0].comment.as_deref(), Some("ab"));
}
