//! Command examples from RFC 9051, RFC 3501 and the extension RFCs, parsed
//! and written back.

mod common;

use common::{parse, parse_bytes};
use postel_imap::*;

fn set(s: &str) -> SequenceSet {
    SequenceSet::parse(s.as_bytes()).unwrap()
}

fn hf(names: &[&str]) -> Vec<Vec<u8>> {
    names.iter().map(|n| n.as_bytes().to_vec()).collect()
}

#[test]
fn a142_select_inbox() {
    assert_eq!(
        parse("A142 SELECT INBOX"),
        CommandBody::Select {
            mailbox: Mailbox::inbox(),
            params: SelectParams::default()
        }
    );
    // INBOX is case-insensitive.
    assert_eq!(parse("A142 SELECT inBoX"), parse("A142 SELECT INBOX"));
}

#[test]
fn a932_examine() {
    assert_eq!(
        parse("A932 EXAMINE blurdybloop"),
        CommandBody::Examine {
            mailbox: Mailbox::from_wire("blurdybloop"),
            params: SelectParams::default()
        }
    );
}

#[test]
fn a003_append_saved_messages() {
    let mut message = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\nSubject: afternoon meeting\r\n\r\n".to_vec();
    message.resize(310, b'x');
    let mut bytes = b"A003 APPEND saved-messages (\\Seen) {310}\r\n".to_vec();
    bytes.extend_from_slice(&message);
    bytes.extend_from_slice(b"\r\n");
    let body = parse_bytes(&bytes);
    assert_eq!(
        body,
        CommandBody::Append {
            mailbox: Mailbox::from_wire("saved-messages"),
            flags: vec![Flag::Seen],
            date: None,
            message: AppendMessage {
                data: message.into(),
                binary: false,
                utf8: false
            },
        }
    );
}

#[test]
fn append_with_date_time_and_utf8() {
    let body = parse_bytes(
        b"A1 APPEND INBOX (\\Seen $Junk) \" 7-Feb-1994 21:52:25 -0800\" UTF8 (~{5}\r\nhe\0lo)\r\n",
    );
    let CommandBody::Append {
        flags,
        date,
        message,
        ..
    } = body
    else {
        panic!()
    };
    assert_eq!(flags, vec![Flag::Seen, Flag::Keyword("$Junk".into())]);
    let d = date.unwrap();
    assert_eq!(
        (d.date().day(), d.date().month(), d.date().year()),
        (7, 2, 1994)
    );
    assert_eq!(d.time(), (21, 52, 25));
    assert_eq!(d.zone_minutes(), -480);
    assert!(message.utf8 && message.binary);
    assert_eq!(&message.data[..], b"he\0lo");
}

#[test]
fn a654_fetch_header_fields() {
    assert_eq!(
        parse("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])"),
        CommandBody::Fetch {
            uid: false,
            set: set("2:4"),
            items: FetchItems::Attributes(vec![
                FetchAttribute::Flags,
                FetchAttribute::BodySection {
                    peek: false,
                    section: Section {
                        part: vec![],
                        text: Some(SectionText::HeaderFields(hf(&["DATE", "FROM"])))
                    },
                    partial: None,
                },
            ]),
            modifiers: FetchModifiers::default(),
        }
    );
}

#[test]
fn uid_fetch_body_peek_header_fields() {
    let CommandBody::Fetch {
        uid, set: s, items, ..
    } = parse("A999 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])")
    else {
        panic!()
    };
    assert!(uid);
    assert_eq!(s, set("1:*"));
    let FetchItems::Attributes(atts) = items else {
        panic!()
    };
    assert_eq!(
        atts[1],
        FetchAttribute::BodySection {
            peek: true,
            section: Section {
                part: vec![],
                text: Some(SectionText::HeaderFields(hf(&["FROM", "SUBJECT"])))
            },
            partial: None,
        }
    );
}

