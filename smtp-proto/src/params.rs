//! ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 §4.1.2 `esmtp-param`),
//! parsed into typed fields and written back.

use std::fmt::Write as _;

use crate::address::Mailbox;
use crate::error::CommandError;
use crate::extensions::Extension;
use crate::xtext;

/// BODY= (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
    /// `BINARYMIME` (needs BDAT).
    BinaryMime,
}

/// RET= of DSN (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// Return the full message in a failure DSN.
    Full,
    /// Return only the headers.
    Headers,
}

/// AUTH= of MAIL FROM (RFC 4954 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthParam {
    /// `AUTH=<>`: the submitter is unknown or not trusted.
    Unknown,
    /// `AUTH=addr`: who submitted the message.
    Mailbox(String),
}

/// FUTURERELEASE (RFC 4865).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// `HOLDFOR=seconds`.
    For(u64),
    /// `HOLDUNTIL=date-time` (RFC 3339), kept as given.
    Until(String),
}

/// BY= of DELIVERBY (RFC 2852).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverBy {
    /// Seconds from receipt (may be negative for `R` mode relays).
    pub seconds: i64,
    /// `R`: return the message if late; `N`: notify if late.
    pub return_if_late: bool,
    /// `T`: trace.
    pub trace: bool,
}

/// MTRK= (RFC 3885).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mtrk {
    /// The certifier (base64).
    pub certifier: String,
    /// Seconds for which tracking data is kept, if given.
    pub timeout: Option<u32>,
}

/// The parameters of MAIL FROM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParameters {
    /// SIZE= (RFC 1870): the declared message size.
    pub size: Option<u64>,
    /// BODY=.
    pub body: Option<BodyType>,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// RET= (RFC 3461).
    pub ret: Option<Ret>,
    /// ENVID= (RFC 3461), xtext-decoded.
    pub envid: Option<String>,
    /// AUTH= (RFC 4954), xtext-decoded.
    pub auth: Option<AuthParam>,
    /// REQUIRETLS (RFC 8689).
    pub requiretls: bool,
    /// MT-PRIORITY= (RFC 6710), -9 to 9.
    pub mt_priority: Option<i8>,
    /// HOLDFOR= / HOLDUNTIL= (RFC 4865).
    pub hold: Option<Hold>,
    /// BY= (RFC 2852).
    pub by: Option<DeliverBy>,
    /// NO-SOLICITING= (RFC 3865): the solicitation keywords, xtext-decoded
    /// (empty when given without a value).
    pub no_soliciting: Option<String>,
    /// MTRK= (RFC 3885).
    pub mtrk: Option<Mtrk>,
}

/// NOTIFY= of DSN (RFC 3461 §4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notify {
    /// SUCCESS.
    pub success: bool,
    /// FAILURE.
    pub failure: bool,
    /// DELAY.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify {
        success: false,
        failure: false,
        delay: false,
    };

    /// True for NEVER.
    pub fn is_never(&self) -> bool {
        *self == Self::NEVER
    }
}

/// ORCPT= of DSN (RFC 3461 §4.2), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRecipient {
    /// The address type, e.g. `rfc822` or `utf-8`.
    pub addr_type: String,
    /// The address, xtext (and for `utf-8`, `\x{..}`) decoded.
    pub address: String,
}

/// RRVS= (RFC 7293).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rrvs {
    /// The date-time (RFC 3339) since which the mailbox must have been held by
    /// the same user, as given.
    pub since: String,
    /// `C`: continue if the check cannot be done; `R` (default): reject.
    pub continue_if_unsupported: bool,
}

/// The parameters of RCPT TO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParameters {
    /// NOTIFY=.
    pub notify: Option<Notify>,
    /// ORCPT=.
    pub orcpt: Option<OriginalRecipient>,
    /// RRVS=.
    pub rrvs: Option<Rrvs>,
}

fn bad(keyword: &'static str, what: &'static str) -> CommandError {
    CommandError::BadParameterValue { keyword, what }
}

fn set_once<T>(slot: &mut Option<T>, value: T, keyword: &'static str) -> Result<(), CommandError> {
    if slot.is_some() {
        return Err(CommandError::DuplicateParameter { keyword });
    }
    *slot = Some(value);
    Ok(())
}

