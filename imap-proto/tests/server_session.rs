//! The server session over the in-memory store: states, login, STARTTLS,
//! APPEND, the selected mailbox's numbering with other sessions' changes,
//! IDLE, SEARCH/STORE/COPY/MOVE/EXPUNGE, CONDSTORE/QRESYNC, limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postel_imap::server::{
    MailboxStore, MemoryStore, ServerConfig, ServerEvent, ServerSession, SessionState,
};
use postel_sasl::Verification;

const MSG: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Hello\r\nMessage-ID: <1@example.org>\r\n\r\nHello Bob\r\n";

struct Client {
    session: ServerSession<MemoryStore>,
    store: MemoryStore,
    now: Instant,
    events: Vec<ServerEvent>,
}

impl Client {
    fn new(store: &MemoryStore, config: ServerConfig) -> Self {
        let now = Instant::now();
        let mut c = Self {
            session: ServerSession::new(Arc::new(config), now),
            store: store.clone(),
            now,
            events: Vec::new(),
        };
        c.greeting();
        c
    }

    fn greeting(&mut self) -> String {
        self.drain()
    }

    /// Feeds bytes, runs the session (answering logins for alice/secret),
    /// returns everything written.
    fn send(&mut self, input: &[u8]) -> String {
        self.session.enqueue_input(self.now, input);
        self.drain()
    }

