//! The client session against the server session, wired together in
//! memory: every login method, every transaction command, STLS, locking,
//! and the client's own checks.

mod common;

use std::time::Instant;

use common::{Harness, RFC_TIMESTAMP, Wire, config, message_one, message_two, rfc_store};
use postel_pop3::client::{
    ClientAuth, ClientConfig, ClientError, ClientEvent, ClientSession, ScanListing, TlsPolicy,
    UniqueId,
};
use postel_pop3::{Command, ResponseCode};
use postel_sasl::{ClientCredentials, Mechanism};

fn user_pass(password: &str) -> ClientConfig {
    let mut c = ClientConfig::new(Some(ClientAuth::UserPass {
        user: "mrose".into(),
        password: password.into(),
    }));
    c.allow_plaintext_without_tls = true;
    c
}

fn sasl(mechanism: Option<Mechanism>, password: &str, nonce: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new(Some(ClientAuth::Sasl {
        mechanism,
        credentials: ClientCredentials::password("mrose", password),
        scram_nonce: nonce.map(str::to_owned),
    }));
    c.allow_plaintext_without_tls = true;
    c
}

/// Runs every transaction command once Ready.
fn everything(client: &mut ClientSession, event: &ClientEvent, now: Instant) {
    if let ClientEvent::Ready = event {
        client.stat(now).unwrap();
        client.list(now, None).unwrap();
        client.uidl(now, None).unwrap();
        client.list(now, Some(2)).unwrap();
        client.uidl(now, Some(1)).unwrap();
        client.retr(now, 1).unwrap();
        client.top(now, 2, 1).unwrap();
        client.retr(now, 9).unwrap();
        client.noop(now).unwrap();
        client.dele(now, 1).unwrap();
        client.rset(now).unwrap();
        client.dele(now, 2).unwrap();
        client.quit(now).unwrap();
        assert!(client.stat(now).is_err(), "nothing after QUIT");
    }
}

fn check_everything(w: &Wire) {
    let ev = &w.client_events;
    let find = |f: &dyn Fn(&ClientEvent) -> bool| ev.iter().any(f);
    assert!(ev.contains(&ClientEvent::Ready), "{ev:?}");
    assert!(ev.contains(&ClientEvent::Stat {
        count: 2,
        size: 320
    }));
    assert!(ev.contains(&ClientEvent::List(vec![
        ScanListing {
            number: 1,
            size: 120
        },
        ScanListing {
            number: 2,
            size: 200
        }
    ])));
    assert!(ev.contains(&ClientEvent::Uidl(vec![
        UniqueId {
            number: 1,
            uid: "QhdPYR:00WBw1Ph7x7".into()
        },
        UniqueId {
            number: 2,
            uid: "QhdPYR:00WBw1Ph7x8".into()
        }
    ])));
    assert!(ev.contains(&ClientEvent::ListOne(ScanListing {
        number: 2,
        size: 200
    })));
    assert!(ev.contains(&ClientEvent::UidlOne(UniqueId {
        number: 1,
        uid: "QhdPYR:00WBw1Ph7x7".into()
    })));
    assert!(find(&|e| matches!(
        e,
        ClientEvent::Refused { command: Command::Retr { msg: 9 }, response } if !response.is_ok()
    )));
    assert!(ev.contains(&ClientEvent::Noop));
    assert!(ev.contains(&ClientEvent::Deleted { number: 1 }));
    assert!(ev.contains(&ClientEvent::Reset));
    assert!(ev.contains(&ClientEvent::Deleted { number: 2 }));
    assert!(ev.contains(&ClientEvent::MessageEnd {
        number: 1,
        size: 120
    }));
    assert!(matches!(ev.last(), Some(ClientEvent::Closed(r)) if r.is_ok()));
    let bodies = w.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], message_one());
    assert_eq!(
        bodies[1],
        b"From: b@example.org\r\nSubject: two\r\n\r\nline 1\r\n".to_vec()
    );
    assert!(w.client.is_closed());
    // QUIT committed the deletion of message 2 (message 1 was reset).
    let left = w.server.store.messages("mrose");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1.as_ref(), message_one().as_slice());
}