#[test]
fn body_peek_part_header_fields_partial() {
    let CommandBody::Fetch { items, .. } =
        parse("a FETCH 1 BODY.PEEK[1.2.HEADER.FIELDS (FROM SUBJECT)]<0.2048>")
    else {
        panic!()
    };
    assert_eq!(
        items,
        FetchItems::Attributes(vec![FetchAttribute::BodySection {
            peek: true,
            section: Section {
                part: vec![1, 2],
                text: Some(SectionText::HeaderFields(hf(&["FROM", "SUBJECT"])))
            },
            partial: Some(Partial {
                offset: 0,
                length: 2048
            }),
        }])
    );
}

#[test]
fn fetch_macros_and_attributes() {
    assert!(matches!(
        parse("A1 FETCH 1 ALL"),
        CommandBody::Fetch {
            items: FetchItems::All,
            ..
        }
    ));
    assert!(matches!(
        parse("A1 FETCH 1 fast"),
        CommandBody::Fetch {
            items: FetchItems::Fast,
            ..
        }
    ));
    assert!(matches!(
        parse("A1 FETCH 1 FULL"),
        CommandBody::Fetch {
            items: FetchItems::Full,
            ..
        }
    ));
    let CommandBody::Fetch {
        items: FetchItems::Attributes(a),
        ..
    } = parse(
        "A1 FETCH 1:3 (ENVELOPE INTERNALDATE RFC822.SIZE BODY BODYSTRUCTURE UID MODSEQ BINARY.PEEK[1.2]<0.100> BINARY[] BINARY.SIZE[1] BODY[1.MIME] BODY[TEXT] BODY[] RFC822 RFC822.HEADER RFC822.TEXT BODY[HEADER.FIELDS.NOT (Received)])",
    )
    else {
        panic!()
    };
    assert_eq!(a.len(), 17);
    assert_eq!(
        a[7],
        FetchAttribute::Binary {
            peek: true,
            part: vec![1, 2],
            partial: Some(Partial {
                offset: 0,
                length: 100
            })
        }
    );
    assert_eq!(a[9], FetchAttribute::BinarySize { part: vec![1] });
    assert_eq!(
        a[10],
        FetchAttribute::BodySection {
            peek: false,
            section: Section {
                part: vec![1],
                text: Some(SectionText::Mime)
            },
            partial: None
        }
    );
    assert!(Command::parse(b"A1 FETCH 1 BODY[MIME]\r\n").is_err());
    assert!(Command::parse(b"A1 FETCH 1 ()\r\n").is_err());
    assert!(Command::parse(b"A1 FETCH 1 BODY[]<0.0>\r\n").is_err());
}

#[test]
fn uid_fetch_changedsince_vanished() {
    let CommandBody::Fetch { modifiers, .. } =
        parse("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    else {
        panic!()
    };
    assert_eq!(
        modifiers,
        FetchModifiers {
            changed_since: Some(12345),
            vanished: true
        }
    );
}

#[test]
fn a999_uid_fetch_range() {
    assert!(matches!(
        parse("A999 UID FETCH 4827313:4828442 FLAGS"),
        CommandBody::Fetch { uid: true, .. }
    ));
}

#[test]
fn a003_store_add_deleted() {
    assert_eq!(
        parse("A003 STORE 2:4 +FLAGS (\\Deleted)"),
        CommandBody::Store {
            uid: false,
            set: set("2:4"),
            unchanged_since: None,
            mode: StoreMode::Add,
            silent: false,
            flags: vec![Flag::Deleted],
        }
    );
}

#[test]
fn uid_store_unchangedsince_silent() {
    assert_eq!(
        parse("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)"),
        CommandBody::Store {
            uid: true,
            set: set("6,4,8"),
            unchanged_since: Some(12121230045),
            mode: StoreMode::Add,
            silent: true,
            flags: vec![Flag::Deleted],
        }
    );
    // Flags without parentheses.
    assert!(
        matches!(parse("a STORE 1 -FLAGS \\Seen $Junk"), CommandBody::Store { mode: StoreMode::Remove, ref flags, .. } if flags.len() == 2)
    );
    assert!(
        matches!(parse("a STORE 1 FLAGS ()"), CommandBody::Store { mode: StoreMode::Replace, ref flags, .. } if flags.is_empty())
    );
}

