//! XOAUTH2 and OAUTHBEARER (RFC 7628), server and client.

mod common;

use postel_sasl::{
    AuthError, ClientCredentials, ClientError, ClientExchange, Identity, Mechanism,
    OAUTHBEARER_ERROR, ServerExchange, ServerOptions, ServerStep, Verification, VerifyRequest,
    XOAUTH2_ERROR,
};

const RFC7628_MESSAGE: &[u8] = b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01";
const RFC7628_TOKEN: &str = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";

fn server(mechanism: Mechanism) -> ServerExchange {
    ServerExchange::new(mechanism, ServerOptions::default())
}

fn rfc7628_request() -> VerifyRequest {
    VerifyRequest::Bearer {
        mechanism: Mechanism::OAuthBearer,
        authzid: Some("user@example.com".into()),
        user: None,
        token: RFC7628_TOKEN.into(),
        host: Some("server.example.com".into()),
        port: Some(143),
    }
}

fn rfc7628_credentials() -> ClientCredentials {
    ClientCredentials {
        authzid: None,
        username: "user@example.com".into(),
        secret: postel_sasl::ClientSecret::BearerToken(RFC7628_TOKEN.into()),
        host: Some("server.example.com".into()),
        port: Some(143),
    }
}

#[test]
fn oauthbearer_rfc7628_example_succeeds() {
    let mut s = server(Mechanism::OAuthBearer);
    assert_eq!(
        s.start(Some(RFC7628_MESSAGE)),
        ServerStep::Verify(rfc7628_request())
    );
    assert_eq!(
        s.verified(Verification::Accepted),
        ServerStep::Success {
            identity: Identity {
                authzid: None,
                authcid: "user@example.com".into()
            },
            additional: None
        }
    );
}

