//! Example sessions of the RFCs replayed against the server session over the
//! in-memory store. The server's output is framed and parsed with the
//! crate's own client-side reader and compared response by response with
//! the RFC's, ignoring only human-readable text (which the RFCs leave to
//! the server) and the differences each test names.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use postel_imap::server::{MemoryStore, ServerConfig, ServerEvent, ServerSession};
use postel_imap::{
    Code, Data, Date, DateTime, FetchData, Flag, Response, ResponseEvent, ResponseLimits,
    ResponseReader,
};

/// Runs `input` through a session (logins for `user`/`secret` accepted) and
/// returns the responses it wrote.
fn replay(
    session: &mut ServerSession<MemoryStore>,
    store: &mut MemoryStore,
    input: &[u8],
) -> Vec<Response> {
    session.enqueue_input(Instant::now(), input);
    let mut out = Vec::new();
    loop {
        let ev = session.poll_event(store);
        if let Some(o) = session.poll_transmit() {
            out.extend_from_slice(&o);
        }
        match ev {
            Some(ServerEvent::Login { username, password }) => {
                let ok = password.expose() == b"secret";
                session.login_verified(ok.then_some(username)).unwrap();
            }
            Some(_) => {}
            None => {
                if let Some(o) = session.poll_transmit() {
                    out.extend_from_slice(&o);
                    continue;
                }
                break;
            }
        }
    }
    let mut reader = ResponseReader::new(ResponseLimits::default());
    reader.enqueue_input(&out);
    let mut responses = Vec::new();
    while let Some(ev) = reader.next_event() {
        match ev {
            ResponseEvent::Response(r) => responses.push(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    responses
}

/// A response with its text blanked (the RFCs' texts are examples).
fn shape(r: &Response) -> Response {
    let mut r = r.clone();
    match &mut r {
        Response::Status(s) => s.text.clear(),
        Response::Continuation(c) => c.text.clear(),
        Response::Data(_) => {}
    }
    r
}

fn parse(line: &str) -> Response {
    let mut bytes = line.as_bytes().to_vec();
    bytes.extend_from_slice(b"\r\n");
    shape(&Response::parse(&bytes).unwrap_or_else(|e| panic!("{line}: {e}")))
}

fn assert_shapes(got: &[Response], want: &[&str]) {
    let got: Vec<Response> = got.iter().map(shape).collect();
    let want: Vec<Response> = want.iter().map(|l| parse(l)).collect();
    assert_eq!(got, want);
}

/// The message that RFC 3501 §8 fetches as number 12: its header is 342
/// octets (as BODY[HEADER] shows) and its body 3028 octets in 92 lines (as
/// BODY shows).
fn rfc3501_message_12() -> Vec<u8> {
    let mut header = String::from(
        "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
         From: Terry Gray <gray@cac.washington.edu>\r\n\
         Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
         To: imap@cac.washington.edu\r\n\
         cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
         Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n",
    );
    header.push_str("\r\n");
    assert_eq!(header.len(), 342);
    let mut body = String::new();
    for i in 0..92 {
        let len = if i < 84 { 31 } else { 30 };
        body.push_str(&"m".repeat(len));
        body.push_str("\r\n");
    }
    assert_eq!(body.len(), 3028);
    (header + &body).into_bytes()
}

/// RFC 3501 §8, the sample IMAP4rev1 connection, from a001 to a006.
///
/// Differences from the RFC's transcript, all allowed by it: the greeting
/// carries a CAPABILITY code, SELECT reports `0 RECENT` (this server does
/// not keep \Recent), PERMANENTFLAGS, UIDNEXT and HIGHESTMODSEQ, and its own
/// UIDVALIDITY; RFC822.SIZE is the message's real size (the RFC's 4286 does
/// not agree with its own 342-octet header and 3028-octet body).
#[test]
fn rfc3501_section_8_sample_connection() {
    let store = MemoryStore::new();
    store.add_user("mrc");
    let internal = DateTime::new(Date::new(1996, 7, 17).unwrap(), 2, 44, 25, -420).unwrap();
    for n in 1..=18u32 {
        let (raw, flags): (Vec<u8>, Vec<Flag>) = match n {
            12 => (rfc3501_message_12(), vec![Flag::Seen]),
            17 | 18 => (
                format!("Subject: {n}\r\n\r\nunseen\r\n").into_bytes(),
                vec![],
            ),
            _ => (
                format!("Subject: {n}\r\n\r\nseen\r\n").into_bytes(),
                vec![Flag::Seen],
            ),
        };
        store
            .insert("mrc", "INBOX", Bytes::from(raw), &flags, Some(internal))
            .unwrap();
    }
    let mut st = store.clone();
    let mut s = ServerSession::new(
        Arc::new(ServerConfig::new("IMAP4rev1 Service Ready")),
        Instant::now(),
    );
    let greeting = replay(&mut s, &mut st, b"");
    assert!(
        matches!(&greeting[..], [Response::Status(g)] if matches!(g.code, Some(Code::Capability(_))))
    );

    let got = replay(&mut s, &mut st, b"a001 login mrc secret\r\n");
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], Response::Status(r) if r.tag.as_ref().unwrap().as_str() == "a001"));

    let got = replay(&mut s, &mut st, b"a002 select inbox\r\n");
    let validity = got
        .iter()
        .find_map(|r| match r {
            Response::Status(s) => match s.code {
                Some(Code::UidValidity(v)) => Some(v),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    assert_shapes(
        &got,
        &[
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* 18 EXISTS",
            "* 0 RECENT",
            "* OK [UNSEEN 17] Message 17 is the first unseen message",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] x",
            &format!("* OK [UIDVALIDITY {validity}] UIDs valid"),
            "* OK [UIDNEXT 19] x",
            "* OK [HIGHESTMODSEQ 19] x",
            "a002 OK [READ-WRITE] SELECT completed",
        ],
    );

    let got = replay(&mut s, &mut st, b"a003 fetch 12 full\r\n");
    let size = rfc3501_message_12().len();
    assert_eq!(size, 3370);
    assert_shapes(
        &got,
        &[
            &format!(
                "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" \
                 RFC822.SIZE {size} ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
                 \"IMAP4rev1 WG mtg summary and minutes\" \
                 ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
                 ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
                 ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
                 ((NIL NIL \"imap\" \"cac.washington.edu\")) \
                 ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")\
                 (\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
                 \"<B27397-0100000@cac.washington.edu>\") \
                 BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))"
            ),
            "a003 OK FETCH completed",
        ],
    );

    let got = replay(&mut s, &mut st, b"a004 fetch 12 body[header]\r\n");
    match &got[0] {
        Response::Data(Data::Fetch { seq: 12, items }) => match &items[..] {
            [
                FetchData::BodySection {
                    data: Some(d),
                    origin: None,
                    ..
                },
                ..,
            ] => {
                assert_eq!(d.len(), 342);
                assert_eq!(&d[..], &rfc3501_message_12()[..342]);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert_shapes(&got[1..], &["a004 OK FETCH completed"]);

    let got = replay(&mut s, &mut st, b"a005 store 12 +flags \\deleted\r\n");
    assert_shapes(
        &got,
        &[
            "* 12 FETCH (FLAGS (\\Seen \\Deleted))",
            "a005 OK +FLAGS completed",
        ],
    );

    let got = replay(&mut s, &mut st, b"a006 logout\r\n");
    assert_shapes(
        &got,
        &[
            "* BYE IMAP4rev1 server terminating connection",
            "a006 OK LOGOUT completed",
        ],
    );
    assert!(s.is_closed());
}

/// RFC 4315 §3 (UIDPLUS): APPENDUID, COPYUID and UID EXPUNGE, with the
/// UIDs the in-memory store assigns in place of the RFC's.
#[test]
fn rfc4315_uidplus_examples() {
    let store = MemoryStore::new();
    store.add_user("u");
    for n in 1..=5u32 {
        let raw = format!("Subject: {n}\r\n\r\nx\r\n");
        store
            .insert("u", "INBOX", Bytes::from(raw), &[], None)
            .unwrap();
    }
    let mut st = store.clone();
    let mut s = ServerSession::new(Arc::new(ServerConfig::new("ready")), Instant::now());
    replay(&mut s, &mut st, b"a LOGIN u secret\r\nb CREATE foo\r\n");
    // A003 APPEND saved-messages (\Seen) {310} ... -> [APPENDUID 38505 3955]
    let got = replay(
        &mut s,
        &mut st,
        b"A003 APPEND foo (\\Seen) {14+}\r\nSubject: x\r\n\r\n\r\n",
    );
    let foo_validity = match &got[..] {
        [Response::Status(r)] => match r.code {
            Some(Code::AppendUid { uid_validity, .. }) => uid_validity,
            _ => panic!("{r:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_shapes(
        &got,
        &[&format!(
            "A003 OK [APPENDUID {foo_validity} 1] APPEND completed"
        )],
    );
    replay(&mut s, &mut st, b"c SELECT INBOX\r\n");
    // A004 COPY 2:4 meeting -> [COPYUID 38505 304,319:320 3956:3958]
    let got = replay(&mut s, &mut st, b"A004 COPY 2:4 foo\r\n");
    assert_shapes(
        &got,
        &[&format!("A004 OK [COPYUID {foo_validity} 2:4 2:4] Done")],
    );
    // A202 UID EXPUNGE 3000:3002 expunges only the deleted messages named.
    replay(
        &mut s,
        &mut st,
        b"d STORE 1:4 +FLAGS.SILENT (\\Deleted)\r\n",
    );
    let got = replay(&mut s, &mut st, b"A202 UID EXPUNGE 3:5\r\n");
    assert_shapes(
        &got,
        &[
            "* 3 EXPUNGE",
            "* 3 EXPUNGE",
            "A202 OK UID EXPUNGE completed",
        ],
    );
}

/// RFC 6851 §4.5 (MOVE): untagged COPYUID, then the expunges, then OK.
#[test]
fn rfc6851_move_example() {
    let store = MemoryStore::new();
    store.add_user("u");
    for n in 1..=3u32 {
        let raw = format!("Subject: {n}\r\n\r\nx\r\n");
        store
            .insert("u", "INBOX", Bytes::from(raw), &[], None)
            .unwrap();
    }
    let mut st = store.clone();
    let mut s = ServerSession::new(Arc::new(ServerConfig::new("ready")), Instant::now());
    replay(
        &mut s,
        &mut st,
        b"a LOGIN u secret\r\nb CREATE foo\r\nc SELECT INBOX\r\n",
    );
    let validity = match &replay(&mut s, &mut st, b"x STATUS foo (UIDVALIDITY)\r\n")[0] {
        Response::Data(Data::Status { items, .. }) => items[0].1,
        other => panic!("{other:?}"),
    };
    // a UID MOVE 42:69 foo
    let got = replay(&mut s, &mut st, b"a UID MOVE 1:2 foo\r\n");
    assert_shapes(
        &got,
        &[
            &format!("* OK [COPYUID {validity} 1:2 1:2] Moved UIDs."),
            "* 1 EXPUNGE",
            "* 1 EXPUNGE",
            "a OK Move completed",
        ],
    );
}

/// RFC 7162 §3.1.3 example: a conditional STORE that fails for a message
/// modified since, with [MODIFIED]; and §3.1.4's FETCH (CHANGEDSINCE).
#[test]
fn rfc7162_conditional_store_and_changedsince() {
    let store = MemoryStore::new();
    store.add_user("u");
    for n in 1..=7u32 {
        let raw = format!("Subject: {n}\r\n\r\nx\r\n");
        store
            .insert("u", "INBOX", Bytes::from(raw), &[], None)
            .unwrap();
    }
    let mut st = store.clone();
    let mut s = ServerSession::new(Arc::new(ServerConfig::new("ready")), Instant::now());
    replay(
        &mut s,
        &mut st,
        b"a LOGIN u secret\r\nb SELECT INBOX (CONDSTORE)\r\n",
    );
    // Message 7 changes (another client) after the client learned modseq 8.
    replay(&mut s, &mut st, b"c STORE 7 +FLAGS.SILENT ($Other)\r\n");
    // a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\Deleted)
    let got = replay(
        &mut s,
        &mut st,
        b"d STORE 5:7 (UNCHANGEDSINCE 8) +FLAGS.SILENT (\\Deleted)\r\n",
    );
    assert_shapes(
        &got,
        &[
            "* 5 FETCH (MODSEQ (10))",
            "* 6 FETCH (MODSEQ (11))",
            "d OK [MODIFIED 7] Conditional STORE failed",
        ],
    );
    // s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)
    let got = replay(
        &mut s,
        &mut st,
        b"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 8)\r\n",
    );
    assert_shapes(
        &got,
        &[
            "* 5 FETCH (UID 5 FLAGS (\\Deleted) MODSEQ (10))",
            "* 6 FETCH (UID 6 FLAGS (\\Deleted) MODSEQ (11))",
            "* 7 FETCH (UID 7 FLAGS ($Other) MODSEQ (9))",
            "s100 OK FETCH completed",
        ],
    );
}