#[test]
fn copy_move_expunge() {
    assert_eq!(
        parse("A003 COPY 2:4 MEETING"),
        CommandBody::Copy {
            uid: false,
            set: set("2:4"),
            mailbox: Mailbox::from_wire("MEETING")
        }
    );
    assert_eq!(
        parse("a UID MOVE 42:69 foo"),
        CommandBody::Move {
            uid: true,
            set: set("42:69"),
            mailbox: Mailbox::from_wire("foo")
        }
    );
    assert_eq!(parse("A202 EXPUNGE"), CommandBody::Expunge);
    assert_eq!(
        parse("A003 UID EXPUNGE 3000:3002"),
        CommandBody::UidExpunge {
            set: set("3000:3002")
        }
    );
}

#[test]
fn a282_search_return_min_count() {
    let since = Date::new(1994, 2, 1).unwrap();
    assert_eq!(
        parse("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
        CommandBody::Search {
            uid: false,
            returns: Some(vec![SearchReturn::Min, SearchReturn::Count]),
            program: SearchProgram::new(vec![
                SearchKey::Flagged,
                SearchKey::Since(since),
                SearchKey::Not(Box::new(SearchKey::From(b"Smith".to_vec()))),
            ]),
        }
    );
    assert!(matches!(
        parse("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
        CommandBody::Search { returns: Some(ref r), .. } if r.is_empty()
    ));
    assert!(matches!(
        parse("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
        CommandBody::Search { returns: None, .. }
    ));
}

#[test]
fn a284_search_text_and_charset_literal() {
    assert_eq!(
        parse("A284 SEARCH TEXT \"string not in mailbox\""),
        CommandBody::Search {
            uid: false,
            returns: None,
            program: SearchProgram::new(vec![SearchKey::Text(b"string not in mailbox".to_vec())])
        }
    );
    let word = "живое".as_bytes();
    let mut bytes = format!("A285 SEARCH CHARSET UTF-8 TEXT {{{}}}\r\n", word.len()).into_bytes();
    bytes.extend_from_slice(word);
    bytes.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_bytes(&bytes),
        CommandBody::Search {
            uid: false,
            returns: None,
            program: SearchProgram {
                charset: Some("UTF-8".into()),
                criteria: vec![SearchKey::Text(word.to_vec())]
            },
        }
    );
}

#[test]
fn search_every_key_and_nesting() {
    let body = parse(
        "A1 UID SEARCH RETURN (MIN MAX ALL COUNT SAVE) 1:5,7 $ ALL ANSWERED BCC x BEFORE \"5-Mar-2000\" BODY y CC z DELETED DRAFT FLAGGED FROM a HEADER Message-ID \"<x@y>\" KEYWORD $Fwd LARGER 100 NEW OLD ON 29-Feb-2000 RECENT SEEN SENTBEFORE 1-Jan-2001 SENTON 1-Jan-2001 SENTSINCE 1-Jan-2001 SMALLER 5 SUBJECT s TEXT t TO u UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $Junk UNSEEN OLDER 60 YOUNGER 30 MODSEQ 5 (OR SEEN (NOT DRAFT FLAGGED) OR OR NEW OLD ALL)",
    );
    let CommandBody::Search {
        uid: true, program, ..
    } = body
    else {
        panic!()
    };
    assert_eq!(program.criteria.len(), 38);
    assert!(Command::parse(b"A1 SEARCH ()\r\n").is_err());
    assert!(matches!(
        Command::parse(b"A1 SEARCH CHARSET {5}\r\nUTF-8 ALL\r\n").unwrap().body,
        CommandBody::Search { program: SearchProgram { charset: Some(ref c), .. }, .. } if c == "UTF-8"
    ));
    assert!(Command::parse(b"A1 SEARCH ON 30-Feb-2000\r\n").is_err());
}

#[test]
fn search_modseq_entry() {
    assert_eq!(
        parse("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"),
        CommandBody::Search {
            uid: false,
            returns: None,
            program: SearchProgram::new(vec![SearchKey::ModSeq {
                entry: Some((Flag::Draft, EntryType::All)),
                modseq: 620162338
            }]),
        }
    );
}

#[test]
fn search_nesting_is_bounded() {
    let deep = format!("A1 SEARCH {}ALL\r\n", "NOT ".repeat(100));
    assert_eq!(
        Command::parse(deep.as_bytes()).unwrap_err().error,
        ParseError::TooDeep { limit: 32 }
    );
    let parens = format!("A1 SEARCH {}ALL{}\r\n", "(".repeat(50), ")".repeat(50));
    assert!(Command::parse(parens.as_bytes()).is_err());
}

#[test]
fn login_authenticate_simple_commands() {
    assert_eq!(
        parse("a001 LOGIN SMITH SESAME"),
        CommandBody::Login {
            username: b"SMITH".to_vec(),
            password: Secret::new("SESAME")
        }
    );
    assert_eq!(
        parse("A001 AUTHENTICATE GSSAPI"),
        CommandBody::Authenticate {
            mechanism: "GSSAPI".into(),
            initial_response: None
        }
    );
    assert_eq!(
        parse("a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q="),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial_response: Some(Secret::new(b"test\0test\0test".to_vec()))
        }
    );
    assert_eq!(
        parse("a AUTHENTICATE EXTERNAL ="),
        CommandBody::Authenticate {
            mechanism: "EXTERNAL".into(),
            initial_response: Some(Secret::new(Vec::new()))
        }
    );
    assert!(Command::parse(b"a AUTHENTICATE PLAIN !!!\r\n").is_err());
    assert_eq!(parse("abcd CAPABILITY"), CommandBody::Capability);
    assert_eq!(parse("a002 NOOP"), CommandBody::Noop);
    assert_eq!(parse("A023 LOGOUT"), CommandBody::Logout);
    assert_eq!(parse("a001 STARTTLS"), CommandBody::StartTls);
    assert_eq!(parse("A341 CLOSE"), CommandBody::Close);
    assert_eq!(parse("A342 UNSELECT"), CommandBody::Unselect);
    assert_eq!(parse("A001 NAMESPACE"), CommandBody::Namespace);
    assert_eq!(parse("A002 IDLE"), CommandBody::Idle);
    assert!(command::is_done(b"done\r\n"));
    assert_eq!(
        parse("t1 ENABLE CONDSTORE UTF8=ACCEPT"),
        CommandBody::Enable {
            capabilities: vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()]
        }
    );
    assert_eq!(
        parse("a COMPRESS DEFLATE"),
        CommandBody::Compress {
            algorithm: "DEFLATE".into()
        }
    );
    assert_eq!(format!("{:?}", Secret::new("x")), "Secret(<redacted>)");
}

