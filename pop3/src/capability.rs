//! Capabilities (RFC 2449 §5-6, RFC 2595 §4, RFC 3206 §6, RFC 6856): what a
//! server offers ([`Extensions`], turned into CAPA lines) and what a client
//! learns from them ([`Capabilities`]).

use postel_sasl::Mechanism;

/// `EXPIRE` (RFC 2449 §6.7): how long the server keeps retrieved messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expire {
    /// Days, or `None` for `NEVER`. `Some(0)`: messages are deleted once
    /// retrieved.
    pub days: Option<u32>,
    /// The policy differs per user: `USER` is added in the AUTHORIZATION
    /// state (the TRANSACTION state shows the value that applies).
    pub per_user: bool,
}

/// `LOGIN-DELAY` (RFC 2449 §6.5): the least time between logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginDelay {
    /// Seconds.
    pub seconds: u32,
    /// The delay differs per user (see [`Expire::per_user`]).
    pub per_user: bool,
}

/// What a server offers beyond RFC 1939's required commands. TOP, UIDL,
/// RESP-CODES and PIPELINING-style processing of input are always on: every
/// command works on every pipelined line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extensions {
    /// USER and PASS. Even when on, they are offered before TLS only if
    /// [`ServerConfig::allow_plaintext_login`](crate::server::ServerConfig::allow_plaintext_login).
    pub user: bool,
    /// SASL mechanisms for AUTH (RFC 5034). Those that send a password in
    /// the clear are offered before TLS only if plaintext logins are allowed.
    pub sasl: Vec<Mechanism>,
    /// STLS (RFC 2595); the driver must be able to run a TLS handshake.
    pub stls: bool,
    /// Advertise PIPELINING (RFC 2449 §6.6).
    pub pipelining: bool,
    /// Advertise AUTH-RESP-CODE (RFC 3206 §6): `[AUTH]` marks credential
    /// failures (the session always sends the code).
    pub auth_resp_code: bool,
    /// `LOGIN-DELAY`, if there is one.
    pub login_delay: Option<LoginDelay>,
    /// `EXPIRE`, if there is a policy to announce.
    pub expire: Option<Expire>,
    /// `IMPLEMENTATION` text (RFC 2449 §6.9), if any.
    pub implementation: Option<String>,
    /// The UTF8 command and capability (RFC 6856 §2).
    pub utf8: bool,
    /// The LANG command and capability (RFC 6856 §3).
    pub lang: bool,
}

impl Default for Extensions {
    fn default() -> Self {
        Self {
            user: true,
            sasl: vec![Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login],
            stls: false,
            pipelining: true,
            auth_resp_code: true,
            login_delay: None,
            expire: None,
            implementation: Some("Postel".to_owned()),
            utf8: true,
            lang: true,
        }
    }
}

/// The session facts that decide which capabilities are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapaState {
    /// In the AUTHORIZATION state (else TRANSACTION).
    pub authorization: bool,
    /// The connection is TLS.
    pub tls: bool,
    /// Plaintext logins are allowed without TLS.
    pub plaintext_ok: bool,
}

impl Extensions {
    /// The SASL mechanisms usable now.
    pub(crate) fn usable_sasl(&self, tls: bool, plaintext_ok: bool) -> Vec<Mechanism> {
        self.sasl
            .iter()
            .copied()
            .filter(|m| tls || plaintext_ok || !m.sends_password_in_clear())
            .collect()
    }

    /// The CAPA lines for this state, in the order of RFC 2449's example.
    /// Login commands (USER, SASL, STLS) appear only in AUTHORIZATION, and
    /// only when usable now.
    pub(crate) fn capa_lines(&self, s: CapaState) -> Vec<String> {
        let mut lines = vec!["TOP".to_owned()];
        if s.authorization && self.user && (s.tls || s.plaintext_ok) {
            lines.push("USER".to_owned());
        }
        if s.authorization {
            let mechs = self.usable_sasl(s.tls, s.plaintext_ok);
            if !mechs.is_empty() {
                let names: Vec<&str> = mechs.iter().map(|m| m.name()).collect();
                lines.push(format!("SASL {}", names.join(" ")));
            }
        }
        lines.push("RESP-CODES".to_owned());
        let per_user = |p: bool| if p && s.authorization { " USER" } else { "" };
        if let Some(d) = self.login_delay {
            lines.push(format!("LOGIN-DELAY {}{}", d.seconds, per_user(d.per_user)));
        }
        if self.pipelining {
            lines.push("PIPELINING".to_owned());
        }
        if let Some(e) = self.expire {
            let days = e.days.map_or_else(|| "NEVER".to_owned(), |d| d.to_string());
            lines.push(format!("EXPIRE {days}{}", per_user(e.per_user)));
        }
        lines.push("UIDL".to_owned());
        if let Some(text) = &self.implementation {
            lines.push(format!("IMPLEMENTATION {text}"));
        }
        if s.authorization && self.stls && !s.tls {
            lines.push("STLS".to_owned());
        }
        if self.auth_resp_code {
            lines.push("AUTH-RESP-CODE".to_owned());
        }
        if self.utf8 && s.authorization {
            lines.push("UTF8".to_owned());
        }
        if self.lang {
            lines.push("LANG".to_owned());
        }
        lines
    }
}

