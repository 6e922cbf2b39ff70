//! The client side: the response reader (framing, limits, streamed FETCH
//! literals) and the client session (transcripts with the exact bytes
//! written, SASL against postel-sasl's server side, STARTTLS, IDLE,
//! LOGOUT), with property tests for chunking and hostile input.

use bytes::Bytes;
use postel_imap::client::{
    Capabilities, ClientConfig, ClientEvent, ClientSession, ConnectionState, DataMode,
    ProtocolError, ResponseError, ResponseEvent, ResponseLimits, ResponseReader, StreamedItem,
    StreamedLiteral, UsageError,
};
use postel_imap::{
    AppendMessage, Command, CommandBody, Data, FetchData, Mailbox, Response, Section,
    StatusResponse, Tag,
};
use postel_sasl::{
    ClientCredentials, Mechanism, ScramCredentials, ServerExchange, ServerOptions, ServerStep,
    Verification, VerifyRequest, wire,
};
use proptest::prelude::*;

// ----- helpers -----

fn tag(t: &str) -> Tag {
    Tag::new(t).unwrap()
}

/// A command body, parsed from its text (without tag and CRLF).
fn cmd(text: &str) -> CommandBody {
    Command::parse(format!("X {text}\r\n").as_bytes())
        .unwrap()
        .body
}

/// A status response, parsed from one line (without CRLF).
fn st(line: &str) -> StatusResponse {
    match Response::parse(format!("{line}\r\n").as_bytes()).unwrap() {
        Response::Status(s) => s,
        other => panic!("not a status response: {other:?}"),
    }
}

/// Untagged data, parsed from one response (CRLF appended).
fn data(text: &str) -> Data {
    match Response::parse(format!("{text}\r\n").as_bytes()).unwrap() {
        Response::Data(d) => d,
        other => panic!("not data: {other:?}"),
    }
}

fn caps(list: &[&str]) -> ClientEvent {
    ClientEvent::Capabilities(Capabilities::new(list))
}

fn done(line: &str, data: Vec<Data>, untagged: Vec<StatusResponse>) -> ClientEvent {
    let status = st(line);
    ClientEvent::Done {
        tag: status.tag.clone().unwrap(),
        status,
        data,
        untagged,
        spilled: false,
    }
}

fn events(s: &mut ClientSession) -> Vec<ClientEvent> {
    std::iter::from_fn(|| s.next_event()).collect()
}

fn sent(s: &mut ClientSession) -> String {
    String::from_utf8(s.poll_transmit().unwrap_or_default()).unwrap()
}

fn feed(s: &mut ClientSession, input: &str) -> Vec<ClientEvent> {
    s.enqueue_input(input.as_bytes());
    events(s)
}

fn plaintext_ok() -> ClientConfig {
    ClientConfig {
        allow_plaintext_auth: true,
        ..ClientConfig::default()
    }
}

fn append(message: &[u8]) -> CommandBody {
    CommandBody::Append {
        mailbox: Mailbox::inbox(),
        flags: Vec::new(),
        date: None,
        message: AppendMessage {
            data: Bytes::copy_from_slice(message),
            binary: false,
            utf8: false,
        },
    }
}

/// A session past a greeting with these capabilities.
fn greeted(config: ClientConfig, greeting: &str) -> ClientSession {
    let mut s = ClientSession::new(config);
    s.enqueue_input(greeting.as_bytes());
    events(&mut s);
    s
}

// ----- a full transcript -----