fn set_flag(
    slot: &mut bool,
    keyword: &'static str,
    value: Option<&[u8]>,
) -> Result<(), CommandError> {
    if value.is_some() {
        return Err(bad(keyword, "takes no value"));
    }
    if *slot {
        return Err(CommandError::DuplicateParameter { keyword });
    }
    *slot = true;
    Ok(())
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn xtext_string(v: &[u8], keyword: &'static str) -> Result<String, CommandError> {
    let decoded = xtext::decode(v).ok_or(bad(keyword, "invalid xtext"))?;
    String::from_utf8(decoded).map_err(|_| bad(keyword, "not UTF-8"))
}

/// Splits `KEYWORD[=value] KEYWORD[=value] ...` and calls `each`.
fn for_each_param(
    input: &[u8],
    mut each: impl FnMut(&[u8], Option<&[u8]>) -> Result<(), CommandError>,
) -> Result<(), CommandError> {
    for param in input.split(|&b| b == b' ') {
        if param.is_empty() {
            continue;
        }
        let (key, value) = match memchr::memchr(b'=', param) {
            Some(eq) => (&param[..eq], Some(&param[eq + 1..])),
            None => (param, None),
        };
        if key.is_empty()
            || !key[0].is_ascii_alphanumeric()
            || !key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return Err(CommandError::Syntax {
                command: "MAIL/RCPT",
                what: "malformed parameter keyword",
            });
        }
        each(key, value)?;
    }
    Ok(())
}

fn unknown(key: &[u8]) -> CommandError {
    CommandError::UnknownParameter {
        keyword: String::from_utf8_lossy(key).to_ascii_uppercase(),
    }
}

impl MailParameters {
    /// Parses the parameter part of a MAIL FROM line.
    pub fn parse(input: &[u8]) -> Result<Self, CommandError> {
        let mut p = MailParameters::default();
        if input.is_empty() {
            return Ok(p);
        }
        for_each_param(input, |key, value| {
            let need = |k: &'static str| value.ok_or(bad(k, "needs a value"));
            if key.eq_ignore_ascii_case(b"SIZE") {
                let n = parse_u64(need("SIZE")?).ok_or(bad("SIZE", "not a number"))?;
                set_once(&mut p.size, n, "SIZE")
            } else if key.eq_ignore_ascii_case(b"BODY") {
                let v = need("BODY")?;
                let body = if v.eq_ignore_ascii_case(b"8BITMIME") {
                    BodyType::EightBitMime
                } else if v.eq_ignore_ascii_case(b"7BIT") {
                    BodyType::SevenBit
                } else if v.eq_ignore_ascii_case(b"BINARYMIME") {
                    BodyType::BinaryMime
                } else {
                    return Err(bad("BODY", "must be 7BIT, 8BITMIME or BINARYMIME"));
                };
                set_once(&mut p.body, body, "BODY")
            } else if key.eq_ignore_ascii_case(b"SMTPUTF8") {
                set_flag(&mut p.smtputf8, "SMTPUTF8", value)
            } else if key.eq_ignore_ascii_case(b"RET") {
                let v = need("RET")?;
                let ret = if v.eq_ignore_ascii_case(b"FULL") {
                    Ret::Full
                } else if v.eq_ignore_ascii_case(b"HDRS") {
                    Ret::Headers
                } else {
                    return Err(bad("RET", "must be FULL or HDRS"));
                };
                set_once(&mut p.ret, ret, "RET")
            } else if key.eq_ignore_ascii_case(b"ENVID") {
                let v = xtext_string(need("ENVID")?, "ENVID")?;
                if v.len() > 100 {
                    return Err(bad("ENVID", "longer than 100 characters"));
                }
                set_once(&mut p.envid, v, "ENVID")
            } else if key.eq_ignore_ascii_case(b"AUTH") {
                let v = xtext_string(need("AUTH")?, "AUTH")?;
                let auth = if v == "<>" {
                    AuthParam::Unknown
                } else {
                    Mailbox::parse(&v).map_err(|_| bad("AUTH", "not a mailbox or <>"))?;
                    AuthParam::Mailbox(v)
                };
                set_once(&mut p.auth, auth, "AUTH")
            } else if key.eq_ignore_ascii_case(b"REQUIRETLS") {
                set_flag(&mut p.requiretls, "REQUIRETLS", value)
            } else if key.eq_ignore_ascii_case(b"MT-PRIORITY") {
                let v = need("MT-PRIORITY")?;
                let n: i8 = std::str::from_utf8(v)
                    .ok()
                    .filter(|s| s.len() <= 2 && !s.starts_with('+'))
                    .and_then(|s| s.parse().ok())
                    .filter(|n| (-9..=9).contains(n))
                    .ok_or(bad("MT-PRIORITY", "must be -9 to 9"))?;
                set_once(&mut p.mt_priority, n, "MT-PRIORITY")
            } else if key.eq_ignore_ascii_case(b"HOLDFOR") {
                let n = parse_u64(need("HOLDFOR")?).ok_or(bad("HOLDFOR", "not a number"))?;
                set_once(&mut p.hold, Hold::For(n), "HOLDFOR/HOLDUNTIL")
            } else if key.eq_ignore_ascii_case(b"HOLDUNTIL") {
                let v = need("HOLDUNTIL")?;
                if !is_date_time(v) {
                    return Err(bad("HOLDUNTIL", "not an RFC 3339 date-time"));
                }
                let s = String::from_utf8_lossy(v).into_owned();
                set_once(&mut p.hold, Hold::Until(s), "HOLDFOR/HOLDUNTIL")
            } else if key.eq_ignore_ascii_case(b"BY") {
                let by = parse_by(need("BY")?).ok_or(bad("BY", "must be [-]seconds;R|N[T]"))?;
                set_once(&mut p.by, by, "BY")
            } else if key.eq_ignore_ascii_case(b"NO-SOLICITING") {
                let v = match value {
                    Some(v) => xtext_string(v, "NO-SOLICITING")?,
                    None => String::new(),
                };
                set_once(&mut p.no_soliciting, v, "NO-SOLICITING")
            } else if key.eq_ignore_ascii_case(b"MTRK") {
                let m =
                    parse_mtrk(need("MTRK")?).ok_or(bad("MTRK", "must be certifier[:timeout]"))?;
                set_once(&mut p.mtrk, m, "MTRK")
            } else {
                Err(unknown(key))
            }
        })?;
        Ok(p)
    }

