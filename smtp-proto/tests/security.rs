//! Security properties of the server session (and the AUTH interplay with
//! the client session): STARTTLS injection, AUTH policy, open-relay tricks,
//! limits, timeouts, and the replies RFC 5321 and its extensions require
//! for misuse.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    CHUNK_SIZES, Decision, Harness, Pair, accept_all, greeted, lossy, parse_replies, rcpt,
    run_transcript, sender, test_tls,
};
use postel_sasl::{
    ClientCredentials, Identity, Mechanism, ScramCredentials, Verification, VerifyRequest, wire,
};
use postel_smtp::client::{
    ClientAuth, ClientConfig, ClientError, ClientEvent, ClientSession, TlsPolicy,
};
use postel_smtp::extensions::Capabilities;
use postel_smtp::params::{MailParameters, RcptParameters};
use postel_smtp::server::{AbortReason, ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_smtp::{EnhancedCode, Reply};

fn starttls_config() -> ServerConfig {
    let mut c = ServerConfig::new("foo.com");
    c.extensions.starttls = true;
    c
}

fn ehlo_lines<F: FnMut(&ServerEvent) -> Decision>(h: &mut Harness<F>, chunk: usize) -> Vec<String> {
    let replies = h.send(b"EHLO bar.com\r\n", chunk);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].code(), 250);
    replies[0].lines().to_vec()
}

// ----- STARTTLS -----

#[test]
fn starttls_discards_pipelined_plaintext() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(starttls_config(), accept_all);
        assert!(ehlo_lines(&mut h, chunk).contains(&"STARTTLS".to_owned()));
        h.feed(b"STARTTLS\r\nMAIL FROM:<evil@x>\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "220 2.0.0 Ready to start TLS\r\n",
            "chunk {chunk}: only the 220, nothing for the injected MAIL"
        );
        assert_eq!(h.events.last(), Some(&ServerEvent::StartTls));
        assert!(!h.session.wants_input());
        assert_eq!(
            h.session.poll_timeout(),
            None,
            "the handshake is the driver's"
        );

        h.session.tls_established(test_tls()).unwrap();
        h.pump();
        assert_eq!(lossy(&h.take_new_output()), "", "chunk {chunk}");
        assert_eq!(h.session.info().tls, Some(test_tls()));
        assert_eq!(h.session.info().hello, None, "EHLO is forgotten after TLS");

        // RFC 3207 §4.2: the client must EHLO again.
        assert_eq!(
            lossy(&{
                h.feed(b"MAIL FROM:<good@bar.com>\r\n", chunk);
                h.take_new_output()
            }),
            "503 5.5.1 Send HELO/EHLO first\r\n"
        );
        let lines = ehlo_lines(&mut h, chunk);
        assert!(
            !lines.contains(&"STARTTLS".to_owned()),
            "not offered over TLS"
        );
        run_transcript(&mut h, chunk, &[("MAIL FROM:<good@bar.com>\r\n", &[250])]);
        assert_eq!(h.senders(), ["<good@bar.com>"], "chunk {chunk}");
        assert!(!h.events.iter().any(|e| format!("{e:?}").contains("evil")));
    }
}

#[test]
fn starttls_input_before_handshake_is_discarded() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(starttls_config(), accept_all);
        ehlo_lines(&mut h, chunk);
        run_transcript(&mut h, chunk, &[("STARTTLS\r\n", &[220])]);
        // Plaintext that arrives after the 220 but before the handshake.
        h.feed(b"EHLO evil.example\r\nMAIL FROM:<evil@x>\r\n", chunk);
        assert_eq!(lossy(&h.take_new_output()), "");
        h.session.tls_established(test_tls()).unwrap();
        h.pump();
        assert_eq!(lossy(&h.take_new_output()), "");
        assert_eq!(
            h.session.tls_established(test_tls()),
            Err(postel_smtp::UsageError::WrongState(
                "tls_established without STARTTLS"
            ))
        );
        ehlo_lines(&mut h, chunk);
        let hellos: Vec<&ServerEvent> = h
            .events
            .iter()
            .filter(|e| matches!(e, ServerEvent::Hello { .. }))
            .collect();
        assert_eq!(hellos.len(), 2, "chunk {chunk}");
        assert!(hellos.iter().all(|e| matches!(e,
            ServerEvent::Hello { domain, .. } if domain == "bar.com")));
        assert!(h.senders().is_empty());
        // STARTTLS twice is refused.
        assert_eq!(
            lossy(&{
                h.feed(b"STARTTLS\r\n", chunk);
                h.take_new_output()
            }),
            "503 5.5.1 TLS already active\r\n"
        );
    }
}

#[test]
fn starttls_not_configured_502() {
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    ehlo_lines(&mut h, usize::MAX);
    assert_eq!(
        lossy(&{
            h.feed(b"STARTTLS\r\nNOOP\r\n", usize::MAX);
            h.take_new_output()
        }),
        "502 5.5.1 STARTTLS not available\r\n250 2.0.0 Ok\r\n"
    );
}

// ----- AUTH -----

const TIM_PLAIN: &[u8] = b"\0tim\0tanstaaftanstaaf";

fn password_check(event: &ServerEvent) -> Decision {
    match event {
        ServerEvent::AuthVerify(VerifyRequest::Password {
            authcid, password, ..
        }) => Decision::Auth(if authcid == "tim" && password == "tanstaaftanstaaf" {
            Verification::Accepted
        } else {
            Verification::Rejected
        }),
        ServerEvent::AuthVerify(_) => Decision::Auth(Verification::Rejected),
        _ => Decision::Accept,
    }
}

fn tim() -> Identity {
    Identity {
        authzid: None,
        authcid: "tim".to_owned(),
    }
}

