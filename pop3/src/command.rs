//! POP3 commands (RFC 1939 and its extensions): parsed from a line on the
//! server, written on the client.
//!
//! Keywords are case-insensitive. Arguments are separated by spaces; runs of
//! spaces are tolerated, except in `PASS`, whose single argument is the rest
//! of the line, spaces included (RFC 1939 §7). Message numbers are decimal;
//! one too large for a `u32` saturates to `u32::MAX` (a number no maildrop
//! has), so the server answers "no such message" rather than a syntax error.

use std::fmt;

use crate::error::CommandError;

/// A password as sent with `PASS`. Its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The password, unwrapped.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// One POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 §7).
    User {
        /// The mailbox name.
        name: String,
    },
    /// `PASS string` (RFC 1939 §7).
    Pass {
        /// The password.
        password: Password,
    },
    /// `APOP name digest` (RFC 1939 §7).
    Apop {
        /// The mailbox name.
        name: String,
        /// The MD5 digest as 32 lower-case hex digits.
        digest: String,
    },
    /// `AUTH mechanism [initial-response]` (RFC 5034).
    Auth {
        /// The SASL mechanism name, upper case.
        mechanism: String,
        /// The base64 initial response (`=` for an empty one), if given.
        initial_response: Option<String>,
    },
    /// `AUTH` without arguments: a request for the mechanism list that some
    /// clients send (it predates RFC 5034, which has CAPA's `SASL` line).
    AuthList,
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `CAPA` (RFC 2449 §5).
    Capa,
    /// `UTF8` (RFC 6856 §2).
    Utf8,
    /// `LANG [language-range]` (RFC 6856 §3).
    Lang {
        /// The language range, or `None` to ask for the list.
        range: Option<String>,
    },
    /// `STAT` (RFC 1939 §5).
    Stat,
    /// `LIST [msg]` (RFC 1939 §5).
    List {
        /// A message number, or `None` for all messages.
        msg: Option<u32>,
    },
    /// `RETR msg` (RFC 1939 §5).
    Retr {
        /// The message number.
        msg: u32,
    },
    /// `DELE msg` (RFC 1939 §5).
    Dele {
        /// The message number.
        msg: u32,
    },
    /// `NOOP` (RFC 1939 §5).
    Noop,
    /// `RSET` (RFC 1939 §5).
    Rset,
    /// `QUIT` (RFC 1939 §4, §6).
    Quit,
    /// `TOP msg n` (RFC 1939 §7).
    Top {
        /// The message number.
        msg: u32,
        /// Body lines to send after the header.
        lines: u64,
    },
    /// `UIDL [msg]` (RFC 1939 §7).
    Uidl {
        /// A message number, or `None` for all messages.
        msg: Option<u32>,
    },
}

impl Command {
    /// The command's keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User { .. } => "USER",
            Command::Pass { .. } => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } | Command::AuthList => "AUTH",
            Command::Stls => "STLS",
            Command::Capa => "CAPA",
            Command::Utf8 => "UTF8",
            Command::Lang { .. } => "LANG",
            Command::Stat => "STAT",
            Command::List { .. } => "LIST",
            Command::Retr { .. } => "RETR",
            Command::Dele { .. } => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl { .. } => "UIDL",
        }
    }

    /// Parses one command line, without its line ending.
    pub fn parse(line: &[u8]) -> Result<Self, CommandError> {
        if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(CommandError::InvalidBytes);
        }
        let line = std::str::from_utf8(line).map_err(|_| CommandError::InvalidBytes)?;
        let (keyword, rest) = match line.find(' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let keyword = KEYWORDS
            .iter()
            .copied()
            .find(|k| k.eq_ignore_ascii_case(keyword))
            .ok_or(CommandError::UnknownCommand)?;
        let args: Vec<&str> = rest.map_or_else(Vec::new, |r| r.split(' ').collect());
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let syntax = |what| CommandError::Syntax {
            command: keyword,
            what,
        };
        let none = |c: Command| {
            if args.is_empty() {
                Ok(c)
            } else {
                Err(syntax("no arguments allowed"))
            }
        };
        match keyword {
            "USER" => match args.as_slice() {
                [name] => Ok(Command::User {
                    name: (*name).to_owned(),
                }),
                _ => Err(syntax("expected one name")),
            },
            "PASS" => match rest {
                Some(p) if !p.is_empty() => Ok(Command::Pass {
                    password: Password::new(p),
                }),
                _ => Err(syntax("expected a password")),
            },
            "APOP" => match args.as_slice() {
                [name, digest] => {
                    if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(syntax("the digest must be 32 hex digits"));
                    }
                    Ok(Command::Apop {
                        name: (*name).to_owned(),
                        digest: digest.to_ascii_lowercase(),
                    })
                }
                _ => Err(syntax("expected a name and a digest")),
            },
            "AUTH" => match args.as_slice() {
                [] => Ok(Command::AuthList),
                [mechanism] => Ok(Command::Auth {
                    mechanism: mechanism.to_ascii_uppercase(),
                    initial_response: None,
                }),
                [mechanism, ir] => Ok(Command::Auth {
                    mechanism: mechanism.to_ascii_uppercase(),
                    initial_response: Some((*ir).to_owned()),
                }),
                _ => Err(syntax(
                    "expected a mechanism and at most an initial response",
                )),
            },
            "STLS" => none(Command::Stls),
            "CAPA" => none(Command::Capa),
            "UTF8" => none(Command::Utf8),
            "LANG" => match args.as_slice() {
                [] => Ok(Command::Lang { range: None }),
                [range] => Ok(Command::Lang {
                    range: Some((*range).to_owned()),
                }),
                _ => Err(syntax("expected at most one language range")),
            },
            "STAT" => none(Command::Stat),
            "NOOP" => none(Command::Noop),
            "RSET" => none(Command::Rset),
            "QUIT" => none(Command::Quit),
            "LIST" | "UIDL" => {
                let msg = match args.as_slice() {
                    [] => None,
                    [n] => Some(number(n).ok_or(syntax("the message number must be digits"))?),
                    _ => return Err(syntax("expected at most one message number")),
                };
                Ok(if keyword == "LIST" {
                    Command::List { msg }
                } else {
                    Command::Uidl { msg }
                })
            }
            "RETR" | "DELE" => match args.as_slice() {
                [n] => {
                    let msg = number(n).ok_or(syntax("the message number must be digits"))?;
                    Ok(if keyword == "RETR" {
                        Command::Retr { msg }
                    } else {
                        Command::Dele { msg }
                    })
                }
                _ => Err(syntax("expected one message number")),
            },
            "TOP" => match args.as_slice() {
                [n, lines] => Ok(Command::Top {
                    msg: number(n).ok_or(syntax("the message number must be digits"))?,
                    lines: count(lines).ok_or(syntax("the line count must be digits"))?,
                }),
                _ => Err(syntax("expected a message number and a line count")),
            },
            _ => Err(CommandError::UnknownCommand),
        }
    }

    /// Appends the command line, CRLF included, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.keyword().as_bytes());
        let mut arg = |a: &str| {
            out.push(b' ');
            out.extend_from_slice(a.as_bytes());
        };
        match self {
            Command::User { name } => arg(name),
            Command::Pass { password } => arg(password.as_str()),
            Command::Apop { name, digest } => {
                arg(name);
                arg(digest);
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                arg(mechanism);
                if let Some(ir) = initial_response {
                    arg(ir);
                }
            }
            Command::Lang { range: Some(r) } => arg(r),
            Command::List { msg: Some(n) }
            | Command::Uidl { msg: Some(n) }
            | Command::Retr { msg: n }
            | Command::Dele { msg: n } => arg(&n.to_string()),
            Command::Top { msg, lines } => {
                arg(&msg.to_string());
                arg(&lines.to_string());
            }
            _ => {}
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The command line as bytes, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        self.write_to(&mut out);
        out
    }
}

