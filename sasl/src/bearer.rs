//! The two OAuth 2.0 bearer token mechanisms:
//!
//! * `XOAUTH2` (Google): `user=<u>\x01auth=Bearer <token>\x01\x01`.
//! * `OAUTHBEARER` (RFC 7628): a GS2 header `n,a=<authzid>,` followed by
//!   `\x01`-terminated `key=value` pairs (`auth=Bearer <token>`, optionally
//!   `host=` and `port=`) and a final `\x01`.
//!
//! When the token is refused the server sends a JSON error as a challenge,
//! the client answers it with a dummy response (empty for `XOAUTH2`, `\x01`
//! for `OAUTHBEARER`), and the exchange fails.

use crate::error::{AuthError, ClientError};
use crate::gs2::{self, Gs2Error};
use crate::mechanism::Mechanism;
use crate::server::{ServerStep, Verification, VerifyRequest, malformed, verdict};

/// Separator between key/value pairs.
const KVSEP: u8 = 0x01;

/// The error challenge an `OAUTHBEARER` server sends for a refused token.
pub const OAUTHBEARER_ERROR: &[u8] = br#"{"status":"invalid_token","schemes":"bearer"}"#;
/// The error challenge an `XOAUTH2` server sends for a refused token.
pub const XOAUTH2_ERROR: &[u8] = br#"{"status":"401","schemes":"bearer"}"#;

/// A decoded bearer message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BearerMessage {
    pub authzid: Option<String>,
    pub user: Option<String>,
    pub token: String,
    pub host: Option<String>,
    pub port: Option<u16>,
}

/// Why a bearer message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BearerError {
    Malformed(&'static str),
    ChannelBinding,
}

impl From<&'static str> for BearerError {
    fn from(what: &'static str) -> Self {
        BearerError::Malformed(what)
    }
}

/// One `key=value` pair, as (key, value).
type Pair<'a> = (&'a [u8], &'a [u8]);