#[test]
fn rfc9051_transcript() {
    let mut s = ClientSession::new(plaintext_ok());
    assert_eq!(s.state(), ConnectionState::Greeting);
    assert_eq!(sent(&mut s), "");

    // Greeting without capabilities: the session asks.
    assert_eq!(
        feed(&mut s, "* OK IMAP4rev2 Service Ready\r\n"),
        vec![ClientEvent::Greeting(st("* OK IMAP4rev2 Service Ready"))]
    );
    assert_eq!(sent(&mut s), "A0001 CAPABILITY\r\n");
    assert_eq!(
        feed(
            &mut s,
            "* CAPABILITY IMAP4rev2 STARTTLS AUTH=PLAIN\r\nA0001 OK CAPABILITY completed\r\n"
        ),
        vec![caps(&["IMAP4rev2", "STARTTLS", "AUTH=PLAIN"])]
    );

    // LOGIN; the tagged OK brings the new capabilities.
    assert_eq!(s.login("fred", "secret").unwrap(), tag("A0002"));
    assert_eq!(sent(&mut s), "A0002 LOGIN fred secret\r\n");
    assert_eq!(
        feed(
            &mut s,
            "A0002 OK [CAPABILITY IMAP4rev2 IDLE UIDPLUS] LOGIN completed\r\n"
        ),
        vec![
            caps(&["IMAP4rev2", "IDLE", "UIDPLUS"]),
            done(
                "A0002 OK [CAPABILITY IMAP4rev2 IDLE UIDPLUS] LOGIN completed",
                vec![],
                vec![]
            ),
        ]
    );
    assert_eq!(s.state(), ConnectionState::Authenticated);

    // SELECT and FETCH, pipelined; an unsolicited EXISTS in between.
    assert_eq!(s.enqueue(cmd("SELECT INBOX")).unwrap(), tag("A0003"));
    assert_eq!(
        s.enqueue(cmd("FETCH 1:2 (FLAGS BODY[])")).unwrap(),
        tag("A0004")
    );
    assert_eq!(
        sent(&mut s),
        "A0003 SELECT INBOX\r\nA0004 FETCH 1:2 (FLAGS BODY[])\r\n"
    );
    let select_lines = [
        "* 172 EXISTS",
        "* OK [UIDVALIDITY 3857529045] UIDs valid",
        "* OK [UIDNEXT 4392] Predicted next UID",
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited",
        "* LIST () \"/\" INBOX",
        "A0003 OK [READ-WRITE] SELECT completed",
    ];
    let mut input = select_lines.join("\r\n") + "\r\n";
    input += "* 1 FETCH (FLAGS (\\Seen) BODY[] {21}\r\nSubject: hi\r\n\r\nbody\r\n)\r\n";
    input += "* 173 EXISTS\r\n";
    input += "* 2 FETCH (FLAGS () BODY[] {4}\r\nmsg2)\r\n";
    input += "A0004 OK FETCH completed\r\n";
    assert_eq!(
        feed(&mut s, &input),
        vec![
            done(
                select_lines[6],
                vec![
                    data(select_lines[0]),
                    data(select_lines[3]),
                    data(select_lines[5])
                ],
                vec![
                    st(select_lines[1]),
                    st(select_lines[2]),
                    st(select_lines[4])
                ]
            ),
            ClientEvent::Unsolicited(Data::Exists(173)),
            done(
                "A0004 OK FETCH completed",
                vec![
                    data("* 1 FETCH (FLAGS (\\Seen) BODY[] {21}\r\nSubject: hi\r\n\r\nbody\r\n)"),
                    data("* 2 FETCH (FLAGS () BODY[] \"msg2\")"),
                ],
                vec![]
            ),
        ]
    );
    assert_eq!(s.state(), ConnectionState::Selected);

    // STORE.
    assert_eq!(
        s.enqueue(cmd("STORE 1 +FLAGS (\\Deleted)")).unwrap(),
        tag("A0005")
    );
    assert_eq!(sent(&mut s), "A0005 STORE 1 +FLAGS (\\Deleted)\r\n");
    assert_eq!(
        feed(
            &mut s,
            "* 1 FETCH (FLAGS (\\Seen \\Deleted))\r\nA0005 OK STORE completed\r\n"
        ),
        vec![done(
            "A0005 OK STORE completed",
            vec![data("* 1 FETCH (FLAGS (\\Seen \\Deleted))")],
            vec![]
        )]
    );

    // APPEND over 4096 bytes under LITERAL- (IMAP4rev2): synchronizing.
    // The NOOP given after it waits for the whole APPEND to be written.
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    big.resize(5000, b'a');
    assert_eq!(s.enqueue(append(&big)).unwrap(), tag("A0006"));
    assert_eq!(s.enqueue(cmd("NOOP")).unwrap(), tag("A0007"));
    assert_eq!(sent(&mut s), "A0006 APPEND INBOX {5000}\r\n");
    assert_eq!(feed(&mut s, "+ Ready for literal data\r\n"), vec![]);
    let expected = format!("{}\r\nA0007 NOOP\r\n", String::from_utf8(big).unwrap());
    assert_eq!(sent(&mut s), expected);
    assert_eq!(
        feed(
            &mut s,
            "A0006 OK [APPENDUID 3857529045 4392] APPEND completed\r\n* 174 EXISTS\r\nA0007 OK NOOP completed\r\n"
        ),
        vec![
            done(
                "A0006 OK [APPENDUID 3857529045 4392] APPEND completed",
                vec![],
                vec![]
            ),
            ClientEvent::Unsolicited(Data::Exists(174)),
            done("A0007 OK NOOP completed", vec![], vec![]),
        ]
    );

    // A small APPEND goes out whole: {n+}.
    assert_eq!(s.enqueue(append(b"hello")).unwrap(), tag("A0008"));
    assert_eq!(sent(&mut s), "A0008 APPEND INBOX {5+}\r\nhello\r\n");
    assert_eq!(
        feed(&mut s, "A0008 OK APPEND completed\r\n"),
        vec![done("A0008 OK APPEND completed", vec![], vec![])]
    );

    // IDLE: updates while idling are unsolicited; a command given
    // meanwhile waits for the IDLE to end.
    assert_eq!(s.idle().unwrap(), tag("A0009"));
    assert_eq!(sent(&mut s), "A0009 IDLE\r\n");
    assert_eq!(
        feed(&mut s, "+ idling\r\n"),
        vec![ClientEvent::IdleStarted { tag: tag("A0009") }]
    );
    assert!(s.is_idling());
    assert_eq!(
        feed(&mut s, "* 175 EXISTS\r\n* 3 EXPUNGE\r\n"),
        vec![
            ClientEvent::Unsolicited(Data::Exists(175)),
            ClientEvent::Unsolicited(Data::Expunge(3)),
        ]
    );
    assert_eq!(s.enqueue(cmd("NOOP")).unwrap(), tag("A0010"));
    assert_eq!(sent(&mut s), "");
    s.idle_done().unwrap();
    assert_eq!(s.idle_done(), Err(UsageError::NotIdling));
    assert_eq!(sent(&mut s), "DONE\r\n");
    assert_eq!(
        feed(&mut s, "A0009 OK IDLE terminated\r\n"),
        vec![done("A0009 OK IDLE terminated", vec![], vec![])]
    );
    assert_eq!(sent(&mut s), "A0010 NOOP\r\n");
    assert_eq!(
        feed(&mut s, "A0010 OK NOOP completed\r\n"),
        vec![done("A0010 OK NOOP completed", vec![], vec![])]
    );

    // LOGOUT.
    assert_eq!(s.logout().unwrap(), tag("A0011"));
    assert_eq!(s.enqueue(cmd("NOOP")), Err(UsageError::LogoutPending));
    assert_eq!(sent(&mut s), "A0011 LOGOUT\r\n");
    assert_eq!(
        feed(
            &mut s,
            "* BYE IMAP4rev2 Server logging out\r\nA0011 OK LOGOUT completed\r\n"
        ),
        vec![
            ClientEvent::Bye(st("* BYE IMAP4rev2 Server logging out")),
            done("A0011 OK LOGOUT completed", vec![], vec![]),
            ClientEvent::Closed,
        ]
    );
    assert!(s.is_closed());
    assert_eq!(s.state(), ConnectionState::Logout);
    assert_eq!(s.enqueue(cmd("NOOP")), Err(UsageError::Closed));
    assert_eq!(feed(&mut s, "* 1 EXISTS\r\n"), vec![]);
}

#[test]
fn literal_plus_does_not_wait() {
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n",
    );
    assert_eq!(s.state(), ConnectionState::Authenticated);
    let big = vec![b'x'; 10_000];
    s.enqueue(append(&big)).unwrap();
    s.enqueue(cmd("NOOP")).unwrap();
    let mut expected = b"A0001 APPEND INBOX {10000+}\r\n".to_vec();
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"\r\nA0002 NOOP\r\n");
    assert_eq!(s.poll_transmit().unwrap(), expected);
}

