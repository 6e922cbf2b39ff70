//! The RFC 5322 From parser used for the DMARC author domain.

use postel_auth::dmarc::{AuthorDomain, FromError, author_domain, parse_from};

fn single(v: &str) -> String {
    match author_domain(&[v]) {
        Ok(AuthorDomain::Single(d)) => d,
        other => panic!("{v}: {other:?}"),
    }
}

#[test]
fn plain_and_angle_addresses() {
    assert_eq!(single("user@example.com"), "example.com");
    assert_eq!(single("<user@Example.COM>"), "example.com");
    assert_eq!(
        single("Joe User <joe@mail.example.org.>"),
        "mail.example.org"
    );
    assert_eq!(single("  user@example.com  "), "example.com");
}

#[test]
fn display_names_quoted_and_with_specials() {
    let mbs = parse_from("\"Doe, John <boss@evil.example>\" <john@example.net>").unwrap();
    assert_eq!(mbs.len(), 1);
    assert_eq!(mbs[0].domain, "example.net");
    assert_eq!(
        mbs[0].display_name.as_deref(),
        Some("Doe, John <boss@evil.example>")
    );
    assert_eq!(single("\"a@b.example\" <x@good.example>"), "good.example");
}

#[test]
fn comments_anywhere() {
    assert_eq!(
        single("(comment) user(inner (nested)) @ (c) example.com (trailing)"),
        "example.com"
    );
    assert_eq!(
        single("Name (x@evil.example) <user@example.com>"),
        "example.com"
    );
    assert_eq!(
        single("user@example.com (Joe @ evil.example)"),
        "example.com"
    );
}

#[test]
fn quoted_local_parts() {
    let mbs = parse_from("\"john smith\"@example.com").unwrap();
    assert_eq!(mbs[0].local_part, "john smith");
    assert_eq!(mbs[0].domain, "example.com");
    let mbs = parse_from("<\"a\\\"b@c\"@example.org>").unwrap();
    assert_eq!(mbs[0].local_part, "a\"b@c");
    assert_eq!(mbs[0].domain, "example.org");
}

#[test]
fn folded_value() {
    assert_eq!(single("Joe\r\n User\r\n <joe@example.com>"), "example.com");
}

#[test]
fn groups() {
    assert_eq!(single("Team: a@example.com, b@example.com;"), "example.com");
    assert_eq!(
        author_domain(&["Team: a@one.example, \"B\" <b@two.example>;, c@three.example"]),
        Ok(AuthorDomain::Multiple(vec![
            "one.example".into(),
            "two.example".into(),
            "three.example".into()
        ]))
    );
    assert_eq!(
        author_domain(&["undisclosed-recipients:;"]),
        Err(FromError::Empty)
    );
}

#[test]
fn multiple_addresses() {
    assert_eq!(single("a@example.com, B <b@EXAMPLE.com>"), "example.com");
    assert_eq!(
        author_domain(&["a@example.com, b@example.org"]),
        Ok(AuthorDomain::Multiple(vec![
            "example.com".into(),
            "example.org".into()
        ]))
    );
}

#[test]
fn obsolete_route() {
    assert_eq!(
        single("<@relay.example,@other.example:user@example.com>"),
        "example.com"
    );
}

#[test]
fn field_count_errors() {
    assert_eq!(author_domain(&[]), Err(FromError::Missing));
    assert_eq!(
        author_domain(&["a@example.com", "b@example.com"]),
        Err(FromError::MultipleFields(2))
    );
}

#[test]
fn bad_values() {
    assert_eq!(author_domain(&[""]), Err(FromError::Empty));
    assert_eq!(
        author_domain(&["user@[192.0.2.1]"]),
        Err(FromError::DomainLiteral)
    );
    assert!(matches!(
        author_domain(&["no at sign"]),
        Err(FromError::Syntax(_))
    ));
    assert!(matches!(
        author_domain(&["<user@example.com"]),
        Err(FromError::Syntax(_))
    ));
    assert!(matches!(
        author_domain(&["(open comment user@example.com"]),
        Err(FromError::Syntax(_))
    ));
    assert!(matches!(
        author_domain(&["user@exa..mple.com"]),
        Err(FromError::InvalidDomain(_))
    ));
    assert!(matches!(
        author_domain(&["user@"]),
        Err(FromError::InvalidDomain(_))
    ));
}
