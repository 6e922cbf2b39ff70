//! PLAIN (RFC 4616), server and client.

mod common;

use postel_sasl::{
    AuthError, ClientCredentials, ClientError, ClientExchange, Identity, Mechanism, ServerExchange,
    ServerOptions, ServerStep, Verification, VerifyRequest, wire,
};

fn server() -> ServerExchange {
    ServerExchange::new(Mechanism::Plain, ServerOptions::default())
}

fn password_request(step: ServerStep) -> (Option<String>, String, String) {
    match step {
        ServerStep::Verify(VerifyRequest::Password {
            authzid,
            authcid,
            password,
        }) => (authzid, authcid, password),
        other => panic!("expected a password request, got {other:?}"),
    }
}

fn malformed(step: ServerStep) -> &'static str {
    match step {
        ServerStep::Failure(AuthError::Malformed {
            mechanism: Mechanism::Plain,
            what,
        }) => what,
        other => panic!("expected a malformed PLAIN failure, got {other:?}"),
    }
}

#[test]
fn rfc4616_example_without_authzid() {
    let mut s = server();
    let (authzid, authcid, password) = password_request(s.start(Some(b"\0tim\0tanstaaftanstaaf")));
    assert_eq!(authzid, None);
    assert_eq!(authcid, "tim");
    assert_eq!(password, "tanstaaftanstaaf");
    assert_eq!(
        s.verified(Verification::Accepted),
        ServerStep::Success {
            identity: Identity {
                authzid: None,
                authcid: "tim".into()
            },
            additional: None
        }
    );
    assert!(s.is_finished());
}

