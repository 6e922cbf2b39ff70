//! SCRAM-SHA-256 (RFC 5802, RFC 7677), server and client.

mod common;

use postel_sasl::{
    AuthError, ClientCredentials, ClientError, ClientExchange, ClientOptions, Identity, Mechanism,
    ScramCredentials, ServerExchange, ServerOptions, ServerStep, Verification, VerifyRequest, wire,
};

// The RFC 7677 §3 example.
const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SALT_B64: &[u8] = b"W22ZaJ0SNY7soEsUEjb6gQ==";
const CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_credentials(password: &str) -> ScramCredentials {
    ScramCredentials::derive(password, &wire::decode(SALT_B64).unwrap(), 4096)
}

fn rfc_client(password: &str) -> ClientExchange {
    ClientExchange::new(
        Mechanism::ScramSha256,
        ClientCredentials::password("user", password),
        Some(CLIENT_NONCE.to_owned()),
    )
    .unwrap()
}

fn server() -> ServerExchange {
    ServerExchange::new(Mechanism::ScramSha256, ServerOptions::default())
}

/// A server that has sent the RFC's server-first message.
fn rfc_server(password: &str) -> ServerExchange {
    let mut s = server();
    assert_eq!(
        s.start(Some(CLIENT_FIRST)),
        ServerStep::Verify(VerifyRequest::Scram {
            authzid: None,
            username: "user".into()
        })
    );
    assert_eq!(
        s.verified(Verification::Scram {
            credentials: rfc_credentials(password),
            server_nonce: SERVER_NONCE.into()
        }),
        ServerStep::Challenge(SERVER_FIRST.to_vec())
    );
    s
}

fn malformed(step: ServerStep) -> &'static str {
    match step {
        ServerStep::Failure(AuthError::Malformed {
            mechanism: Mechanism::ScramSha256,
            what,
        }) => what,
        other => panic!("expected a malformed SCRAM failure, got {other:?}"),
    }
}

#[test]
fn rfc7677_client_side() {
    let mut c = rfc_client("pencil");
    assert_eq!(c.initial_response().unwrap(), CLIENT_FIRST);
    assert_eq!(c.respond(SERVER_FIRST).unwrap(), CLIENT_FINAL);
    c.finish(Some(SERVER_FINAL)).unwrap();
    assert!(c.is_finished());
}

#[test]
fn rfc7677_server_side() {
    let mut s = rfc_server("pencil");
    assert_eq!(
        s.respond(CLIENT_FINAL),
        ServerStep::Success {
            identity: Identity {
                authzid: None,
                authcid: "user".into()
            },
            additional: Some(SERVER_FINAL.to_vec())
        }
    );
}

#[test]
fn wrong_password_fails_with_invalid_proof() {
    // The RFC's client-final against credentials for another password.
    let mut s = server();
    s.start(Some(CLIENT_FIRST));
    let ServerStep::Challenge(server_first) = s.verified(Verification::Scram {
        credentials: rfc_credentials("pencil2"),
        server_nonce: SERVER_NONCE.into(),
    }) else {
        panic!("expected server-first");
    };
    assert_eq!(server_first, SERVER_FIRST);
    assert_eq!(
        s.respond(CLIENT_FINAL),
        ServerStep::Failure(AuthError::InvalidProof)
    );

    // A client with the wrong password against the right credentials.
    let mut s = rfc_server("pencil");
    let mut c = rfc_client("crayon");
    c.initial_response();
    let client_final = c.respond(SERVER_FIRST).unwrap();
    assert_eq!(
        s.respond(&client_final),
        ServerStep::Failure(AuthError::InvalidProof)
    );
}

#[test]
fn tampered_server_signature_is_detected() {
    let mut c = rfc_client("pencil");
    c.initial_response();
    c.respond(SERVER_FIRST).unwrap();
    let mut sig = wire::decode(&SERVER_FINAL[2..]).unwrap();
    sig[0] ^= 1;
    let tampered = format!("v={}", wire::encode(&sig));
    assert_eq!(
        c.finish(Some(tampered.as_bytes())),
        Err(ClientError::ServerSignatureMismatch)
    );
}

#[test]
fn server_that_does_not_know_the_password_is_detected() {
    // A server holding keys for another password gets a failing proof, but
    // a client must also refuse a server that just claims success.
    let mut c = rfc_client("pencil");
    c.initial_response();
    c.respond(SERVER_FIRST).unwrap();
    assert_eq!(c.finish(None), Err(ClientError::ServerSignatureMissing));

    let mut c = rfc_client("pencil");
    c.initial_response();
    assert!(matches!(
        c.finish(None),
        Err(ClientError::UnexpectedSuccess(_))
    ));
}

