//! SMTP commands (RFC 5321 §4.1 and the extensions' commands): parsed from a
//! command line on the server side, written on the client side.

use std::fmt;

use crate::address::{ForwardPath, PathKind, PathSyntax, ReversePath, domain_len, parse_path};
use crate::error::CommandError;
use crate::params::{MailParameters, RcptParameters};

/// Obsolete commands of RFC 821 that parse and get `502 5.5.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyCommand {
    /// SEND FROM: deliver to a terminal.
    Send,
    /// SOML FROM: send or mail.
    Soml,
    /// SAML FROM: send and mail.
    Saml,
    /// TURN: swap roles (a security hole; RFC 2821 removed it).
    Turn,
}

/// One SMTP or LMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain`.
    Helo {
        /// The client's claimed name.
        domain: String,
    },
    /// `EHLO domain-or-address-literal`.
    Ehlo {
        /// The client's claimed name.
        domain: String,
    },
    /// `LHLO domain` (LMTP, RFC 2033).
    Lhlo {
        /// The client's claimed name.
        domain: String,
    },
    /// `MAIL FROM:<reverse-path> [params]`.
    Mail {
        /// The sender.
        from: ReversePath,
        /// ESMTP parameters (boxed: they are large and MAIL comes once per
        /// transaction, while every other command stays small to move).
        params: Box<MailParameters>,
    },
    /// `RCPT TO:<forward-path> [params]`.
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// ESMTP parameters.
        params: RcptParameters,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030); `size` octets follow the line.
    Bdat {
        /// Octets in this chunk.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `VRFY string`.
    Vrfy {
        /// What to verify.
        arg: String,
    },
    /// `EXPN string`.
    Expn {
        /// The list to expand.
        arg: String,
    },
    /// `HELP [topic]`.
    Help {
        /// The topic, if any.
        topic: Option<String>,
    },
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism name, upper case.
        mechanism: String,
        /// The initial response as sent (base64, or `=` for empty).
        initial_response: Option<String>,
    },
    /// `ETRN node` (RFC 1985).
    Etrn {
        /// The node (domain, `@domain` or `#queue`).
        node: String,
    },
    /// SEND, SOML, SAML or TURN.
    Legacy(LegacyCommand),
}

impl Command {
    /// Parses a command line (without its CRLF).
    pub fn parse(line: &[u8], syntax: PathSyntax) -> Result<Command, CommandError> {
        let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let verb = &line[..verb_end];
        let args = if verb_end < line.len() {
            &line[verb_end + 1..]
        } else {
            &[][..]
        };
        if verb.len() != 4 && verb.len() != 8 {
            return Err(CommandError::UnknownCommand);
        }
        let key = u32::from_be_bytes([verb[0], verb[1], verb[2], verb[3]]) | 0x2020_2020;
        if verb.len() == 8 {
            if key == u32::from_be_bytes(*b"star") && verb[4..].eq_ignore_ascii_case(b"TTLS") {
                no_args(args, "STARTTLS")?;
                return Ok(Command::StartTls);
            }
            return Err(CommandError::UnknownCommand);
        }
        match &key.to_be_bytes() {
            b"mail" => parse_mail(args, syntax),
            b"rcpt" => parse_rcpt(args, syntax),
            b"ehlo" => Ok(Command::Ehlo {
                domain: parse_hello_domain(args, "EHLO")?,
            }),
            b"helo" => Ok(Command::Helo {
                domain: parse_hello_domain(args, "HELO")?,
            }),
            b"lhlo" => Ok(Command::Lhlo {
                domain: parse_hello_domain(args, "LHLO")?,
            }),
            b"data" => {
                no_args(args, "DATA")?;
                Ok(Command::Data)
            }
            b"bdat" => parse_bdat(args),
            b"rset" => {
                no_args(args, "RSET")?;
                Ok(Command::Rset)
            }
            b"quit" => {
                no_args(args, "QUIT")?;
                Ok(Command::Quit)
            }
            b"noop" => Ok(Command::Noop),
            b"vrfy" => Ok(Command::Vrfy {
                arg: required_text(args, "VRFY")?,
            }),
            b"expn" => Ok(Command::Expn {
                arg: required_text(args, "EXPN")?,
            }),
            b"help" => Ok(Command::Help {
                topic: if args.is_empty() {
                    None
                } else {
                    Some(text(args)?)
                },
            }),
            b"auth" => parse_auth(args),
            b"etrn" => Ok(Command::Etrn {
                node: required_text(args, "ETRN")?,
            }),
            b"send" => Ok(Command::Legacy(LegacyCommand::Send)),
            b"soml" => Ok(Command::Legacy(LegacyCommand::Soml)),
            b"saml" => Ok(Command::Legacy(LegacyCommand::Saml)),
            b"turn" => Ok(Command::Legacy(LegacyCommand::Turn)),
            _ => Err(CommandError::UnknownCommand),
        }
    }

