//! ESMTP service extensions: which a server advertises in its EHLO reply
//! (built from [`Extensions`]) and what a client learns from one
//! ([`Capabilities`]).

use std::fmt::Write as _;

use postel_sasl::Mechanism;

/// An ESMTP extension keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension {
    /// PIPELINING (RFC 2920).
    Pipelining,
    /// 8BITMIME (RFC 6152).
    EightBitMime,
    /// SMTPUTF8 (RFC 6531).
    SmtpUtf8,
    /// SIZE (RFC 1870).
    Size,
    /// DSN (RFC 3461).
    Dsn,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    EnhancedStatusCodes,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// AUTH (RFC 4954).
    Auth,
    /// CHUNKING (RFC 3030).
    Chunking,
    /// BINARYMIME (RFC 3030).
    BinaryMime,
    /// REQUIRETLS (RFC 8689).
    RequireTls,
    /// MT-PRIORITY (RFC 6710).
    MtPriority,
    /// FUTURERELEASE (RFC 4865).
    FutureRelease,
    /// DELIVERBY (RFC 2852).
    DeliverBy,
    /// NO-SOLICITING (RFC 3865).
    NoSoliciting,
    /// MTRK (RFC 3885).
    Mtrk,
    /// RRVS (RFC 7293).
    Rrvs,
    /// LIMITS (RFC 9422).
    Limits,
    /// ETRN (RFC 1985).
    Etrn,
}

/// What a server offers after EHLO. `Default` offers nothing; see
/// [`Extensions::recommended`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// PIPELINING.
    pub pipelining: bool,
    /// 8BITMIME.
    pub eight_bit_mime: bool,
    /// SMTPUTF8.
    pub smtputf8: bool,
    /// Advertise SIZE with the session's message size limit.
    pub size: bool,
    /// DSN.
    pub dsn: bool,
    /// ENHANCEDSTATUSCODES: replies carry RFC 3463 codes. The server writes
    /// them whatever this says; it only controls the advertisement.
    pub enhanced_status_codes: bool,
    /// STARTTLS (only advertised while the connection is not yet TLS).
    pub starttls: bool,
    /// AUTH with these mechanisms (not advertised when empty, nor before TLS
    /// if the mechanisms need it).
    pub auth: Vec<Mechanism>,
    /// CHUNKING (BDAT).
    pub chunking: bool,
    /// BINARYMIME (needs CHUNKING).
    pub binarymime: bool,
    /// REQUIRETLS (only advertised over TLS, RFC 8689 §4).
    pub requiretls: bool,
    /// MT-PRIORITY, with its policy name (e.g. "MIXER", "STANAG4406", "NSEP").
    pub mt_priority: Option<String>,
    /// FUTURERELEASE with the longest hold in seconds and the latest date-time.
    pub future_release: Option<(u64, String)>,
    /// DELIVERBY with the smallest BY time accepted (seconds).
    pub deliver_by: Option<u64>,
    /// NO-SOLICITING with the keywords of this server (may be empty).
    pub no_soliciting: Option<String>,
    /// MTRK.
    pub mtrk: bool,
    /// RRVS.
    pub rrvs: bool,
    /// LIMITS (RFC 9422): advertise RCPTMAX and MAILMAX from the session limits.
    pub limits: bool,
    /// ETRN (RFC 1985).
    pub etrn: bool,
}

impl Extensions {
    /// The set a modern MTA offers: PIPELINING, 8BITMIME, SMTPUTF8, SIZE,
    /// DSN, ENHANCEDSTATUSCODES, CHUNKING, BINARYMIME and LIMITS. STARTTLS and
    /// AUTH are the embedder's to switch on, since they need certificates and
    /// credentials.
    pub fn recommended() -> Self {
        Self {
            pipelining: true,
            eight_bit_mime: true,
            smtputf8: true,
            size: true,
            dsn: true,
            enhanced_status_codes: true,
            chunking: true,
            binarymime: true,
            limits: true,
            ..Self::default()
        }
    }