/// Splits `*kvpair kvsep` (every pair ends with `\x01`, then one more
/// `\x01` ends the list) into its pairs, checking the RFC 7628 syntax:
/// `key = 1*ALPHA`, value bytes are VCHAR, SP, HTAB, CR or LF.
fn parse_pairs(data: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    let pairs = data
        .strip_suffix(&[KVSEP])
        .ok_or("message does not end with \\x01")?;
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let pairs = pairs
        .strip_suffix(&[KVSEP])
        .ok_or("message does not end with \\x01\\x01")?;
    let mut out: Vec<Pair<'_>> = Vec::new();
    for pair in pairs.split(|&b| b == KVSEP) {
        let eq = pair
            .iter()
            .position(|&b| b == b'=')
            .ok_or("key/value pair has no '='")?;
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        if key.is_empty() || !key.iter().all(u8::is_ascii_alphabetic) {
            return Err("key is empty or not alphabetic");
        }
        if !value
            .iter()
            .all(|&b| matches!(b, 0x21..=0x7e | b' ' | b'\t' | b'\r' | b'\n') || b >= 0x80)
        {
            return Err("value contains a control character");
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err("key appears twice");
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Whether `token` is a plausible bearer token: non-empty, printable ASCII
/// without spaces (RFC 6750's b64token is stricter; this is lenient).
fn valid_token(token: &[u8]) -> bool {
    !token.is_empty() && token.iter().all(|b| matches!(b, 0x21..=0x7e))
}

/// Extracts the token from an `auth` value `Bearer <token>` (scheme in any
/// case, one or more spaces).
fn parse_auth(value: &[u8]) -> Result<String, &'static str> {
    let space = value
        .iter()
        .position(|&b| b == b' ')
        .ok_or("auth value is not \"Bearer <token>\"")?;
    if !value[..space].eq_ignore_ascii_case(b"bearer") {
        return Err("auth scheme is not Bearer");
    }
    let token = value[space..].trim_ascii_start();
    if !valid_token(token) {
        return Err("bearer token is empty or has characters outside printable ASCII");
    }
    Ok(String::from_utf8_lossy(token).into_owned())
}

fn utf8(value: &[u8], what: &'static str) -> Result<String, &'static str> {
    String::from_utf8(value.to_vec()).map_err(|_| what)
}

/// Parses an `XOAUTH2` message.
pub(crate) fn parse_xoauth2(msg: &[u8]) -> Result<BearerMessage, BearerError> {
    let pairs = parse_pairs(msg)?;
    let mut user = None;
    let mut token = None;
    for (key, value) in pairs {
        match key {
            b"user" => user = Some(utf8(value, "user is not valid UTF-8")?),
            b"auth" => token = Some(parse_auth(value)?),
            _ => {}
        }
    }
    let user = user.ok_or("user= is missing")?;
    if user.is_empty() {
        return Err("user= is empty".into());
    }
    Ok(BearerMessage {
        authzid: None,
        user: Some(user),
        token: token.ok_or("auth= is missing")?,
        host: None,
        port: None,
    })
}

/// Parses an `OAUTHBEARER` message.
pub(crate) fn parse_oauthbearer(msg: &[u8]) -> Result<BearerMessage, BearerError> {
    let header = gs2::parse_header(msg).map_err(|e| match e {
        Gs2Error::Malformed(what) => BearerError::Malformed(what),
        Gs2Error::ChannelBinding => BearerError::ChannelBinding,
    })?;
    let rest = &msg[header.len..];
    let pairs = rest
        .strip_prefix(&[KVSEP])
        .ok_or("gs2 header is not followed by \\x01")?;
    let mut token = None;
    let mut host = None;
    let mut port = None;
    for (key, value) in parse_pairs(pairs)? {
        match key {
            b"auth" => token = Some(parse_auth(value)?),
            b"host" => host = Some(utf8(value, "host is not valid UTF-8")?),
            b"port" => {
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return Err("port is not a decimal number".into());
                }
                let text = std::str::from_utf8(value).map_err(|_| "port is not ASCII")?;
                port = Some(text.parse::<u16>().map_err(|_| "port is above 65535")?);
            }
            _ => {}
        }
    }
    Ok(BearerMessage {
        authzid: header.authzid,
        user: None,
        token: token.ok_or("auth= is missing")?,
        host,
        port,
    })
}

/// Server side of both mechanisms.
#[derive(Debug)]
pub(crate) struct BearerServer {
    mechanism: Mechanism,
    state: ServerState,
}

#[derive(Debug)]
enum ServerState {
    AwaitMessage,
    Verifying {
        authzid: Option<String>,
        user: Option<String>,
    },
    AwaitErrorAck,
    Done,
}

impl BearerServer {
    pub(crate) fn new(mechanism: Mechanism) -> Self {
        BearerServer {
            mechanism,
            state: ServerState::AwaitMessage,
        }
    }

    pub(crate) fn start(&mut self, initial: Option<&[u8]>) -> ServerStep {
        match initial {
            None => ServerStep::Challenge(Vec::new()),
            Some(msg) => self.respond(msg),
        }
    }

    pub(crate) fn respond(&mut self, response: &[u8]) -> ServerStep {
        match std::mem::replace(&mut self.state, ServerState::Done) {
            ServerState::AwaitMessage => {
                let parsed = if self.mechanism == Mechanism::XOAuth2 {
                    parse_xoauth2(response)
                } else {
                    parse_oauthbearer(response)
                };
                match parsed {
                    Ok(m) => {
                        self.state = ServerState::Verifying {
                            authzid: m.authzid.clone(),
                            user: m.user.clone(),
                        };
                        ServerStep::Verify(VerifyRequest::Bearer {
                            mechanism: self.mechanism,
                            authzid: m.authzid,
                            user: m.user,
                            token: m.token,
                            host: m.host,
                            port: m.port,
                        })
                    }
                    Err(BearerError::Malformed(what)) => malformed(self.mechanism, what),
                    Err(BearerError::ChannelBinding) => {
                        ServerStep::Failure(AuthError::ChannelBindingUnsupported)
                    }
                }
            }
            // Whatever the client answers to the error challenge (it should
            // be empty or "\x01"), the token stays refused.
            ServerState::AwaitErrorAck => ServerStep::Failure(AuthError::Rejected),
            ServerState::Verifying { .. } | ServerState::Done => {
                ServerStep::Failure(AuthError::CallerMisuse("no bearer challenge outstanding"))
            }
        }
    }

    pub(crate) fn verified(&mut self, verification: Verification) -> ServerStep {
        let ServerState::Verifying { authzid, user } =
            std::mem::replace(&mut self.state, ServerState::Done)
        else {
            return ServerStep::Failure(AuthError::CallerMisuse("no bearer verification pending"));
        };
        if matches!(verification, Verification::Rejected) {
            self.state = ServerState::AwaitErrorAck;
            return ServerStep::Challenge(match self.mechanism {
                Mechanism::XOAuth2 => XOAUTH2_ERROR.to_vec(),
                _ => OAUTHBEARER_ERROR.to_vec(),
            });
        }
        match self.mechanism {
            // XOAUTH2's user= names the account the token is for.
            Mechanism::XOAuth2 => verdict(verification, None, user, true),
            // OAUTHBEARER's a= is the only name the client gives.
            _ => verdict(verification, None, authzid, true),
        }
    }
}

/// Client side of both mechanisms.
pub(crate) struct BearerClient {
    mechanism: Mechanism,
    message: Vec<u8>,
    error: Option<String>,
}

impl BearerClient {
    pub(crate) fn new(
        mechanism: Mechanism,
        authzid: Option<&str>,
        username: &str,
        token: &str,
        host: Option<&str>,
        port: Option<u16>,
    ) -> Result<Self, ClientError> {
        if !valid_token(token.as_bytes()) {
            return Err(ClientError::InvalidCredentials(
                "bearer token must be non-empty printable ASCII without spaces",
            ));
        }
        let message = if mechanism == Mechanism::XOAuth2 {
            if username.is_empty() || username.bytes().any(|b| b.is_ascii_control()) {
                return Err(ClientError::InvalidCredentials(
                    "XOAUTH2 needs a non-empty username without control characters",
                ));
            }
            format!("user={username}\x01auth=Bearer {token}\x01\x01")
        } else {
            // The GS2 authzid names the user: the explicit authzid, else the
            // username (the form RFC 7628's examples and common clients use).
            let name = authzid.or(Some(username)).filter(|n| !n.is_empty());
            if name.is_some_and(|n| n.contains('\0')) {
                return Err(ClientError::InvalidCredentials(
                    "OAUTHBEARER authzid cannot contain NUL",
                ));
            }
            let mut msg = gs2::header(name);
            msg.push('\x01');
            if let Some(host) = host {
                if host.bytes().any(|b| b.is_ascii_control()) {
                    return Err(ClientError::InvalidCredentials(
                        "OAUTHBEARER host cannot contain control characters",
                    ));
                }
                msg.push_str(&format!("host={host}\x01"));
            }
            if let Some(port) = port {
                msg.push_str(&format!("port={port}\x01"));
            }
            msg.push_str(&format!("auth=Bearer {token}\x01\x01"));
            msg
        };
        Ok(BearerClient {
            mechanism,
            message: message.into_bytes(),
            error: None,
        })
    }

    pub(crate) fn first_message(&self) -> Vec<u8> {
        self.message.clone()
    }

    /// The only challenge after the message is the JSON error: remember it
    /// and send the dummy answer.
    pub(crate) fn on_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        if self.error.is_some() {
            return Err(ClientError::UnexpectedChallenge {
                mechanism: self.mechanism,
                what: "a second challenge after the error challenge",
            });
        }
        self.error = Some(String::from_utf8_lossy(challenge).into_owned());
        Ok(match self.mechanism {
            Mechanism::XOAuth2 => Vec::new(),
            _ => vec![KVSEP],
        })
    }

    pub(crate) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub(crate) fn finish(&mut self) -> Result<(), ClientError> {
        if self.error.is_some() {
            Err(ClientError::UnexpectedSuccess(
                "server reported success after refusing the token",
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_syntax() {
        assert_eq!(parse_pairs(b"\x01").unwrap(), Vec::<Pair<'_>>::new());
        assert_eq!(
            parse_pairs(b"a=1\x01b=\x01\x01").unwrap(),
            vec![(&b"a"[..], &b"1"[..]), (&b"b"[..], &b""[..])]
        );
        assert!(parse_pairs(b"").is_err());
        assert!(parse_pairs(b"a=1\x01").is_err());
        assert!(parse_pairs(b"a=1").is_err());
        assert!(parse_pairs(b"a1=1\x01\x01").is_err());
        assert!(parse_pairs(b"=1\x01\x01").is_err());
        assert!(parse_pairs(b"a\x01\x01").is_err());
        assert!(parse_pairs(b"a=1\x01a=2\x01\x01").is_err());
        assert!(parse_pairs(b"a=\x00\x01\x01").is_err());
    }

    #[test]
    fn auth_value() {
        assert_eq!(parse_auth(b"Bearer abc").unwrap(), "abc");
        assert_eq!(parse_auth(b"bearer  abc=").unwrap(), "abc=");
        assert!(parse_auth(b"Basic abc").is_err());
        assert!(parse_auth(b"Bearer").is_err());
        assert!(parse_auth(b"Bearer ").is_err());
        assert!(parse_auth(b"Bearer a b").is_err());
    }

    #[test]
    fn oauthbearer_port_and_errors() {
        let m = parse_oauthbearer(b"n,,\x01port=65535\x01auth=Bearer t\x01\x01").unwrap();
        assert_eq!(m.port, Some(65535));
        assert_eq!(m.authzid, None);
        assert!(parse_oauthbearer(b"n,,\x01port=65536\x01auth=Bearer t\x01\x01").is_err());
        assert!(parse_oauthbearer(b"n,,\x01port=+1\x01auth=Bearer t\x01\x01").is_err());
        assert!(parse_oauthbearer(b"n,,\x01host=h\x01\x01").is_err());
        assert!(parse_oauthbearer(b"n,,auth=Bearer t\x01\x01").is_err());
        assert_eq!(
            parse_oauthbearer(b"p=tls-unique,,\x01auth=Bearer t\x01\x01"),
            Err(BearerError::ChannelBinding)
        );
    }

    #[test]
    fn client_messages() {
        let c = BearerClient::new(Mechanism::XOAuth2, None, "u@x", "tok", None, None).unwrap();
        assert_eq!(c.first_message(), b"user=u@x\x01auth=Bearer tok\x01\x01");
        let c = BearerClient::new(
            Mechanism::OAuthBearer,
            None,
            "user@example.com",
            "tok",
            Some("server.example.com"),
            Some(143),
        )
        .unwrap();
        assert_eq!(
            c.first_message(),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer tok\x01\x01"
        );
        assert!(BearerClient::new(Mechanism::XOAuth2, None, "u", "a b", None, None).is_err());
        assert!(BearerClient::new(Mechanism::XOAuth2, None, "u\x01", "t", None, None).is_err());
    }
}