#[test]
fn sasl_continuation_lines() {
    assert_eq!(command::parse_sasl_response(b"*\r\n").unwrap(), None);
    assert_eq!(
        command::parse_sasl_response(b"\r\n").unwrap(),
        Some(Secret::new(Vec::new()))
    );
    assert_eq!(
        command::parse_sasl_response(b"dGVzdA==\r\n").unwrap(),
        Some(Secret::new("test"))
    );
    assert!(command::parse_sasl_response(b"dGVzdA=\r\n").is_err());
}

#[test]
fn select_condstore_qresync() {
    assert!(matches!(
        parse("a1 SELECT INBOX (CONDSTORE)"),
        CommandBody::Select {
            params: SelectParams {
                condstore: true,
                qresync: None
            },
            ..
        }
    ));
    let CommandBody::Select { params, .. } =
        parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
    else {
        panic!()
    };
    let q = params.qresync.unwrap();
    assert_eq!((q.uid_validity, q.modseq), (67890007, 20050715194045000));
    assert_eq!(q.known_uids, Some(set("41,43:211,214:541")));
    let CommandBody::Examine { params, .. } = parse(
        "B02 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))",
    ) else {
        panic!()
    };
    assert_eq!(
        params.qresync.unwrap().seq_match.unwrap().0,
        set("5000,7500,9000,9990:9999")
    );
}