#[test]
fn synchronizing_literal_refused_by_the_server() {
    // IMAP4rev1 without LITERAL+/-: every literal waits for `+`.
    let mut s = greeted(plaintext_ok(), "* OK [CAPABILITY IMAP4rev1] hi\r\n");
    s.login("fred", "pässword").unwrap();
    s.enqueue(cmd("NOOP")).unwrap();
    assert_eq!(sent(&mut s), "A0001 LOGIN fred {9}\r\n");
    // The server answers instead of sending `+`: the rest is dropped and
    // the next command goes out.
    assert_eq!(
        feed(&mut s, "A0001 NO [AUTHENTICATIONFAILED] no\r\n"),
        vec![done("A0001 NO [AUTHENTICATIONFAILED] no", vec![], vec![])]
    );
    assert_eq!(sent(&mut s), "A0002 NOOP\r\n");
    assert_eq!(s.state(), ConnectionState::NotAuthenticated);
}

#[test]
fn no_pipelining_sends_one_at_a_time() {
    let config = ClientConfig {
        pipelining: false,
        ..ClientConfig::default()
    };
    let mut s = greeted(config, "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n");
    s.enqueue(cmd("NOOP")).unwrap();
    s.enqueue(cmd("NOOP")).unwrap();
    assert_eq!(sent(&mut s), "A0001 NOOP\r\n");
    feed(&mut s, "A0001 OK\r\n");
    assert_eq!(sent(&mut s), "A0002 NOOP\r\n");
}

// ----- login policy -----

#[test]
fn login_disabled_and_plaintext_policy() {
    let mut s = greeted(
        plaintext_ok(),
        "* OK [CAPABILITY IMAP4rev2 STARTTLS LOGINDISABLED] hi\r\n",
    );
    assert_eq!(s.login("fred", "secret"), Err(UsageError::LoginDisabled));
    assert_eq!(sent(&mut s), "");

    // Without TLS and without the override, no password goes out.
    let mut s = greeted(
        ClientConfig::default(),
        "* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN AUTH=SCRAM-SHA-256] hi\r\n",
    );
    assert_eq!(s.login("fred", "secret"), Err(UsageError::PlaintextAuth));
    assert_eq!(
        s.authenticate(
            Mechanism::Plain,
            ClientCredentials::password("fred", "secret"),
            None
        ),
        Err(UsageError::PlaintextAuth)
    );
    // SCRAM does not expose the password.
    assert!(
        s.authenticate(
            Mechanism::ScramSha256,
            ClientCredentials::password("fred", "secret"),
            Some("nonce".into())
        )
        .is_ok()
    );
    // Implicit TLS.
    let config = ClientConfig {
        tls: true,
        ..ClientConfig::default()
    };
    let mut s = greeted(config, "* OK [CAPABILITY IMAP4rev2] hi\r\n");
    assert!(s.login("fred", "secret").is_ok());
    assert_eq!(sent(&mut s), "A0001 LOGIN fred secret\r\n");
}

#[test]
fn login_given_before_the_greeting_is_checked_when_sent() {
    let mut s = ClientSession::new(plaintext_ok());
    let t = s.login("fred", "secret").unwrap();
    let noop = s.enqueue(cmd("NOOP")).unwrap();
    assert_eq!(
        feed(&mut s, "* OK [CAPABILITY IMAP4rev2 LOGINDISABLED] hi\r\n"),
        vec![
            ClientEvent::Greeting(st("* OK [CAPABILITY IMAP4rev2 LOGINDISABLED] hi")),
            caps(&["IMAP4rev2", "LOGINDISABLED"]),
            ClientEvent::NotSent {
                tag: t,
                reason: UsageError::LoginDisabled
            },
        ]
    );
    assert_eq!(sent(&mut s), format!("{noop} NOOP\r\n"));
}

#[test]
fn usage_errors() {
    let mut s = greeted(
        plaintext_ok(),
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
    );
    assert_eq!(
        s.enqueue(cmd("AUTHENTICATE PLAIN")),
        Err(UsageError::UseDedicatedMethod(
            "AUTHENTICATE (ClientSession::authenticate)"
        ))
    );
    assert_eq!(
        s.enqueue(cmd("COMPRESS DEFLATE")),
        Err(UsageError::Unsupported("COMPRESS"))
    );
    assert_eq!(s.idle(), Err(UsageError::MissingCapability("IDLE")));
    assert_eq!(s.starttls(), Err(UsageError::MissingCapability("STARTTLS")));
    assert_eq!(s.idle_done(), Err(UsageError::NotIdling));
    assert_eq!(s.tls_established(), Err(UsageError::NoTlsPending));
    assert!(matches!(
        s.authenticate(
            Mechanism::XOAuth2,
            ClientCredentials::password("fred", "secret"),
            None
        ),
        Err(UsageError::Sasl(_))
    ));
    assert_eq!(sent(&mut s), "");
    let text = UsageError::PlaintextAuth.to_string();
    assert!(text.contains("allow_plaintext_auth"), "{text}");
}

// ----- STARTTLS -----

#[test]
fn starttls_drops_injected_bytes() {
    let mut s = ClientSession::new(ClientConfig::default());
    feed(
        &mut s,
        "* OK [CAPABILITY IMAP4rev2 STARTTLS LOGINDISABLED] hi\r\n",
    );
    let t = s.starttls().unwrap();
    assert_eq!(s.starttls(), Err(UsageError::AlreadyTls));
    // LOGIN is accepted for now: after STARTTLS both the transport and the
    // capabilities change.
    let login = s.login("fred", "secret").unwrap();
    assert_eq!(sent(&mut s), format!("{t} STARTTLS\r\n"));
    // A man in the middle appends responses to the OK, in the same read.
    let injected = format!(
        "{t} OK Begin TLS negotiation now\r\n* CAPABILITY IMAP4rev2 AUTH=PLAIN\r\n{login} OK [CAPABILITY IMAP4rev2 EVIL] fake\r\n"
    );
    assert_eq!(
        feed(&mut s, &injected),
        vec![
            done(&format!("{t} OK Begin TLS negotiation now"), vec![], vec![]),
            ClientEvent::StartTls,
        ]
    );
    assert!(!s.wants_input());
    assert_eq!(feed(&mut s, "* 1 EXISTS\r\n"), vec![]);
    assert_eq!(s.buffered(), 0);
    assert_eq!(sent(&mut s), "");
    s.tls_established().unwrap();
    assert!(s.is_tls());
    assert_eq!(s.capabilities(), None);
    // Capabilities first (internal command), LOGIN after it.
    assert_eq!(sent(&mut s), "A0003 CAPABILITY\r\n");
    assert_eq!(
        feed(
            &mut s,
            "* CAPABILITY IMAP4rev2 AUTH=PLAIN\r\nA0003 OK done\r\n"
        ),
        vec![caps(&["IMAP4rev2", "AUTH=PLAIN"])]
    );
    assert_eq!(sent(&mut s), format!("{login} LOGIN fred secret\r\n"));
    let ok = format!("{login} OK [CAPABILITY IMAP4rev2 IDLE] logged in");
    assert_eq!(
        feed(&mut s, &format!("{ok}\r\n")),
        vec![caps(&["IMAP4rev2", "IDLE"]), done(&ok, vec![], vec![])]
    );
    assert!(!s.capabilities().unwrap().has("EVIL"));
}

