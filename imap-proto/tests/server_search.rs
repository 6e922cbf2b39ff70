//! SEARCH evaluation: every key kind, nesting, `*`, `$`, charsets.

use bytes::Bytes;
use postel_imap::server::message::{MessageView, unix_time};
use postel_imap::server::search::{
    BadCharset, Candidate, SearchEnv, check_charset, matches, needs_message,
};
use postel_imap::*;

fn keys(text: &str) -> Vec<SearchKey> {
    let cmd = Command::parse(format!("a SEARCH {text}\r\n").as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    let CommandBody::Search { program, .. } = cmd.body else {
        panic!()
    };
    program.criteria
}

fn dt(y: u16, m: u8, d: u8, h: u8, min: u8, zone: i16) -> DateTime {
    DateTime::new(Date::new(y, m, d).unwrap(), h, min, 0, zone).unwrap()
}

const RAW: &str = "Date: Mon, 1 Jan 2024 23:30:00 -0500\r\n\
From: \"Alice Example\" <alice@example.com>\r\n\
To: bob@example.org\r\n\
Cc: =?UTF-8?Q?Caf=C3=A9?= <cafe@example.net>\r\n\
Bcc: secret@example.com\r\n\
Subject: =?UTF-8?Q?R=C3=A9sum=C3=A9?= for\r\n review\r\n\
X-Tag: blue\r\n\
X-Empty:\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Hello W=C3=B6rld, please=\r\n review.\r\n";

struct Fixture {
    view: MessageView,
    flags: Vec<Flag>,
    env: SearchEnv,
}

impl Fixture {
    fn new() -> Self {
        let internal = dt(2024, 1, 2, 5, 0, 60);
        Fixture {
            view: MessageView::new(Bytes::from_static(RAW.as_bytes())),
            flags: vec![Flag::Seen, Flag::Keyword("$Important".into())],
            env: SearchEnv {
                max_seq: 5,
                max_uid: 50,
                now_unix: unix_time(&internal) + 3600,
                saved: Some(SequenceSet::parse(b"30,40").unwrap()),
            },
        }
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            seq: 3,
            uid: 30,
            flags: &self.flags,
            recent: false,
            modseq: 100,
            internal_date: dt(2024, 1, 2, 5, 0, 60),
            size: 500,
            message: Some(&self.view),
        }
    }

    fn check(&self, text: &str) -> bool {
        matches(&keys(text), &self.candidate(), &self.env)
    }
}

#[test]
fn flags_and_keywords() {
    let f = Fixture::new();
    for (text, want) in [
        ("ALL", true),
        ("SEEN", true),
        ("UNSEEN", false),
        ("ANSWERED", false),
        ("UNANSWERED", true),
        ("DELETED", false),
        ("UNDELETED", true),
        ("DRAFT", false),
        ("UNDRAFT", true),
        ("FLAGGED", false),
        ("UNFLAGGED", true),
        ("KEYWORD $important", true),
        ("KEYWORD $Junk", false),
        ("UNKEYWORD $Junk", true),
        ("UNKEYWORD $IMPORTANT", false),
        ("RECENT", false),
        ("OLD", true),
        ("NEW", false),
    ] {
        assert_eq!(f.check(text), want, "{text}");
    }
    let mut recent = f.candidate();
    recent.recent = true;
    let flags = [Flag::Answered];
    recent.flags = &flags;
    for (text, want) in [
        ("RECENT", true),
        ("NEW", true),
        ("OLD", false),
        ("ANSWERED", true),
    ] {
        assert_eq!(matches(&keys(text), &recent, &f.env), want, "{text}");
    }
}