    /// The extensions these parameters use; a server refuses a parameter
    /// whose extension it did not advertise (RFC 1869 §6: 555).
    pub fn extensions_used(&self) -> impl Iterator<Item = Extension> + '_ {
        [
            (self.size.is_some(), Extension::Size),
            (
                matches!(self.body, Some(BodyType::EightBitMime)),
                Extension::EightBitMime,
            ),
            (
                matches!(self.body, Some(BodyType::BinaryMime)),
                Extension::BinaryMime,
            ),
            (self.smtputf8, Extension::SmtpUtf8),
            (self.ret.is_some() || self.envid.is_some(), Extension::Dsn),
            (self.auth.is_some(), Extension::Auth),
            (self.requiretls, Extension::RequireTls),
            (self.mt_priority.is_some(), Extension::MtPriority),
            (self.hold.is_some(), Extension::FutureRelease),
            (self.by.is_some(), Extension::DeliverBy),
            (self.no_soliciting.is_some(), Extension::NoSoliciting),
            (self.mtrk.is_some(), Extension::Mtrk),
        ]
        .into_iter()
        .filter_map(|(on, e)| on.then_some(e))
    }

    /// Appends the parameters (each preceded by a space) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut s = String::new();
        if let Some(n) = self.size {
            let _ = write!(s, " SIZE={n}");
        }
        match self.body {
            Some(BodyType::SevenBit) => s.push_str(" BODY=7BIT"),
            Some(BodyType::EightBitMime) => s.push_str(" BODY=8BITMIME"),
            Some(BodyType::BinaryMime) => s.push_str(" BODY=BINARYMIME"),
            None => {}
        }
        if self.smtputf8 {
            s.push_str(" SMTPUTF8");
        }
        match self.ret {
            Some(Ret::Full) => s.push_str(" RET=FULL"),
            Some(Ret::Headers) => s.push_str(" RET=HDRS"),
            None => {}
        }
        if let Some(e) = &self.envid {
            let _ = write!(s, " ENVID={}", xtext::encode(e.as_bytes()));
        }
        match &self.auth {
            Some(AuthParam::Unknown) => s.push_str(" AUTH=<>"),
            Some(AuthParam::Mailbox(m)) => {
                let _ = write!(s, " AUTH={}", xtext::encode(m.as_bytes()));
            }
            None => {}
        }
        if self.requiretls {
            s.push_str(" REQUIRETLS");
        }
        if let Some(n) = self.mt_priority {
            let _ = write!(s, " MT-PRIORITY={n}");
        }
        match &self.hold {
            Some(Hold::For(n)) => {
                let _ = write!(s, " HOLDFOR={n}");
            }
            Some(Hold::Until(t)) => {
                let _ = write!(s, " HOLDUNTIL={t}");
            }
            None => {}
        }
        if let Some(by) = self.by {
            let mode = if by.return_if_late { 'R' } else { 'N' };
            let trace = if by.trace { "T" } else { "" };
            let _ = write!(s, " BY={};{mode}{trace}", by.seconds);
        }
        if let Some(k) = &self.no_soliciting {
            if k.is_empty() {
                s.push_str(" NO-SOLICITING");
            } else {
                let _ = write!(s, " NO-SOLICITING={}", xtext::encode(k.as_bytes()));
            }
        }
        if let Some(m) = &self.mtrk {
            let _ = write!(s, " MTRK={}", m.certifier);
            if let Some(t) = m.timeout {
                let _ = write!(s, ":{t}");
            }
        }
        out.extend_from_slice(s.as_bytes());
    }
}