const KEYWORDS: [&str; 17] = [
    "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "UTF8", "LANG", "STAT", "LIST", "RETR", "DELE",
    "NOOP", "RSET", "QUIT", "TOP", "UIDL",
];

/// A message number: decimal digits, saturating at `u32::MAX`.
fn number(s: &str) -> Option<u32> {
    count(s).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// A count: decimal digits, saturating at `u64::MAX`.
fn count(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc1939_commands() {
        assert_eq!(
            Command::parse(b"user mrose").unwrap(),
            Command::User {
                name: "mrose".into()
            }
        );
        assert_eq!(
            Command::parse(b"PASS secret with  spaces ").unwrap(),
            Command::Pass {
                password: Password::new("secret with  spaces ")
            }
        );
        assert_eq!(
            Command::parse(b"APOP mrose C4C9334BAC560ECC979E58001B3E22FB").unwrap(),
            Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into()
            }
        );
        assert_eq!(
            Command::parse(b"LIST").unwrap(),
            Command::List { msg: None }
        );
        assert_eq!(
            Command::parse(b"LIST 2").unwrap(),
            Command::List { msg: Some(2) }
        );
        assert_eq!(
            Command::parse(b"top 1  10").unwrap(),
            Command::Top { msg: 1, lines: 10 }
        );
        assert_eq!(
            Command::parse(b"RETR 99999999999999999999999").unwrap(),
            Command::Retr { msg: u32::MAX }
        );
        assert_eq!(
            Command::parse(b"AUTH plain =").unwrap(),
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("=".into())
            }
        );
        assert_eq!(Command::parse(b"AUTH").unwrap(), Command::AuthList);
    }

    #[test]
    fn refuses_bad_lines() {
        assert_eq!(
            Command::parse(b"XTND foo"),
            Err(CommandError::UnknownCommand)
        );
        assert_eq!(Command::parse(b""), Err(CommandError::UnknownCommand));
        assert_eq!(
            Command::parse(b"USER a\0b"),
            Err(CommandError::InvalidBytes)
        );
        assert_eq!(
            Command::parse(b"USER \xff"),
            Err(CommandError::InvalidBytes)
        );
        assert!(matches!(
            Command::parse(b"RETR"),
            Err(CommandError::Syntax { .. })
        ));
        assert!(matches!(
            Command::parse(b"RETR -1"),
            Err(CommandError::Syntax { .. })
        ));
        assert!(matches!(
            Command::parse(b"STAT 1"),
            Err(CommandError::Syntax { .. })
        ));
        assert!(matches!(
            Command::parse(b"APOP a b"),
            Err(CommandError::Syntax { .. })
        ));
        assert!(matches!(
            Command::parse(b"PASS"),
            Err(CommandError::Syntax { .. })
        ));
    }

    #[test]
    fn round_trips() {
        for c in [
            Command::User { name: "a".into() },
            Command::Pass {
                password: Password::new("p w"),
            },
            Command::Top { msg: 3, lines: 0 },
            Command::Uidl { msg: None },
            Command::Lang {
                range: Some("en".into()),
            },
            Command::Quit,
        ] {
            let bytes = c.to_bytes();
            assert_eq!(Command::parse(&bytes[..bytes.len() - 2]).unwrap(), c);
        }
    }

    #[test]
    fn password_debug_is_redacted() {
        let c = Command::Pass {
            password: Password::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