#[test]
fn user_pass_with_pipelining() {
    let mut w = Wire::new(Harness::rfc(), user_pass("tanstaaf"));
    w.run(everything);
    check_everything(&w);
    assert!(w.client.capabilities().pipelining);
    // Pipelined: every command went out in one write after login.
    let sent = String::from_utf8(w.client_sent.clone()).unwrap();
    assert!(sent.starts_with("CAPA\r\nUSER mrose\r\nPASS tanstaaf\r\nSTAT\r\nLIST\r\n"));
}

#[test]
fn user_pass_without_pipelining() {
    let mut c = config();
    c.extensions.pipelining = false;
    let mut w = Wire::new(Harness::new(c, rfc_store(), None), user_pass("tanstaaf"));
    w.run(everything);
    check_everything(&w);
    let mut c = user_pass("tanstaaf");
    c.use_pipelining = false;
    let mut w = Wire::new(Harness::rfc(), c);
    w.run(everything);
    check_everything(&w);
}

#[test]
fn apop_login() {
    let c = ClientConfig::new(Some(ClientAuth::Apop {
        user: "mrose".into(),
        secret: "tanstaaf".into(),
    }));
    let mut w = Wire::new(Harness::rfc(), c);
    w.run(everything);
    check_everything(&w);
    assert_eq!(w.client.apop_timestamp(), Some(RFC_TIMESTAMP));
    let sent = String::from_utf8(w.client_sent.clone()).unwrap();
    assert!(sent.contains("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"));
}

#[test]
fn apop_needs_a_timestamp() {
    let c = ClientConfig::new(Some(ClientAuth::Apop {
        user: "mrose".into(),
        secret: "tanstaaf".into(),
    }));
    let mut w = Wire::new(Harness::new(config(), rfc_store(), None), c);
    w.run(|_, _, _| {});
    assert!(matches!(
        w.client_events.last(),
        Some(ClientEvent::Failed(ClientError::AuthUnavailable(_)))
    ));
}

#[test]
fn sasl_plain_and_login() {
    // No nonce: SCRAM cannot be picked, PLAIN is next.
    let mut w = Wire::new(Harness::rfc(), sasl(None, "tanstaaf", None));
    w.run(everything);
    check_everything(&w);
    let sent = String::from_utf8(w.client_sent.clone()).unwrap();
    assert!(
        sent.contains("AUTH PLAIN AG1yb3NlAHRhbnN0YWFm\r\n"),
        "{sent}"
    );

    let mut w = Wire::new(
        Harness::rfc(),
        sasl(Some(Mechanism::Login), "tanstaaf", None),
    );
    w.run(everything);
    check_everything(&w);
}

#[test]
fn sasl_scram_sha256_with_server_final_continuation() {
    let mut w = Wire::new(Harness::rfc(), sasl(None, "tanstaaf", Some("clientnonce1")));
    w.run(everything);
    check_everything(&w);
    let server = String::from_utf8(w.server.output.clone()).unwrap();
    // server-first, then server-final ("v=...") as a last continuation,
    // answered by an empty line before +OK.
    assert!(
        server.contains("\r\n+ cj1jbGllbnRub25jZTFzcnZub25jZTQy"),
        "{server}"
    );
    assert!(server.contains("\r\n+ dj1"), "{server}");
    let sent = String::from_utf8(w.client_sent.clone()).unwrap();
    assert!(
        sent.starts_with("CAPA\r\nAUTH SCRAM-SHA-256 biws"),
        "{sent}"
    );
    assert!(sent.contains("\r\n\r\nSTAT\r\n"), "{sent}");
}