#[test]
fn oauthbearer_failure_flow() {
    let mut s = server(Mechanism::OAuthBearer);
    s.start(Some(RFC7628_MESSAGE));
    let ServerStep::Challenge(json) = s.verified(Verification::Rejected) else {
        panic!("expected the JSON error challenge");
    };
    assert_eq!(json, OAUTHBEARER_ERROR);
    assert!(json.starts_with(br#"{"status":"invalid_token""#));
    assert_eq!(s.respond(b"\x01"), ServerStep::Failure(AuthError::Rejected));
    assert!(s.is_finished());
}

#[test]
fn oauthbearer_client_matches_rfc7628_and_answers_errors_with_kvsep() {
    let mut c = ClientExchange::new(Mechanism::OAuthBearer, rfc7628_credentials(), None).unwrap();
    assert_eq!(c.initial_response().unwrap(), RFC7628_MESSAGE);
    let json = br#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#;
    assert_eq!(c.respond(json).unwrap(), b"\x01");
    assert_eq!(c.server_error(), Some(std::str::from_utf8(json).unwrap()));
    assert!(matches!(
        c.respond(json),
        Err(ClientError::UnexpectedChallenge { .. })
    ));
}

#[test]
fn oauthbearer_client_refuses_success_after_error() {
    let mut c = ClientExchange::new(Mechanism::OAuthBearer, rfc7628_credentials(), None).unwrap();
    c.initial_response();
    c.respond(OAUTHBEARER_ERROR).unwrap();
    assert!(matches!(
        c.finish(None),
        Err(ClientError::UnexpectedSuccess(_))
    ));
}

#[test]
fn oauthbearer_minimal_message_needs_accepted_as() {
    let msg = b"n,,\x01auth=Bearer abc\x01\x01";
    let mut s = server(Mechanism::OAuthBearer);
    assert_eq!(
        s.start(Some(msg)),
        ServerStep::Verify(VerifyRequest::Bearer {
            mechanism: Mechanism::OAuthBearer,
            authzid: None,
            user: None,
            token: "abc".into(),
            host: None,
            port: None
        })
    );
    assert!(matches!(
        s.verified(Verification::Accepted),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));
    let mut s = server(Mechanism::OAuthBearer);
    s.start(Some(msg));
    match s.verified(Verification::AcceptedAs("alice".into())) {
        ServerStep::Success { identity, .. } => {
            assert_eq!(
                identity,
                Identity {
                    authzid: None,
                    authcid: "alice".into()
                }
            )
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn oauthbearer_token_subject_differing_from_authzid_keeps_both() {
    let mut s = server(Mechanism::OAuthBearer);
    s.start(Some(RFC7628_MESSAGE));
    match s.verified(Verification::AcceptedAs("admin@example.com".into())) {
        ServerStep::Success { identity, .. } => {
            assert_eq!(identity.authcid, "admin@example.com");
            assert_eq!(identity.authzid.as_deref(), Some("user@example.com"));
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn oauthbearer_malformed_and_channel_binding() {
    let fail = |msg: &[u8]| match server(Mechanism::OAuthBearer).start(Some(msg)) {
        ServerStep::Failure(err) => err,
        other => panic!("expected failure for {msg:?}, got {other:?}"),
    };
    assert_eq!(
        fail(b"p=tls-unique,,\x01auth=Bearer abc\x01\x01"),
        AuthError::ChannelBindingUnsupported
    );
    let malformed = |msg: &[u8]| match fail(msg) {
        AuthError::Malformed {
            mechanism: Mechanism::OAuthBearer,
            what,
        } => what,
        other => panic!("expected malformed, got {other:?}"),
    };
    assert_eq!(malformed(b"n,,\x01host=x\x01\x01"), "auth= is missing");
    assert_eq!(
        malformed(b"n,,\x01auth=Bearer abc\x01"),
        "message does not end with \\x01\\x01"
    );
    assert_eq!(
        malformed(b"n,,auth=Bearer abc\x01\x01"),
        "gs2 header is not followed by \\x01"
    );
    assert_eq!(
        malformed(b"n,,\x01auth=Basic abc\x01\x01"),
        "auth scheme is not Bearer"
    );
    assert_eq!(
        malformed(b"n,,\x01port=99999\x01auth=Bearer abc\x01\x01"),
        "port is above 65535"
    );
    assert_eq!(
        malformed(b"x,,\x01auth=Bearer abc\x01\x01"),
        "gs2 channel binding flag is not \"n\", \"y\" or \"p=\""
    );
    assert_eq!(
        malformed(b""),
        "gs2 header has no ',' after the channel binding flag"
    );
}

#[test]
fn oauthbearer_empty_challenge_without_initial_response() {
    let mut s = server(Mechanism::OAuthBearer);
    assert_eq!(s.start(None), ServerStep::Challenge(Vec::new()));
    assert_eq!(
        s.respond(RFC7628_MESSAGE),
        ServerStep::Verify(rfc7628_request())
    );

    let mut c = ClientExchange::new(Mechanism::OAuthBearer, rfc7628_credentials(), None).unwrap();
    assert_eq!(c.respond(b"").unwrap(), RFC7628_MESSAGE);
    c.finish(None).unwrap();
}

const XOAUTH2_MESSAGE: &[u8] = b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01";

#[test]
fn xoauth2_success() {
    let mut s = server(Mechanism::XOAuth2);
    assert_eq!(
        s.start(Some(XOAUTH2_MESSAGE)),
        ServerStep::Verify(VerifyRequest::Bearer {
            mechanism: Mechanism::XOAuth2,
            authzid: None,
            user: Some("someuser@example.com".into()),
            token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg".into(),
            host: None,
            port: None
        })
    );
    match s.verified(Verification::Accepted) {
        ServerStep::Success { identity, .. } => {
            assert_eq!(
                identity,
                Identity {
                    authzid: None,
                    authcid: "someuser@example.com".into()
                }
            )
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn xoauth2_failure_flow() {
    let mut s = server(Mechanism::XOAuth2);
    s.start(Some(XOAUTH2_MESSAGE));
    assert_eq!(
        s.verified(Verification::Rejected),
        ServerStep::Challenge(XOAUTH2_ERROR.to_vec())
    );
    assert_eq!(s.respond(b""), ServerStep::Failure(AuthError::Rejected));

    let mut c = ClientExchange::new(
        Mechanism::XOAuth2,
        ClientCredentials::bearer(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        ),
        None,
    )
    .unwrap();
    assert_eq!(c.initial_response().unwrap(), XOAUTH2_MESSAGE);
    assert_eq!(c.respond(XOAUTH2_ERROR).unwrap(), b"");
    assert_eq!(
        c.server_error(),
        Some(r#"{"status":"401","schemes":"bearer"}"#)
    );
}

#[test]
fn xoauth2_malformed() {
    let malformed = |msg: &[u8]| match server(Mechanism::XOAuth2).start(Some(msg)) {
        ServerStep::Failure(AuthError::Malformed {
            mechanism: Mechanism::XOAuth2,
            what,
        }) => what,
        other => panic!("expected malformed, got {other:?}"),
    };
    assert_eq!(malformed(b"auth=Bearer abc\x01\x01"), "user= is missing");
    assert_eq!(malformed(b"user=u\x01\x01"), "auth= is missing");
    assert_eq!(
        malformed(b"user=\x01auth=Bearer t\x01\x01"),
        "user= is empty"
    );
    assert_eq!(
        malformed(b"user=u\x01auth=Bearer t\x01"),
        "message does not end with \\x01\\x01"
    );
    assert_eq!(
        malformed(b"user=u\x01user=v\x01auth=Bearer t\x01\x01"),
        "key appears twice"
    );
}

#[test]
fn mechanism_secret_mismatch() {
    for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        let err = ClientExchange::new(mechanism, ClientCredentials::password("u", "p"), None)
            .unwrap_err();
        assert!(matches!(err, ClientError::SecretMismatch { mechanism: m, .. } if m == mechanism));
        assert!(err.to_string().contains("bearer token"));
    }
}

#[test]
fn round_trips() {
    let store = common::Store::new("someuser@example.com", "tok-123");
    for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        for ir in [true, false] {
            let out = common::run(
                mechanism,
                ClientCredentials::bearer("someuser@example.com", "tok-123"),
                &store,
                ir,
            );
            assert_eq!(out.server.unwrap().authcid, "someuser@example.com");
            assert!(out.client.unwrap().is_ok());

            let out = common::run(
                mechanism,
                ClientCredentials::bearer("someuser@example.com", "expired"),
                &store,
                ir,
            );
            assert_eq!(out.server, Err(AuthError::Rejected));
            let (who, last) = out.transcript.last().unwrap();
            assert_eq!(*who, 'C');
            let dummy: &[u8] = if mechanism == Mechanism::XOAuth2 {
                b""
            } else {
                b"\x01"
            };
            assert_eq!(last, dummy);
        }
    }
}
