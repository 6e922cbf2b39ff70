//! `LOGIN` (draft-murchison-sasl-login): the server challenges `Username:`
//! and `Password:` and the client answers each.
//!
//! The mechanism has no initial response, but many clients send the user
//! name with the command (`AUTH LOGIN dXNlcg==`); the server accepts that as
//! the answer to `Username:` and goes straight to `Password:`.

use crate::error::{AuthError, ClientError};
use crate::mechanism::Mechanism;
use crate::server::{ServerStep, Verification, VerifyRequest, malformed, verdict};

const MECH: Mechanism = Mechanism::Login;

/// The server's first challenge.
pub const USERNAME_CHALLENGE: &[u8] = b"Username:";
/// The server's second challenge.
pub const PASSWORD_CHALLENGE: &[u8] = b"Password:";

/// Server side.
#[derive(Debug)]
pub(crate) enum LoginServer {
    AwaitUsername,
    AwaitPassword { username: String },
    Verifying { username: String },
    Done,
}

impl LoginServer {
    pub(crate) fn new() -> Self {
        LoginServer::AwaitUsername
    }

    pub(crate) fn start(&mut self, initial: Option<&[u8]>) -> ServerStep {
        match initial {
            Some(username) if !username.is_empty() => self.respond(username),
            _ => ServerStep::Challenge(USERNAME_CHALLENGE.to_vec()),
        }
    }

    pub(crate) fn respond(&mut self, response: &[u8]) -> ServerStep {
        match std::mem::replace(self, LoginServer::Done) {
            LoginServer::AwaitUsername => {
                if response.is_empty() {
                    return malformed(MECH, "username is empty");
                }
                match text(response, Field::Username) {
                    Ok(username) => {
                        *self = LoginServer::AwaitPassword { username };
                        ServerStep::Challenge(PASSWORD_CHALLENGE.to_vec())
                    }
                    Err(what) => malformed(MECH, what),
                }
            }
            LoginServer::AwaitPassword { username } => match text(response, Field::Password) {
                Ok(password) => {
                    *self = LoginServer::Verifying {
                        username: username.clone(),
                    };
                    ServerStep::Verify(VerifyRequest::Password {
                        authzid: None,
                        authcid: username,
                        password,
                    })
                }
                Err(what) => malformed(MECH, what),
            },
            LoginServer::Verifying { .. } | LoginServer::Done => {
                ServerStep::Failure(AuthError::CallerMisuse("no LOGIN challenge outstanding"))
            }
        }
    }

    pub(crate) fn verified(&mut self, verification: Verification) -> ServerStep {
        match std::mem::replace(self, LoginServer::Done) {
            LoginServer::Verifying { username } => {
                verdict(verification, None, Some(username), false)
            }
            _ => ServerStep::Failure(AuthError::CallerMisuse("no LOGIN verification pending")),
        }
    }
}

/// Which LOGIN answer is being checked.
#[derive(Clone, Copy)]
enum Field {
    Username,
    Password,
}

/// Checks that a LOGIN answer is UTF-8 without NUL.
fn text(raw: &[u8], field: Field) -> Result<String, &'static str> {
    if raw.contains(&0) {
        return Err(match field {
            Field::Username => "username contains NUL",
            Field::Password => "password contains NUL",
        });
    }
    String::from_utf8(raw.to_vec()).map_err(|_| match field {
        Field::Username => "username is not valid UTF-8",
        Field::Password => "password is not valid UTF-8",
    })
}

/// Client side: answers the two prompts.
pub(crate) struct LoginClient {
    username: String,
    password: String,
    sent_username: bool,
    sent_password: bool,
}

impl LoginClient {
    pub(crate) fn new(username: &str, password: &str) -> Result<Self, ClientError> {
        if username.is_empty() {
            return Err(ClientError::InvalidCredentials(
                "LOGIN needs a non-empty username",
            ));
        }
        if username.contains('\0') || password.contains('\0') {
            return Err(ClientError::InvalidCredentials(
                "LOGIN credentials cannot contain NUL",
            ));
        }
        Ok(LoginClient {
            username: username.to_owned(),
            password: password.to_owned(),
            sent_username: false,
            sent_password: false,
        })
    }

    /// Answers a prompt. A prompt that names the user or password (any case,
    /// e.g. `Username:`, `User Name`, `Password:`) gets that; any other
    /// prompt gets whichever of the two has not been sent yet.
    pub(crate) fn on_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        let prompt = challenge.trim_ascii();
        let starts = |word: &[u8]| {
            prompt.len() >= word.len() && prompt[..word.len()].eq_ignore_ascii_case(word)
        };
        let wants_password = if starts(b"pass") {
            true
        } else if starts(b"user") {
            false
        } else {
            self.sent_username
        };
        if wants_password {
            if self.sent_password {
                return Err(ClientError::UnexpectedChallenge {
                    mechanism: MECH,
                    what: "server asked for the password again",
                });
            }
            self.sent_password = true;
            Ok(self.password.clone().into_bytes())
        } else {
            if self.sent_username {
                return Err(ClientError::UnexpectedChallenge {
                    mechanism: MECH,
                    what: "server asked for the username again",
                });
            }
            self.sent_username = true;
            Ok(self.username.clone().into_bytes())
        }
    }

    pub(crate) fn finish(&mut self) -> Result<(), ClientError> {
        if self.sent_password {
            Ok(())
        } else {
            Err(ClientError::UnexpectedSuccess(
                "LOGIN server reported success before the password was sent",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_follows_prompts() {
        let mut c = LoginClient::new("tim", "secret").unwrap();
        assert_eq!(c.on_challenge(b"Username:").unwrap(), b"tim");
        assert_eq!(c.on_challenge(b"Password:").unwrap(), b"secret");
        assert!(c.on_challenge(b"Password:").is_err());
        assert!(c.finish().is_ok());
    }

    #[test]
    fn client_answers_odd_prompts_in_order() {
        let mut c = LoginClient::new("tim", "secret").unwrap();
        assert_eq!(c.on_challenge(b"").unwrap(), b"tim");
        assert_eq!(c.on_challenge(b"?").unwrap(), b"secret");
        let mut c = LoginClient::new("tim", "secret").unwrap();
        assert_eq!(c.on_challenge(b"user name").unwrap(), b"tim");
        assert!(c.on_challenge(b"USERNAME:").is_err());
    }

    #[test]
    fn server_flow() {
        let mut s = LoginServer::new();
        assert_eq!(
            s.start(None),
            ServerStep::Challenge(USERNAME_CHALLENGE.to_vec())
        );
        assert_eq!(
            s.respond(b"tim"),
            ServerStep::Challenge(PASSWORD_CHALLENGE.to_vec())
        );
        assert!(matches!(
            s.respond(b"pw"),
            ServerStep::Verify(VerifyRequest::Password { .. })
        ));
    }

    #[test]
    fn server_rejects_bad_fields() {
        let mut s = LoginServer::new();
        assert_eq!(
            s.start(Some(b"a\0b")),
            malformed(MECH, "username contains NUL")
        );
        let mut s = LoginServer::new();
        s.start(None);
        assert_eq!(s.respond(b""), malformed(MECH, "username is empty"));
        let mut s = LoginServer::new();
        s.start(Some(b"tim"));
        assert_eq!(
            s.respond(b"\xc3"),
            malformed(MECH, "password is not valid UTF-8")
        );
    }
}
