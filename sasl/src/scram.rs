//! `SCRAM-SHA-256` (RFC 5802 with RFC 7677's hash), without channel
//! binding.
//!
//! ```text
//! C: n,,n=user,r=<client nonce>                        client-first
//! S: r=<client nonce><server nonce>,s=<salt>,i=<count>  server-first
//! C: c=biws,r=<nonce>,p=<proof>                        client-final
//! S: v=<server signature>                              server-final
//! ```
//!
//! Neither user names nor passwords go through SASLprep (RFC 4013): they
//! are used as the UTF-8 bytes given. For ASCII without control characters
//! that is what SASLprep would produce; for other text, both sides of this
//! crate agree with each other but may disagree with implementations that
//! normalize.

use std::fmt;
use std::num::NonZeroU32;

use ring::{digest, hmac, pbkdf2};

use crate::error::{AuthError, ClientError};
use crate::gs2::{self, Gs2Error};
use crate::mechanism::Mechanism;
use crate::server::{Identity, ServerStep, Verification, VerifyRequest, malformed};
use crate::wire;

const MECH: Mechanism = Mechanism::ScramSha256;

/// Length of SHA-256 digests and thus of every SCRAM key, proof and
/// signature.
pub const KEY_LEN: usize = 32;

/// What a server stores for a SCRAM-SHA-256 user instead of the password
/// (RFC 5802 §3).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredentials {
    /// The salt (raw bytes; it travels base64-encoded).
    pub salt: Vec<u8>,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// `StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: [u8; KEY_LEN],
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; KEY_LEN],
}

impl ScramCredentials {
    /// Derives the stored credentials from a password:
    /// `SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)`.
    ///
    /// The password's UTF-8 bytes are used as they are: no SASLprep (RFC
    /// 4013) is applied. For printable ASCII that is what SASLprep would
    /// produce; other passwords agree with this crate's client but may not
    /// with clients that normalize them. An iteration
    /// count of 0, which PBKDF2 cannot run, is raised to 1 and recorded as
    /// such (a server will still refuse it as below its minimum).
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Self {
        let rounds = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
        let keys = Keys::derive(password.as_bytes(), salt, rounds);
        ScramCredentials {
            salt: salt.to_vec(),
            iterations: rounds.get(),
            stored_key: keys.stored_key,
            server_key: keys.server_key,
        }
    }
}

impl fmt::Debug for ScramCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredentials")
            .field("salt", &wire::encode(&self.salt))
            .field("iterations", &self.iterations)
            .field("stored_key", &"<redacted>")
            .field("server_key", &"<redacted>")
            .finish()
    }
}