#[test]
fn starttls_refused_stays_plaintext() {
    let mut s = greeted(
        ClientConfig::default(),
        "* OK [CAPABILITY IMAP4rev2 STARTTLS] hi\r\n",
    );
    s.starttls().unwrap();
    sent(&mut s);
    assert_eq!(
        feed(&mut s, "A0001 NO not now\r\n"),
        vec![done("A0001 NO not now", vec![], vec![])]
    );
    assert!(!s.is_tls());
    assert!(s.wants_input());
}

// ----- SASL -----

/// Runs AUTHENTICATE against postel-sasl's server, relaying lines until
/// the exchange ends; returns the session's events and the lines written.
fn sasl_run(
    sasl_ir: bool,
    mechanism: Mechanism,
    nonce: Option<&str>,
    mut verdict: impl FnMut(&VerifyRequest) -> Verification,
) -> (Vec<ClientEvent>, Vec<String>) {
    let caps_line = if sasl_ir {
        "* OK [CAPABILITY IMAP4rev2 SASL-IR AUTH=PLAIN AUTH=SCRAM-SHA-256] hi\r\n"
    } else {
        "* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN AUTH=SCRAM-SHA-256] hi\r\n"
    };
    let mut s = greeted(plaintext_ok(), caps_line);
    let t = s
        .authenticate(
            mechanism,
            ClientCredentials::password("user", "pencil"),
            nonce.map(str::to_owned),
        )
        .unwrap();
    let mut server = ServerExchange::new(mechanism, ServerOptions::default());
    let mut lines = Vec::new();
    let mut all_events = Vec::new();
    let first = sent(&mut s);
    lines.push(first.clone());
    let cmdline = first.trim_end();
    let prefix = format!("{t} AUTHENTICATE {}", mechanism.name());
    let mut step = match cmdline.strip_prefix(&prefix).unwrap() {
        "" => server.start(None),
        ir => server.start(Some(
            &wire::parse_initial_response(&ir.as_bytes()[1..]).unwrap(),
        )),
    };
    let mut pending_success = None;
    loop {
        step = match step {
            ServerStep::Verify(req) => {
                let v = verdict(&req);
                server.verified(v)
            }
            ServerStep::Challenge(c) => {
                all_events.extend(feed(&mut s, &format!("+ {}\r\n", wire::encode(&c))));
                let line = sent(&mut s);
                lines.push(line.clone());
                if let Some(ok) = pending_success.take() {
                    // The client's answer to the server-final message.
                    assert_eq!(line, "\r\n");
                    all_events.extend(feed(&mut s, ok));
                    break;
                }
                server.respond_line(line.trim_end().as_bytes())
            }
            ServerStep::Success {
                additional: Some(extra),
                ..
            } => {
                // IMAP carries no success data: one more challenge.
                pending_success = Some("A0001 OK authenticated\r\n");
                ServerStep::Challenge(extra)
            }
            ServerStep::Success { .. } => {
                all_events.extend(feed(&mut s, &format!("{t} OK authenticated\r\n")));
                break;
            }
            ServerStep::Failure(_) => {
                all_events.extend(feed(
                    &mut s,
                    &format!("{t} NO [AUTHENTICATIONFAILED] no\r\n"),
                ));
                break;
            }
        };
    }
    (all_events, lines)
}

fn plain_verdict(req: &VerifyRequest) -> Verification {
    match req {
        VerifyRequest::Password {
            authcid, password, ..
        } if authcid == "user" && password == "pencil" => Verification::Accepted,
        _ => Verification::Rejected,
    }
}

fn scram_verdict(req: &VerifyRequest) -> Verification {
    match req {
        VerifyRequest::Scram { username, .. } if username == "user" => Verification::Scram {
            credentials: ScramCredentials::derive("pencil", b"salt of the earth", 4096),
            server_nonce: "server-part".into(),
        },
        _ => Verification::Rejected,
    }
}

fn authenticated(events: &[ClientEvent]) -> bool {
    events.iter().any(|e| {
        matches!(e, ClientEvent::Done { status, .. }
            if status.kind == postel_imap::StatusKind::Ok)
    })
}

#[test]
fn sasl_plain_with_initial_response() {
    let (events, lines) = sasl_run(true, Mechanism::Plain, None, plain_verdict);
    assert_eq!(lines, vec!["A0001 AUTHENTICATE PLAIN AHVzZXIAcGVuY2ls\r\n"]);
    assert!(authenticated(&events), "{events:?}");
}

#[test]
fn sasl_plain_without_initial_response() {
    let (events, lines) = sasl_run(false, Mechanism::Plain, None, plain_verdict);
    assert_eq!(
        lines,
        vec!["A0001 AUTHENTICATE PLAIN\r\n", "AHVzZXIAcGVuY2ls\r\n"]
    );
    assert!(authenticated(&events), "{events:?}");
}

#[test]
fn sasl_plain_rejected() {
    let (events, _) = sasl_run(true, Mechanism::Plain, None, |_| Verification::Rejected);
    assert_eq!(
        events,
        vec![done("A0001 NO [AUTHENTICATIONFAILED] no", vec![], vec![]),]
    );
}

#[test]
fn sasl_scram_sha256() {
    for sasl_ir in [true, false] {
        let (events, lines) = sasl_run(
            sasl_ir,
            Mechanism::ScramSha256,
            Some("client-nonce"),
            scram_verdict,
        );
        assert!(authenticated(&events), "{events:?}");
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ClientEvent::Failed(_) | ClientEvent::Error(_)))
        );
        // command (+ client-first without SASL-IR), client-final, empty line.
        assert_eq!(lines.len(), if sasl_ir { 3 } else { 4 }, "{lines:?}");
        assert_eq!(lines.last().unwrap(), "\r\n");
    }
}