#[test]
fn rfc4616_example_with_authzid() {
    let mut s = server();
    let (authzid, authcid, password) = password_request(s.start(Some(b"Ursel\0Kurt\0xipj3plmq")));
    assert_eq!(authzid.as_deref(), Some("Ursel"));
    assert_eq!(authcid, "Kurt");
    assert_eq!(password, "xipj3plmq");
    match s.verified(Verification::Accepted) {
        ServerStep::Success { identity, .. } => {
            assert_eq!(identity.authzid.as_deref(), Some("Ursel"));
            assert_eq!(identity.authcid, "Kurt");
            assert_eq!(identity.acting_as(), "Ursel");
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn base64_initial_response_from_the_wire() {
    let initial = wire::parse_initial_response(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
    let (_, authcid, password) = password_request(server().start(Some(&initial)));
    assert_eq!(
        (authcid.as_str(), password.as_str()),
        ("tim", "tanstaaftanstaaf")
    );
}

#[test]
fn without_initial_response_the_server_sends_an_empty_challenge() {
    let mut s = server();
    assert_eq!(s.start(None), ServerStep::Challenge(Vec::new()));
    let (_, authcid, _) = password_request(s.respond(b"\0tim\0tanstaaftanstaaf"));
    assert_eq!(authcid, "tim");
    assert_eq!(
        s.verified(Verification::Rejected),
        ServerStep::Failure(AuthError::Rejected)
    );
}

#[test]
fn malformed_messages_fail() {
    assert_eq!(
        malformed(server().start(Some(b"tim"))),
        "no NUL separator after the authzid"
    );
    assert_eq!(
        malformed(server().start(Some(b"\0timtanstaaf"))),
        "no NUL separator between authcid and password"
    );
    assert_eq!(
        malformed(server().start(Some(b"\0\0tanstaaf"))),
        "authcid is empty"
    );
    assert_eq!(
        malformed(server().start(Some(b"\0tim\0"))),
        "password is empty"
    );
    assert_eq!(
        malformed(server().start(Some(b"\0tim\0tans\0taaf"))),
        "more than two NUL separators"
    );
    assert_eq!(
        malformed(server().start(Some(b"\xff\0tim\0pw"))),
        "authzid is not valid UTF-8"
    );
    // An empty initial response ("=") is not a PLAIN message either.
    assert_eq!(
        malformed(server().start(Some(b""))),
        "no NUL separator after the authzid"
    );
}

#[test]
fn error_messages_name_the_mechanism_and_the_fault() {
    let ServerStep::Failure(err) = server().start(Some(b"\0\0pw")) else {
        panic!("expected failure");
    };
    assert_eq!(
        err.to_string(),
        "malformed PLAIN message from client: authcid is empty"
    );
}

#[test]
fn rejected_and_renamed_verdicts() {
    let mut s = server();
    s.start(Some(b"\0Tim\0pw"));
    match s.verified(Verification::AcceptedAs("tim".into())) {
        ServerStep::Success { identity, .. } => {
            assert_eq!(identity.authcid, "tim");
            assert_eq!(identity.authzid, None);
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn overlong_response_is_refused() {
    let mut s = ServerExchange::new(
        Mechanism::Plain,
        ServerOptions {
            max_response_len: 10,
            ..ServerOptions::default()
        },
    );
    assert_eq!(
        s.start(Some(b"\0tim\0tanstaaftanstaaf")),
        ServerStep::Failure(AuthError::ResponseTooLong { len: 21, max: 10 })
    );
    assert!(s.is_finished());

    let mut s = server();
    assert_eq!(s.start(None), ServerStep::Challenge(Vec::new()));
    let long = vec![b'a'; 16 * 1024 + 1];
    assert_eq!(
        s.respond(&long),
        ServerStep::Failure(AuthError::ResponseTooLong {
            len: 16385,
            max: 16384
        })
    );
}

#[test]
fn caller_misuse_is_reported_not_panicked() {
    let mut s = server();
    assert!(matches!(
        s.verified(Verification::Accepted),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));
    let mut s = server();
    assert!(matches!(
        s.respond(b"x"),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));
    let mut s = server();
    s.start(Some(b"\0tim\0pw"));
    assert!(matches!(
        s.start(None),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));
    // The misuse ended the exchange.
    assert!(matches!(
        s.verified(Verification::Accepted),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));
    let mut s = server();
    s.start(Some(b"\0tim\0pw"));
    assert!(matches!(
        s.verified(Verification::Scram {
            credentials: postel_sasl::ScramCredentials::derive("pw", b"salt", 1),
            server_nonce: "n".into()
        }),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));
}

#[test]
fn cancellation() {
    let mut s = server();
    s.start(None);
    assert_eq!(
        s.respond_line(b"*"),
        ServerStep::Failure(AuthError::Cancelled)
    );
    assert!(s.is_finished());
    assert!(matches!(
        s.cancel(),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));
}

#[test]
fn client_builds_rfc_messages() {
    let mut c = ClientExchange::new(
        Mechanism::Plain,
        ClientCredentials::password("tim", "tanstaaftanstaaf"),
        None,
    )
    .unwrap();
    assert_eq!(c.initial_response().unwrap(), b"\0tim\0tanstaaftanstaaf");
    c.finish(None).unwrap();

    let mut creds = ClientCredentials::password("Kurt", "xipj3plmq");
    creds.authzid = Some("Ursel".into());
    let mut c = ClientExchange::new(Mechanism::Plain, creds, None).unwrap();
    assert_eq!(c.initial_response().unwrap(), b"Ursel\0Kurt\0xipj3plmq");
}

#[test]
fn client_answers_the_empty_challenge_when_there_was_no_initial_response() {
    let mut c = ClientExchange::new(
        Mechanism::Plain,
        ClientCredentials::password("tim", "pw"),
        None,
    )
    .unwrap();
    assert_eq!(c.respond(b"").unwrap(), b"\0tim\0pw");
    assert!(matches!(
        c.respond(b""),
        Err(ClientError::UnexpectedChallenge {
            mechanism: Mechanism::Plain,
            ..
        })
    ));
    assert!(c.is_finished());
}

#[test]
fn client_refuses_bad_credentials() {
    let bad = |creds| ClientExchange::new(Mechanism::Plain, creds, None).unwrap_err();
    assert!(matches!(
        bad(ClientCredentials::bearer("tim", "tok")),
        ClientError::SecretMismatch {
            mechanism: Mechanism::Plain,
            ..
        }
    ));
    assert!(matches!(
        bad(ClientCredentials::password("", "pw")),
        ClientError::InvalidCredentials(_)
    ));
    assert!(matches!(
        bad(ClientCredentials::password("t\0m", "pw")),
        ClientError::InvalidCredentials(_)
    ));
    assert!(matches!(
        bad(ClientCredentials::password("tim", "")),
        ClientError::InvalidCredentials(_)
    ));
}

#[test]
fn client_refuses_success_before_sending_anything() {
    let mut c = ClientExchange::new(
        Mechanism::Plain,
        ClientCredentials::password("tim", "pw"),
        None,
    )
    .unwrap();
    assert!(matches!(
        c.finish(None),
        Err(ClientError::UnexpectedSuccess(_))
    ));
}

#[test]
fn round_trip_with_and_without_initial_response() {
    let store = common::Store::new("tim", "tanstaaftanstaaf");
    for ir in [true, false] {
        let out = common::run(
            Mechanism::Plain,
            ClientCredentials::password("tim", "tanstaaftanstaaf"),
            &store,
            ir,
        );
        assert_eq!(out.server.unwrap().authcid, "tim");
        assert!(out.client.unwrap().is_ok());
        let out = common::run(
            Mechanism::Plain,
            ClientCredentials::password("tim", "wrong"),
            &store,
            ir,
        );
        assert_eq!(out.server, Err(AuthError::Rejected));
    }
}