#[test]
fn mailbox_management() {
    assert_eq!(
        parse("A003 CREATE owatagusiam/"),
        CommandBody::Create {
            mailbox: Mailbox::from_wire("owatagusiam/"),
            special_use: vec![]
        }
    );
    assert_eq!(
        parse("t1 CREATE \"Important Messages\" (USE (\\Important))"),
        CommandBody::Create {
            mailbox: Mailbox::from_wire("Important Messages"),
            special_use: vec!["Important".into()]
        }
    );
    assert_eq!(
        parse("A683 DELETE blurdybloop"),
        CommandBody::Delete {
            mailbox: Mailbox::from_wire("blurdybloop")
        }
    );
    assert_eq!(
        parse("A683 RENAME blurdybloop sarasoop"),
        CommandBody::Rename {
            from: Mailbox::from_wire("blurdybloop"),
            to: Mailbox::from_wire("sarasoop")
        }
    );
    assert_eq!(
        parse("A002 SUBSCRIBE #news.comp.mail.mime"),
        CommandBody::Subscribe {
            mailbox: Mailbox::from_wire("#news.comp.mail.mime")
        }
    );
    assert_eq!(
        parse("A002 UNSUBSCRIBE #news.comp.mail.mime"),
        CommandBody::Unsubscribe {
            mailbox: Mailbox::from_wire("#news.comp.mail.mime")
        }
    );
    assert_eq!(
        parse("A042 STATUS blurdybloop (UIDNEXT MESSAGES SIZE DELETED HIGHESTMODSEQ APPENDLIMIT)"),
        CommandBody::Status {
            mailbox: Mailbox::from_wire("blurdybloop"),
            attributes: vec![
                StatusAttribute::UidNext,
                StatusAttribute::Messages,
                StatusAttribute::Size,
                StatusAttribute::Deleted,
                StatusAttribute::HighestModSeq,
                StatusAttribute::AppendLimit,
            ],
        }
    );
}