#[test]
fn scram_bad_server_signature_is_fatal() {
    let mut s = greeted(
        ClientConfig::default(),
        "* OK [CAPABILITY IMAP4rev2 SASL-IR AUTH=SCRAM-SHA-256] hi\r\n",
    );
    s.authenticate(
        Mechanism::ScramSha256,
        ClientCredentials::password("user", "pencil"),
        Some("client-nonce".into()),
    )
    .unwrap();
    let line = sent(&mut s);
    let ir = line.trim_end().rsplit(' ').next().unwrap();
    let mut server = ServerExchange::new(Mechanism::ScramSha256, ServerOptions::default());
    let first = wire::parse_initial_response(ir.as_bytes()).unwrap();
    let ServerStep::Verify(req) = server.start(Some(&first)) else {
        panic!()
    };
    let ServerStep::Challenge(server_first) = server.verified(scram_verdict(&req)) else {
        panic!()
    };
    feed(&mut s, &format!("+ {}\r\n", wire::encode(&server_first)));
    sent(&mut s);
    // A forged server-final message.
    let forged = wire::encode(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let evs = feed(&mut s, &format!("+ {forged}\r\n"));
    assert!(
        matches!(&evs[..], [ClientEvent::Error(ProtocolError::Sasl(_))]),
        "{evs:?}"
    );
    assert_eq!(sent(&mut s), "*\r\n");
    // A server that claims success anyway is not believed.
    assert_eq!(
        feed(&mut s, "A0001 OK welcome\r\n"),
        vec![
            ClientEvent::Failed(ProtocolError::SuccessAfterCancel),
            ClientEvent::Closed
        ]
    );
}

#[test]
fn scram_success_without_signature_is_fatal() {
    let mut s = greeted(
        ClientConfig::default(),
        "* OK [CAPABILITY IMAP4rev2 SASL-IR AUTH=SCRAM-SHA-256] hi\r\n",
    );
    s.authenticate(
        Mechanism::ScramSha256,
        ClientCredentials::password("user", "pencil"),
        Some("client-nonce".into()),
    )
    .unwrap();
    sent(&mut s);
    let evs = feed(&mut s, "A0001 OK welcome\r\n");
    assert!(
        matches!(
            &evs[..],
            [
                ClientEvent::Failed(ProtocolError::Sasl(_)),
                ClientEvent::Closed
            ]
        ),
        "{evs:?}"
    );
}

#[test]
fn bad_challenge_cancels() {
    let mut s = greeted(plaintext_ok(), "* OK [CAPABILITY IMAP4rev2] hi\r\n");
    s.authenticate(
        Mechanism::Plain,
        ClientCredentials::password("user", "pencil"),
        None,
    )
    .unwrap();
    assert_eq!(sent(&mut s), "A0001 AUTHENTICATE PLAIN\r\n");
    assert_eq!(
        feed(&mut s, "+ !!!\r\n"),
        vec![ClientEvent::Error(ProtocolError::BadChallenge)]
    );
    assert_eq!(sent(&mut s), "*\r\n");
    assert_eq!(
        feed(&mut s, "A0001 BAD cancelled\r\n"),
        vec![done("A0001 BAD cancelled", vec![], vec![])]
    );
}

// ----- routing -----

#[test]
fn stream_mode_and_spilling() {
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n",
    );
    let t = s
        .enqueue_with(cmd("FETCH 1:2 (FLAGS)"), DataMode::Stream)
        .unwrap();
    sent(&mut s);
    assert_eq!(
        feed(
            &mut s,
            "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\nA0001 OK done\r\n"
        ),
        vec![
            ClientEvent::Data {
                tag: t.clone(),
                data: data("* 1 FETCH (FLAGS ())")
            },
            ClientEvent::Data {
                tag: t,
                data: data("* 2 FETCH (FLAGS ())")
            },
            done("A0001 OK done", vec![], vec![]),
        ]
    );

    // Collection bounded: 30 bytes hold one 22-byte FETCH, not two.
    let config = ClientConfig {
        max_collected: 30,
        ..ClientConfig::default()
    };
    let mut s = greeted(config, "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n");
    let t = s.enqueue(cmd("FETCH 1:2 (FLAGS)")).unwrap();
    let evs = feed(
        &mut s,
        "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\nA0001 OK done\r\n",
    );
    assert_eq!(
        evs,
        vec![
            ClientEvent::Data {
                tag: t.clone(),
                data: data("* 2 FETCH (FLAGS ())")
            },
            ClientEvent::Done {
                tag: t,
                status: st("A0001 OK done"),
                data: vec![data("* 1 FETCH (FLAGS ())")],
                untagged: vec![],
                spilled: true,
            },
        ]
    );
}

#[test]
fn routing_by_kind_uid_and_correlator() {
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n",
    );
    s.enqueue(cmd("UID FETCH 1:* (FLAGS)")).unwrap();
    s.enqueue(cmd("SEARCH RETURN (COUNT) ALL")).unwrap();
    s.enqueue(cmd("SEARCH RETURN (COUNT) UNSEEN")).unwrap();
    sent(&mut s);
    let evs = feed(
        &mut s,
        concat!(
            "* 3 FETCH (FLAGS (\\Seen))\r\n", // no UID: not from UID FETCH
            "* 4 FETCH (UID 40 FLAGS ())\r\n",
            "* ESEARCH (TAG \"A0003\") COUNT 2\r\n", // by its correlator
            "* ESEARCH (TAG \"A0002\") COUNT 9\r\n",
            "* OK [ALERT] maintenance\r\n",
            "A0001 OK\r\nA0002 OK\r\nA0003 OK\r\n"
        ),
    );
    assert_eq!(
        evs,
        vec![
            ClientEvent::Unsolicited(data("* 3 FETCH (FLAGS (\\Seen))")),
            ClientEvent::Status {
                tag: None,
                status: st("* OK [ALERT] maintenance")
            },
            done(
                "A0001 OK",
                vec![data("* 4 FETCH (UID 40 FLAGS ())")],
                vec![]
            ),
            done(
                "A0002 OK",
                vec![data("* ESEARCH (TAG \"A0002\") COUNT 9")],
                vec![]
            ),
            done(
                "A0003 OK",
                vec![data("* ESEARCH (TAG \"A0003\") COUNT 2")],
                vec![]
            ),
        ]
    );
}