/// The keys derived from a salted password.
struct Keys {
    client_key: [u8; KEY_LEN],
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl Keys {
    fn derive(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Self {
        let mut salted = [0u8; KEY_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            salt,
            password,
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        Keys {
            client_key,
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }
}

fn to_key(bytes: &[u8]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    let n = bytes.len().min(KEY_LEN);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; KEY_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    to_key(hmac::sign(&key, data).as_ref())
}

fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    to_key(digest::digest(&digest::SHA256, data).as_ref())
}

fn xor(a: &[u8; KEY_LEN], b: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = x ^ y;
    }
    out
}

/// Whether `nonce` is usable: non-empty printable ASCII without `,`.
pub(crate) fn valid_nonce(nonce: &[u8]) -> bool {
    !nonce.is_empty() && nonce.iter().all(|&b| matches!(b, 0x21..=0x7e) && b != b',')
}

/// Splits a message into its `x=value` attributes.
fn attributes(msg: &str) -> Result<Vec<(u8, &str)>, &'static str> {
    msg.split(',')
        .map(|attr| match attr.as_bytes() {
            [name, b'=', ..] if name.is_ascii_alphabetic() => Ok((*name, &attr[2..])),
            _ => Err("attribute is not of the form x=value"),
        })
        .collect()
}

/// Checks that `attrs[index]` is named `name` and returns its value.
fn expect_attr<'a>(
    attrs: &[(u8, &'a str)],
    index: usize,
    name: u8,
    what: &'static str,
) -> Result<&'a str, &'static str> {
    match attrs.get(index) {
        Some((n, value)) if *n == name => Ok(value),
        _ => Err(what),
    }
}

/// A parsed client-first-message.
#[derive(Debug, Clone)]
struct ClientFirst {
    gs2_header: Vec<u8>,
    authzid: Option<String>,
    username: String,
    nonce: String,
    bare: String,
}

enum FirstError {
    Malformed(&'static str),
    ChannelBinding,
}

impl From<&'static str> for FirstError {
    fn from(what: &'static str) -> Self {
        FirstError::Malformed(what)
    }
}

fn parse_client_first(msg: &[u8]) -> Result<ClientFirst, FirstError> {
    let header = gs2::parse_header(msg).map_err(|e| match e {
        Gs2Error::Malformed(what) => FirstError::Malformed(what),
        Gs2Error::ChannelBinding => FirstError::ChannelBinding,
    })?;
    let bare = std::str::from_utf8(&msg[header.len..])
        .map_err(|_| "client-first-message is not valid UTF-8")?;
    let attrs = attributes(bare)?;
    if attrs.first().is_some_and(|(n, _)| *n == b'm') {
        return Err("mandatory extension m= is not supported".into());
    }
    let username = expect_attr(
        &attrs,
        0,
        b'n',
        "client-first-message does not start with n=",
    )?;
    let username = gs2::unescape_saslname(username.as_bytes())?;
    let nonce = expect_attr(&attrs, 1, b'r', "client-first-message has no r= after n=")?;
    if !valid_nonce(nonce.as_bytes()) {
        return Err("client nonce is empty or not printable ASCII".into());
    }
    Ok(ClientFirst {
        gs2_header: msg[..header.len].to_vec(),
        authzid: header.authzid,
        username,
        nonce: nonce.to_owned(),
        bare: bare.to_owned(),
    })
}

/// Server side.
pub(crate) struct ScramServer {
    min_iterations: u32,
    state: ServerState,
}

enum ServerState {
    AwaitClientFirst,
    Verifying(ClientFirst),
    AwaitClientFinal {
        first: ClientFirst,
        nonce: String,
        server_first: String,
        stored_key: [u8; KEY_LEN],
        server_key: [u8; KEY_LEN],
    },
    Done,
}

impl ScramServer {
    pub(crate) fn new(min_iterations: u32) -> Self {
        ScramServer {
            min_iterations,
            state: ServerState::AwaitClientFirst,
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
            ServerState::AwaitClientFirst => match parse_client_first(response) {
                Ok(first) => {
                    let request = VerifyRequest::Scram {
                        authzid: first.authzid.clone(),
                        username: first.username.clone(),
                    };
                    self.state = ServerState::Verifying(first);
                    ServerStep::Verify(request)
                }
                Err(FirstError::Malformed(what)) => malformed(MECH, what),
                Err(FirstError::ChannelBinding) => {
                    ServerStep::Failure(AuthError::ChannelBindingUnsupported)
                }
            },
            ServerState::AwaitClientFinal {
                first,
                nonce,
                server_first,
                stored_key,
                server_key,
            } => match check_client_final(
                response,
                &first,
                &nonce,
                &server_first,
                &stored_key,
                &server_key,
            ) {
                Ok(server_final) => ServerStep::Success {
                    identity: Identity {
                        authzid: first.authzid,
                        authcid: first.username,
                    },
                    additional: Some(server_final.into_bytes()),
                },
                Err(err) => ServerStep::Failure(err),
            },
            ServerState::Verifying(_) | ServerState::Done => {
                ServerStep::Failure(AuthError::CallerMisuse("no SCRAM challenge outstanding"))
            }
        }
    }

    pub(crate) fn verified(&mut self, verification: Verification) -> ServerStep {
        let ServerState::Verifying(first) = std::mem::replace(&mut self.state, ServerState::Done)
        else {
            return ServerStep::Failure(AuthError::CallerMisuse("no SCRAM verification pending"));
        };
        let (credentials, server_nonce) = match verification {
            Verification::Scram {
                credentials,
                server_nonce,
            } => (credentials, server_nonce),
            Verification::Rejected => return ServerStep::Failure(AuthError::Rejected),
            Verification::Accepted | Verification::AcceptedAs(_) => {
                return ServerStep::Failure(AuthError::CallerMisuse(
                    "VerifyRequest::Scram must be answered with Verification::Scram or Rejected",
                ));
            }
        };
        if !valid_nonce(server_nonce.as_bytes()) {
            return ServerStep::Failure(AuthError::CallerMisuse(
                "server nonce must be non-empty printable ASCII without ','",
            ));
        }
        if credentials.salt.is_empty() {
            return ServerStep::Failure(AuthError::CallerMisuse("SCRAM salt must not be empty"));
        }
        if credentials.iterations < self.min_iterations.max(1) {
            return ServerStep::Failure(AuthError::ScramIterationsTooLow {
                iterations: credentials.iterations,
                min: self.min_iterations.max(1),
            });
        }
        let nonce = format!("{}{}", first.nonce, server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            wire::encode(&credentials.salt),
            credentials.iterations
        );
        let challenge = server_first.clone().into_bytes();
        self.state = ServerState::AwaitClientFinal {
            first,
            nonce,
            server_first,
            stored_key: credentials.stored_key,
            server_key: credentials.server_key,
        };
        ServerStep::Challenge(challenge)
    }
}

/// Checks a client-final-message and returns the server-final-message.
fn check_client_final(
    msg: &[u8],
    first: &ClientFirst,
    nonce: &str,
    server_first: &str,
    stored_key: &[u8; KEY_LEN],
    server_key: &[u8; KEY_LEN],
) -> Result<String, AuthError> {
    let bad = |what| AuthError::Malformed {
        mechanism: MECH,
        what,
    };
    let text =
        std::str::from_utf8(msg).map_err(|_| bad("client-final-message is not valid UTF-8"))?;
    let attrs = attributes(text).map_err(bad)?;
    let cbind = expect_attr(
        &attrs,
        0,
        b'c',
        "client-final-message does not start with c=",
    )
    .map_err(bad)?;
    let final_nonce =
        expect_attr(&attrs, 1, b'r', "client-final-message has no r= after c=").map_err(bad)?;
    let proof = match attrs.last() {
        Some((b'p', proof)) if attrs.len() >= 3 => proof,
        _ => return Err(bad("client-final-message does not end with p=")),
    };
    if attrs.iter().any(|(n, _)| *n == b'm') {
        return Err(bad("mandatory extension m= is not supported"));
    }
    let cbind = wire::decode(cbind.as_bytes()).map_err(|_| bad("c= is not valid base64"))?;
    if cbind != first.gs2_header {
        return Err(bad(
            "c= does not match the gs2 header of the client-first-message",
        ));
    }
    if final_nonce != nonce {
        return Err(bad(
            "r= does not match the nonce of the server-first-message",
        ));
    }
    let proof = wire::decode(proof.as_bytes()).map_err(|_| bad("p= is not valid base64"))?;
    if proof.len() != KEY_LEN {
        return Err(bad("p= is not 32 bytes long"));
    }
    // The last ',' separates the proof: values cannot contain commas.
    let without_proof = text.rfind(',').map_or(text, |i| &text[..i]);
    let auth_message = format!("{},{server_first},{without_proof}", first.bare);
    let client_signature = hmac_sha256(stored_key, auth_message.as_bytes());
    let client_key = xor(&to_key(&proof), &client_signature);
    // StoredKey must equal H(ClientKey). Instead of comparing the two
    // directly, recompute the client signature under H(ClientKey) and let
    // ring compare it with the expected one in constant time: equal
    // signatures mean equal keys.
    let candidate = hmac::Key::new(hmac::HMAC_SHA256, &sha256(&client_key));
    hmac::verify(&candidate, auth_message.as_bytes(), &client_signature)
        .map_err(|_| AuthError::InvalidProof)?;
    let server_signature = hmac_sha256(server_key, auth_message.as_bytes());
    Ok(format!("v={}", wire::encode(&server_signature)))
}

/// Client side.
pub(crate) struct ScramClient {
    password: String,
    client_nonce: String,
    gs2_header: String,
    client_first_bare: String,
    min_iterations: u32,
    max_iterations: u32,
    state: ClientState,
}

enum ClientState {
    AwaitServerFirst,
    AwaitServerFinal {
        server_key: [u8; KEY_LEN],
        auth_message: String,
    },
    Verified {
        server_key: [u8; KEY_LEN],
        auth_message: String,
    },
}

impl ScramClient {
    pub(crate) fn new(
        authzid: Option<&str>,
        username: &str,
        password: &str,
        client_nonce: Option<String>,
        min_iterations: u32,
        max_iterations: u32,
    ) -> Result<Self, ClientError> {
        let client_nonce = client_nonce.ok_or(ClientError::MissingNonce)?;
        if !valid_nonce(client_nonce.as_bytes()) {
            return Err(ClientError::InvalidNonce);
        }
        if username.is_empty() {
            return Err(ClientError::InvalidCredentials(
                "SCRAM needs a non-empty username",
            ));
        }
        if username.contains('\0') || authzid.is_some_and(|a| a.contains('\0')) {
            return Err(ClientError::InvalidCredentials(
                "SCRAM names cannot contain NUL",
            ));
        }
        Ok(ScramClient {
            password: password.to_owned(),
            gs2_header: gs2::header(authzid),
            client_first_bare: format!("n={},r={client_nonce}", gs2::escape_saslname(username)),
            client_nonce,
            min_iterations,
            max_iterations,
            state: ClientState::AwaitServerFirst,
        })
    }

    pub(crate) fn first_message(&self) -> Vec<u8> {
        format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes()
    }

    pub(crate) fn on_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        match &self.state {
            ClientState::AwaitServerFirst => self.client_final(challenge),
            ClientState::AwaitServerFinal {
                server_key,
                auth_message,
            } => {
                check_server_final(challenge, server_key, auth_message)?;
                self.state = ClientState::Verified {
                    server_key: *server_key,
                    auth_message: auth_message.clone(),
                };
                // The server sent its final message as a challenge (SMTP):
                // the answer is empty.
                Ok(Vec::new())
            }
            ClientState::Verified { .. } => Err(ClientError::UnexpectedChallenge {
                mechanism: MECH,
                what: "a challenge after the server-final-message",
            }),
        }
    }

    fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ClientError> {
        let bad = |what| ClientError::MalformedChallenge {
            mechanism: MECH,
            what,
        };
        let text = std::str::from_utf8(server_first)
            .map_err(|_| bad("server-first-message is not valid UTF-8"))?;
        let attrs = attributes(text).map_err(bad)?;
        if attrs.first().is_some_and(|(n, _)| *n == b'm') {
            return Err(bad("mandatory extension m= is not supported"));
        }
        let nonce = expect_attr(
            &attrs,
            0,
            b'r',
            "server-first-message does not start with r=",
        )
        .map_err(bad)?;
        let salt =
            expect_attr(&attrs, 1, b's', "server-first-message has no s= after r=").map_err(bad)?;
        let iterations =
            expect_attr(&attrs, 2, b'i', "server-first-message has no i= after s=").map_err(bad)?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(ClientError::NonceMismatch);
        }
        if !valid_nonce(nonce.as_bytes()) {
            return Err(bad("nonce has characters outside printable ASCII"));
        }
        let salt = wire::decode(salt.as_bytes()).map_err(|_| bad("s= is not valid base64"))?;
        if salt.is_empty() {
            return Err(bad("s= salt is empty"));
        }
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("i= is not a decimal number"));
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| bad("i= does not fit in 32 bits"))?;
        if iterations < self.min_iterations {
            return Err(ClientError::IterationsTooLow {
                iterations,
                min: self.min_iterations,
            });
        }
        if iterations > self.max_iterations {
            return Err(ClientError::IterationsTooHigh {
                iterations,
                max: self.max_iterations,
            });
        }
        let rounds = NonZeroU32::new(iterations).ok_or(bad("i= is zero"))?;
        let keys = Keys::derive(self.password.as_bytes(), &salt, rounds);
        let without_proof = format!("c={},r={nonce}", wire::encode(self.gs2_header.as_bytes()));
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_signature = hmac_sha256(&keys.stored_key, auth_message.as_bytes());
        let proof = xor(&keys.client_key, &client_signature);
        self.state = ClientState::AwaitServerFinal {
            server_key: keys.server_key,
            auth_message,
        };
        Ok(format!("{without_proof},p={}", wire::encode(&proof)).into_bytes())
    }

    pub(crate) fn finish(&mut self, additional: Option<&[u8]>) -> Result<(), ClientError> {
        match (&self.state, additional) {
            (ClientState::AwaitServerFirst, _) => Err(ClientError::UnexpectedSuccess(
                "server reported success before its SCRAM challenge",
            )),
            (ClientState::AwaitServerFinal { .. }, None) => {
                Err(ClientError::ServerSignatureMissing)
            }
            (ClientState::Verified { .. }, None) => Ok(()),
            (
                ClientState::AwaitServerFinal {
                    server_key,
                    auth_message,
                }
                | ClientState::Verified {
                    server_key,
                    auth_message,
                },
                Some(data),
            ) => check_server_final(data, server_key, auth_message),
        }
    }
}