impl RcptParameters {
    /// Parses the parameter part of a RCPT TO line.
    pub fn parse(input: &[u8]) -> Result<Self, CommandError> {
        let mut p = RcptParameters::default();
        if input.is_empty() {
            return Ok(p);
        }
        for_each_param(input, |key, value| {
            let need = |k: &'static str| value.ok_or(bad(k, "needs a value"));
            if key.eq_ignore_ascii_case(b"NOTIFY") {
                let n = parse_notify(need("NOTIFY")?).ok_or(bad(
                    "NOTIFY",
                    "must be NEVER or a list of SUCCESS, FAILURE, DELAY",
                ))?;
                set_once(&mut p.notify, n, "NOTIFY")
            } else if key.eq_ignore_ascii_case(b"ORCPT") {
                let o =
                    parse_orcpt(need("ORCPT")?).ok_or(bad("ORCPT", "must be addr-type;xtext"))?;
                set_once(&mut p.orcpt, o, "ORCPT")
            } else if key.eq_ignore_ascii_case(b"RRVS") {
                let r = parse_rrvs(need("RRVS")?).ok_or(bad("RRVS", "must be date-time[;C|R]"))?;
                set_once(&mut p.rrvs, r, "RRVS")
            } else {
                Err(unknown(key))
            }
        })?;
        Ok(p)
    }

    /// The extensions these parameters use.
    pub fn extensions_used(&self) -> impl Iterator<Item = Extension> + '_ {
        [
            (
                self.notify.is_some() || self.orcpt.is_some(),
                Extension::Dsn,
            ),
            (self.rrvs.is_some(), Extension::Rrvs),
        ]
        .into_iter()
        .filter_map(|(on, e)| on.then_some(e))
    }

    /// Appends the parameters (each preceded by a space) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(n) = self.notify {
            out.extend_from_slice(b" NOTIFY=");
            if n.is_never() {
                out.extend_from_slice(b"NEVER");
            } else {
                let names: Vec<&str> = [
                    (n.success, "SUCCESS"),
                    (n.failure, "FAILURE"),
                    (n.delay, "DELAY"),
                ]
                .into_iter()
                .filter_map(|(on, s)| on.then_some(s))
                .collect();
                out.extend_from_slice(names.join(",").as_bytes());
            }
        }
        if let Some(o) = &self.orcpt {
            out.extend_from_slice(b" ORCPT=");
            out.extend_from_slice(o.addr_type.as_bytes());
            out.push(b';');
            let encoded = if o.addr_type.eq_ignore_ascii_case("utf-8") {
                xtext::encode_utf8_addr_xtext(&o.address)
            } else {
                xtext::encode(o.address.as_bytes())
            };
            out.extend_from_slice(encoded.as_bytes());
        }
        if let Some(r) = &self.rrvs {
            out.extend_from_slice(b" RRVS=");
            out.extend_from_slice(r.since.as_bytes());
            if r.continue_if_unsupported {
                out.extend_from_slice(b";C");
            }
        }
    }
}

