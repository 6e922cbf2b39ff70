//! Shared test helpers: an in-memory driver that runs a client exchange
//! against a server exchange, and a one-user credential store.

#![allow(dead_code)]

use postel_sasl::{
    AuthError, ClientCredentials, ClientError, ClientExchange, Identity, Mechanism,
    ScramCredentials, ServerExchange, ServerOptions, ServerStep, Verification, VerifyRequest,
};

/// Server nonce part the test store hands out.
pub const SERVER_NONCE: &str = "srv-nonce/3rkX";
/// Client nonce the tests use.
pub const CLIENT_NONCE: &str = "cli-nonce+Qw8";
/// Salt of the test store.
pub const SALT: &[u8] = b"0123456789abcdef";

/// How an exchange ended on both sides.
#[derive(Debug)]
pub struct Outcome {
    /// The server's result.
    pub server: Result<Identity, AuthError>,
    /// The client's result: `None` if it was never told of success.
    pub client: Option<Result<(), ClientError>>,
    /// Every message, prefixed "C: " or "S: ", as raw bytes.
    pub transcript: Vec<(char, Vec<u8>)>,
}

/// A store holding one user with one secret (password or token).
pub struct Store {
    pub user: String,
    pub secret: String,
}

impl Store {
    pub fn new(user: &str, secret: &str) -> Self {
        Store {
            user: user.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// The verdict a careful caller would give.
    pub fn check(&self, request: &VerifyRequest) -> Verification {
        match request {
            VerifyRequest::Password {
                authcid, password, ..
            } => {
                if *authcid == self.user && *password == self.secret {
                    Verification::Accepted
                } else {
                    Verification::Rejected
                }
            }
            VerifyRequest::Bearer { token, .. } => {
                if *token == self.secret {
                    Verification::AcceptedAs(self.user.clone())
                } else {
                    Verification::Rejected
                }
            }
            VerifyRequest::Scram { username, .. } => {
                if *username == self.user {
                    Verification::Scram {
                        credentials: ScramCredentials::derive(&self.secret, SALT, 4096),
                        server_nonce: SERVER_NONCE.to_owned(),
                    }
                } else {
                    Verification::Rejected
                }
            }
        }
    }
}

/// Credentials of the right kind for `mechanism`.
pub fn credentials(mechanism: Mechanism, user: &str, secret: &str) -> ClientCredentials {
    match mechanism {
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => ClientCredentials::bearer(user, secret),
        _ => ClientCredentials::password(user, secret),
    }
}

/// Runs a whole exchange in memory.
pub fn run(
    mechanism: Mechanism,
    credentials: ClientCredentials,
    store: &Store,
    use_initial_response: bool,
) -> Outcome {
    let mut client = ClientExchange::new(mechanism, credentials, Some(CLIENT_NONCE.to_owned()))
        .expect("valid client credentials");
    let mut server = ServerExchange::new(mechanism, ServerOptions::default());
    let mut transcript = Vec::new();
    let initial = if use_initial_response {
        client.initial_response()
    } else {
        None
    };
    if let Some(ir) = &initial {
        transcript.push(('C', ir.clone()));
    }
    let mut step = server.start(initial.as_deref());
    for _ in 0..20 {
        step = match step {
            ServerStep::Challenge(challenge) => {
                transcript.push(('S', challenge.clone()));
                match client.respond(&challenge) {
                    Ok(response) => {
                        transcript.push(('C', response.clone()));
                        server.respond(&response)
                    }
                    Err(err) => {
                        let server_result = match server.cancel() {
                            ServerStep::Failure(e) => Err(e),
                            other => panic!("cancel gave {other:?}"),
                        };
                        return Outcome {
                            server: server_result,
                            client: Some(Err(err)),
                            transcript,
                        };
                    }
                }
            }
            ServerStep::Verify(request) => server.verified(store.check(&request)),
            ServerStep::Success {
                identity,
                additional,
            } => {
                if let Some(data) = &additional {
                    transcript.push(('S', data.clone()));
                }
                let client_result = client.finish(additional.as_deref());
                return Outcome {
                    server: Ok(identity),
                    client: Some(client_result),
                    transcript,
                };
            }
            ServerStep::Failure(err) => {
                return Outcome {
                    server: Err(err),
                    client: None,
                    transcript,
                };
            }
        };
    }
    panic!("exchange did not end after 20 steps");
}