#[test]
fn auth_before_tls_refused() {
    for chunk in CHUNK_SIZES {
        let mut config = starttls_config();
        config.extensions.auth = vec![Mechanism::Plain];
        let mut h = greeted(config, password_check);
        let lines = ehlo_lines(&mut h, chunk);
        assert!(
            !lines.iter().any(|l| l.starts_with("AUTH")),
            "PLAIN must not be offered in plaintext: {lines:?}"
        );
        assert!(Capabilities::from_ehlo_lines(&lines).auth.is_empty());
        let cmd = format!("AUTH PLAIN {}\r\n", wire::encode(TIM_PLAIN));
        h.feed(cmd.as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
        );
        assert!(
            !h.events
                .iter()
                .any(|e| matches!(e, ServerEvent::AuthVerify(_)))
        );

        run_transcript(&mut h, chunk, &[("STARTTLS\r\n", &[220])]);
        h.session.tls_established(test_tls()).unwrap();
        let lines = ehlo_lines(&mut h, chunk);
        assert!(lines.contains(&"AUTH PLAIN".to_owned()), "{lines:?}");
        h.feed(cmd.as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "235 2.7.0 Authentication successful\r\n"
        );
        assert_eq!(h.events.last(), Some(&ServerEvent::Authenticated(tim())));
        assert_eq!(h.session.info().auth, Some(tim()));
    }
}

#[test]
fn auth_plain_success_and_failure() {
    for chunk in CHUNK_SIZES {
        let mut config = ServerConfig::new("foo.com");
        config.extensions.auth = vec![Mechanism::Plain, Mechanism::Login];
        let mut h = greeted(config, password_check);
        h.session.set_implicit_tls(test_tls());
        let lines = ehlo_lines(&mut h, chunk);
        assert!(lines.contains(&"AUTH PLAIN LOGIN".to_owned()), "{lines:?}");

        // Wrong password, as an initial response.
        let wrong = format!("AUTH PLAIN {}\r\n", wire::encode(b"\0tim\0guess"));
        h.feed(wrong.as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "535 5.7.8 Authentication credentials invalid\r\n"
        );
        assert!(matches!(
            h.events.last(),
            Some(ServerEvent::AuthVerify(VerifyRequest::Password { authcid, .. })) if authcid == "tim"
        ));

        // Cancelled exchange.
        run_transcript(
            &mut h,
            chunk,
            &[("AUTH PLAIN\r\n", &[334]), ("*\r\n", &[501])],
        );

        // Not base64.
        run_transcript(
            &mut h,
            chunk,
            &[("AUTH PLAIN\r\n", &[334]), ("!!!\r\n", &[501])],
        );

        // Unknown mechanism.
        run_transcript(&mut h, chunk, &[("AUTH CRAM-MD5\r\n", &[504])]);
        assert!(h.session.info().auth.is_none());

        // Right password, after an empty 334 challenge.
        h.feed(b"AUTH PLAIN\r\n", chunk);
        assert_eq!(lossy(&h.take_new_output()), "334 \r\n");
        h.feed(format!("{}\r\n", wire::encode(TIM_PLAIN)).as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "235 2.7.0 Authentication successful\r\n"
        );
        assert_eq!(h.events.last(), Some(&ServerEvent::Authenticated(tim())));
        assert_eq!(h.session.info().auth, Some(tim()));

        // Once is enough.
        h.feed(
            format!("AUTH PLAIN {}\r\n", wire::encode(TIM_PLAIN)).as_bytes(),
            chunk,
        );
        assert_eq!(
            lossy(&h.take_new_output()),
            "503 5.5.1 Already authenticated\r\n"
        );
        let lines = ehlo_lines(&mut h, chunk);
        assert!(!lines.iter().any(|l| l.starts_with("AUTH")), "{lines:?}");
        let verifies = h
            .events
            .iter()
            .filter(|e| matches!(e, ServerEvent::AuthVerify(_)))
            .count();
        assert_eq!(verifies, 2, "chunk {chunk}");
    }
}