    /// Whether `ext` is switched on.
    pub fn enabled(&self, ext: Extension) -> bool {
        match ext {
            Extension::Pipelining => self.pipelining,
            Extension::EightBitMime => self.eight_bit_mime,
            Extension::SmtpUtf8 => self.smtputf8,
            Extension::Size => self.size,
            Extension::Dsn => self.dsn,
            Extension::EnhancedStatusCodes => self.enhanced_status_codes,
            Extension::StartTls => self.starttls,
            Extension::Auth => !self.auth.is_empty(),
            Extension::Chunking => self.chunking,
            Extension::BinaryMime => self.binarymime && self.chunking,
            Extension::RequireTls => self.requiretls,
            Extension::MtPriority => self.mt_priority.is_some(),
            Extension::FutureRelease => self.future_release.is_some(),
            Extension::DeliverBy => self.deliver_by.is_some(),
            Extension::NoSoliciting => self.no_soliciting.is_some(),
            Extension::Mtrk => self.mtrk,
            Extension::Rrvs => self.rrvs,
            Extension::Limits => self.limits,
            Extension::Etrn => self.etrn,
        }
    }
}

/// What the EHLO reply lines advertise, as a client reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// PIPELINING.
    pub pipelining: bool,
    /// 8BITMIME.
    pub eight_bit_mime: bool,
    /// SMTPUTF8.
    pub smtputf8: bool,
    /// SIZE, with the limit if the server gave one (0 means no fixed limit).
    pub size: Option<u64>,
    /// DSN.
    pub dsn: bool,
    /// ENHANCEDSTATUSCODES.
    pub enhanced_status_codes: bool,
    /// STARTTLS.
    pub starttls: bool,
    /// AUTH mechanism names as advertised (upper case).
    pub auth: Vec<String>,
    /// CHUNKING.
    pub chunking: bool,
    /// BINARYMIME.
    pub binarymime: bool,
    /// REQUIRETLS.
    pub requiretls: bool,
    /// MT-PRIORITY.
    pub mt_priority: bool,
    /// FUTURERELEASE.
    pub future_release: bool,
    /// DELIVERBY.
    pub deliver_by: bool,
    /// NO-SOLICITING.
    pub no_soliciting: bool,
    /// MTRK.
    pub mtrk: bool,
    /// RRVS.
    pub rrvs: bool,
    /// LIMITS RCPTMAX (RFC 9422).
    pub rcpt_max: Option<u32>,
    /// LIMITS MAILMAX (RFC 9422).
    pub mail_max: Option<u32>,
    /// Every keyword line we did not interpret, as given.
    pub other: Vec<String>,
}

impl Capabilities {
    /// Reads the lines of an EHLO reply (the first line, the server's name and
    /// greeting, is skipped).
    pub fn from_ehlo_lines(lines: &[String]) -> Self {
        let mut c = Capabilities::default();
        for line in lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => c.pipelining = true,
                "8BITMIME" => c.eight_bit_mime = true,
                "SMTPUTF8" => c.smtputf8 = true,
                "SIZE" => c.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "DSN" => c.dsn = true,
                "ENHANCEDSTATUSCODES" => c.enhanced_status_codes = true,
                "STARTTLS" => c.starttls = true,
                // "AUTH=LOGIN PLAIN" is the pre-RFC form some servers still send.
                "AUTH" => c.auth.extend(words.map(str::to_ascii_uppercase)),
                k if k.starts_with("AUTH=") => {
                    c.auth.push(k[5..].to_owned());
                    c.auth.extend(words.map(str::to_ascii_uppercase));
                }
                "CHUNKING" => c.chunking = true,
                "BINARYMIME" => c.binarymime = true,
                "REQUIRETLS" => c.requiretls = true,
                "MT-PRIORITY" => c.mt_priority = true,
                "FUTURERELEASE" => c.future_release = true,
                "DELIVERBY" => c.deliver_by = true,
                "NO-SOLICITING" => c.no_soliciting = true,
                "MTRK" => c.mtrk = true,
                "RRVS" => c.rrvs = true,
                "LIMITS" => {
                    for w in words {
                        if let Some((k, v)) = w.split_once('=') {
                            if k.eq_ignore_ascii_case("RCPTMAX") {
                                c.rcpt_max = v.parse().ok();
                            } else if k.eq_ignore_ascii_case("MAILMAX") {
                                c.mail_max = v.parse().ok();
                            }
                        }
                    }
                }
                _ => c.other.push(line.clone()),
            }
        }
        c.auth.dedup();
        c
    }

    /// Whether the server advertised the SASL mechanism.
    pub fn offers_auth(&self, mechanism: Mechanism) -> bool {
        self.auth
            .iter()
            .any(|m| m.eq_ignore_ascii_case(mechanism.name()))
    }
}