#[test]
fn server_final_as_a_challenge_is_answered_empty() {
    // SMTP carries no data with success: the server sends v= as a 334
    // challenge and the client answers with an empty line.
    let mut c = rfc_client("pencil");
    c.initial_response();
    c.respond(SERVER_FIRST).unwrap();
    assert_eq!(c.respond(SERVER_FINAL).unwrap(), b"");
    c.finish(None).unwrap();
}

#[test]
fn server_error_in_server_final() {
    let mut c = rfc_client("pencil");
    c.initial_response();
    c.respond(SERVER_FIRST).unwrap();
    assert_eq!(
        c.respond(b"e=invalid-proof"),
        Err(ClientError::ServerReportedError("invalid-proof".into()))
    );
}

#[test]
fn client_detects_nonce_mismatch() {
    for server_first in [
        &b"r=XOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"[..],
        // the server added nothing of its own
        b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"r=rOprNG,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    ] {
        let mut c = rfc_client("pencil");
        c.initial_response();
        assert_eq!(c.respond(server_first), Err(ClientError::NonceMismatch));
    }
}

#[test]
fn server_detects_nonce_mismatch() {
    let mut s = rfc_server("pencil");
    let forged = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIljXhNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    assert_eq!(
        malformed(s.respond(forged)),
        "r= does not match the nonce of the server-first-message"
    );
}

#[test]
fn iteration_counts_are_checked() {
    let first = |i: &str| format!("r={CLIENT_NONCE}xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}");
    let mut c = rfc_client("pencil");
    c.initial_response();
    assert_eq!(
        c.respond(first("1000").as_bytes()),
        Err(ClientError::IterationsTooLow {
            iterations: 1000,
            min: 4096
        })
    );
    let mut c = rfc_client("pencil");
    assert_eq!(
        c.respond(b"").unwrap(),
        CLIENT_FIRST,
        "no initial response: the empty challenge gets client-first"
    );
    assert_eq!(
        c.respond(first("4000000000").as_bytes()),
        Err(ClientError::IterationsTooHigh {
            iterations: 4_000_000_000,
            max: 1_000_000
        })
    );
    for bad in ["", "-1", "+4096", "0x1000", "99999999999"] {
        let mut c = rfc_client("pencil");
        c.initial_response();
        assert!(
            matches!(
                c.respond(first(bad).as_bytes()),
                Err(ClientError::MalformedChallenge { .. })
            ),
            "i={bad}"
        );
    }
    // Limits are the caller's to set.
    let mut c = ClientExchange::with_options(
        Mechanism::ScramSha256,
        ClientCredentials::password("user", "pencil"),
        Some(CLIENT_NONCE.into()),
        ClientOptions {
            scram_min_iterations: 1,
            ..ClientOptions::default()
        },
    )
    .unwrap();
    c.initial_response();
    assert!(c.respond(first("2").as_bytes()).is_ok());

    // The server refuses weak stored credentials.
    let mut s = server();
    s.start(Some(CLIENT_FIRST));
    assert_eq!(
        s.verified(Verification::Scram {
            credentials: ScramCredentials::derive("pencil", b"salt", 1000),
            server_nonce: SERVER_NONCE.into()
        }),
        ServerStep::Failure(AuthError::ScramIterationsTooLow {
            iterations: 1000,
            min: 4096
        })
    );
}

#[test]
fn channel_binding_flags() {
    assert_eq!(
        server().start(Some(b"p=tls-server-end-point,,n=user,r=abc")),
        ServerStep::Failure(AuthError::ChannelBindingUnsupported)
    );
    // "y": the client could bind but thinks we cannot. Accepted, and c=
    // must then carry "y,,".
    let mut s = server();
    assert!(matches!(
        s.start(Some(b"y,,n=user,r=rOprNGfwEbeRWgbNEkqO")),
        ServerStep::Verify(_)
    ));
    s.verified(Verification::Scram {
        credentials: rfc_credentials("pencil"),
        server_nonce: SERVER_NONCE.into(),
    });
    assert_eq!(
        malformed(s.respond(CLIENT_FINAL)),
        "c= does not match the gs2 header of the client-first-message"
    );
}