#[test]
fn auth_login_success() {
    let mut config = ServerConfig::new("foo.com");
    config.extensions.auth = vec![Mechanism::Login];
    let mut h = greeted(config, password_check);
    h.session.set_implicit_tls(test_tls());
    ehlo_lines(&mut h, usize::MAX);
    h.feed(b"AUTH LOGIN\r\n", usize::MAX);
    assert_eq!(
        lossy(&h.take_new_output()),
        format!("334 {}\r\n", wire::encode(b"Username:"))
    );
    h.feed(
        format!("{}\r\n", wire::encode(b"tim")).as_bytes(),
        usize::MAX,
    );
    assert_eq!(
        lossy(&h.take_new_output()),
        format!("334 {}\r\n", wire::encode(b"Password:"))
    );
    h.feed(
        format!("{}\r\n", wire::encode(b"tanstaaftanstaaf")).as_bytes(),
        usize::MAX,
    );
    assert_eq!(
        lossy(&h.take_new_output()),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(h.session.info().auth, Some(tim()));
}

const SCRAM_SALT: &[u8] = b"per-user salt for tests";
const SCRAM_SERVER_NONCE: &str = "srvPart+7Hq2";
const SCRAM_CLIENT_NONCE: &str = "cliPart/9Zk4";

fn scram_store(event: &ServerEvent) -> Decision {
    match event {
        ServerEvent::AuthVerify(VerifyRequest::Scram { username, .. }) if username == "user" => {
            Decision::Auth(Verification::Scram {
                credentials: ScramCredentials::derive("pencil", SCRAM_SALT, 4096),
                server_nonce: SCRAM_SERVER_NONCE.to_owned(),
            })
        }
        ServerEvent::AuthVerify(_) => Decision::Auth(Verification::Rejected),
        _ => Decision::Accept,
    }
}

fn scram_pair(password: &str) -> Pair<fn(&ServerEvent) -> Decision> {
    let now = Instant::now();
    let mut client_config = ClientConfig::new("client.example");
    client_config.tls = TlsPolicy::Disabled;
    client_config.auth = Some(ClientAuth {
        mechanism: None,
        credentials: ClientCredentials::password("user", password),
        scram_nonce: Some(SCRAM_CLIENT_NONCE.to_owned()),
        allow_plaintext_without_tls: false,
    });
    let mut server_config = ServerConfig::new("foo.com");
    server_config.extensions.auth = vec![Mechanism::ScramSha256, Mechanism::Plain];
    let server = Harness::new(server_config, scram_store as fn(&ServerEvent) -> Decision);
    Pair::new(ClientSession::new(client_config, now), server)
}

#[test]
fn auth_scram_sha256_full_exchange() {
    let mut pair = scram_pair("pencil");
    assert_eq!(pair.run(), [ClientEvent::Ready]);
    assert!(pair.client.is_authenticated());
    assert_eq!(
        pair.client.capabilities().auth,
        ["SCRAM-SHA-256"],
        "PLAIN hidden without TLS"
    );
    let user = Identity {
        authzid: None,
        authcid: "user".to_owned(),
    };
    assert_eq!(pair.server.session.info().auth, Some(user.clone()));
    assert!(
        pair.server
            .events
            .contains(&ServerEvent::Authenticated(user))
    );

    // The wire: AUTH with client-first, 334 server-first, client-final,
    // 334 server-final, empty line, 235.
    let client_text = lossy(&pair.client_bytes);
    let lines: Vec<&str> = client_text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 4, "{client_text:?}");
    assert_eq!(lines[0], "EHLO client.example");
    let first = lines[1]
        .strip_prefix("AUTH SCRAM-SHA-256 ")
        .expect("initial response on the AUTH line");
    assert_eq!(
        lossy(&wire::decode(first.as_bytes()).unwrap()),
        format!("n,,n=user,r={SCRAM_CLIENT_NONCE}")
    );
    let client_final = lossy(&wire::decode(lines[2].as_bytes()).unwrap());
    assert!(
        client_final.starts_with(&format!(
            "c=biws,r={SCRAM_CLIENT_NONCE}{SCRAM_SERVER_NONCE},p="
        )),
        "{client_final}"
    );
    assert_eq!(lines[3], "", "empty answer to the server-final 334");
    let replies = parse_replies(&pair.server_bytes);
    let codes: Vec<u16> = replies.iter().map(Reply::code).collect();
    assert_eq!(codes, [220, 250, 334, 334, 235]);
    let server_first = lossy(&wire::decode(replies[2].text().as_bytes()).unwrap());
    assert!(server_first.starts_with(&format!("r={SCRAM_CLIENT_NONCE}{SCRAM_SERVER_NONCE},s=")));
    assert!(server_first.ends_with(",i=4096"));
    let server_final = lossy(&wire::decode(replies[3].text().as_bytes()).unwrap());
    assert!(server_final.starts_with("v="), "{server_final}");

    // And a message goes through the authenticated session.
    let now = Instant::now();
    pair.client
        .send(
            now,
            postel_smtp::client::Envelope {
                from: sender("user@client.example"),
                params: MailParameters::default(),
                recipients: vec![(rcpt("rcpt@foo.com"), RcptParameters::default())],
            },
        )
        .unwrap();
    assert_eq!(pair.run(), [ClientEvent::SendBody]);
    pair.client
        .body_chunk(b"Subject: scram\r\n\r\nok\r\n")
        .unwrap();
    pair.client.body_end(now).unwrap();
    let ev = pair.run();
    assert!(
        matches!(ev.as_slice(), [ClientEvent::Delivered(o)] if o.recipients[0].status.reply().code() == 250),
        "{ev:?}"
    );
    assert_eq!(
        pair.server.bodies,
        vec![b"Subject: scram\r\n\r\nok\r\n".to_vec()]
    );
}

#[test]
fn auth_scram_sha256_wrong_password_fails_both_sides() {
    let mut pair = scram_pair("not the password");
    let ev = pair.run();
    let [ClientEvent::Failed(ClientError::AuthFailed(reply))] = ev.as_slice() else {
        panic!("expected AuthFailed, got {ev:?}");
    };
    assert_eq!(reply.code(), 535);
    assert_eq!(reply.enhanced(), Some(EnhancedCode::new(5, 7, 8)));
    assert!(!pair.client.is_authenticated());
    assert_eq!(pair.server.session.info().auth, None);
    assert!(
        !pair
            .server
            .events
            .iter()
            .any(|e| matches!(e, ServerEvent::Authenticated(_)))
    );
}

#[test]
fn auth_during_transaction_refused() {
    for chunk in CHUNK_SIZES {
        let mut config = ServerConfig::new("foo.com");
        config.extensions.auth = vec![Mechanism::Plain];
        let mut h = greeted(config, password_check);
        h.session.set_implicit_tls(test_tls());
        ehlo_lines(&mut h, chunk);
        run_transcript(&mut h, chunk, &[("MAIL FROM:<tim@bar.com>\r\n", &[250])]);
        let cmd = format!("AUTH PLAIN {}\r\n", wire::encode(TIM_PLAIN));
        h.feed(cmd.as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "503 5.5.1 AUTH not allowed during a mail transaction\r\n"
        );
        assert!(
            !h.events
                .iter()
                .any(|e| matches!(e, ServerEvent::AuthVerify(_)))
        );
        assert!(
            h.session.transaction().is_some(),
            "the transaction survives"
        );
        run_transcript(&mut h, chunk, &[("RSET\r\n", &[250]), (&cmd, &[235])]);
    }
}