/// Builds the keyword lines of an EHLO reply (without the first line).
pub(crate) fn ehlo_keywords(
    ext: &Extensions,
    max_message_size: u64,
    max_recipients: usize,
    tls_active: bool,
    auth_allowed: bool,
) -> Vec<String> {
    let mut lines: Vec<String> = Vec::with_capacity(20);
    let flags = [
        (ext.pipelining, "PIPELINING"),
        (ext.eight_bit_mime, "8BITMIME"),
        (ext.smtputf8, "SMTPUTF8"),
    ];
    lines.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, s)| (*s).to_owned()),
    );
    if ext.size {
        lines.push(format!("SIZE {max_message_size}"));
    }
    let flags = [
        (ext.dsn, "DSN"),
        (ext.enhanced_status_codes, "ENHANCEDSTATUSCODES"),
        (ext.starttls && !tls_active, "STARTTLS"),
    ];
    lines.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, s)| (*s).to_owned()),
    );
    if !ext.auth.is_empty() && auth_allowed {
        let mut s = String::from("AUTH");
        for m in &ext.auth {
            if tls_active || !m.sends_password_in_clear() {
                let _ = write!(s, " {}", m.name());
            }
        }
        if s.len() > 4 {
            lines.push(s);
        }
    }
    let flags = [
        (ext.chunking, "CHUNKING"),
        (ext.binarymime && ext.chunking, "BINARYMIME"),
        (ext.requiretls && tls_active, "REQUIRETLS"),
    ];
    lines.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, s)| (*s).to_owned()),
    );
    let with_arg = |name: &str, arg: &str| {
        if arg.is_empty() {
            name.to_owned()
        } else {
            format!("{name} {arg}")
        }
    };
    if let Some(policy) = &ext.mt_priority {
        lines.push(with_arg("MT-PRIORITY", policy));
    }
    if let Some((max_for, max_until)) = &ext.future_release {
        lines.push(format!("FUTURERELEASE {max_for} {max_until}"));
    }
    if let Some(min) = ext.deliver_by {
        lines.push(format!("DELIVERBY {min}"));
    }
    if let Some(k) = &ext.no_soliciting {
        lines.push(with_arg("NO-SOLICITING", k));
    }
    let flags = [(ext.mtrk, "MTRK"), (ext.rrvs, "RRVS"), (ext.etrn, "ETRN")];
    lines.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, s)| (*s).to_owned()),
    );
    if ext.limits {
        lines.push(format!("LIMITS RCPTMAX={max_recipients}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seed_ehlo_reply() {
        let lines: Vec<String> = [
            "mxfront5g.mail.yandex.net",
            "8BITMIME",
            "PIPELINING",
            "SIZE 42991616",
            "STARTTLS",
            "DSN",
            "ENHANCEDSTATUSCODES",
        ]
        .map(String::from)
        .to_vec();
        let c = Capabilities::from_ehlo_lines(&lines);
        assert!(c.eight_bit_mime && c.pipelining && c.starttls && c.dsn && c.enhanced_status_codes);
        assert_eq!(c.size, Some(42991616));
        assert!(!c.chunking);
    }

    #[test]
    fn reads_auth_and_limits() {
        let lines: Vec<String> = [
            "x",
            "AUTH PLAIN login",
            "AUTH=LOGIN",
            "LIMITS RCPTMAX=50 MAILMAX=5",
            "X-FOO bar",
        ]
        .map(String::from)
        .to_vec();
        let c = Capabilities::from_ehlo_lines(&lines);
        assert_eq!(c.auth, ["PLAIN", "LOGIN"]);
        assert!(c.offers_auth(Mechanism::Plain));
        assert_eq!(c.rcpt_max, Some(50));
        assert_eq!(c.mail_max, Some(5));
        assert_eq!(c.other, ["X-FOO bar"]);
    }

    #[test]
    fn plaintext_mechanisms_hidden_before_tls() {
        let ext = Extensions {
            auth: vec![Mechanism::Plain, Mechanism::ScramSha256],
            starttls: true,
            ..Extensions::default()
        };
        let before = ehlo_keywords(&ext, 10, 10, false, true);
        assert_eq!(before, ["STARTTLS", "AUTH SCRAM-SHA-256"]);
        let after = ehlo_keywords(&ext, 10, 10, true, true);
        assert_eq!(after, ["AUTH PLAIN SCRAM-SHA-256"]);
    }
}