    /// The verb, upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo { .. } => "HELO",
            Command::Ehlo { .. } => "EHLO",
            Command::Lhlo { .. } => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Vrfy { .. } => "VRFY",
            Command::Expn { .. } => "EXPN",
            Command::Help { .. } => "HELP",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Etrn { .. } => "ETRN",
            Command::Legacy(LegacyCommand::Send) => "SEND",
            Command::Legacy(LegacyCommand::Soml) => "SOML",
            Command::Legacy(LegacyCommand::Saml) => "SAML",
            Command::Legacy(LegacyCommand::Turn) => "TURN",
        }
    }

    /// Appends the command line, CRLF included, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Command::Helo { domain } | Command::Ehlo { domain } | Command::Lhlo { domain } => {
                out.extend_from_slice(self.verb().as_bytes());
                out.push(b' ');
                out.extend_from_slice(domain.as_bytes());
            }
            Command::Mail { from, params } => {
                out.extend_from_slice(b"MAIL FROM:");
                from.write_to(out);
                params.write_to(out);
            }
            Command::Rcpt { to, params } => {
                out.extend_from_slice(b"RCPT TO:");
                to.write_to(out);
                params.write_to(out);
            }
            Command::Bdat { size, last } => {
                out.extend_from_slice(b"BDAT ");
                out.extend_from_slice(size.to_string().as_bytes());
                if *last {
                    out.extend_from_slice(b" LAST");
                }
            }
            Command::Vrfy { arg } | Command::Expn { arg } | Command::Etrn { node: arg } => {
                out.extend_from_slice(self.verb().as_bytes());
                out.push(b' ');
                out.extend_from_slice(arg.as_bytes());
            }
            Command::Help { topic } => {
                out.extend_from_slice(b"HELP");
                if let Some(t) = topic {
                    out.push(b' ');
                    out.extend_from_slice(t.as_bytes());
                }
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                out.extend_from_slice(b"AUTH ");
                out.extend_from_slice(mechanism.as_bytes());
                if let Some(ir) = initial_response {
                    out.push(b' ');
                    out.extend_from_slice(ir.as_bytes());
                }
            }
            Command::Legacy(LegacyCommand::Turn) => out.extend_from_slice(b"TURN"),
            Command::Legacy(_) => {
                out.extend_from_slice(self.verb().as_bytes());
                out.extend_from_slice(b" FROM:<>");
            }
            Command::Data | Command::Rset | Command::Noop | Command::Quit | Command::StartTls => {
                out.extend_from_slice(self.verb().as_bytes())
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The command line as bytes, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(String::from_utf8_lossy(&bytes[..bytes.len() - 2]).as_ref())
    }
}

fn no_args(args: &[u8], command: &'static str) -> Result<(), CommandError> {
    if args.iter().all(|&b| b == b' ') {
        Ok(())
    } else {
        Err(CommandError::Syntax {
            command,
            what: "takes no arguments",
        })
    }
}

fn text(args: &[u8]) -> Result<String, CommandError> {
    let s = std::str::from_utf8(args).map_err(|_| CommandError::InvalidBytes)?;
    if s.chars().any(char::is_control) {
        return Err(CommandError::InvalidBytes);
    }
    Ok(s.to_owned())
}

fn required_text(args: &[u8], command: &'static str) -> Result<String, CommandError> {
    let trimmed = args.trim_ascii();
    if trimmed.is_empty() {
        return Err(CommandError::Syntax {
            command,
            what: "argument required",
        });
    }
    text(trimmed)
}