/// What a server's CAPA response says (parsed leniently: unknown lines are
/// kept in [`Capabilities::other`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// TOP.
    pub top: bool,
    /// USER.
    pub user: bool,
    /// SASL mechanism names as listed (upper case), including ones
    /// postel-sasl does not implement.
    pub sasl: Vec<String>,
    /// RESP-CODES.
    pub resp_codes: bool,
    /// LOGIN-DELAY.
    pub login_delay: Option<LoginDelay>,
    /// PIPELINING.
    pub pipelining: bool,
    /// EXPIRE.
    pub expire: Option<Expire>,
    /// UIDL.
    pub uidl: bool,
    /// IMPLEMENTATION text.
    pub implementation: Option<String>,
    /// STLS.
    pub stls: bool,
    /// AUTH-RESP-CODE.
    pub auth_resp_code: bool,
    /// UTF8 (with its arguments, e.g. `USER`, ignored).
    pub utf8: bool,
    /// LANG.
    pub lang: bool,
    /// Lines not recognized above, as sent.
    pub other: Vec<String>,
}

impl Capabilities {
    /// Reads the lines of a CAPA response (without the status line and the
    /// terminator).
    pub fn from_lines<S: AsRef<str>>(lines: &[S]) -> Self {
        let mut caps = Self::default();
        for line in lines {
            let line = line.as_ref().trim();
            let mut words = line.split_ascii_whitespace();
            let Some(tag) = words.next() else { continue };
            let args: Vec<&str> = words.collect();
            let per_user = args.get(1).is_some_and(|a| a.eq_ignore_ascii_case("USER"));
            match tag.to_ascii_uppercase().as_str() {
                "TOP" => caps.top = true,
                "USER" => caps.user = true,
                "SASL" => caps.sasl = args.iter().map(|a| a.to_ascii_uppercase()).collect(),
                "RESP-CODES" => caps.resp_codes = true,
                "PIPELINING" => caps.pipelining = true,
                "UIDL" => caps.uidl = true,
                "STLS" => caps.stls = true,
                "AUTH-RESP-CODE" => caps.auth_resp_code = true,
                "UTF8" => caps.utf8 = true,
                "LANG" => caps.lang = true,
                "LOGIN-DELAY" => match args.first().and_then(|a| a.parse().ok()) {
                    Some(seconds) => caps.login_delay = Some(LoginDelay { seconds, per_user }),
                    None => caps.other.push(line.to_owned()),
                },
                "EXPIRE" => {
                    let days = match args.first() {
                        Some(a) if a.eq_ignore_ascii_case("NEVER") => Some(None),
                        Some(a) => a.parse().ok().map(Some),
                        None => None,
                    };
                    match days {
                        Some(days) => caps.expire = Some(Expire { days, per_user }),
                        None => caps.other.push(line.to_owned()),
                    }
                }
                "IMPLEMENTATION" => {
                    caps.implementation = Some(line[tag.len()..].trim().to_owned());
                }
                _ => caps.other.push(line.to_owned()),
            }
        }
        caps
    }

    /// Whether the SASL line lists `mechanism`.
    pub fn offers_sasl(&self, mechanism: Mechanism) -> bool {
        self.sasl.iter().any(|m| m == mechanism.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc2449_example() {
        let lines = [
            "TOP",
            "USER",
            "SASL CRAM-MD5 KERBEROS_V4",
            "RESP-CODES",
            "LOGIN-DELAY 900",
            "PIPELINING",
            "EXPIRE 60",
            "UIDL",
            "IMPLEMENTATION Shlemazle-Plotz-v302",
        ];
        let caps = Capabilities::from_lines(&lines);
        assert!(caps.top && caps.user && caps.resp_codes && caps.pipelining && caps.uidl);
        assert_eq!(caps.sasl, ["CRAM-MD5", "KERBEROS_V4"]);
        assert_eq!(
            caps.login_delay,
            Some(LoginDelay {
                seconds: 900,
                per_user: false
            })
        );
        assert_eq!(
            caps.expire,
            Some(Expire {
                days: Some(60),
                per_user: false
            })
        );
        assert_eq!(caps.implementation.as_deref(), Some("Shlemazle-Plotz-v302"));
        assert!(!caps.stls && caps.other.is_empty());
        assert!(!caps.offers_sasl(Mechanism::Plain));
    }

    #[test]
    fn per_user_and_never() {
        let caps = Capabilities::from_lines(&["EXPIRE NEVER USER", "LOGIN-DELAY x", "X-FOO"]);
        assert_eq!(
            caps.expire,
            Some(Expire {
                days: None,
                per_user: true
            })
        );
        assert_eq!(caps.login_delay, None);
        assert_eq!(caps.other, ["LOGIN-DELAY x", "X-FOO"]);
    }

    #[test]
    fn server_lines_follow_state() {
        let ext = Extensions {
            stls: true,
            ..Extensions::default()
        };
        let before_tls = ext.capa_lines(CapaState {
            authorization: true,
            tls: false,
            plaintext_ok: false,
        });
        assert!(before_tls.contains(&"STLS".to_owned()));
        assert!(!before_tls.contains(&"USER".to_owned()));
        assert!(before_tls.contains(&"SASL SCRAM-SHA-256".to_owned()));
        let after_tls = ext.capa_lines(CapaState {
            authorization: true,
            tls: true,
            plaintext_ok: false,
        });
        assert!(!after_tls.contains(&"STLS".to_owned()));
        assert!(after_tls.contains(&"USER".to_owned()));
        assert!(after_tls.contains(&"SASL SCRAM-SHA-256 PLAIN LOGIN".to_owned()));
        let transaction = ext.capa_lines(CapaState {
            authorization: false,
            tls: true,
            plaintext_ok: false,
        });
        assert!(
            !transaction
                .iter()
                .any(|l| l == "USER" || l.starts_with("SASL"))
        );
    }
}