#[test]
fn auth_before_ehlo_503_and_not_configured_502() {
    let mut config = ServerConfig::new("foo.com");
    config.extensions.auth = vec![Mechanism::ScramSha256];
    let mut h = greeted(config, accept_all);
    run_transcript(&mut h, usize::MAX, &[("AUTH SCRAM-SHA-256\r\n", &[503])]);
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    ehlo_lines(&mut h, usize::MAX);
    h.feed(b"AUTH PLAIN =\r\n", usize::MAX);
    assert_eq!(
        lossy(&h.take_new_output()),
        "502 5.5.1 AUTH not available\r\n"
    );
}

// ----- open relay tricks -----

fn routing_refused(recipient: &str, hazard: &str) {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO bar.com\r\n", &[250]),
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
            ],
        );
        h.feed(format!("RCPT TO:<{recipient}>\r\n").as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            format!("553 5.7.1 Sender-specified routing is not allowed ({hazard})\r\n"),
            "{recipient}, chunk {chunk}"
        );
        assert!(h.recipients().is_empty(), "the application never sees it");
        run_transcript(&mut h, chunk, &[("RCPT TO:<user@foo.com>\r\n", &[250])]);
    }
    // When allowed, the decision is the application's.
    let mut config = ServerConfig::new("foo.com");
    config.strictness.allow_routing_in_recipients = true;
    let mut h = greeted(config, accept_all);
    run_transcript(
        &mut h,
        usize::MAX,
        &[
            ("EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\n", &[250, 250]),
            (&format!("RCPT TO:<{recipient}>\r\n"), &[250]),
        ],
    );
    assert_eq!(h.recipients(), [format!("<{recipient}>")]);
}

#[test]
fn open_relay_percent_hack_rejected() {
    routing_refused("user%other.example@foo.com", "PercentHack");
    routing_refused("\"user%other.example\"@foo.com", "PercentHack");
}

#[test]
fn open_relay_bang_path_rejected() {
    routing_refused("other.example!user@foo.com", "BangPath");
}

#[test]
fn open_relay_quoted_at_rejected() {
    routing_refused("\"user@other.example\"@foo.com", "EmbeddedAt");
    routing_refused("\"user\\@other.example\"@foo.com", "EmbeddedAt");
}

#[test]
fn source_route_is_ignored() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO bar.com\r\n", &[250]),
                ("MAIL FROM:<@a.example:x@y.example>\r\n", &[250]),
                ("RCPT TO:<@a.example,@b.example:u@c.example>\r\n", &[250]),
            ],
        );
        let events = h.events_without_data();
        assert_eq!(
            events[1..],
            [
                ServerEvent::MailFrom {
                    from: sender("x@y.example"),
                    params: MailParameters::default()
                },
                ServerEvent::RcptTo {
                    to: rcpt("u@c.example"),
                    params: RcptParameters::default()
                }
            ],
            "chunk {chunk}"
        );
        // A route without its final colon is malformed.
        run_transcript(
            &mut h,
            chunk,
            &[("RCPT TO:<@a.example,u@c.example>\r\n", &[553])],
        );
    }
}

// ----- limits -----

#[test]
fn literal_recipient_limit() {
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    run_transcript(
        &mut h,
        usize::MAX,
        &[
            ("EHLO bar.com\r\n", &[250]),
            ("MAIL FROM:<a@bar.com>\r\n", &[250]),
        ],
    );
    let mut batch = String::new();
    for i in 0..100 {
        batch.push_str(&format!("RCPT TO:<r{i}@foo.com>\r\n"));
    }
    let codes = h.codes(batch.as_bytes(), usize::MAX);
    assert_eq!(codes, vec![250; 100]);
    h.feed(b"RCPT TO:<r100@foo.com>\r\n", usize::MAX);
    assert_eq!(
        lossy(&h.take_new_output()),
        "452 4.5.3 Too many recipients\r\n"
    );
    // Not counted as errors (RFC 5321 §4.5.3.1.10): 30 more do not close.
    let mut more = String::new();
    for i in 101..131 {
        more.push_str(&format!("RCPT TO:<r{i}@foo.com>\r\n"));
    }
    assert_eq!(h.codes(more.as_bytes(), usize::MAX), vec![452; 30]);
    assert!(!h.session.is_closed());
    assert_eq!(h.recipients().len(), 100, "the application saw only 100");
    assert_eq!(h.session.transaction().unwrap().recipients.len(), 100);
    run_transcript(
        &mut h,
        usize::MAX,
        &[("DATA\r\n", &[354]), ("x\r\n.\r\n", &[250])],
    );
    assert_eq!(h.session.info().messages, 1);
}

const LONG_LINE_LEN: usize = 100 * 1024;

#[test]
fn command_line_too_long_500() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        // 600 octets with CRLF, over the 512 of RFC 5321 §4.5.3.1.4.
        let long_noop = format!("NOOP {}\r\n", "x".repeat(593));
        assert_eq!(long_noop.len(), 600);
        h.feed(long_noop.as_bytes(), chunk);
        assert_eq!(lossy(&h.take_new_output()), "500 5.5.2 Line too long\r\n");
        // Exactly 512 is fine.
        let max_noop = format!("NOOP {}\r\n", "x".repeat(505));
        assert_eq!(max_noop.len(), 512);
        run_transcript(&mut h, chunk, &[(&max_noop, &[250]), ("NOOP\r\n", &[250])]);
    }
    // A 100 KB line without LF, in reads that each fit the buffer limit.
    for chunk in [1, 2, 3, 7, 4096] {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        h.feed(&vec![b'A'; LONG_LINE_LEN], chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "",
            "no reply before the line ends"
        );
        assert!(!h.session.is_closed());
        h.feed(b"\r\nNOOP\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n",
            "chunk {chunk}"
        );
        run_transcript(&mut h, chunk, &[("EHLO bar.com\r\n", &[250])]);
        assert!(
            h.events.iter().all(|e| !format!("{e:?}").contains("AAAA")),
            "no event carries the long line"
        );
        assert_eq!(h.events.len(), 1, "only the Hello");
    }
    // Memory stays bounded: with room for only 16.5 KiB of buffered input
    // the session would close with 421 if it kept the long line.
    let mut config = ServerConfig::new("foo.com");
    config.limits.max_buffered_input = 16 * 1024 + 512;
    let mut h = greeted(config, accept_all);
    h.feed(&vec![b'B'; LONG_LINE_LEN], 4096);
    h.feed(b"\r\nNOOP\r\n", 4096);
    assert_eq!(
        lossy(&h.take_new_output()),
        "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"
    );
    assert!(!h.session.is_closed());
}