/// HELO/EHLO/LHLO take one argument: a domain or an address literal. Names
/// that real clients send but that break the grammar (underscores, a
/// trailing dot) are accepted; spaces, controls and emptiness are not.
fn parse_hello_domain(args: &[u8], command: &'static str) -> Result<String, CommandError> {
    let arg = args.trim_ascii();
    if arg.is_empty() {
        return Err(CommandError::Syntax {
            command,
            what: "domain name required",
        });
    }
    if arg.first() == Some(&b'[') {
        if domain_len(arg) != Some(arg.len()) {
            return Err(CommandError::Syntax {
                command,
                what: "malformed address literal",
            });
        }
    } else if !arg
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') || b >= 0x80)
    {
        return Err(CommandError::Syntax {
            command,
            what: "invalid domain name",
        });
    }
    text(arg)
}

fn strip_prefix_ci<'a>(input: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (input.len() >= prefix.len() && input[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &input[prefix.len()..])
}

fn parse_mail(args: &[u8], syntax: PathSyntax) -> Result<Command, CommandError> {
    let rest = strip_prefix_ci(args, b"FROM:").ok_or(CommandError::Syntax {
        command: "MAIL",
        what: "expected FROM:<address>",
    })?;
    let (path, params) = parse_path(rest, "sender", syntax)?;
    let from = match path {
        PathKind::Null => ReversePath::Null,
        PathKind::Mailbox(m) => ReversePath::Mailbox(m),
        PathKind::Postmaster => unreachable_postmaster(),
    };
    Ok(Command::Mail {
        from,
        params: Box::new(MailParameters::parse(params)?),
    })
}

#[cold]
fn unreachable_postmaster() -> ReversePath {
    // parse_path only yields Postmaster for recipients.
    ReversePath::Null
}

fn parse_rcpt(args: &[u8], syntax: PathSyntax) -> Result<Command, CommandError> {
    let rest = strip_prefix_ci(args, b"TO:").ok_or(CommandError::Syntax {
        command: "RCPT",
        what: "expected TO:<address>",
    })?;
    let (path, params) = parse_path(rest, "recipient", syntax)?;
    let to = match path {
        PathKind::Null => {
            return Err(CommandError::BadPath {
                which: "recipient",
                what: "the null path <> is not a recipient",
            });
        }
        PathKind::Postmaster => ForwardPath::Postmaster,
        PathKind::Mailbox(m) => ForwardPath::Mailbox(m),
    };
    Ok(Command::Rcpt {
        to,
        params: RcptParameters::parse(params)?,
    })
}

fn parse_bdat(args: &[u8]) -> Result<Command, CommandError> {
    let bad = |what| CommandError::Syntax {
        command: "BDAT",
        what,
    };
    let mut parts = args.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let size = parts.next().ok_or(bad("chunk size required"))?;
    if size.len() > 18 || !size.iter().all(u8::is_ascii_digit) {
        return Err(bad("chunk size must be a number"));
    }
    let size = size
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    let last = match parts.next() {
        None => false,
        Some(l) if l.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => return Err(bad("only LAST may follow the size")),
    };
    if parts.next().is_some() {
        return Err(bad("too many arguments"));
    }
    Ok(Command::Bdat { size, last })
}