    fn drain(&mut self) -> String {
        let mut out = Vec::new();
        loop {
            let ev = self.session.poll_event(&mut self.store);
            if let Some(o) = self.session.poll_transmit() {
                out.extend_from_slice(&o);
            }
            match ev {
                Some(ServerEvent::Login { username, password }) => {
                    let ok = username == "alice" && password.expose() == b"secret";
                    self.session
                        .login_verified(ok.then(|| "alice".to_string()))
                        .unwrap();
                }
                Some(ServerEvent::AuthVerify(req)) => {
                    let ok = matches!(&req, postel_sasl::VerifyRequest::Password { authcid, password, .. } if authcid == "alice" && password == "secret");
                    self.session
                        .auth_verified(if ok {
                            Verification::Accepted
                        } else {
                            Verification::Rejected
                        })
                        .unwrap();
                }
                Some(ev) => self.events.push(ev),
                None => {
                    if let Some(o) = self.session.poll_transmit() {
                        out.extend_from_slice(&o);
                        continue;
                    }
                    break;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn login(&mut self) {
        let out = self.send(b"L LOGIN alice secret\r\n");
        assert!(out.contains("L OK [CAPABILITY"), "{out}");
    }
}

fn store() -> MemoryStore {
    let s = MemoryStore::new();
    s.add_user("alice");
    s
}

fn config() -> ServerConfig {
    ServerConfig::new("Postel IMAP ready")
}

fn with_messages(n: usize) -> MemoryStore {
    let s = store();
    for i in 0..n {
        let body = format!("From: a@example.org\r\nSubject: message {i}\r\n\r\nbody {i}\r\n");
        s.insert("alice", "INBOX", Bytes::from(body), &[], None)
            .unwrap();
    }
    s
}

#[test]
fn greeting_and_capability() {
    let s = store();
    let mut c = Client::new(&s, config());
    let out = c.send(b"a CAPABILITY\r\n");
    assert!(
        out.starts_with("* CAPABILITY IMAP4rev2 IMAP4rev1 "),
        "{out}"
    );
    assert!(out.contains("AUTH=PLAIN"));
    assert!(out.contains("IDLE"));
    assert!(out.ends_with("a OK CAPABILITY completed\r\n"));
}

#[test]
fn commands_checked_against_the_state() {
    let s = store();
    let mut c = Client::new(&s, config());
    assert_eq!(c.send(b"a SELECT INBOX\r\n"), "a BAD Log in first\r\n");
    c.login();
    assert_eq!(c.session.state(), SessionState::Authenticated);
    assert_eq!(
        c.send(b"b FETCH 1 FLAGS\r\n"),
        "b BAD Select a mailbox first\r\n"
    );
    assert_eq!(
        c.send(b"c LOGIN alice secret\r\n"),
        "c BAD Already logged in\r\n"
    );
    let out = c.send(b"d NOSUCH\r\n");
    assert!(out.starts_with("d BAD "), "{out}");
}

#[test]
fn failed_logins_end_the_session() {
    let s = store();
    let mut c = Client::new(&s, config());
    let out = c.send(b"a LOGIN alice wrong\r\n");
    assert_eq!(out, "a NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
    c.send(b"b LOGIN alice wrong\r\n");
    let out = c.send(b"c LOGIN alice wrong\r\n");
    assert!(out.contains("* BYE Too many failed logins"), "{out}");
    assert!(c.session.is_closed());
}

#[test]
fn login_disabled_before_tls() {
    let s = store();
    let mut cfg = config();
    cfg.plaintext_auth = false;
    cfg.starttls = true;
    let mut c = Client::new(&s, cfg);
    let out = c.send(b"a CAPABILITY\r\n");
    assert!(
        out.contains(" STARTTLS ") && out.contains(" LOGINDISABLED "),
        "{out}"
    );
    assert!(!out.contains("AUTH=PLAIN"), "{out}");
    assert!(out.contains("AUTH=SCRAM-SHA-256"), "{out}");
    let out = c.send(b"b LOGIN alice secret\r\n");
    assert_eq!(
        out,
        "b NO [PRIVACYREQUIRED] LOGIN is disabled until STARTTLS\r\n"
    );
    let out = c.send(b"c AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert!(out.starts_with("c NO [PRIVACYREQUIRED]"), "{out}");
}

#[test]
fn starttls_plaintext_injection_is_discarded() {
    let s = store();
    let mut cfg = config();
    cfg.plaintext_auth = false;
    cfg.starttls = true;
    let mut c = Client::new(&s, cfg);
    // The attacker appends a command after STARTTLS in the same packet.
    let out = c.send(b"a STARTTLS\r\nb LOGIN alice secret\r\n");
    assert_eq!(out, "a OK Begin TLS negotiation now\r\n");
    assert_eq!(c.events, vec![ServerEvent::StartTls]);
    assert!(!c.session.wants_input());
    c.session.tls_established().unwrap();
    // Nothing of the injected command is answered after the handshake.
    assert_eq!(c.drain(), "");
    let out = c.send(b"c CAPABILITY\r\n");
    assert!(
        !out.contains("STARTTLS") && !out.contains("LOGINDISABLED"),
        "{out}"
    );
    assert!(out.contains("AUTH=PLAIN"));
    c.login();
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let s = store();
    let mut c = Client::new(&s, config());
    let out = c.send(b"a AUTHENTICATE PLAIN\r\n");
    assert_eq!(out, "+ \r\n");
    let out = c.send(b"AGFsaWNlAHNlY3JldA==\r\n");
    assert!(out.starts_with("a OK [CAPABILITY"), "{out}");
    assert_eq!(c.session.user(), Some("alice"));

    let mut c = Client::new(&s, config());
    let out = c.send(b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert!(out.starts_with("a OK [CAPABILITY"), "{out}");

    let mut c = Client::new(&s, config());
    c.send(b"a AUTHENTICATE PLAIN\r\n");
    let out = c.send(b"*\r\n");
    assert_eq!(out, "a BAD Authentication cancelled\r\n");
    let out = c.send(b"b AUTHENTICATE PLAIN AGFsaWNlAHdyb25n\r\n");
    assert!(out.starts_with("b NO [AUTHENTICATIONFAILED]"), "{out}");
    let out = c.send(b"c AUTHENTICATE CRAM-MD5\r\n");
    assert!(out.starts_with("c NO [CANNOT]"), "{out}");
}

#[test]
fn select_reports_the_mailbox() {
    let s = with_messages(3);
    let mut c = Client::new(&s, config());
    c.login();
    let out = c.send(b"s SELECT inbox\r\n");
    assert!(
        out.contains("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"),
        "{out}"
    );
    assert!(out.contains("* 3 EXISTS\r\n"));
    assert!(out.contains("* OK [UNSEEN 1] "));
    assert!(out.contains("* OK [UIDVALIDITY "));
    assert!(out.contains("* OK [UIDNEXT 4] "));
    assert!(out.contains("* OK [HIGHESTMODSEQ "));
    assert!(
        out.ends_with("s OK [READ-WRITE] SELECT completed\r\n"),
        "{out}"
    );
    let out = c.send(b"e EXAMINE INBOX\r\n");
    assert!(
        out.ends_with("e OK [READ-ONLY] EXAMINE completed\r\n"),
        "{out}"
    );
    let out = c.send(b"f STORE 1 +FLAGS (\\Seen)\r\n");
    assert_eq!(
        out,
        "f NO [READONLY] Mailbox is read-only\r\n".replace("READONLY", "READ-ONLY")
    );
    let out = c.send(b"g SELECT nosuch\r\n");
    assert_eq!(out, "g NO [NONEXISTENT] Mailbox does not exist\r\n");
    assert_eq!(c.session.state(), SessionState::Authenticated);
}

#[test]
fn append_with_synchronizing_literal_and_limits() {
    let s = store();
    let mut cfg = config();
    cfg.limits.append_limit = 1000;
    let mut c = Client::new(&s, cfg);
    c.login();
    let head = format!("A APPEND INBOX (\\Seen) {{{}}}\r\n", MSG.len());
    let out = c.send(head.as_bytes());
    assert_eq!(out, "+ Ready for literal data\r\n");
    let mut rest = MSG.to_vec();
    rest.extend_from_slice(b"\r\n");
    let out = c.send(&rest);
    assert!(out.starts_with("A OK [APPENDUID "), "{out}");
    assert!(out.contains(" 1] APPEND completed"), "{out}");
    let stored = s.messages("alice", "INBOX");
    assert_eq!(stored.len(), 1);
    assert_eq!(&stored[0].2[..], MSG);

    // No "+" for a mailbox that does not exist, nor for a message too big.
    let out = c.send(b"B APPEND Nope {10}\r\n");
    assert_eq!(out, "B NO [TRYCREATE] Mailbox does not exist\r\n");
    let out = c.send(b"C APPEND INBOX {5000}\r\n");
    assert_eq!(out, "C NO [TOOBIG] Message exceeds APPENDLIMIT\r\n");
    // LITERAL+: the data follows at once and is skipped when refused.
    let out = c.send(b"D APPEND INBOX {5000+}\r\n");
    assert_eq!(out, "D NO [TOOBIG] Message exceeds APPENDLIMIT\r\n");
    c.send(&vec![b'x'; 5000]);
    let out = c.send(b"\r\nE NOOP\r\n");
    assert!(out.ends_with("E OK NOOP completed\r\n"), "{out}");
    let out = c.send(b"F APPEND INBOX {3+}\r\nabc\r\n");
    assert!(out.starts_with("F OK [APPENDUID "), "{out}");
}

#[test]
fn appended_message_streams_in_chunks_of_any_size() {
    let s = store();
    let mut c = Client::new(&s, config());
    c.login();
    let big: Vec<u8> = (0..200_000u32)
        .map(|i| b"abcdefgh\r\n"[(i % 10) as usize])
        .collect();
    let mut all = format!("A APPEND INBOX {{{}+}}\r\n", big.len()).into_bytes();
    all.extend_from_slice(&big);
    all.extend_from_slice(b"\r\n");
    let mut out = String::new();
    for chunk in all.chunks(777) {
        out += &c.send(chunk);
    }
    assert!(out.starts_with("A OK [APPENDUID "), "{out}");
    assert_eq!(&s.messages("alice", "INBOX")[0].2[..], &big[..]);
}

#[test]
fn other_sessions_changes_reach_the_selected_view() {
    let s = with_messages(3);
    let mut a = Client::new(&s, config());
    let mut b = Client::new(&s, config());
    a.login();
    b.login();
    a.send(b"1 SELECT INBOX\r\n");
    b.send(b"1 SELECT INBOX\r\n");
    // B deletes message 2 and appends one.
    b.send(b"2 STORE 2 +FLAGS.SILENT (\\Deleted)\r\n");
    let out = b.send(b"3 EXPUNGE\r\n");
    assert!(out.starts_with("* 2 EXPUNGE\r\n"), "{out}");
    b.send(b"4 APPEND INBOX {3+}\r\nnew\r\n");

    // A's FETCH by number must not announce the expunge...
    let out = a.send(b"2 FETCH 1:* (UID RFC822.SIZE)\r\n");
    assert!(!out.contains(" EXPUNGE\r\n"), "{out}");
    assert!(out.contains("* 1 FETCH (UID 1 RFC822.SIZE "), "{out}");
    assert!(out.contains("* 3 FETCH (UID 3 RFC822.SIZE "), "{out}");
    // ...message 2 is gone from the store, so FETCH says so; the new
    // message may be announced (EXISTS is allowed).
    assert!(
        out.ends_with(
            "* 4 EXISTS\r\n2 NO [EXPUNGEISSUED] Some messages were expunged meanwhile\r\n"
        ),
        "{out}"
    );
    // NOOP announces it, then the new message.
    let out = a.send(b"3 NOOP\r\n");
    assert_eq!(out, "* 2 EXPUNGE\r\n* 3 EXISTS\r\n3 OK NOOP completed\r\n");
    let out = a.send(b"4 FETCH 3 (UID)\r\n");
    assert!(out.contains("* 3 FETCH (UID 4)"), "{out}");
    // Flag changes by B show up at A as FETCH FLAGS.
    b.send(b"5 STORE 1 +FLAGS.SILENT (\\Flagged)\r\n");
    let out = a.send(b"5 NOOP\r\n");
    assert!(out.contains("* 1 FETCH (FLAGS (\\Flagged))"), "{out}");
    // But A's own STORE is not reported twice.
    let out = a.send(b"6 STORE 1 +FLAGS (\\Seen)\r\n");
    assert_eq!(out.matches("* 1 FETCH").count(), 1, "{out}");
    let out = a.send(b"7 NOOP\r\n");
    assert_eq!(out, "7 OK NOOP completed\r\n");
}

#[test]
fn uid_commands_may_announce_expunges() {
    let s = with_messages(2);
    let mut a = Client::new(&s, config());
    let mut b = Client::new(&s, config());
    a.login();
    b.login();
    a.send(b"1 SELECT INBOX\r\n");
    b.send(b"1 SELECT INBOX\r\n");
    b.send(b"2 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n3 EXPUNGE\r\n");
    let out = a.send(b"2 UID FETCH 1:* (FLAGS)\r\n");
    assert!(out.contains("* 1 EXPUNGE\r\n"), "{out}");
    assert!(out.ends_with("2 OK FETCH completed\r\n"), "{out}");
}

#[test]
fn idle_reports_changes_until_done() {
    let s = with_messages(1);
    let mut a = Client::new(&s, config());
    a.login();
    a.send(b"1 SELECT INBOX\r\n");
    assert_eq!(a.send(b"2 IDLE\r\n"), "+ idling\r\n");
    assert!(a.session.is_idling());
    s.insert("alice", "INBOX", Bytes::from_static(MSG), &[], None)
        .unwrap();
    let mut store = a.store.clone();
    a.session.check_mailbox(&mut store);
    assert_eq!(a.drain(), "* 2 EXISTS\r\n");
    assert_eq!(a.send(b"DONE\r\n"), "2 OK IDLE terminated\r\n");
    assert!(!a.session.is_idling());
}

#[test]
fn store_copy_move_and_uidplus() {
    let s = with_messages(4);
    let mut c = Client::new(&s, config());
    c.login();
    c.send(b"1 CREATE Archive\r\n");
    c.send(b"2 SELECT INBOX\r\n");
    let out = c.send(b"3 STORE 1:2 +FLAGS (\\Flagged)\r\n");
    assert_eq!(
        out,
        "* 1 FETCH (FLAGS (\\Flagged))\r\n* 2 FETCH (FLAGS (\\Flagged))\r\n3 OK STORE completed\r\n"
    );
    let out = c.send(b"4 UID STORE 3 FLAGS.SILENT (\\Seen)\r\n");
    assert_eq!(out, "4 OK STORE completed\r\n");
    let out = c.send(b"5 COPY 1:2 Archive\r\n");
    assert!(out.starts_with("5 OK [COPYUID "), "{out}");
    assert!(out.contains(" 1:2 1:2] "), "{out}");
    let out = c.send(b"6 COPY 1 Nowhere\r\n");
    assert_eq!(
        out,
        "6 NO [TRYCREATE] Destination mailbox does not exist\r\n"
    );
    let out = c.send(b"7 UID MOVE 2:3 Archive\r\n");
    assert!(out.starts_with("* OK [COPYUID "), "{out}");
    assert!(out.contains(" 2:3 3:4] "), "{out}");
    assert!(out.contains("* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n"), "{out}");
    assert!(out.ends_with("7 OK MOVE completed\r\n"), "{out}");
    assert_eq!(s.messages("alice", "Archive").len(), 4);
    assert_eq!(s.messages("alice", "INBOX").len(), 2);
    let out = c.send(b"8 FETCH 5 FLAGS\r\n");
    assert_eq!(out, "8 BAD Invalid message number\r\n");
    let out = c.send(b"9 UID FETCH 4 (FLAGS)\r\n");
    assert_eq!(
        out,
        "* 2 FETCH (UID 4 FLAGS ())\r\n9 OK FETCH completed\r\n"
    );
}

#[test]
fn expunge_numbers_shift_as_each_is_announced() {
    let s = with_messages(5);
    let mut c = Client::new(&s, config());
    c.login();
    c.send(b"1 SELECT INBOX\r\n");
    c.send(b"2 STORE 2,3,5 +FLAGS.SILENT (\\Deleted)\r\n");
    let out = c.send(b"3 EXPUNGE\r\n");
    assert_eq!(
        out,
        "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n* 3 EXPUNGE\r\n3 OK EXPUNGE completed\r\n"
    );
    // UID EXPUNGE leaves other deleted messages alone.
    c.send(b"4 STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n");
    let out = c.send(b"5 UID EXPUNGE 4\r\n");
    assert_eq!(out, "* 2 EXPUNGE\r\n5 OK EXPUNGE completed\r\n");
    let out = c.send(b"6 CLOSE\r\n");
    assert_eq!(out, "6 OK CLOSE completed\r\n");
    assert_eq!(s.messages("alice", "INBOX").len(), 0);
}

#[test]
fn search_esearch_and_saved_results() {
    let s = with_messages(6);
    let mut c = Client::new(&s, config());
    c.login();
    c.send(b"1 SELECT INBOX\r\n");
    c.send(b"2 STORE 2,4 +FLAGS.SILENT (\\Seen)\r\n");
    let out = c.send(b"3 SEARCH SEEN\r\n");
    assert_eq!(out, "* SEARCH 2 4\r\n3 OK SEARCH completed\r\n");
    let out = c.send(b"4 UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN\r\n");
    assert_eq!(
        out,
        "* ESEARCH (TAG \"4\") UID MIN 1 MAX 6 COUNT 4 ALL 1,3,5:6\r\n4 OK SEARCH completed\r\n"
    );
    let out = c.send(b"5 SEARCH RETURN (SAVE) SEEN\r\n");
    assert_eq!(out, "5 OK SEARCH completed\r\n");
    let out = c.send(b"6 FETCH $ (UID)\r\n");
    assert_eq!(
        out,
        "* 2 FETCH (UID 2)\r\n* 4 FETCH (UID 4)\r\n6 OK FETCH completed\r\n"
    );
    let out = c.send(b"7 SEARCH CHARSET KOI8-R SEEN\r\n");
    assert!(
        out.starts_with("7 NO [BADCHARSET (US-ASCII UTF-8)]"),
        "{out}"
    );
}

#[test]
fn condstore_and_unchangedsince() {
    let s = with_messages(2);
    let mut c = Client::new(&s, config());
    c.login();
    c.send(b"1 ENABLE CONDSTORE\r\n");
    c.send(b"2 SELECT INBOX\r\n");
    let out = c.send(b"3 FETCH 1:2 (FLAGS MODSEQ)\r\n");
    assert!(out.contains("* 1 FETCH (FLAGS () MODSEQ (2))"), "{out}");
    assert!(out.contains("* 2 FETCH (FLAGS () MODSEQ (3))"), "{out}");
    c.send(b"4 STORE 2 +FLAGS.SILENT (\\Seen)\r\n");
    let out = c.send(b"5 STORE 1:2 (UNCHANGEDSINCE 3) +FLAGS (\\Flagged)\r\n");
    assert!(
        out.contains("* 1 FETCH (FLAGS (\\Flagged) MODSEQ ("),
        "{out}"
    );
    assert!(
        out.ends_with("5 OK [MODIFIED 2] Conditional STORE failed\r\n"),
        "{out}"
    );
    let out = c.send(b"6 FETCH 1:* (FLAGS) (CHANGEDSINCE 3)\r\n");
    assert_eq!(out.matches("FETCH (").count(), 2, "{out}");
}

#[test]
fn qresync_select_reports_vanished() {
    let s = with_messages(4);
    let mut b = Client::new(&s, config());
    b.login();
    b.send(b"1 SELECT INBOX\r\n");
    let mut a = Client::new(&s, config());
    a.login();
    a.send(b"1 ENABLE QRESYNC\r\n");
    let out = a.send(b"2 SELECT INBOX\r\n");
    let validity: u32 = out
        .split("[UIDVALIDITY ")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let modseq: u64 = out
        .split("[HIGHESTMODSEQ ")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    a.send(b"3 UNSELECT\r\n");
    b.send(b"2 STORE 2 +FLAGS.SILENT (\\Deleted)\r\n3 EXPUNGE\r\n4 STORE 3 +FLAGS.SILENT (\\Answered)\r\n");
    let cmd = format!("4 SELECT INBOX (QRESYNC ({validity} {modseq}))\r\n");
    let out = a.send(cmd.as_bytes());
    assert!(out.contains("* VANISHED (EARLIER) 2\r\n"), "{out}");
    // B's message 3 is UID 4 after the expunge; it is A's message 3 too.
    assert!(
        out.contains("* 3 FETCH (UID 4 FLAGS (\\Answered) MODSEQ ("),
        "{out}"
    );
    // Under QRESYNC, expunges are VANISHED, not EXPUNGE.
    b.send(b"5 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n6 EXPUNGE\r\n");
    let out = a.send(b"5 NOOP\r\n");
    assert!(out.starts_with("* VANISHED 1\r\n"), "{out}");
}

#[test]
fn list_status_and_mailbox_management() {
    let s = with_messages(2);
    let mut c = Client::new(&s, config());
    c.login();
    assert_eq!(
        c.send(b"1 CREATE Work/Project\r\n"),
        "1 OK CREATE completed\r\n"
    );
    assert_eq!(
        c.send(b"2 CREATE Sent (USE (\\Sent))\r\n"),
        "2 OK CREATE completed\r\n"
    );
    let out = c.send(b"3 LIST \"\" *\r\n");
    assert!(
        out.contains("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"),
        "{out}"
    );
    assert!(
        out.contains("* LIST (\\HasChildren) \"/\" Work\r\n"),
        "{out}"
    );
    assert!(
        out.contains("* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"),
        "{out}"
    );
    let out = c.send(b"4 LIST \"\" %\r\n");
    assert!(!out.contains("Work/Project"), "{out}");
    let out = c.send(b"5 LIST \"\" \"\"\r\n");
    assert_eq!(
        out,
        "* LIST (\\Noselect) \"/\" \"\"\r\n5 OK LIST completed\r\n"
    );
    let out = c.send(b"6 LIST (SPECIAL-USE) \"\" *\r\n");
    assert_eq!(out.matches("* LIST").count(), 1, "{out}");
    let out = c.send(b"7 LIST \"\" INBOX RETURN (STATUS (MESSAGES UIDNEXT))\r\n");
    assert!(
        out.contains("* STATUS INBOX (MESSAGES 2 UIDNEXT 3)\r\n"),
        "{out}"
    );
    let out = c.send(b"8 STATUS INBOX (MESSAGES UNSEEN SIZE)\r\n");
    assert!(
        out.starts_with("* STATUS INBOX (MESSAGES 2 UNSEEN 2 SIZE "),
        "{out}"
    );
    assert_eq!(
        c.send(b"9 DELETE Work\r\n"),
        "9 NO [HASCHILDREN] Mailbox has children\r\n"
    );
    assert_eq!(
        c.send(b"10 RENAME Work Play\r\n"),
        "10 OK RENAME completed\r\n"
    );
    let out = c.send(b"11 LIST \"\" Play/*\r\n");
    assert!(out.contains("\"/\" Play/Project\r\n"), "{out}");
    assert!(c.send(b"12 DELETE INBOX\r\n").starts_with("12 NO [CANNOT]"));
    assert_eq!(
        c.send(b"13 CREATE INBOX\r\n"),
        "13 NO [ALREADYEXISTS] INBOX exists\r\n"
    );
    let out = c.send(b"14 NAMESPACE\r\n");
    assert_eq!(
        out,
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n14 OK NAMESPACE completed\r\n"
    );
}

#[test]
fn utf7_and_utf8_mailbox_names() {
    let s = store();
    let mut c = Client::new(&s, config());
    c.login();
    assert_eq!(
        c.send(b"1 CREATE \"Entw&APw-rfe\"\r\n"),
        "1 OK CREATE completed\r\n"
    );
    assert!(
        s.clone()
            .list("alice")
            .unwrap()
            .iter()
            .any(|m| m.name == "Entwürfe")
    );
    let out = c.send(b"2 LIST \"\" Entw*\r\n");
    assert!(out.contains("Entw&APw-rfe"), "{out}");
    c.send(b"3 ENABLE UTF8=ACCEPT\r\n");
    let out = c.send(b"4 LIST \"\" Entw*\r\n");
    assert!(out.contains("Entwürfe"), "{out}");
}

#[test]
fn logout_and_too_many_errors() {
    let s = store();
    let mut c = Client::new(&s, config());
    let out = c.send(b"a LOGOUT\r\n");
    assert_eq!(out, "* BYE Logging out\r\na OK LOGOUT completed\r\n");
    assert!(c.session.is_closed());
    assert_eq!(c.events, vec![ServerEvent::Closed]);

    let mut c = Client::new(&s, config());
    let mut out = String::new();
    for _ in 0..10 {
        out += &c.send(b"x BOGUS\r\n");
    }
    assert!(
        out.ends_with("* BYE Too many invalid commands\r\n"),
        "{out}"
    );
    assert!(c.session.is_closed());
}

#[test]
fn literal_bomb_is_refused_without_buffering() {
    let s = store();
    let mut c = Client::new(&s, config());
    let out = c.send(b"a LOGIN {4294967295}\r\n");
    assert!(out.starts_with("a BAD "), "{out}");
    let out = c.send(b"b NOOP\r\n");
    assert_eq!(out, "b OK NOOP completed\r\n");
}

#[test]
fn autologout_after_inactivity() {
    let s = store();
    let mut c = Client::new(&s, config());
    let deadline = c.session.poll_timeout().unwrap();
    assert_eq!(deadline, c.now + Duration::from_secs(60));
    c.session.handle_timeout(deadline);
    assert_eq!(c.drain(), "* BYE Autologout; idle for too long\r\n");
    assert!(c.session.is_closed());
}

#[test]
fn large_fetch_respects_the_output_high_water_mark() {
    let s = with_messages(2000);
    let mut cfg = config();
    cfg.limits.output_high_water = 4096;
    let mut c = Client::new(&s, cfg);
    c.login();
    c.send(b"1 SELECT INBOX\r\n");
    c.session
        .enqueue_input(c.now, b"2 FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])\r\n");
    let mut total = 0;
    let mut largest = 0;
    let mut text = Vec::new();
    loop {
        let ev = c.session.poll_event(&mut c.store);
        assert!(ev.is_none());
        match c.session.poll_transmit() {
            Some(out) => {
                largest = largest.max(out.len());
                total += out.len();
                text.extend_from_slice(&out);
            }
            None => break,
        }
    }
    assert!(largest < 4096 + 1024, "largest write {largest}");
    let text = String::from_utf8(text).unwrap();
    assert_eq!(text.matches(" FETCH (").count(), 2000);
    assert!(text.ends_with("2 OK FETCH completed\r\n"));
    assert!(total > 100_000);
}

#[test]
fn any_chunking_gives_the_same_output() {
    let script: &[u8] = b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1:* (FLAGS UID)\r\nd APPEND INBOX {3+}\r\nxyz\r\ne STORE 1 +FLAGS (\\Seen)\r\nf SEARCH ALL\r\ng LOGOUT\r\n";
    let whole = {
        let s = with_messages(3);
        let mut c = Client::new(&s, config());
        c.send(script)
    };
    for size in [1, 2, 3, 7, 13] {
        let s = with_messages(3);
        let mut c = Client::new(&s, config());
        let mut out = String::new();
        for chunk in script.chunks(size) {
            out += &c.send(chunk);
        }
        assert_eq!(out, whole, "chunk size {size}");
    }
}

#[test]
fn search_mixing_flag_keys_with_date_and_size_keys() {
    // Flag-only programs are answered from the view; these need the store.
    let s = with_messages(4);
    let mut c = Client::new(&s, config());
    c.login();
    c.send(b"1 SELECT INBOX\r\n");
    c.send(b"2 STORE 1,3 +FLAGS.SILENT (\\Seen)\r\n");
    // MemoryStore::new dates messages 1 January 2000.
    assert_eq!(
        c.send(b"3 SEARCH SEEN SINCE 1-Jan-2000\r\n"),
        "* SEARCH 1 3\r\n3 OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.send(b"4 SEARCH OR SEEN BEFORE 1-Jan-2000\r\n"),
        "* SEARCH 1 3\r\n4 OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.send(b"5 SEARCH NOT SEEN LARGER 10\r\n"),
        "* SEARCH 2 4\r\n5 OK SEARCH completed\r\n"
    );
    assert_eq!(
        c.send(b"6 SEARCH UNSEEN SMALLER 10\r\n"),
        "* SEARCH\r\n6 OK SEARCH completed\r\n"
    );
}

#[test]
fn store_message_size_limit_refuses_the_append() {
    let mut s = store();
    s.set_max_message(10);
    let mut c = Client::new(&s, config());
    c.login();
    let out = c.send(b"A APPEND INBOX {11+}\r\nhello world\r\n");
    assert_eq!(out, "A NO [LIMIT] Limit exceeded: message too large\r\n");
    let out = c.send(b"B APPEND INBOX {10+}\r\nhello worl\r\n");
    assert!(out.starts_with("B OK [APPENDUID "), "{out}");
    assert_eq!(s.messages("alice", "INBOX").len(), 1);
}

#[test]
fn autologout_after_login_waits_thirty_minutes() {
    let s = store();
    let mut c = Client::new(&s, config());
    c.login();
    let deadline = c.session.poll_timeout().unwrap();
    assert_eq!(deadline, c.now + Duration::from_secs(30 * 60));
    c.session.handle_timeout(deadline - Duration::from_secs(1));
    assert!(!c.session.is_closed());
    c.session.handle_timeout(deadline);
    assert_eq!(c.drain(), "* BYE Autologout; idle for too long\r\n");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const SCRIPT: &[&[u8]] = &[
        b"a LOGIN alice secret\r\n",
        b"b SELECT INBOX\r\n",
        b"c UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE)\r\n",
        b"d APPEND INBOX {5+}\r\nhello\r\n",
        b"e STORE 1:2 +FLAGS (\\Seen)\r\n",
        b"f SEARCH OR SEEN SUBJECT message\r\n",
        b"g UID MOVE 1 INBOX\r\n",
        b"h CREATE x\r\nj COPY 1:* x\r\n",
        b"k IDLE\r\nDONE\r\n",
        b"l EXPUNGE\r\n",
        b"m LOGOUT\r\n",
    ];

    fn run(input: &[u8], cuts: &[usize]) -> String {
        let s = with_messages(3);
        let mut c = Client::new(&s, config());
        let mut out = String::new();
        let mut last = 0;
        let mut points: Vec<usize> = cuts.iter().map(|p| p % (input.len() + 1)).collect();
        points.sort_unstable();
        for p in points.into_iter().chain([input.len()]) {
            out += &c.send(&input[last..p]);
            last = p;
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A script of commands cut anywhere gives the same output.
        #[test]
        fn chunking_does_not_matter(picks in proptest::collection::vec(0..SCRIPT.len(), 1..12),
                                    cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
            let mut input = SCRIPT[0].to_vec();
            for i in picks {
                input.extend_from_slice(SCRIPT[i]);
            }
            prop_assert_eq!(run(&input, &cuts), run(&input, &[]));
        }

        /// Arbitrary bytes after login never panic, and every line the
        /// session writes is a response our own client reader accepts.
        #[test]
        fn arbitrary_input_is_answered_with_valid_responses(
            junk in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut input = b"a LOGIN alice secret\r\nb SELECT INBOX\r\n".to_vec();
            input.extend_from_slice(&junk);
            let out = run(&input, &cuts);
            let mut reader = postel_imap::ResponseReader::new(Default::default());
            reader.enqueue_input(out.as_bytes());
            while let Some(ev) = reader.next_event() {
                prop_assert!(!matches!(ev, postel_imap::ResponseEvent::Invalid(_)), "{:?}\n{}", ev, out);
            }
        }
    }
}