#[test]
fn command_line_too_long_followed_by_pipelined_command_in_same_read() {
    let mut input = vec![b'A'; LONG_LINE_LEN];
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    h.feed(&input, usize::MAX);
    assert_eq!(
        lossy(&h.take_new_output()),
        "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"
    );
}

fn small_size_config() -> ServerConfig {
    let mut c = ServerConfig::new("foo.com");
    c.limits.max_message_size = 1000;
    c
}

/// `n` octets of message text in lines of 100 (98 + CRLF).
fn body_of(n: usize) -> String {
    assert_eq!(n % 100, 0);
    (0..n / 100).map(|i| format!("{:098}\r\n", i)).collect()
}

#[test]
fn message_too_large_552() {
    const TOO_LARGE: &str = "552 5.3.4 Message size exceeds fixed maximum message size\r\n";
    for chunk in CHUNK_SIZES {
        let mut h = greeted(small_size_config(), accept_all);
        let lines = ehlo_lines(&mut h, chunk);
        assert!(lines.contains(&"SIZE 1000".to_owned()));

        // SIZE= at MAIL.
        h.feed(b"MAIL FROM:<a@bar.com> SIZE=1001\r\n", chunk);
        assert_eq!(lossy(&h.take_new_output()), TOO_LARGE);
        assert!(h.senders().is_empty());
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<a@bar.com> SIZE=1000\r\n", &[250]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
                ("DATA\r\n", &[354]),
            ],
        );
        // DATA body over the limit (the declared SIZE was a lie).
        h.feed(format!("{}.\r\n", body_of(1100)).as_bytes(), chunk);
        assert_eq!(lossy(&h.take_new_output()), TOO_LARGE, "chunk {chunk}");
        assert!(h.events.contains(&ServerEvent::MessageAborted {
            reason: AbortReason::TooLarge
        }));
        assert!(h.session.transaction().is_none());
        // Exactly the limit is accepted.
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
                ("DATA\r\n", &[354]),
                (&format!("{}.\r\n", body_of(1000)), &[250]),
            ],
        );
        assert!(h.events.contains(&ServerEvent::MessageEnd { size: 1000 }));

        // BDAT over the limit in one chunk; its octets (which look like
        // commands) are read and thrown away.
        let payload = "QUIT\r\n".repeat(200);
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
            ],
        );
        h.feed(
            format!("BDAT 1001 LAST\r\n{}", &payload[..1001]).as_bytes(),
            chunk,
        );
        assert_eq!(lossy(&h.take_new_output()), TOO_LARGE);
        assert!(!h.session.is_closed());
        // Over the limit across chunks.
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
                (&format!("BDAT 600\r\n{}", &payload[..600]), &[250]),
                (&format!("BDAT 600 LAST\r\n{}", &payload[..600]), &[552]),
                ("NOOP\r\n", &[250]),
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
            ],
        );
        assert!(!h.session.is_closed());
        let aborted = h
            .events
            .iter()
            .filter(|e| {
                **e == ServerEvent::MessageAborted {
                    reason: AbortReason::TooLarge,
                }
            })
            .count();
        assert_eq!(aborted, 3, "chunk {chunk}");
        assert_eq!(h.session.info().messages, 1);
        assert!(!h.events.contains(&ServerEvent::Quit));
    }
}

#[test]
fn oversized_long_line_gets_the_same_reply_for_any_chunking() {
    let input = format!(
        "EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\nRCPT TO:<b@foo.com>\r\nDATA\r\n{}\r\n.\r\n",
        "x".repeat(1500)
    );
    let mut whole = greeted(small_size_config(), accept_all);
    whole.feed(input.as_bytes(), usize::MAX);
    for chunk in CHUNK_SIZES {
        let mut h = greeted(small_size_config(), accept_all);
        h.feed(input.as_bytes(), chunk);
        assert_eq!(lossy(&h.output), lossy(&whole.output), "chunk {chunk}");
        assert_eq!(
            h.events_without_data(),
            whole.events_without_data(),
            "chunk {chunk}"
        );
    }
}

#[test]
fn text_line_too_long_500() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        let ok_line = format!("{}\r\n", "y".repeat(998));
        let long_line = format!("{}\r\n", "z".repeat(999));
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO bar.com\r\n", &[250]),
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
                ("DATA\r\n", &[354]),
            ],
        );
        h.feed(
            format!("short\r\n{long_line}after\r\n.\r\n").as_bytes(),
            chunk,
        );
        assert_eq!(
            lossy(&h.take_new_output()),
            "500 5.5.2 Line too long in message data\r\n"
        );
        assert!(h.events.contains(&ServerEvent::MessageAborted {
            reason: AbortReason::LineTooLong
        }));
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
                ("DATA\r\n", &[354]),
                (&format!("{ok_line}.\r\n"), &[250]),
            ],
        );
        assert_eq!(
            h.bodies.last().unwrap(),
            ok_line.as_bytes(),
            "chunk {chunk}"
        );
    }
}