/// Checks a server-final-message (`v=<signature>` or `e=<error>`).
fn check_server_final(
    msg: &[u8],
    server_key: &[u8; KEY_LEN],
    auth_message: &str,
) -> Result<(), ClientError> {
    let bad = |what| ClientError::MalformedChallenge {
        mechanism: MECH,
        what,
    };
    let text =
        std::str::from_utf8(msg).map_err(|_| bad("server-final-message is not valid UTF-8"))?;
    let attrs = attributes(text).map_err(bad)?;
    match attrs.first() {
        Some((b'e', error)) => Err(ClientError::ServerReportedError((*error).to_owned())),
        Some((b'v', signature)) => {
            let signature =
                wire::decode(signature.as_bytes()).map_err(|_| bad("v= is not valid base64"))?;
            let key = hmac::Key::new(hmac::HMAC_SHA256, server_key);
            hmac::verify(&key, auth_message.as_bytes(), &signature)
                .map_err(|_| ClientError::ServerSignatureMismatch)
        }
        _ => Err(bad("server-final-message starts with neither v= nor e=")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_split() {
        assert_eq!(
            attributes("a=1,b=,c=x=y").unwrap(),
            vec![(b'a', "1"), (b'b', ""), (b'c', "x=y")]
        );
        assert!(attributes("").is_err());
        assert!(attributes("a=1,").is_err());
        assert!(attributes("ab=1").is_err());
        assert!(attributes("1=1").is_err());
    }

    #[test]
    fn derive_matches_rfc7677_keys() {
        // From the RFC 7677 exchange: the server signature proves the keys.
        let salt = wire::decode(b"W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let creds = ScramCredentials::derive("pencil", &salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let sig = hmac_sha256(&creds.server_key, auth_message.as_bytes());
        assert_eq!(
            wire::encode(&sig),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn zero_iterations_are_raised_to_one() {
        let creds = ScramCredentials::derive("pw", b"salt", 0);
        assert_eq!(creds.iterations, 1);
        assert_eq!(creds, ScramCredentials::derive("pw", b"salt", 1));
    }

    #[test]
    fn debug_hides_keys() {
        let creds = ScramCredentials::derive("pw", b"salt", 1);
        let shown = format!("{creds:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&format!("{:?}", creds.stored_key)));
    }

    #[test]
    fn nonce_validation() {
        assert!(valid_nonce(b"abc!~"));
        assert!(!valid_nonce(b""));
        assert!(!valid_nonce(b"a,b"));
        assert!(!valid_nonce(b"a b"));
        assert!(!valid_nonce("é".as_bytes()));
    }
}