#[test]
fn sasl_scram_wrong_password_fails() {
    let mut w = Wire::new(Harness::rfc(), sasl(None, "wrong", Some("clientnonce1")));
    w.run(|_, _, _| {});
    match w.client_events.last() {
        Some(ClientEvent::Failed(ClientError::AuthFailed(r))) => {
            assert_eq!(r.code(), Some(&ResponseCode::Auth));
        }
        other => panic!("{other:?}"),
    }
    assert!(!w.server.store.is_locked("mrose"));
}

#[test]
fn wrong_password_fails() {
    let mut w = Wire::new(Harness::rfc(), user_pass("nope"));
    w.run(|_, _, _| {});
    assert!(matches!(
        w.client_events.last(),
        Some(ClientEvent::Failed(ClientError::AuthFailed(r))) if r.code() == Some(&ResponseCode::Auth)
    ));
}

#[test]
fn locked_maildrop_fails_with_in_use() {
    let store = rfc_store();
    let mut holder = Harness::new(config(), store.clone(), None);
    holder.login();
    let mut w = Wire::new(Harness::new(config(), store, None), user_pass("tanstaaf"));
    w.run(|_, _, _| {});
    assert!(matches!(
        w.client_events.last(),
        Some(ClientEvent::Failed(ClientError::AuthFailed(r))) if r.code() == Some(&ResponseCode::InUse)
    ));
}

#[test]
fn stls_then_login() {
    let mut c = config();
    c.allow_plaintext_login = false;
    c.extensions.stls = true;
    let mut cc = user_pass("tanstaaf");
    cc.allow_plaintext_without_tls = false;
    cc.tls = TlsPolicy::Required;
    let mut w = Wire::new(Harness::new(c, rfc_store(), None), cc);
    w.run(everything);
    check_everything(&w);
    assert!(w.client.is_tls());
    assert!(w.client_events.contains(&ClientEvent::StartTls));
    let sent = String::from_utf8(w.client_sent.clone()).unwrap();
    assert!(
        sent.starts_with("CAPA\r\nSTLS\r\nCAPA\r\nUSER mrose\r\n"),
        "{sent}"
    );
}

#[test]
fn tls_required_but_not_offered() {
    let mut cc = user_pass("tanstaaf");
    cc.tls = TlsPolicy::Required;
    let mut w = Wire::new(Harness::rfc(), cc);
    w.run(|_, _, _| {});
    assert_eq!(
        w.client_events.last(),
        Some(&ClientEvent::Failed(ClientError::TlsUnavailable))
    );
}

#[test]
fn no_password_in_the_clear_without_tls() {
    let mut cc = user_pass("tanstaaf");
    cc.allow_plaintext_without_tls = false;
    let mut w = Wire::new(Harness::rfc(), cc);
    w.run(|_, _, _| {});
    assert!(matches!(
        w.client_events.last(),
        Some(ClientEvent::Failed(ClientError::AuthUnavailable(_)))
    ));
    assert!(!String::from_utf8_lossy(&w.client_sent).contains("PASS"));
}

#[test]
fn without_auth_the_client_is_ready_in_authorization() {
    let mut w = Wire::new(Harness::rfc(), ClientConfig::new(None));
    w.run(|c, e, now| {
        if let ClientEvent::Ready = e {
            assert!(c.stat(now).is_err());
            c.quit(now).unwrap();
        }
    });
    assert!(matches!(w.client_events.last(), Some(ClientEvent::Closed(r)) if r.is_ok()));
    assert!(w.client.capabilities().uidl);
}

// ----- the client alone -----

fn client(config: ClientConfig) -> (ClientSession, Instant) {
    let now = Instant::now();
    (ClientSession::new(config, now), now)
}

fn events(c: &mut ClientSession) -> Vec<ClientEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