#[test]
fn text_line_limit_does_not_count_the_stuffing_dot() {
    // Content line: "." + 997 octets + CRLF = 1000 octets; on the wire it is
    // dot-stuffed to 1001, which RFC 5321 §4.5.3.1.6 says not to count.
    let content = format!(".{}\r\n", "d".repeat(997));
    assert_eq!(content.len(), 1000);
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    run_transcript(
        &mut h,
        usize::MAX,
        &[
            ("EHLO bar.com\r\n", &[250]),
            ("MAIL FROM:<a@bar.com>\r\n", &[250]),
            ("RCPT TO:<b@foo.com>\r\n", &[250]),
            ("DATA\r\n", &[354]),
            (&format!(".{content}.\r\n"), &[250]),
        ],
    );
    assert_eq!(h.bodies, vec![content.into_bytes()]);
}

#[test]
fn too_many_errors_closes_421() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        h.feed("FOO\r\n".repeat(25).as_bytes(), chunk);
        let expected = format!(
            "{}421 4.7.0 foo.com Too many errors, closing connection\r\n",
            "500 5.5.1 Command unrecognized\r\n".repeat(20)
        );
        assert_eq!(lossy(&h.take_new_output()), expected, "chunk {chunk}");
        assert!(h.session.is_closed());
        assert!(!h.session.wants_input());
        h.feed(b"NOOP\r\n", chunk);
        assert_eq!(lossy(&h.take_new_output()), "", "nothing after close");
    }
    // Different kinds of failure count together; successes do not reset.
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    let mut input = String::new();
    for _ in 0..10 {
        input.push_str("MAIL FROM:<a@bar.com>\r\nNOOP\r\nVRFY\r\n");
    }
    let codes = h.codes(input.as_bytes(), usize::MAX);
    let mut expected = Vec::new();
    for _ in 0..10 {
        expected.extend([503, 250, 501]);
    }
    expected.push(421);
    assert_eq!(codes, expected);
    assert!(h.session.is_closed());
}

#[test]
fn timeout_closes_421() {
    let start = Instant::now();
    let config = Arc::new(ServerConfig::new("foo.com"));
    let session = ServerSession::new(Arc::clone(&config), ConnectionInfo::default(), start);
    let mut h = Harness::from_session(session, start, accept_all);
    h.take_new_output();
    assert_eq!(
        h.session.poll_timeout(),
        Some(start + Duration::from_secs(300))
    );
    h.advance(Duration::from_secs(299));
    assert_eq!(lossy(&h.take_new_output()), "");
    assert!(!h.session.is_closed());
    // Input moves the deadline.
    h.feed(b"EHLO bar.com\r\n", usize::MAX);
    h.take_new_output();
    assert_eq!(
        h.session.poll_timeout(),
        Some(start + Duration::from_secs(299 + 300))
    );
    h.advance(Duration::from_secs(299));
    assert!(!h.session.is_closed());
    h.advance(Duration::from_secs(1));
    assert_eq!(
        lossy(&h.take_new_output()),
        "421 4.4.2 foo.com Error: timeout exceeded\r\n"
    );
    assert_eq!(h.events.last(), Some(&ServerEvent::TimedOut));
    assert!(h.session.is_closed());
    assert_eq!(h.session.poll_timeout(), None);

    // During DATA the data timeout (600 s) applies, and the message is aborted.
    let session = ServerSession::new(config, ConnectionInfo::default(), start);
    let mut h = Harness::from_session(session, start, accept_all);
    h.feed(
        b"EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\nRCPT TO:<b@foo.com>\r\nDATA\r\npartial\r\n",
        usize::MAX,
    );
    h.take_new_output();
    assert_eq!(
        h.session.poll_timeout(),
        Some(start + Duration::from_secs(600))
    );
    h.advance(Duration::from_secs(300));
    assert!(
        !h.session.is_closed(),
        "the command timeout does not apply in DATA"
    );
    h.advance(Duration::from_secs(300));
    assert_eq!(
        lossy(&h.take_new_output()),
        "421 4.4.2 foo.com Error: timeout exceeded\r\n"
    );
    let n = h.events.len();
    assert_eq!(
        h.events[n - 2..],
        [
            ServerEvent::MessageAborted {
                reason: AbortReason::TimedOut
            },
            ServerEvent::TimedOut
        ]
    );
    assert_eq!(h.bodies, vec![b"partial\r\n".to_vec()]);
}

// ----- parameters -----

#[test]
fn unknown_parameter_555() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        ehlo_lines(&mut h, chunk);
        h.feed(b"MAIL FROM:<a@bar.com> FOO=BAR\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "555 5.5.4 Unsupported: unknown parameter FOO\r\n"
        );
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<a@bar.com> X-EXPERIMENT\r\n", &[555]),
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
                ("RCPT TO:<b@foo.com> X-BAR=1\r\n", &[555]),
                ("RCPT TO:<b@foo.com> SIZE=10\r\n", &[555]),
            ],
        );
        assert!(h.recipients().is_empty());
        assert_eq!(h.senders(), ["<a@bar.com>"]);
    }
}