#[test]
fn numbers_sets_and_dates() {
    let f = Fixture::new();
    for (text, want) in [
        ("LARGER 499", true),
        ("LARGER 500", false),
        ("SMALLER 501", true),
        ("SMALLER 500", false),
        ("3", true),
        ("1,2", false),
        ("2:4", true),
        ("4:2", true),
        ("*", false),
        ("3:*", true),
        ("UID 30", true),
        ("UID 1:29,31:*", false),
        ("UID 30:*", true),
        ("UID *", false),
        ("$", true),
        ("UID $", true),
        ("MODSEQ 100", true),
        ("MODSEQ 101", false),
        ("MODSEQ \"/flags/\\\\Seen\" all 50", true),
        // INTERNALDATE is 2-Jan-2024 05:00 +0100: its own date counts.
        ("ON 2-Jan-2024", true),
        ("ON 1-Jan-2024", false),
        ("BEFORE 2-Jan-2024", false),
        ("BEFORE 3-Jan-2024", true),
        ("SINCE 2-Jan-2024", true),
        ("SINCE 3-Jan-2024", false),
        // Date: is 1-Jan-2024 23:30 -0500 (2 Jan in UTC): the header's own date.
        ("SENTON 1-Jan-2024", true),
        ("SENTON 2-Jan-2024", false),
        ("SENTBEFORE 2-Jan-2024", true),
        ("SENTBEFORE 1-Jan-2024", false),
        ("SENTSINCE 1-Jan-2024", true),
        ("SENTSINCE 2-Jan-2024", false),
        // An hour old.
        ("OLDER 3600", true),
        ("OLDER 3601", false),
        ("YOUNGER 3601", true),
        ("YOUNGER 3600", true),
        ("YOUNGER 3599", false),
    ] {
        assert_eq!(f.check(text), want, "{text}");
    }
    // `*` is the largest number in use.
    let mut last = f.candidate();
    last.seq = 5;
    last.uid = 50;
    for (text, want) in [("*", true), ("UID *", true), ("4:*", true), ("$", false)] {
        assert_eq!(matches(&keys(text), &last, &f.env), want, "{text}");
    }
    // Nothing saved: `$` matches nothing.
    let env = SearchEnv {
        saved: None,
        ..f.env.clone()
    };
    assert!(!matches(&keys("$"), &f.candidate(), &env));
}

#[test]
fn header_and_text_keys() {
    let f = Fixture::new();
    for (text, want) in [
        ("FROM alice", true),
        ("FROM \"ALICE EXAMPLE\"", true),
        ("FROM bob", false),
        ("TO bob@EXAMPLE.org", true),
        ("CC \"café\"", true),
        ("CC \"CAFÉ\"", true),
        ("CC cafe@example.net", true),
        ("BCC secret", true),
        ("SUBJECT \"résumé\"", true),
        ("SUBJECT \"for review\"", true),
        ("SUBJECT \"=?UTF-8\"", false),
        ("HEADER X-Tag BLUE", true),
        ("HEADER x-tag green", false),
        ("HEADER X-Empty \"\"", true),
        ("HEADER X-Missing \"\"", false),
        ("HEADER subject \"\"", true),
        ("BODY \"wörld\"", true),
        ("BODY \"please review\"", true),
        ("BODY alice", false),
        ("BODY \"\"", true),
        ("TEXT alice", true),
        ("TEXT \"WÖRLD\"", true),
        ("TEXT nowhere", false),
    ] {
        assert_eq!(f.check(text), want, "{text}");
    }
    // Without the message loaded, message keys never match.
    let mut bare = f.candidate();
    bare.message = None;
    assert!(!matches(&keys("FROM alice"), &bare, &f.env));
    assert!(matches(&keys("SEEN"), &bare, &f.env));
}

#[test]
fn boolean_structure() {
    let f = Fixture::new();
    for (text, want) in [
        ("SEEN FLAGGED", false),
        ("SEEN UNFLAGGED", true),
        ("OR FLAGGED SEEN", true),
        ("OR FLAGGED DRAFT", false),
        ("NOT FLAGGED", true),
        ("NOT NOT SEEN", true),
        ("NOT (SEEN UNFLAGGED)", false),
        ("(SEEN (LARGER 10 SMALLER 1000))", true),
        ("OR (FLAGGED SEEN) (NOT DELETED FROM alice)", true),
        ("OR (FLAGGED SEEN) (NOT DELETED FROM bob)", false),
        ("NOT OR DELETED OR DRAFT KEYWORD $Important", false),
        ("OR NOT 1:2 UID 1", true),
        ("OR 1:2 NOT UID 30:*", false),
        ("NOT *", true),
    ] {
        assert_eq!(f.check(text), want, "{text}");
    }
}

#[test]
fn needs_message_only_for_content_keys() {
    for (text, want) in [
        ("SEEN LARGER 4 UID 1:* ON 1-Jan-2020", false),
        ("OR SEEN NOT (DRAFT BEFORE 1-Jan-2020)", false),
        ("OR SEEN NOT (DRAFT SUBJECT x)", true),
        ("SENTON 1-Jan-2020", true),
        ("HEADER x y", true),
        ("NOT BODY x", true),
        ("TEXT x", true),
        ("OR FROM a TO b", true),
        ("CC a", true),
        ("BCC a", true),
    ] {
        assert_eq!(needs_message(&keys(text)), want, "{text}");
    }
}

#[test]
fn charsets() {
    assert_eq!(check_charset(None), Ok(()));
    assert_eq!(check_charset(Some("us-ascii")), Ok(()));
    assert_eq!(check_charset(Some("UTF-8")), Ok(()));
    assert_eq!(check_charset(Some("utf-8")), Ok(()));
    assert_eq!(
        check_charset(Some("ISO-8859-1")),
        Err(BadCharset("ISO-8859-1".into()))
    );
}