#[test]
fn malformed_client_messages() {
    let first = |msg: &[u8]| malformed(server().start(Some(msg)));
    assert_eq!(
        first(b"n,,m=ext,n=user,r=abc"),
        "mandatory extension m= is not supported"
    );
    assert_eq!(
        first(b"n,,r=abc,n=user"),
        "client-first-message does not start with n="
    );
    assert_eq!(
        first(b"n,,n=user"),
        "client-first-message has no r= after n="
    );
    assert_eq!(
        first(b"n,,n=user,r="),
        "client nonce is empty or not printable ASCII"
    );
    assert_eq!(
        first(b"n,,n=us=er,r=abc"),
        "saslname has an '=' that does not start =2C or =3D"
    );
    assert_eq!(
        first(b"n,,n=user,r=abc,"),
        "attribute is not of the form x=value"
    );
    assert_eq!(
        first(b"n,,n=\xff,r=abc"),
        "client-first-message is not valid UTF-8"
    );

    let fin = |msg: &[u8]| malformed(rfc_server("pencil").respond(msg));
    assert_eq!(
        fin(b"r=x,c=biws,p=AA=="),
        "client-final-message does not start with c="
    );
    assert_eq!(
        fin(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"),
        "client-final-message does not end with p="
    );
    assert_eq!(
        fin(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA"),
        "p= is not 32 bytes long"
    );
    assert_eq!(
        fin(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!"),
        "p= is not valid base64"
    );
    assert_eq!(fin(b"c=b!ws,r=x,p=AA=="), "c= is not valid base64");
}

#[test]
fn extensions_before_the_proof_are_tolerated() {
    // An optional extension between r= and p= is part of the signed message;
    // this client sends none, so the proof no longer matches.
    let mut s = rfc_server("pencil");
    let msg = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=ext,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    assert_eq!(s.respond(msg), ServerStep::Failure(AuthError::InvalidProof));
}

#[test]
fn saslname_escaping_both_sides() {
    let store = common::Store::new("a,b=c", "pw,=");
    let mut creds = ClientCredentials::password("a,b=c", "pw,=");
    creds.authzid = Some("adm=in,x".into());
    let mut c = ClientExchange::new(
        Mechanism::ScramSha256,
        creds.clone(),
        Some(common::CLIENT_NONCE.into()),
    )
    .unwrap();
    assert_eq!(
        c.initial_response().unwrap(),
        format!("n,a=adm=3Din=2Cx,n=a=2Cb=3Dc,r={}", common::CLIENT_NONCE).as_bytes()
    );
    let out = common::run(Mechanism::ScramSha256, creds, &store, true);
    assert_eq!(
        out.server.unwrap(),
        Identity {
            authzid: Some("adm=in,x".into()),
            authcid: "a,b=c".into()
        }
    );
    assert_eq!(out.client, Some(Ok(())));
}

#[test]
fn unknown_user_and_caller_misuse() {
    let mut s = server();
    s.start(Some(CLIENT_FIRST));
    assert_eq!(
        s.verified(Verification::Rejected),
        ServerStep::Failure(AuthError::Rejected)
    );

    let mut s = server();
    s.start(Some(CLIENT_FIRST));
    assert!(matches!(
        s.verified(Verification::Accepted),
        ServerStep::Failure(AuthError::CallerMisuse(_))
    ));

    for nonce in ["", "a,b", "sp ace", "ünï"] {
        let mut s = server();
        s.start(Some(CLIENT_FIRST));
        assert!(
            matches!(
                s.verified(Verification::Scram {
                    credentials: rfc_credentials("pencil"),
                    server_nonce: nonce.into()
                }),
                ServerStep::Failure(AuthError::CallerMisuse(_))
            ),
            "nonce {nonce:?}"
        );
    }
}

#[test]
fn client_construction_errors() {
    let new = |creds, nonce: Option<&str>| {
        ClientExchange::new(Mechanism::ScramSha256, creds, nonce.map(str::to_owned)).unwrap_err()
    };
    assert_eq!(
        new(ClientCredentials::password("user", "pencil"), None),
        ClientError::MissingNonce
    );
    for bad in ["", "a,b", "a b", "é"] {
        assert_eq!(
            new(ClientCredentials::password("user", "pencil"), Some(bad)),
            ClientError::InvalidNonce
        );
    }
    assert!(matches!(
        new(ClientCredentials::bearer("user", "tok"), Some("abc")),
        ClientError::SecretMismatch { .. }
    ));
    assert!(matches!(
        new(ClientCredentials::password("", "pw"), Some("abc")),
        ClientError::InvalidCredentials(_)
    ));
}

#[test]
fn no_initial_response_flow() {
    let mut s = server();
    assert_eq!(s.start(None), ServerStep::Challenge(Vec::new()));
    assert!(matches!(s.respond(CLIENT_FIRST), ServerStep::Verify(_)));

    let store = common::Store::new("user", "pencil");
    let out = common::run(
        Mechanism::ScramSha256,
        ClientCredentials::password("user", "pencil"),
        &store,
        false,
    );
    assert_eq!(out.server.unwrap().authcid, "user");
    assert_eq!(out.client, Some(Ok(())));
    // empty challenge, client-first, server-first, client-final, server-final
    assert_eq!(out.transcript.len(), 5);
}