#[test]
fn unadvertised_parameter_555() {
    // REQUIRETLS is only offered over TLS.
    let mut config = ServerConfig::new("foo.com");
    config.extensions.requiretls = true;
    let mut h = greeted(config.clone(), accept_all);
    assert!(!ehlo_lines(&mut h, usize::MAX).contains(&"REQUIRETLS".to_owned()));
    h.feed(b"MAIL FROM:<a@bar.com> REQUIRETLS\r\n", usize::MAX);
    assert_eq!(
        lossy(&h.take_new_output()),
        "555 5.5.4 MAIL parameter of RequireTls not supported\r\n"
    );
    let mut h = greeted(config, accept_all);
    h.session.set_implicit_tls(test_tls());
    assert!(ehlo_lines(&mut h, usize::MAX).contains(&"REQUIRETLS".to_owned()));
    run_transcript(
        &mut h,
        usize::MAX,
        &[("MAIL FROM:<a@bar.com> REQUIRETLS\r\n", &[250])],
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, ServerEvent::MailFrom { params, .. } if params.requiretls))
    );

    // DSN switched off.
    let mut config = ServerConfig::new("foo.com");
    config.extensions.dsn = false;
    config.extensions.eight_bit_mime = false;
    config.extensions.smtputf8 = false;
    let mut h = greeted(config, accept_all);
    assert!(!ehlo_lines(&mut h, usize::MAX).contains(&"DSN".to_owned()));
    run_transcript(
        &mut h,
        usize::MAX,
        &[
            ("MAIL FROM:<a@bar.com> RET=HDRS\r\n", &[555]),
            ("MAIL FROM:<a@bar.com> ENVID=QQ314159\r\n", &[555]),
            ("MAIL FROM:<a@bar.com> BODY=8BITMIME\r\n", &[555]),
            ("MAIL FROM:<a@bar.com> SMTPUTF8\r\n", &[555]),
            ("MAIL FROM:<a@bar.com> BODY=7BIT\r\n", &[250]),
            ("RCPT TO:<b@foo.com> NOTIFY=NEVER\r\n", &[555]),
            ("RCPT TO:<b@foo.com> ORCPT=rfc822;b@foo.com\r\n", &[555]),
            ("RCPT TO:<b@foo.com>\r\n", &[250]),
        ],
    );
    // Extensions the recommended set leaves out.
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    ehlo_lines(&mut h, usize::MAX);
    run_transcript(
        &mut h,
        usize::MAX,
        &[
            ("MAIL FROM:<a@bar.com> MT-PRIORITY=3\r\n", &[555]),
            ("MAIL FROM:<a@bar.com> HOLDFOR=60\r\n", &[555]),
            ("MAIL FROM:<a@bar.com> BY=120;R\r\n", &[555]),
            ("MAIL FROM:<a@bar.com> AUTH=<>\r\n", &[555]),
        ],
    );
    assert!(h.senders().is_empty());
}

#[test]
fn helo_clients_cannot_use_esmtp_parameters() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        h.feed(b"HELO bar.com\r\n", chunk);
        assert_eq!(lossy(&h.take_new_output()), "250 foo.com\r\n");
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<a@bar.com> SIZE=100\r\n", &[555]),
                ("MAIL FROM:<a@bar.com> BODY=8BITMIME\r\n", &[555]),
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
                ("RCPT TO:<b@foo.com> NOTIFY=NEVER\r\n", &[555]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
            ],
        );
        assert_eq!(
            h.events[0],
            ServerEvent::Hello {
                domain: "bar.com".into(),
                extended: false
            }
        );
        assert_eq!(h.senders(), ["<a@bar.com>"]);
    }
}

#[test]
fn smtputf8_address_requires_parameter_553() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        ehlo_lines(&mut h, chunk);
        h.feed("MAIL FROM:<пользователь@пример.рф>\r\n".as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "553 5.6.7 Non-ASCII sender address needs the SMTPUTF8 parameter\r\n"
        );
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<пользователь@пример.рф> SMTPUTF8\r\n", &[250]),
                ("RCPT TO:<用户@例子.广告>\r\n", &[250]),
                ("RSET\r\n", &[250]),
                ("MAIL FROM:<a@bar.com>\r\n", &[250]),
            ],
        );
        h.feed("RCPT TO:<用户@例子.广告>\r\n".as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "553 5.6.7 Non-ASCII recipient address needs the SMTPUTF8 parameter on MAIL\r\n"
        );
        assert_eq!(h.senders(), ["<пользователь@пример.рф>", "<a@bar.com>"]);
        assert_eq!(h.recipients(), ["<用户@例子.广告>"], "chunk {chunk}");
    }
}

// ----- sequencing -----

#[test]
fn refused_session_answers_503_until_quit() {
    for chunk in CHUNK_SIZES {
        let now = Instant::now();
        let session = ServerSession::refuse(
            Arc::new(ServerConfig::new("foo.com")),
            ConnectionInfo::default(),
            Reply::with_status(554, (5, 7, 1), "foo.com No SMTP service here"),
            now,
        );
        let mut h = Harness::from_session(session, now, accept_all);
        assert_eq!(
            lossy(&h.take_new_output()),
            "554 5.7.1 foo.com No SMTP service here\r\n"
        );
        h.feed(b"EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\nNOOP\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "503 5.5.1 Bad sequence of commands\r\n".repeat(3)
        );
        assert!(!h.session.is_closed());
        h.feed(b"QUIT\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "221 2.0.0 foo.com closing connection\r\n"
        );
        assert!(h.session.is_closed());
        assert_eq!(h.events, [ServerEvent::Quit], "chunk {chunk}");
    }
}

#[test]
fn legacy_commands_502() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        for when in ["before EHLO", "after EHLO"] {
            for cmd in [
                "SEND FROM:<a@bar.com>",
                "SOML FROM:<a@bar.com>",
                "SAML FROM:<a@bar.com>",
                "TURN",
            ] {
                h.feed(format!("{cmd}\r\n").as_bytes(), chunk);
                assert_eq!(
                    lossy(&h.take_new_output()),
                    "502 5.5.1 Command not implemented\r\n",
                    "{cmd} {when}"
                );
            }
            if when == "before EHLO" {
                ehlo_lines(&mut h, chunk);
            }
        }
        assert_eq!(h.events.len(), 1, "only the Hello; chunk {chunk}");
    }
}