#[test]
fn list_basic_and_extended() {
    assert_eq!(
        parse("A101 LIST \"\" \"\""),
        CommandBody::List {
            selection: vec![],
            reference: Mailbox::from_wire(""),
            patterns: vec![vec![]],
            returns: vec![]
        }
    );
    assert!(
        matches!(parse("A202 LIST ~/Mail/ %"), CommandBody::List { ref patterns, .. } if patterns == &vec![b"%".to_vec()])
    );
    assert!(matches!(
        parse("A102 LIST #news.comp.mail.misc \"\""),
        CommandBody::List { .. }
    ));
    assert_eq!(
        parse("A05 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)"),
        CommandBody::List {
            selection: vec![ListSelect::Subscribed, ListSelect::RecursiveMatch],
            reference: Mailbox::from_wire(""),
            patterns: vec![b"%".to_vec()],
            returns: vec![ListReturn::Children],
        }
    );
    assert!(matches!(
        parse("A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)"),
        CommandBody::List { .. }
    ));
    assert!(
        matches!(parse("A03 LIST () \"\" \"%\" RETURN (CHILDREN)"), CommandBody::List { ref selection, .. } if selection.is_empty())
    );
    assert!(
        matches!(parse("A01 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")"), CommandBody::List { ref patterns, .. } if patterns.len() == 3)
    );
    assert!(
        matches!(parse("t1 LIST (SPECIAL-USE) \"\" *"), CommandBody::List { ref selection, .. } if selection == &vec![ListSelect::SpecialUse])
    );
    assert_eq!(
        parse("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN) SPECIAL-USE SUBSCRIBED)"),
        CommandBody::List {
            selection: vec![],
            reference: Mailbox::from_wire(""),
            patterns: vec![b"%".to_vec()],
            returns: vec![
                ListReturn::Status(vec![StatusAttribute::Messages, StatusAttribute::Unseen]),
                ListReturn::SpecialUse,
                ListReturn::Subscribed,
            ],
        }
    );
    assert_eq!(
        parse("A002 LSUB #news. comp.mail.*"),
        CommandBody::Lsub {
            reference: Mailbox::from_wire("#news."),
            pattern: b"comp.mail.*".to_vec()
        }
    );
}

#[test]
fn sort_and_thread() {
    assert_eq!(
        parse("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL"),
        CommandBody::Sort {
            uid: false,
            criteria: vec![
                SortCriterion {
                    reverse: false,
                    key: SortKey::Subject
                },
                SortCriterion {
                    reverse: true,
                    key: SortKey::Date
                },
            ],
            program: SearchProgram {
                charset: Some("UTF-8".into()),
                criteria: vec![SearchKey::All]
            },
        }
    );
    assert!(matches!(
        parse("A282 UID SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994"),
        CommandBody::Sort { uid: true, .. }
    ));
    assert!(matches!(
        parse("A284 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\""),
        CommandBody::Sort { .. }
    ));
    assert!(matches!(
        parse("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000"),
        CommandBody::Thread {
            algorithm: ThreadAlgorithm::OrderedSubject,
            ..
        }
    ));
    assert!(matches!(
        parse("A284 UID THREAD REFERENCES US-ASCII TEXT \"gewp\""),
        CommandBody::Thread {
            uid: true,
            algorithm: ThreadAlgorithm::References,
            ..
        }
    ));
}

#[test]
fn id_and_quota() {
    assert_eq!(
        parse("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)"),
        CommandBody::Id {
            fields: Some(vec![
                (b"name".to_vec(), Some(b"sodr".to_vec())),
                (b"version".to_vec(), Some(b"19.34".to_vec())),
                (b"vendor".to_vec(), None),
            ]),
        }
    );
    assert_eq!(parse("a ID NIL"), CommandBody::Id { fields: None });
    assert_eq!(
        parse("G0001 GETQUOTA \"!partition/sda4\""),
        CommandBody::GetQuota {
            root: b"!partition/sda4".to_vec()
        }
    );
    assert_eq!(
        parse("G0002 GETQUOTAROOT INBOX"),
        CommandBody::GetQuotaRoot {
            mailbox: Mailbox::inbox()
        }
    );
    assert_eq!(
        parse("S0000 SETQUOTA \"\" (STORAGE 512)"),
        CommandBody::SetQuota {
            root: vec![],
            limits: vec![("STORAGE".into(), 512)]
        }
    );
}

#[test]
fn bad_commands_carry_their_tag() {
    let e = Command::parse(b"A1 FROB\r\n").unwrap_err();
    assert_eq!(e.tag, Tag::new("A1"));
    assert!(matches!(e.error, ParseError::UnknownCommand { .. }));
    let e = Command::parse(b"+ NOOP\r\n").unwrap_err();
    assert_eq!(e.tag, None);
    assert!(Command::parse(b"A1 NOOP\r\nA2 NOOP\r\n").is_err());
    assert!(Command::parse(b"A1 NOOP").is_err());
    assert!(Command::parse(b"A1 LOGIN a {5}\r\nab\0de\r\n").is_err());
    assert!(Command::parse(b"A1 LOGIN a {50}\r\nab\r\n").is_err());
    assert!(Command::parse(b"A1 FETCH 0 FLAGS\r\n").is_err());
    assert!(Command::parse(b"A1 FETCH 4294967296 FLAGS\r\n").is_err());
    assert!(Command::parse(b"A1 LOGIN \"a\\b\" c\r\n").is_err());
}

#[test]
fn encoding_marks_sync_points() {
    let cmd = Command::new(
        Tag::new("A1").unwrap(),
        CommandBody::Login {
            username: b"fred\r\n".to_vec(),
            password: Secret::new("x y"),
        },
    );
    let enc = cmd.encode(WriteOptions::default());
    assert_eq!(enc.bytes, b"A1 LOGIN {6}\r\nfred\r\n \"x y\"\r\n");
    assert_eq!(enc.sync_points, vec![14]);
    let plus = cmd.encode(WriteOptions {
        non_sync: NonSyncLiterals::Plus,
    });
    assert_eq!(plus.bytes, b"A1 LOGIN {6+}\r\nfred\r\n \"x y\"\r\n");
    assert!(plus.sync_points.is_empty());
    let big = Command::new(
        Tag::new("A2").unwrap(),
        CommandBody::Append {
            mailbox: Mailbox::inbox(),
            flags: vec![],
            date: None,
            message: AppendMessage {
                data: vec![b'a'; 5000].into(),
                binary: false,
                utf8: false,
            },
        },
    );
    let minus = big.encode(WriteOptions {
        non_sync: NonSyncLiterals::Minus,
    });
    assert!(minus.bytes.starts_with(b"A2 APPEND INBOX {5000}\r\n"));
    assert_eq!(minus.sync_points.len(), 1);
}