#[test]
fn protocol_errors() {
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n",
    );
    s.enqueue(cmd("NOOP")).unwrap();
    let evs = feed(
        &mut s,
        "+ what\r\nZZZ OK who\r\n* 1 FETCH (BOGUS)\r\n* 2 EXISTS\r\n",
    );
    assert_eq!(evs.len(), 4, "{evs:?}");
    assert_eq!(
        evs[0],
        ClientEvent::Error(ProtocolError::UnexpectedContinuation)
    );
    assert_eq!(
        evs[1],
        ClientEvent::Error(ProtocolError::UnknownTag(tag("ZZZ")))
    );
    let ClientEvent::Error(ProtocolError::Malformed { raw, error }) = &evs[2] else {
        panic!("{evs:?}")
    };
    assert_eq!(&raw[..], b"* 1 FETCH (BOGUS)\r\n");
    assert!(matches!(error, ResponseError::Parse(_)));
    assert_eq!(evs[3], ClientEvent::Unsolicited(Data::Exists(2)));
    // A code that does not parse is text: the completion stands.
    assert_eq!(
        feed(&mut s, "A0001 OK [UIDNEXT x] y\r\n"),
        vec![done("A0001 OK [UIDNEXT x] y", vec![], vec![])]
    );
    // A garbled completion of a command in progress is fatal.
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n",
    );
    s.enqueue(cmd("NOOP")).unwrap();
    let evs = feed(&mut s, "A0001 WHAT\r\n");
    assert!(
        matches!(
            &evs[..],
            [
                ClientEvent::Failed(ProtocolError::Malformed { .. }),
                ClientEvent::Closed
            ]
        ),
        "{evs:?}"
    );
}

#[test]
fn greetings() {
    let mut s = ClientSession::new(ClientConfig::default());
    assert_eq!(
        feed(&mut s, "* BYE too busy\r\n"),
        vec![ClientEvent::Bye(st("* BYE too busy")), ClientEvent::Closed]
    );
    let mut s = ClientSession::new(ClientConfig::default());
    let evs = feed(&mut s, "A1 OK hello\r\n");
    assert!(
        matches!(
            &evs[..],
            [
                ClientEvent::Failed(ProtocolError::BadGreeting(_)),
                ClientEvent::Closed
            ]
        ),
        "{evs:?}"
    );
    // Unsolicited BYE: queued commands are dropped.
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n",
    );
    s.idle().unwrap();
    let noop = s.enqueue(cmd("NOOP")).unwrap();
    sent(&mut s);
    assert_eq!(
        feed(&mut s, "* BYE shutting down\r\n"),
        vec![
            ClientEvent::Bye(st("* BYE shutting down")),
            ClientEvent::NotSent {
                tag: noop,
                reason: UsageError::Closed
            },
        ]
    );
    assert_eq!(s.enqueue(cmd("NOOP")), Err(UsageError::Closed));
}

#[test]
fn idle_done_before_the_continuation() {
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n",
    );
    s.enqueue(cmd("NOOP")).unwrap();
    s.idle().unwrap();
    s.idle_done().unwrap();
    assert_eq!(sent(&mut s), "A0001 NOOP\r\n");
    feed(&mut s, "A0001 OK\r\n");
    assert_eq!(sent(&mut s), "A0002 IDLE\r\n");
    assert_eq!(
        feed(&mut s, "+ idling\r\n"),
        vec![ClientEvent::IdleStarted { tag: tag("A0002") }]
    );
    assert_eq!(sent(&mut s), "DONE\r\n");
}

// ----- streaming -----

const MIB: usize = 1024 * 1024;