fn parse_auth(args: &[u8]) -> Result<Command, CommandError> {
    let bad = |what| CommandError::Syntax {
        command: "AUTH",
        what,
    };
    let mut parts = args.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let mechanism = parts.next().ok_or(bad("mechanism required"))?;
    if mechanism.len() > 20
        || !mechanism
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        return Err(bad("invalid mechanism name"));
    }
    let initial_response = match parts.next() {
        None => None,
        Some(ir) => {
            if !ir
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            {
                return Err(bad("initial response is not base64"));
            }
            Some(String::from_utf8_lossy(ir).into_owned())
        }
    };
    if parts.next().is_some() {
        return Err(bad("too many arguments"));
    }
    Ok(Command::Auth {
        mechanism: String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial_response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Mailbox;

    const STRICT: PathSyntax = PathSyntax { lenient: false };
    const LENIENT: PathSyntax = PathSyntax { lenient: true };

    fn parse(s: &str) -> Result<Command, CommandError> {
        Command::parse(s.as_bytes(), STRICT)
    }

    #[test]
    fn every_verb() {
        assert_eq!(
            parse("EHLO mail.example.org").unwrap(),
            Command::Ehlo {
                domain: "mail.example.org".into()
            }
        );
        assert_eq!(
            parse("helo [192.0.2.1]").unwrap(),
            Command::Helo {
                domain: "[192.0.2.1]".into()
            }
        );
        assert_eq!(
            parse("LHLO x").unwrap(),
            Command::Lhlo { domain: "x".into() }
        );
        assert_eq!(parse("DATA").unwrap(), Command::Data);
        assert_eq!(
            parse("BDAT 100 LAST").unwrap(),
            Command::Bdat {
                size: 100,
                last: true
            }
        );
        assert_eq!(
            parse("bdat 0").unwrap(),
            Command::Bdat {
                size: 0,
                last: false
            }
        );
        assert_eq!(parse("RSET").unwrap(), Command::Rset);
        assert_eq!(
            parse("VRFY Smith").unwrap(),
            Command::Vrfy {
                arg: "Smith".into()
            }
        );
        assert_eq!(
            parse("EXPN Example-People").unwrap(),
            Command::Expn {
                arg: "Example-People".into()
            }
        );
        assert_eq!(parse("HELP").unwrap(), Command::Help { topic: None });
        assert_eq!(parse("NOOP hello").unwrap(), Command::Noop);
        assert_eq!(parse("QUIT").unwrap(), Command::Quit);
        assert_eq!(parse("StartTLS").unwrap(), Command::StartTls);
        assert_eq!(
            parse("AUTH plain AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap(),
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("AHRpbQB0YW5zdGFhZnRhbnN0YWFm".into())
            }
        );
        assert_eq!(
            parse("ETRN @example.org").unwrap(),
            Command::Etrn {
                node: "@example.org".into()
            }
        );
        assert_eq!(
            parse("SEND FROM:<a@b.c>").unwrap(),
            Command::Legacy(LegacyCommand::Send)
        );
        assert_eq!(parse("TURN").unwrap(), Command::Legacy(LegacyCommand::Turn));
    }

    #[test]
    fn mail_and_rcpt() {
        let Command::Mail { from, params } =
            parse("MAIL FROM:<Smith@bar.com> SIZE=42 BODY=8BITMIME").unwrap()
        else {
            panic!("not MAIL")
        };
        assert_eq!(
            from,
            ReversePath::Mailbox(Mailbox::parse("Smith@bar.com").unwrap())
        );
        assert_eq!(params.size, Some(42));
        assert_eq!(
            parse("mail from:<>").unwrap(),
            Command::Mail {
                from: ReversePath::Null,
                params: Box::default()
            }
        );
        assert_eq!(
            parse("RCPT TO:<postmaster>").unwrap(),
            Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParameters::default()
            }
        );
        assert!(parse("RCPT TO:<>").is_err());
    }

    #[test]
    fn seed_telnet_forms_need_leniency() {
        let line = b"MAIL FROM:dradchuk@nodrop.in";
        assert!(matches!(
            Command::parse(line, STRICT),
            Err(CommandError::MissingBrackets { .. })
        ));
        assert!(matches!(
            Command::parse(line, LENIENT),
            Ok(Command::Mail { .. })
        ));
        let line = b"RCPT TO: lliopt@yandex.ru";
        assert!(Command::parse(line, STRICT).is_err());
        assert!(matches!(
            Command::parse(line, LENIENT),
            Ok(Command::Rcpt { .. })
        ));
        assert_eq!(
            Command::parse(b"MAIL FROM:dradchuk@nodrop.in", STRICT)
                .unwrap_err()
                .reply()
                .code(),
            501
        );
    }

    #[test]
    fn errors_map_to_rfc_replies() {
        assert_eq!(parse("FOO").unwrap_err().reply().code(), 500);
        assert_eq!(parse("MAIL TO:<a@b>").unwrap_err().reply().code(), 501);
        assert_eq!(
            parse("MAIL FROM:<a@b> FOO=1").unwrap_err().reply().code(),
            555
        );
        assert_eq!(parse("RCPT TO:<a@@b>").unwrap_err().reply().code(), 553);
        assert_eq!(parse("EHLO").unwrap_err().reply().code(), 501);
        assert_eq!(parse("DATA x").unwrap_err().reply().code(), 501);
        assert_eq!(parse("BDAT x").unwrap_err().reply().code(), 501);
    }

    #[test]
    fn round_trip() {
        for line in [
            "EHLO a.example",
            "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME",
            "RCPT TO:<c@d.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;c@d.example",
            "BDAT 5 LAST",
            "AUTH PLAIN =",
            "QUIT",
        ] {
            let c = parse(line).unwrap();
            assert_eq!(c.to_string(), line);
        }
    }
}