#[test]
fn client_discards_responses_injected_before_the_handshake() {
    let mut cc = user_pass("pw");
    cc.tls = TlsPolicy::Required;
    let (mut c, now) = client(cc);
    c.enqueue_input(now, b"+OK hi\r\n+OK caps\r\nSTLS\r\n.\r\n");
    assert!(events(&mut c).is_empty());
    assert_eq!(c.poll_transmit().unwrap(), b"CAPA\r\nSTLS\r\n");
    // The +OK to STLS and, in the same packet, an injected +OK.
    c.enqueue_input(now, b"+OK go ahead\r\n+OK injected\r\n");
    assert_eq!(events(&mut c), vec![ClientEvent::StartTls]);
    c.enqueue_input(now, b"+OK more injected\r\n");
    c.tls_established(now).unwrap();
    assert_eq!(c.poll_transmit().unwrap(), b"CAPA\r\n");
    // Nothing was read as the answer to the new CAPA.
    assert!(events(&mut c).is_empty());
    c.enqueue_input(now, b"+OK caps\r\nUSER\r\n.\r\n+OK send PASS\r\n+OK in\r\n");
    assert_eq!(events(&mut c), vec![ClientEvent::Ready]);
    assert_eq!(c.poll_transmit().unwrap(), b"USER mrose\r\nPASS pw\r\n");
}

#[test]
fn client_handles_servers_without_capa() {
    let (mut c, now) = client(user_pass("pw"));
    c.enqueue_input(now, b"+OK old server\r\n-ERR what?\r\n+OK\r\n+OK\r\n");
    assert_eq!(events(&mut c), vec![ClientEvent::Ready]);
    assert!(!c.capabilities().pipelining);
    // Without PIPELINING, one command at a time.
    c.stat(now).unwrap();
    c.noop(now).unwrap();
    assert_eq!(
        c.poll_transmit().unwrap(),
        b"CAPA\r\nUSER mrose\r\nPASS pw\r\nSTAT\r\n"
    );
    c.enqueue_input(now, b"+OK 1 5\r\n");
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Stat { count: 1, size: 5 }]
    );
    assert_eq!(c.poll_transmit().unwrap(), b"NOOP\r\n");
}

#[test]
fn client_failures() {
    let (mut c, now) = client(user_pass("pw"));
    c.enqueue_input(now, b"-ERR go away\r\n");
    assert!(matches!(
        events(&mut c).as_slice(),
        [ClientEvent::Failed(ClientError::GreetingRefused(_))]
    ));
    let (mut c, now) = client(user_pass("pw"));
    c.enqueue_input(now, b"HELLO\r\n");
    assert!(matches!(
        events(&mut c).as_slice(),
        [ClientEvent::Failed(ClientError::Protocol(_))]
    ));
    let (mut c, now) = client(user_pass("pw"));
    c.enqueue_input(now, &[b'+'; 600]);
    assert!(matches!(
        events(&mut c).as_slice(),
        [ClientEvent::Failed(ClientError::Protocol(
            postel_pop3::ResponseError::LineTooLong { max: 512 }
        ))]
    ));
    let (mut c, now) = client(user_pass("pw"));
    let deadline = c.poll_timeout().unwrap();
    c.handle_timeout(deadline);
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::Failed(ClientError::TimedOut("the greeting"))]
    );
    assert!(c.is_closed());
    let _ = now;
}

#[test]
fn client_streams_a_large_message_without_holding_it() {
    let (mut c, now) = client(user_pass("pw"));
    c.enqueue_input(now, b"+OK\r\n-ERR\r\n+OK\r\n+OK\r\n");
    assert_eq!(events(&mut c), vec![ClientEvent::Ready]);
    c.retr(now, 1).unwrap();
    c.enqueue_input(now, b"+OK big\r\n");
    let mut size = 0u64;
    let line = b"..0123456789012345678901234567890123456789\r\n";
    for _ in 0..20_000 {
        c.enqueue_input(now, line);
        for e in events(&mut c) {
            match e {
                ClientEvent::MessageData(b) => size += b.len() as u64,
                ClientEvent::MessageStart { number: 1 } => {}
                other => panic!("{other:?}"),
            }
        }
    }
    c.enqueue_input(now, b".\r\n");
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::MessageEnd {
            number: 1,
            size: 20_000 * (line.len() as u64 - 1)
        }]
    );
    assert_eq!(size, 20_000 * (line.len() as u64 - 1));
    let _ = message_two();
}
