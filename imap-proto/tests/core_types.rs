//! Sequence sets, flags, mailbox names (modified UTF-7, UTF-8), dates.

use postel_imap::*;

#[test]
fn sequence_sets() {
    let s = SequenceSet::parse(b"1:4,7,9:*,*").unwrap();
    assert_eq!(s.to_string(), "1:4,7,9:*,*");
    assert!(s.contains(3, 20) && s.contains(7, 20) && s.contains(20, 20) && !s.contains(8, 20));
    assert_eq!(SequenceSet::parse(b"$").unwrap(), SequenceSet::Saved);
    let rev = SequenceSet::parse(b"4:2,*:5").unwrap();
    assert_eq!(rev.to_string(), "4:2,*:5", "not normalized unless asked");
    assert_eq!(rev.normalized().to_string(), "2:4,5:*");
    assert!(rev.contains(3, 10));
    for bad in [
        &b"0"[..],
        b"1:0",
        b"",
        b"1,",
        b"1::2",
        b"$,1",
        b"4294967296",
        b"1 ",
    ] {
        assert!(SequenceSet::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn flags() {
    assert_eq!(Flag::parse("\\SEEN").unwrap(), Flag::Seen);
    assert_eq!(Flag::parse("\\seen").unwrap().to_string(), "\\Seen");
    assert_eq!(Flag::parse("\\Recent").unwrap(), Flag::Recent);
    assert_eq!(Flag::parse("\\Foo").unwrap(), Flag::Extension("Foo".into()));
    assert_eq!(
        Flag::parse("$Forwarded").unwrap(),
        Flag::Keyword("$Forwarded".into())
    );
    assert!(
        Flag::parse("\\").is_err() && Flag::parse("a b").is_err() && Flag::parse("(x").is_err()
    );
    assert_eq!(
        PermanentFlag::parse("\\*").unwrap(),
        PermanentFlag::Wildcard
    );
    assert_eq!(
        PermanentFlag::parse("\\Deleted").unwrap(),
        PermanentFlag::Flag(Flag::Deleted)
    );
    assert_eq!(PermanentFlag::Wildcard.to_string(), "\\*");
    assert_eq!(Flag::keyword("x y"), None);
}

#[test]
fn modified_utf7_rfc_examples() {
    // RFC 3501 §5.1.3.
    assert_eq!(
        utf7::encode("~peter/mail/台北/日本語"),
        "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    );
    assert_eq!(
        utf7::decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(),
        "~peter/mail/台北/日本語"
    );
    assert_eq!(utf7::decode(b"&U,BTF2XlZyyKng-").unwrap(), "台北日本語");
    assert_eq!(utf7::decode(b"&Jjo-!").unwrap(), "☺!");
    assert_eq!(utf7::encode("Tom & Jerry"), "Tom &- Jerry");
    assert_eq!(utf7::decode(b"Tom &- Jerry").unwrap(), "Tom & Jerry");
    assert_eq!(utf7::encode("Entwürfe"), "Entw&APw-rfe");
    assert_eq!(utf7::encode("😀"), "&2D3eAA-");
    assert_eq!(utf7::decode(b"&2D3eAA-").unwrap(), "😀");
}

#[test]
fn modified_utf7_rejects_bad_forms() {
    for bad in [
        &b"&Jjo!"[..],         // RFC 3501 example of a bad name
        b"&U,BTFw-&ZeVnLIqe-", // RFC 3501: superfluous shift
        b"&AGE-",              // 'a' shifted
        b"&U,A-&U,A-",         // adjacent runs
        b"&U,A",               // unterminated
        b"&2D0-",              // lone surrogate
        b"&AG-",               // leftover bits
        b"a\x80",              // 8-bit
        b"tab\there",
    ] {
        assert!(
            utf7::decode(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn mailbox_names() {
    assert!(Mailbox::from_wire("inbox").is_inbox());
    assert_eq!(Mailbox::from_wire("InBoX"), Mailbox::inbox());
    assert_ne!(
        Mailbox::from_wire("INBOX/Sub"),
        Mailbox::from_wire("inbox/Sub")
    );
    let m = Mailbox::from_name("Entwürfe", NameEncoding::Utf7).unwrap();
    assert_eq!(m.as_wire(), b"Entw&APw-rfe");
    assert_eq!(m.name(NameEncoding::Utf7).unwrap(), "Entwürfe");
    let u = Mailbox::from_name("Entwürfe", NameEncoding::Utf8).unwrap();
    assert_eq!(u.as_wire(), "Entwürfe".as_bytes());
    assert_eq!(u.name(NameEncoding::Utf8).unwrap(), "Entwürfe");
    assert_eq!(
        Mailbox::from_name("a\u{7}b", NameEncoding::Utf8),
        Err(MailboxNameError::ControlCharacter)
    );
    assert_eq!(
        Mailbox::from_wire(vec![0xff]).name(NameEncoding::Utf8),
        Err(MailboxNameError::NotUtf8)
    );
    assert!(u.name(NameEncoding::Utf7).is_err());
}

#[test]
fn dates() {
    assert!(Date::new(2000, 2, 29).is_some());
    assert!(Date::new(1900, 2, 29).is_none());
    assert!(Date::new(2001, 4, 31).is_none());
    assert!(Date::new(2001, 13, 1).is_none());
    let d = Date::new(1994, 2, 1).unwrap();
    assert_eq!(d.to_string(), "1-Feb-1994");
    let dt = DateTime::new(d, 9, 5, 0, -90).unwrap();
    assert_eq!(dt.to_string(), "01-Feb-1994 09:05:00 -0130");
    assert!(DateTime::new(d, 24, 0, 0, 0).is_none());
}

#[test]
fn tags() {
    assert!(Tag::new("A001").is_some());
    assert!(Tag::new("a+b").is_none());
    assert!(Tag::new("").is_none());
    assert!(Tag::new("a b").is_none());
    assert!(Tag::new("*").is_none());
}