fn big_body() -> Vec<u8> {
    (0..MIB).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn streams_a_1mb_body_in_chunks() {
    let mut s = greeted(
        ClientConfig::default(),
        "* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n",
    );
    let t = s
        .enqueue_with(cmd("FETCH 1 (UID BODY.PEEK[] FLAGS)"), DataMode::Stream)
        .unwrap();
    assert_eq!(sent(&mut s), "A0001 FETCH 1 (UID BODY.PEEK[] FLAGS)\r\n");
    let body = big_body();
    let mut wire = format!("* 1 FETCH (UID 7 BODY[] {{{MIB}}}\r\n").into_bytes();
    wire.extend_from_slice(&body);
    wire.extend_from_slice(b" FLAGS (\\Seen))\r\nA0001 OK FETCH completed\r\n");

    const READ: usize = 16 * 1024;
    let mut got = Vec::new();
    let mut evs = Vec::new();
    let mut max_chunk = 0;
    for piece in wire.chunks(READ) {
        s.enqueue_input(piece);
        while let Some(ev) = s.next_event() {
            if let ClientEvent::FetchLiteralData(b) = &ev {
                max_chunk = max_chunk.max(b.len());
                got.extend_from_slice(b);
            } else {
                evs.push(ev);
            }
        }
        // Never more than one read plus the response prefix.
        assert!(s.buffered() <= 64, "buffered {}", s.buffered());
    }
    assert!(max_chunk <= READ);
    assert!(got == body, "streamed bytes differ");
    let mut fetch = data("* 1 FETCH (UID 7 BODY[] \"\" FLAGS (\\Seen))");
    if let Data::Fetch { items, .. } = &mut fetch {
        assert_eq!(
            items[1],
            FetchData::BodySection {
                section: Section::default(),
                origin: None,
                data: Some(Bytes::new())
            }
        );
    }
    assert_eq!(
        evs,
        vec![
            ClientEvent::FetchLiteralStart {
                tag: Some(t.clone()),
                literal: StreamedLiteral {
                    seq: 1,
                    item: StreamedItem::BodySection {
                        section: Section::default(),
                        origin: None
                    },
                    size: MIB as u64,
                    binary: false,
                }
            },
            ClientEvent::FetchLiteralEnd,
            ClientEvent::Data {
                tag: t,
                data: fetch
            },
            done("A0001 OK FETCH completed", vec![], vec![]),
        ]
    );
}

#[test]
fn reader_streams_without_buffering() {
    let limits = ResponseLimits {
        stream_threshold: 1024,
        ..ResponseLimits::default()
    };
    let mut r = ResponseReader::new(limits);
    let body = big_body();
    let mut wire = format!("* 9 FETCH (BINARY[1]<0> ~{{{MIB}}}\r\n").into_bytes();
    wire.extend_from_slice(&body);
    wire.extend_from_slice(b" BODY[HEADER] {3}\r\nabc)\r\n");
    let mut total = 0;
    let mut others = Vec::new();
    for piece in wire.chunks(1000) {
        r.enqueue_input(piece);
        while let Some(ev) = r.next_event() {
            match ev {
                ResponseEvent::FetchLiteralData(b) => {
                    assert!(b.len() <= 1000);
                    total += b.len();
                }
                other => others.push(other),
            }
        }
        assert!(r.buffered() <= 1100, "buffered {}", r.buffered());
    }
    assert_eq!(total, MIB);
    assert_eq!(others.len(), 3, "{others:?}");
    assert_eq!(
        others[0],
        ResponseEvent::FetchLiteralStart(StreamedLiteral {
            seq: 9,
            item: StreamedItem::Binary {
                part: vec![1],
                origin: Some(0)
            },
            size: MIB as u64,
            binary: true,
        })
    );
    assert_eq!(others[1], ResponseEvent::FetchLiteralEnd);
    let ResponseEvent::Response(Response::Data(Data::Fetch { seq: 9, items })) = &others[2] else {
        panic!("{others:?}")
    };
    assert_eq!(
        items[0],
        FetchData::Binary {
            part: vec![1],
            origin: Some(0),
            data: Some(Bytes::new())
        }
    );
    assert!(matches!(&items[1], FetchData::BodySection { data: Some(d), .. } if d == "abc"));
}

// ----- reader limits and resynchronization -----

fn reader_events(limits: ResponseLimits, input: &[u8]) -> Vec<ResponseEvent> {
    let mut r = ResponseReader::new(limits);
    r.enqueue_input(input);
    std::iter::from_fn(|| r.next_event()).collect()
}

fn invalid(ev: &ResponseEvent) -> &ResponseError {
    match ev {
        ResponseEvent::Invalid(inv) => &inv.error,
        other => panic!("not invalid: {other:?}"),
    }
}

#[test]
fn reader_limits_and_resync() {
    let small = ResponseLimits {
        max_line: 64,
        max_literal: 16,
        max_response: 128,
        max_literals: 2,
        stream_threshold: 8,
    };
    let exists = || ResponseEvent::Response(Response::Data(Data::Exists(2)));

    // Too long a line: skipped to its end (and its literal).
    let mut input = vec![b'x'; 100];
    input.extend_from_slice(b" {3}\r\nabc\r\n* 2 EXISTS\r\n");
    let evs = reader_events(small, &input);
    assert_eq!(invalid(&evs[0]), &ResponseError::LineTooLong { limit: 64 });
    assert_eq!(evs[1..], [exists()]);

    // A literal too large to buffer that is not a FETCH body.
    let evs = reader_events(
        small,
        b"* LIST () \"/\" {20}\r\n01234567890123456789\r\n* 2 EXISTS\r\n",
    );
    assert_eq!(
        invalid(&evs[0]),
        &ResponseError::LiteralTooLarge {
            size: 20,
            limit: 16
        }
    );
    assert_eq!(evs[1..], [exists()]);

    // Too many literals.
    let evs = reader_events(
        small,
        b"* 1 FETCH (BODY[1] {1}\r\na BODY[2] {1}\r\nb BODY[3] {1}\r\nc)\r\n* 2 EXISTS\r\n",
    );
    assert_eq!(
        invalid(&evs[0]),
        &ResponseError::TooManyLiterals { limit: 2 }
    );
    assert_eq!(evs[1..], [exists()]);

    // A bare LF.
    let evs = reader_events(small, b"* 1 EXISTS\n* 2 EXISTS\r\n");
    assert_eq!(invalid(&evs[0]), &ResponseError::BareLineFeed);
    assert_eq!(evs[1..], [exists()]);

    // Status text ending in what looks like a literal header.
    let evs = reader_events(small, b"A1 OK done {5}\r\n* 2 EXISTS\r\n");
    assert!(matches!(
        evs[0],
        ResponseEvent::Response(Response::Status(_))
    ));
    assert_eq!(evs[1..], [exists()]);

    // A quoted string ending in braces is not a literal.
    let evs = reader_events(small, b"* LIST () \"/\" \"a{3}\r\n* 2 EXISTS\r\n");
    assert!(matches!(invalid(&evs[0]), ResponseError::Parse(_)));
    assert_eq!(evs[1..], [exists()]);

    // A response too large (the first literal streams, the second cannot).
    let long = format!("* SEARCH {}\r\n", "1 ".repeat(30));
    let evs = reader_events(
        ResponseLimits {
            max_response: 40,
            ..small
        },
        format!("* 1 FETCH (BODY[HEADER] {{10}}\r\n0123456789 X {{10}}\r\n0123456789)\r\n{long}")
            .as_bytes(),
    );
    assert!(
        evs.iter().any(|e| matches!(
            e,
            ResponseEvent::Invalid(i) if i.error == ResponseError::ResponseTooLarge { limit: 40 }
        )),
        "{evs:?}"
    );
}

// ----- property tests -----

/// A transcript with every framing feature: literals, literal8, streamed
/// and buffered bodies, status text with braces, an invalid response.
fn transcript() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready {3}\r\n");
    t.extend_from_slice(b"A0001 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n");
    t.extend_from_slice(b"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* FLAGS (\\Seen)\r\n");
    t.extend_from_slice(b"A0002 OK [READ-WRITE] selected\r\n");
    t.extend_from_slice(b"* 1 FETCH (UID 1 BODY[] {40}\r\n");
    t.extend_from_slice(&[b'm'; 40]);
    t.extend_from_slice(b" BODY[HEADER] {4}\r\nab\r\n BINARY[1] ~{3}\r\na\0b)\r\n");
    t.extend_from_slice(b"* 2 FETCH (BOGUS {2}\r\nzz)\r\n");
    t.extend_from_slice(b"* 2 FETCH (RFC822 {33}\r\n");
    t.extend_from_slice(&[b'r'; 33]);
    t.extend_from_slice(b")\r\nA0003 OK fetched\r\n");
    t.extend_from_slice(b"+ go ahead\r\nA0004 OK appended\r\n");
    t.extend_from_slice(b"+ idling\r\n* 4 EXISTS\r\nA0005 OK done\r\n");
    t.extend_from_slice(b"* BYE bye\r\nA0006 OK out\r\n");
    t
}

