//! LOGIN (draft-murchison-sasl-login), server and client.

mod common;

use postel_sasl::{
    AuthError, ClientCredentials, ClientError, ClientExchange, Mechanism, PASSWORD_CHALLENGE,
    ServerExchange, ServerOptions, ServerStep, USERNAME_CHALLENGE, Verification, VerifyRequest,
    wire,
};

fn server() -> ServerExchange {
    ServerExchange::new(Mechanism::Login, ServerOptions::default())
}

#[test]
fn server_prompts_for_username_then_password() {
    let mut s = server();
    assert_eq!(s.start(None), ServerStep::Challenge(b"Username:".to_vec()));
    assert_eq!(
        s.respond(b"tim"),
        ServerStep::Challenge(b"Password:".to_vec())
    );
    assert_eq!(
        s.respond(b"tanstaaf"),
        ServerStep::Verify(VerifyRequest::Password {
            authzid: None,
            authcid: "tim".into(),
            password: "tanstaaf".into()
        })
    );
    match s.verified(Verification::Accepted) {
        ServerStep::Success {
            identity,
            additional,
        } => {
            assert_eq!(identity.authcid, "tim");
            assert_eq!(identity.authzid, None);
            assert_eq!(additional, None);
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn wire_form_of_the_prompts() {
    assert_eq!(wire::encode(USERNAME_CHALLENGE), "VXNlcm5hbWU6");
    assert_eq!(wire::encode(PASSWORD_CHALLENGE), "UGFzc3dvcmQ6");
}

#[test]
fn username_as_initial_response_skips_the_first_prompt() {
    let mut s = server();
    assert_eq!(
        s.start(Some(b"tim")),
        ServerStep::Challenge(b"Password:".to_vec())
    );
    assert!(matches!(
        s.respond(b"pw"),
        ServerStep::Verify(VerifyRequest::Password { .. })
    ));
    // An empty initial response is treated as none.
    assert_eq!(
        server().start(Some(b"")),
        ServerStep::Challenge(b"Username:".to_vec())
    );
}

#[test]
fn rejection_and_malformed_answers() {
    let mut s = server();
    s.start(None);
    s.respond(b"tim");
    s.respond(b"wrong");
    assert_eq!(
        s.verified(Verification::Rejected),
        ServerStep::Failure(AuthError::Rejected)
    );

    let mut s = server();
    s.start(None);
    assert_eq!(
        s.respond(b""),
        ServerStep::Failure(AuthError::Malformed {
            mechanism: Mechanism::Login,
            what: "username is empty"
        })
    );
    let mut s = server();
    s.start(None);
    s.respond(b"tim");
    assert_eq!(
        s.respond(b"p\0w"),
        ServerStep::Failure(AuthError::Malformed {
            mechanism: Mechanism::Login,
            what: "password contains NUL"
        })
    );
}

#[test]
fn cancellation_at_either_prompt() {
    let mut s = server();
    s.start(None);
    assert_eq!(
        s.respond_line(b"*"),
        ServerStep::Failure(AuthError::Cancelled)
    );
    let mut s = server();
    s.start(None);
    assert_eq!(
        s.respond_line(b"dGlt"),
        ServerStep::Challenge(b"Password:".to_vec())
    );
    assert_eq!(
        s.respond_line(b" * "),
        ServerStep::Failure(AuthError::Cancelled)
    );
}

#[test]
fn client_flow() {
    let mut c = ClientExchange::new(
        Mechanism::Login,
        ClientCredentials::password("tim", "tanstaaf"),
        None,
    )
    .unwrap();
    assert_eq!(c.initial_response(), None);
    assert_eq!(c.respond(b"Username:").unwrap(), b"tim");
    assert_eq!(c.respond(b"Password:").unwrap(), b"tanstaaf");
    c.finish(None).unwrap();
    assert!(c.is_finished());
}

#[test]
fn client_refuses_early_success_and_extra_prompts() {
    let mut c = ClientExchange::new(
        Mechanism::Login,
        ClientCredentials::password("tim", "pw"),
        None,
    )
    .unwrap();
    c.respond(b"Username:").unwrap();
    assert!(matches!(
        c.finish(None),
        Err(ClientError::UnexpectedSuccess(_))
    ));

    let mut c = ClientExchange::new(
        Mechanism::Login,
        ClientCredentials::password("tim", "pw"),
        None,
    )
    .unwrap();
    c.respond(b"Username:").unwrap();
    c.respond(b"Password:").unwrap();
    assert!(matches!(
        c.respond(b"Password:"),
        Err(ClientError::UnexpectedChallenge {
            mechanism: Mechanism::Login,
            ..
        })
    ));
}

#[test]
fn round_trip() {
    let store = common::Store::new("tim", "tanstaaf");
    let out = common::run(
        Mechanism::Login,
        ClientCredentials::password("tim", "tanstaaf"),
        &store,
        true,
    );
    assert_eq!(out.server.unwrap().authcid, "tim");
    assert!(out.client.unwrap().is_ok());
    let transcript: Vec<_> = out
        .transcript
        .iter()
        .map(|(who, m)| (*who, m.as_slice()))
        .collect();
    assert_eq!(
        transcript,
        vec![
            ('S', &b"Username:"[..]),
            ('C', &b"tim"[..]),
            ('S', &b"Password:"[..]),
            ('C', &b"tanstaaf"[..]),
        ]
    );
    let out = common::run(
        Mechanism::Login,
        ClientCredentials::password("tim", "nope"),
        &store,
        false,
    );
    assert_eq!(out.server, Err(AuthError::Rejected));
}
