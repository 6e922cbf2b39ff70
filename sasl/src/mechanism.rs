//! The set of supported SASL mechanisms and their registered names.

use std::fmt;
use std::str::FromStr;

use crate::error::UnknownMechanism;

/// A SASL mechanism supported by this crate.
///
/// The names are the ones registered with IANA (or, for `XOAUTH2`, the one
/// Google's mail servers advertise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): authzid, authcid and password in one message.
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login): username and password in two
    /// answers to the `Username:` and `Password:` challenges.
    Login,
    /// `XOAUTH2` (Google): `user=<u>\x01auth=Bearer <token>\x01\x01`.
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628): an OAuth 2.0 bearer token behind a GS2
    /// header.
    OAuthBearer,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677) without channel binding.
    ScramSha256,
}

impl Mechanism {
    /// Every supported mechanism, strongest first.
    pub const ALL: [Mechanism; 5] = [
        Mechanism::ScramSha256,
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
        Mechanism::Plain,
        Mechanism::Login,
    ];

    /// The mechanism's name as it appears on the wire, e.g. `"SCRAM-SHA-256"`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Looks a mechanism up by its name, ignoring ASCII case.
    ///
    /// Returns `None` for names this crate does not implement.
    pub fn from_name(name: &[u8]) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether the mechanism exposes a reusable secret to anyone who can read
    /// the exchange: the password for `PLAIN` and `LOGIN`, the bearer token
    /// for `XOAUTH2` and `OAUTHBEARER`.
    ///
    /// Servers should not offer these mechanisms before TLS is in place.
    pub fn sends_password_in_clear(self) -> bool {
        !matches!(self, Mechanism::ScramSha256)
    }

    /// Whether the client speaks first, i.e. may send an initial response
    /// with the `AUTH` command. True for every mechanism but `LOGIN`.
    pub fn has_initial_response(self) -> bool {
        !matches!(self, Mechanism::Login)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mechanism {
    type Err = UnknownMechanism;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::from_name(s.as_bytes()).ok_or_else(|| UnknownMechanism {
            name: s.chars().take(64).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name().as_bytes()), Some(m));
            assert_eq!(m.to_string(), m.name());
            assert_eq!(m.name().parse::<Mechanism>(), Ok(m));
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(
            Mechanism::from_name(b"scram-sha-256"),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(Mechanism::from_name(b"xOAuth2"), Some(Mechanism::XOAuth2));
        assert_eq!(Mechanism::from_name(b"CRAM-MD5"), None);
        assert_eq!(Mechanism::from_name(b""), None);
        assert_eq!(Mechanism::from_name(b"PLAIN "), None);
    }

    #[test]
    fn unknown_name_error_names_it() {
        let err = "DIGEST-MD5".parse::<Mechanism>().unwrap_err();
        assert_eq!(err.name, "DIGEST-MD5");
        assert!(err.to_string().contains("DIGEST-MD5"));
    }

    #[test]
    fn flags() {
        assert!(Mechanism::Plain.sends_password_in_clear());
        assert!(Mechanism::Login.sends_password_in_clear());
        assert!(Mechanism::XOAuth2.sends_password_in_clear());
        assert!(Mechanism::OAuthBearer.sends_password_in_clear());
        assert!(!Mechanism::ScramSha256.sends_password_in_clear());
        assert!(!Mechanism::Login.has_initial_response());
        assert!(Mechanism::Plain.has_initial_response());
        assert!(Mechanism::ScramSha256.has_initial_response());
    }
}