fn small_stream_limits() -> ResponseLimits {
    ResponseLimits {
        stream_threshold: 16,
        ..ResponseLimits::default()
    }
}

/// Merges adjacent data chunks so that chunkings compare equal.
fn merge<E>(
    evs: Vec<E>,
    as_data: impl Fn(&E) -> Option<&Bytes>,
    make: impl Fn(Bytes) -> E,
) -> Vec<E> {
    let mut out: Vec<E> = Vec::new();
    for ev in evs {
        if let (Some(prev), Some(more)) = (out.last().and_then(&as_data), as_data(&ev)) {
            let mut joined = prev.to_vec();
            joined.extend_from_slice(more);
            *out.last_mut().unwrap() = make(joined.into());
        } else {
            out.push(ev);
        }
    }
    out
}

fn reader_run(input: &[u8], cuts: &[usize]) -> Vec<ResponseEvent> {
    let mut r = ResponseReader::new(small_stream_limits());
    let mut evs = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(at, input.len());
        r.enqueue_input(&input[at..cut]);
        at = cut;
        evs.extend(std::iter::from_fn(|| r.next_event()));
    }
    merge(
        evs,
        |e| match e {
            ResponseEvent::FetchLiteralData(b) => Some(b),
            _ => None,
        },
        ResponseEvent::FetchLiteralData,
    )
}

/// A client that gives its commands up front and answers IdleStarted
/// with DONE: everything it writes and sees, fed the transcript in pieces.
fn session_run(input: &[u8], cuts: &[usize]) -> (Vec<ClientEvent>, Vec<u8>) {
    let config = ClientConfig {
        allow_plaintext_auth: true,
        limits: small_stream_limits(),
        ..ClientConfig::default()
    };
    let mut s = ClientSession::new(config);
    s.login("fred", "secret").unwrap();
    s.enqueue(cmd("SELECT INBOX")).unwrap();
    s.enqueue(cmd("FETCH 1:2 (UID BODY[])")).unwrap();
    s.enqueue(append(b"Subject: x\r\n\r\n")).unwrap();
    s.idle().unwrap();
    s.logout().unwrap();
    let mut evs = Vec::new();
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(at, input.len());
        s.enqueue_input(&input[at..cut]);
        at = cut;
        while let Some(ev) = s.next_event() {
            if matches!(ev, ClientEvent::IdleStarted { .. }) {
                s.idle_done().unwrap();
            }
            evs.push(ev);
        }
        out.extend(s.poll_transmit().unwrap_or_default());
    }
    let evs = merge(
        evs,
        |e| match e {
            ClientEvent::FetchLiteralData(b) => Some(b),
            _ => None,
        },
        ClientEvent::FetchLiteralData,
    );
    (evs, out)
}

#[test]
fn the_session_transcript_runs_to_the_end() {
    let input = transcript();
    let (evs, out) = session_run(&input, &[]);
    assert_eq!(evs.last(), Some(&ClientEvent::Closed), "{evs:?}");
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "A0001 LOGIN fred secret\r\nA0002 SELECT INBOX\r\nA0003 FETCH 1:2 (UID BODY[])\r\n\
         A0004 APPEND INBOX {14}\r\nSubject: x\r\n\r\n\r\nA0005 IDLE\r\nDONE\r\nA0006 LOGOUT\r\n"
    );
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, ClientEvent::FetchLiteralStart { .. }))
            .count(),
        2
    );
    assert!(evs.iter().any(|e| matches!(e, ClientEvent::Error(_))));
}

#[test]
fn one_byte_at_a_time() {
    let input = transcript();
    let all: Vec<usize> = (0..input.len()).collect();
    assert_eq!(session_run(&input, &all), session_run(&input, &[]));
    assert_eq!(reader_run(&input, &all), reader_run(&input, &[]));
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    let len = transcript().len();
    proptest::collection::vec(0..=len, 0..40).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

proptest! {
    #[test]
    fn reader_chunking_is_invisible(cuts in cuts()) {
        let input = transcript();
        prop_assert_eq!(reader_run(&input, &cuts), reader_run(&input, &[]));
    }

    #[test]
    fn session_chunking_is_invisible(cuts in cuts()) {
        let input = transcript();
        prop_assert_eq!(session_run(&input, &cuts), session_run(&input, &[]));
    }

    #[test]
    fn arbitrary_bytes_stay_bounded(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
    ) {
        let limits = ResponseLimits {
            max_line: 64,
            max_literal: 32,
            max_response: 256,
            max_literals: 4,
            stream_threshold: 8,
        };
        let mut r = ResponseReader::new(limits);
        let config = ClientConfig { limits, allow_plaintext_auth: true, ..ClientConfig::default() };
        let mut s = ClientSession::new(config);
        let _ = s.login("u", "p");
        let _ = s.enqueue(cmd("FETCH 1 BODY[]"));
        for c in &chunks {
            r.enqueue_input(c);
            while r.next_event().is_some() {}
            prop_assert!(r.buffered() <= limits.max_line + limits.max_response);
            s.enqueue_input(c);
            while s.next_event().is_some() {}
            prop_assert!(s.buffered() <= limits.max_line + limits.max_response);
            let _ = s.poll_transmit();
        }
    }

    #[test]
    fn mutated_transcripts_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cuts in cuts(),
    ) {
        let mut input = transcript();
        for (at, b) in edits {
            let i = at.index(input.len());
            input[i] = b;
        }
        let _ = session_run(&input, &cuts);
        let _ = reader_run(&input, &cuts);
    }

    #[test]
    fn arbitrary_input_to_a_logged_in_session(
        input in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut s = greeted(ClientConfig::default(), "* PREAUTH [CAPABILITY IMAP4rev2 IDLE SASL-IR] hi\r\n");
        let _ = s.enqueue(cmd("FETCH 1:* (BODY[] FLAGS)"));
        let _ = s.idle();
        s.enqueue_input(&input);
        while let Some(ev) = s.next_event() {
            if matches!(ev, ClientEvent::IdleStarted { .. }) {
                let _ = s.idle_done();
            }
        }
        let _ = s.poll_transmit();
        prop_assert!(s.buffered() <= s.config().limits.max_line + s.config().limits.max_response);
    }
}
