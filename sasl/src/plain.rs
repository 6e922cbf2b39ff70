//! `PLAIN` (RFC 4616): one client message
//! `[authzid] NUL authcid NUL passwd`.

use crate::error::{AuthError, ClientError};
use crate::mechanism::Mechanism;
use crate::server::{ServerStep, Verification, VerifyRequest, malformed, verdict};

const MECH: Mechanism = Mechanism::Plain;

/// A decoded `PLAIN` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlainMessage {
    pub authzid: Option<String>,
    pub authcid: String,
    pub password: String,
}

/// Parses `[authzid] NUL authcid NUL passwd`. An empty authzid means none;
/// authcid and passwd must be non-empty; all three must be UTF-8.
pub(crate) fn parse(msg: &[u8]) -> Result<PlainMessage, &'static str> {
    let mut parts = msg.splitn(3, |&b| b == 0);
    let authzid = parts.next().unwrap_or_default();
    let authcid = parts.next().ok_or("no NUL separator after the authzid")?;
    let password = parts
        .next()
        .ok_or("no NUL separator between authcid and password")?;
    if password.contains(&0) {
        return Err("more than two NUL separators");
    }
    if authcid.is_empty() {
        return Err("authcid is empty");
    }
    if password.is_empty() {
        return Err("password is empty");
    }
    let text = |field: &[u8], what| String::from_utf8(field.to_vec()).map_err(|_| what);
    Ok(PlainMessage {
        authzid: if authzid.is_empty() {
            None
        } else {
            Some(text(authzid, "authzid is not valid UTF-8")?)
        },
        authcid: text(authcid, "authcid is not valid UTF-8")?,
        password: text(password, "password is not valid UTF-8")?,
    })
}

/// Builds the `PLAIN` message.
pub(crate) fn encode(authzid: Option<&str>, authcid: &str, password: &str) -> Vec<u8> {
    let authzid = authzid.unwrap_or("");
    let mut out = Vec::with_capacity(authzid.len() + authcid.len() + password.len() + 2);
    out.extend_from_slice(authzid.as_bytes());
    out.push(0);
    out.extend_from_slice(authcid.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    out
}

/// Server side: waits for the message, then for the verdict.
#[derive(Debug, Default)]
pub(crate) struct PlainServer {
    pending: Option<(Option<String>, String)>,
}

impl PlainServer {
    pub(crate) fn new() -> Self {
        PlainServer::default()
    }

    pub(crate) fn start(&mut self, initial: Option<&[u8]>) -> ServerStep {
        match initial {
            None => ServerStep::Challenge(Vec::new()),
            Some(msg) => self.respond(msg),
        }
    }

    pub(crate) fn respond(&mut self, msg: &[u8]) -> ServerStep {
        match parse(msg) {
            Ok(m) => {
                self.pending = Some((m.authzid.clone(), m.authcid.clone()));
                ServerStep::Verify(VerifyRequest::Password {
                    authzid: m.authzid,
                    authcid: m.authcid,
                    password: m.password,
                })
            }
            Err(what) => malformed(MECH, what),
        }
    }

    pub(crate) fn verified(&mut self, verification: Verification) -> ServerStep {
        match self.pending.take() {
            Some((authzid, authcid)) => verdict(verification, authzid, Some(authcid), false),
            None => ServerStep::Failure(AuthError::CallerMisuse("no PLAIN verification pending")),
        }
    }
}

/// Client side: the message, built once.
pub(crate) struct PlainClient {
    message: Vec<u8>,
}

impl PlainClient {
    pub(crate) fn new(
        authzid: Option<&str>,
        username: &str,
        password: &str,
    ) -> Result<Self, ClientError> {
        if username.is_empty() {
            return Err(ClientError::InvalidCredentials(
                "PLAIN needs a non-empty username",
            ));
        }
        if password.is_empty() {
            return Err(ClientError::InvalidCredentials(
                "PLAIN needs a non-empty password",
            ));
        }
        let has_nul = |s: &str| s.contains('\0');
        if has_nul(username) || has_nul(password) || authzid.is_some_and(has_nul) {
            return Err(ClientError::InvalidCredentials(
                "PLAIN credentials cannot contain NUL",
            ));
        }
        Ok(PlainClient {
            message: encode(authzid, username, password),
        })
    }

    pub(crate) fn first_message(&self) -> Vec<u8> {
        self.message.clone()
    }

    pub(crate) fn on_challenge(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        Err(ClientError::UnexpectedChallenge {
            mechanism: MECH,
            what: "PLAIN has no challenge after the credentials",
        })
    }

    pub(crate) fn finish(&mut self) -> Result<(), ClientError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_authzid() {
        let m = parse(b"\0tim\0tanstaaftanstaaf").unwrap();
        assert_eq!(m.authzid, None);
        assert_eq!(m.authcid, "tim");
        assert_eq!(m.password, "tanstaaftanstaaf");
        let m = parse(b"Ursel\0Kurt\0xipj3plmq").unwrap();
        assert_eq!(m.authzid.as_deref(), Some("Ursel"));
        assert_eq!(m.authcid, "Kurt");
        assert_eq!(m.password, "xipj3plmq");
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse(b""), Err("no NUL separator after the authzid"));
        assert_eq!(parse(b"tim"), Err("no NUL separator after the authzid"));
        assert_eq!(
            parse(b"\0tim"),
            Err("no NUL separator between authcid and password")
        );
        assert_eq!(parse(b"\0\0pw"), Err("authcid is empty"));
        assert_eq!(parse(b"\0tim\0"), Err("password is empty"));
        assert_eq!(parse(b"\0tim\0pw\0"), Err("more than two NUL separators"));
        assert_eq!(parse(b"\0tim\xff\0pw"), Err("authcid is not valid UTF-8"));
    }

    #[test]
    fn encode_round_trips() {
        let msg = encode(Some("Ursel"), "Kurt", "xipj3plmq");
        assert_eq!(msg, b"Ursel\0Kurt\0xipj3plmq");
        assert_eq!(encode(None, "tim", "pw"), b"\0tim\0pw");
    }
}