fn parse_notify(v: &[u8]) -> Option<Notify> {
    if v.eq_ignore_ascii_case(b"NEVER") {
        return Some(Notify::NEVER);
    }
    let mut n = Notify::default();
    for item in v.split(|&b| b == b',') {
        let slot = if item.eq_ignore_ascii_case(b"SUCCESS") {
            &mut n.success
        } else if item.eq_ignore_ascii_case(b"FAILURE") {
            &mut n.failure
        } else if item.eq_ignore_ascii_case(b"DELAY") {
            &mut n.delay
        } else {
            return None;
        };
        if *slot {
            return None;
        }
        *slot = true;
    }
    Some(n)
}

fn parse_orcpt(v: &[u8]) -> Option<OriginalRecipient> {
    let semi = memchr::memchr(b';', v)?;
    let addr_type = &v[..semi];
    if addr_type.is_empty()
        || !addr_type
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return None;
    }
    let raw = &v[semi + 1..];
    if raw.is_empty() {
        return None;
    }
    let addr_type = String::from_utf8_lossy(addr_type).into_owned();
    let address = if addr_type.eq_ignore_ascii_case("utf-8") {
        // utf-8-addr-xtext or utf-8-addr-unitext (RFC 6533 §3): xtext first
        // when it decodes, then the \x{..} escapes.
        let decoded = if raw.is_ascii() {
            xtext::decode(raw)?
        } else {
            raw.to_vec()
        };
        xtext::decode_utf8_addr(&decoded)?
    } else {
        String::from_utf8(xtext::decode(raw)?).ok()?
    };
    Some(OriginalRecipient { addr_type, address })
}

fn parse_rrvs(v: &[u8]) -> Option<Rrvs> {
    let (time, mode) = match memchr::memchr(b';', v) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    if !is_date_time(time) {
        return None;
    }
    let continue_if_unsupported = match mode {
        None => false,
        Some(m) if m.eq_ignore_ascii_case(b"R") => false,
        Some(m) if m.eq_ignore_ascii_case(b"C") => true,
        Some(_) => return None,
    };
    Some(Rrvs {
        since: String::from_utf8_lossy(time).into_owned(),
        continue_if_unsupported,
    })
}

fn parse_by(v: &[u8]) -> Option<DeliverBy> {
    let semi = memchr::memchr(b';', v)?;
    let (time, mode) = (&v[..semi], &v[semi + 1..]);
    let digits = time
        .strip_prefix(b"-")
        .or_else(|| time.strip_prefix(b"+"))
        .unwrap_or(time);
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let seconds: i64 = std::str::from_utf8(time).ok()?.parse().ok()?;
    let (return_if_late, trace) = match mode.to_ascii_uppercase().as_slice() {
        b"R" => (true, false),
        b"N" => (false, false),
        b"RT" => (true, true),
        b"NT" => (false, true),
        _ => return None,
    };
    // RFC 2852 §4: with N the time must be positive; with R, zero is invalid too.
    if seconds <= 0 && !return_if_late || seconds == 0 {
        return None;
    }
    Some(DeliverBy {
        seconds,
        return_if_late,
        trace,
    })
}

fn parse_mtrk(v: &[u8]) -> Option<Mtrk> {
    let (cert, timeout) = match memchr::memchr(b':', v) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    if cert.is_empty()
        || !cert
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return None;
    }
    let timeout = match timeout {
        Some(t) if !t.is_empty() && t.len() <= 9 && t.iter().all(u8::is_ascii_digit) => {
            Some(std::str::from_utf8(t).ok()?.parse().ok()?)
        }
        Some(_) => return None,
        None => None,
    };
    Some(Mtrk {
        certifier: String::from_utf8_lossy(cert).into_owned(),
        timeout,
    })
}