#[test]
fn lmtp_rejects_helo_and_ehlo() {
    for chunk in CHUNK_SIZES {
        let mut h = Harness::new(ServerConfig::lmtp("foo.com"), accept_all);
        assert_eq!(lossy(&h.take_new_output()), "220 foo.com LMTP Postel\r\n");
        for cmd in ["HELO bar.com\r\n", "EHLO bar.com\r\n"] {
            h.feed(cmd.as_bytes(), chunk);
            assert_eq!(
                lossy(&h.take_new_output()),
                "500 5.5.1 This is an LMTP server: use LHLO\r\n"
            );
        }
        h.feed(b"MAIL FROM:<a@bar.com>\r\n", chunk);
        assert_eq!(lossy(&h.take_new_output()), "503 5.5.1 Send LHLO first\r\n");
        let r = h.send(b"LHLO bar.com\r\n", chunk);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code(), 250);
        assert_eq!(r[0].lines()[0], "foo.com Hello bar.com");
        assert_eq!(
            h.events,
            [ServerEvent::Hello {
                domain: "bar.com".into(),
                extended: true
            }]
        );
    }
    // And an SMTP server does not know LHLO.
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    h.feed(b"LHLO bar.com\r\n", usize::MAX);
    assert_eq!(
        lossy(&h.take_new_output()),
        "500 5.5.1 Command unrecognized\r\n"
    );
}

#[test]
fn mail_before_helo_503() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        h.feed(b"MAIL FROM:<a@bar.com>\r\nRCPT TO:<b@foo.com>\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "503 5.5.1 Send HELO/EHLO first\r\n503 5.5.1 Need MAIL before RCPT\r\n"
        );
        assert!(h.events.is_empty());
    }
    let mut config = ServerConfig::new("foo.com");
    config.strictness.require_hello = false;
    let mut h = greeted(config, accept_all);
    run_transcript(&mut h, usize::MAX, &[("MAIL FROM:<a@bar.com>\r\n", &[250])]);
}

#[test]
fn data_without_rcpt_554() {
    let refuse_nobody = |e: &ServerEvent| match e {
        ServerEvent::RcptTo { to, .. } if to.to_string() == "<nobody@foo.com>" => {
            Decision::Reply(Reply::with_status(550, (5, 1, 1), "No such user"))
        }
        _ => Decision::Accept,
    };
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), refuse_nobody);
        ehlo_lines(&mut h, chunk);
        h.feed(b"DATA\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "503 5.5.1 Need MAIL command\r\n"
        );
        run_transcript(&mut h, chunk, &[("MAIL FROM:<a@bar.com>\r\n", &[250])]);
        h.feed(b"DATA\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "554 5.5.1 No valid recipients\r\n"
        );
        run_transcript(
            &mut h,
            chunk,
            &[
                ("RCPT TO:<nobody@foo.com>\r\n", &[550]),
                ("DATA\r\n", &[554]),
                // The BDAT octets are read and discarded, never run.
                ("BDAT 6 LAST\r\nQUIT\r\n", &[554]),
                ("RCPT TO:<b@foo.com>\r\n", &[250]),
                ("DATA\r\n", &[354]),
                ("hi\r\n.\r\n", &[250]),
            ],
        );
        assert!(!h.events.contains(&ServerEvent::Quit));
        assert_eq!(h.bodies, vec![b"hi\r\n".to_vec()], "chunk {chunk}");
    }
}

// ----- the application's text -----

#[test]
fn application_reply_text_cannot_forge_replies() {
    let forger = |e: &ServerEvent| match e {
        ServerEvent::RcptTo { .. } => {
            Decision::Reply(Reply::new(550, None, "no\r\n250 2.1.5 forged"))
        }
        _ => Decision::Accept,
    };
    let mut h = greeted(ServerConfig::new("foo.com"), forger);
    h.feed(b"EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\n", usize::MAX);
    h.take_new_output();
    h.feed(b"RCPT TO:<b@foo.com>\r\n", usize::MAX);
    assert_eq!(lossy(&h.take_new_output()), "550 no  250 2.1.5 forged\r\n");
}

#[test]
fn pipelined_input_beyond_buffer_limit_closes_421() {
    // Input that arrives while the application has not decided yet cannot be
    // consumed; past the limit the session gives up instead of growing.
    let mut config = ServerConfig::new("foo.com");
    config.limits.max_buffered_input = 1024;
    let now = std::time::Instant::now();
    let mut s = ServerSession::new(std::sync::Arc::new(config), Default::default(), now);
    s.enqueue_input(now, b"EHLO bar.com\r\n");
    assert!(matches!(s.poll_event(), Some(ServerEvent::Hello { .. })));
    assert!(!s.wants_input());
    s.enqueue_input(now, "NOOP\r\n".repeat(100).as_bytes());
    assert!(!s.is_closed(), "600 bytes are within the limit");
    s.enqueue_input(now, "NOOP\r\n".repeat(100).as_bytes());
    assert!(s.is_closed());
    let out = lossy(&s.poll_transmit().unwrap());
    assert!(
        out.ends_with("421 4.7.0 foo.com Too much pipelined input\r\n"),
        "{out}"
    );
    // The same volume with no decision pending is simply processed.
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    h.feed("NOOP\r\n".repeat(400).as_bytes(), usize::MAX);
    assert_eq!(lossy(&h.take_new_output()), "250 2.0.0 Ok\r\n".repeat(400));
}

#[test]
fn large_data_read_without_pending_decision_is_not_cut_off() {
    let mut config = ServerConfig::new("foo.com");
    config.limits.max_buffered_input = 4096;
    let body = body_of(10_000);
    let input = format!(
        "EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\nRCPT TO:<b@foo.com>\r\nDATA\r\n{body}.\r\n"
    );
    let mut chunked = greeted(config.clone(), accept_all);
    chunked.feed(input.as_bytes(), 1000);
    assert_eq!(chunked.bodies, vec![body.clone().into_bytes()]);
    let mut h = greeted(config, accept_all);
    h.feed(
        b"EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\nRCPT TO:<b@foo.com>\r\nDATA\r\n",
        usize::MAX,
    );
    h.take_new_output();
    assert!(h.session.wants_input());
    h.feed(format!("{body}.\r\n").as_bytes(), usize::MAX);
    assert_eq!(lossy(&h.take_new_output()), "250 2.0.0 Ok: queued\r\n");
    assert_eq!(h.output, chunked.output);
}