/// A loose check of RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`.
fn is_date_time(v: &[u8]) -> bool {
    fn digits(v: &[u8], range: std::ops::Range<usize>) -> bool {
        v.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    }
    if v.len() < 20
        || !digits(v, 0..4)
        || v[4] != b'-'
        || !digits(v, 5..7)
        || v[7] != b'-'
        || !digits(v, 8..10)
    {
        return false;
    }
    if !matches!(v[10], b'T' | b't')
        || !digits(v, 11..13)
        || v[13] != b':'
        || !digits(v, 14..16)
        || v[16] != b':'
        || !digits(v, 17..19)
    {
        return false;
    }
    let mut i = 19;
    if v[i] == b'.' {
        i += 1;
        let start = i;
        while v.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match v.get(i) {
        Some(b'Z' | b'z') => i + 1 == v.len(),
        Some(b'+' | b'-') => {
            v.len() == i + 6
                && digits(v, i + 1..i + 3)
                && v[i + 3] == b':'
                && digits(v, i + 4..i + 6)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_parameters_of_every_extension() {
        let p = MailParameters::parse(
            b"SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=e+3Dmc2@example.com REQUIRETLS \
              MT-PRIORITY=-3 HOLDFOR=60 BY=120;RT NO-SOLICITING=net.example:ADV MTRK=abc+/=:3600",
        )
        .unwrap();
        assert_eq!(p.size, Some(1000));
        assert_eq!(p.body, Some(BodyType::EightBitMime));
        assert!(p.smtputf8 && p.requiretls);
        assert_eq!(p.ret, Some(Ret::Headers));
        assert_eq!(p.envid.as_deref(), Some("QQ+1"));
        assert_eq!(p.auth, Some(AuthParam::Mailbox("e=mc2@example.com".into())));
        assert_eq!(p.mt_priority, Some(-3));
        assert_eq!(p.hold, Some(Hold::For(60)));
        assert_eq!(
            p.by,
            Some(DeliverBy {
                seconds: 120,
                return_if_late: true,
                trace: true
            })
        );
        assert_eq!(p.no_soliciting.as_deref(), Some("net.example:ADV"));
        assert_eq!(
            p.mtrk,
            Some(Mtrk {
                certifier: "abc+/=".into(),
                timeout: Some(3600)
            })
        );
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(MailParameters::parse(&out[1..]).unwrap(), p);
    }

    #[test]
    fn bad_mail_parameters() {
        assert!(matches!(
            MailParameters::parse(b"FOO=1"),
            Err(CommandError::UnknownParameter { .. })
        ));
        assert!(matches!(
            MailParameters::parse(b"SIZE=1 SIZE=2"),
            Err(CommandError::DuplicateParameter { .. })
        ));
        assert!(MailParameters::parse(b"SIZE=x").is_err());
        assert!(MailParameters::parse(b"BODY=9BIT").is_err());
        assert!(MailParameters::parse(b"MT-PRIORITY=10").is_err());
        assert!(MailParameters::parse(b"SMTPUTF8=yes").is_err());
        assert!(MailParameters::parse(b"BY=0;R").is_err());
        assert!(MailParameters::parse(b"BY=-10;N").is_err());
        assert!(MailParameters::parse(b"HOLDUNTIL=tomorrow").is_err());
        assert!(MailParameters::parse(b"HOLDUNTIL=2026-12-01T10:00:00Z").is_ok());
    }

    #[test]
    fn rcpt_parameters() {
        let p = RcptParameters::parse(
            b"NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bx@Example.COM RRVS=2014-04-03T23:01:00Z;C",
        )
        .unwrap();
        assert_eq!(
            p.notify,
            Some(Notify {
                success: true,
                failure: true,
                delay: false
            })
        );
        assert_eq!(p.orcpt.as_ref().unwrap().address, "Bob+x@Example.COM");
        assert!(p.rrvs.as_ref().unwrap().continue_if_unsupported);
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(RcptParameters::parse(&out[1..]).unwrap(), p);
        assert!(RcptParameters::parse(b"NOTIFY=NEVER,SUCCESS").is_err());
        let u = RcptParameters::parse(b"ORCPT=utf-8;\\x{4E0A}@example.com").unwrap();
        assert_eq!(u.orcpt.unwrap().address, "上@example.com");
    }
}
