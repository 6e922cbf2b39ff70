//! Verifying every DKIM-Signature of a message (RFC 6376 §6).
//!
//! [`DkimVerifier`] takes the message in chunks. It keeps the header (up to
//! [`VerifierConfig::max_header_bytes`]), reads the signatures once the
//! header is complete, and from then on only hashes the body: once for each
//! distinct (body canonicalization, `l=`, hash) among the signatures.
//! [`DkimVerifier::finish`] returns a [`DkimCheck`], a [`Check`] that asks
//! for all key records at once and ends with one [`DkimResult`] per
//! signature, top to bottom.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use postel_dns::{Answer, Query, RecordType};

use super::algorithm::Algorithm;
use super::body_hash::{BodyHash, BodyHashSet};
use super::crypto::{self, KeyProblem};
use super::header_canon::signed_data;
use super::key_record::{KeyRecord, KeyRecordError};
use super::signature::{LooseTags, Signature};
use crate::check::{Check, Progress};
use crate::message::{HeaderSplitter, parse_header};

/// How many characters of `b=` a result keeps (RFC 6008 asks for at least
/// eight for `header.b`).
pub const B_PREFIX_LEN: usize = 16;

/// The outcome of one signature, as Authentication-Results names it
/// (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkimStatus {
    /// The signature verified.
    Pass,
    /// The signature or body hash did not verify, or it expired.
    Fail,
    /// The signature was not checked (beyond the signature limit).
    Neutral,
    /// The signature is acceptable to DKIM but not to local policy (here:
    /// an `l=` tag when [`VerifierConfig::reject_body_length`] is set).
    Policy,
    /// The key could not be fetched for now; try again later.
    TempError,
    /// The signature or its key is unusable: malformed, unsupported
    /// (including `rsa-sha1`, RFC 8301), missing, revoked, too short.
    PermError,
}

impl DkimStatus {
    /// The Authentication-Results keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DkimStatus::Pass => "pass",
            DkimStatus::Fail => "fail",
            DkimStatus::Neutral => "neutral",
            DkimStatus::Policy => "policy",
            DkimStatus::TempError => "temperror",
            DkimStatus::PermError => "permerror",
        }
    }
}

impl fmt::Display for DkimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one DKIM-Signature field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimResult {
    /// The outcome.
    pub status: DkimStatus,
    /// Why, in words (for logs and the Authentication-Results comment).
    pub reason: String,
    /// `d=` (empty if the signature had none).
    pub domain: String,
    /// `s=` (empty if none).
    pub selector: String,
    /// `a=`, if it named a known algorithm.
    pub algorithm: Option<Algorithm>,
    /// `i=`, or `@` + `d=` when absent (`header.i`).
    pub identity: String,
    /// The first [`B_PREFIX_LEN`] characters of `b=` (`header.b`).
    pub b_prefix: String,
    /// The key record said `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// The RSA key size, when an RSA key was used.
    pub key_bits: Option<usize>,
}

impl DkimResult {
    fn from_loose(tags: &LooseTags, status: DkimStatus, reason: String) -> Self {
        let identity = if tags.identity.is_empty() && !tags.domain.is_empty() {
            format!("@{}", tags.domain)
        } else {
            tags.identity.clone()
        };
        DkimResult {
            status,
            reason,
            domain: tags.domain.clone(),
            selector: tags.selector.clone(),
            algorithm: tags.algorithm,
            identity,
            b_prefix: tags.b.chars().take(B_PREFIX_LEN).collect(),
            testing: false,
            key_bits: None,
        }
    }

    fn from_signature(sig: &Signature, status: DkimStatus, reason: impl Into<String>) -> Self {
        DkimResult {
            status,
            reason: reason.into(),
            domain: sig.domain.clone(),
            selector: sig.selector.clone(),
            algorithm: Some(sig.algorithm),
            identity: sig.identity.clone(),
            b_prefix: sig.signature_b64.chars().take(B_PREFIX_LEN).collect(),
            testing: false,
            key_bits: None,
        }
    }
}

/// Limits and policy for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// How many signatures are verified (top to bottom); later ones get
    /// [`DkimStatus::Neutral`] without a key lookup. Default 10.
    pub max_signatures: usize,
    /// How many header bytes are kept. A larger header gives one
    /// [`DkimStatus::PermError`] result. Default 1 MiB.
    pub max_header_bytes: usize,
    /// Give signatures with `l=` the result [`DkimStatus::Policy`] instead
    /// of verifying them (content past `l=` is unsigned). Default false.
    pub reject_body_length: bool,
    /// Seconds of clock difference tolerated before `x=` counts as past.
    /// Default 0.
    pub clock_skew: u64,
    /// How long the key lookups may take, from the first
    /// [`Check::progress`] call; unanswered lookups then give
    /// [`DkimStatus::TempError`]. Default `None` (no limit).
    pub time_budget: Option<Duration>,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            max_signatures: 10,
            max_header_bytes: 1 << 20,
            reject_body_length: false,
            clock_skew: 0,
            time_budget: None,
        }
    }
}

#[derive(Debug)]
enum Entry {
    Done(DkimResult),
    /// Parsed and not yet ruled out: needs the body hash, then the key.
    Pending {
        sig: Box<Signature>,
        /// Index of the signature field among the parsed header fields.
        field: usize,
        hasher: usize,
    },
}

#[derive(Debug)]
struct Prepared {
    header: Vec<u8>,
    entries: Vec<Entry>,
    hashers: BodyHashSet,
}

/// Verifies the DKIM signatures of a message fed in chunks.
///
/// ```
/// use postel_auth::dkim::{DkimVerifier, VerifierConfig};
/// use postel_auth::{Check, Progress};
/// let mut v = DkimVerifier::new(1_700_000_000, VerifierConfig::default());
/// v.feed(b"From: a@example.com\r\n\r\nHello\r\n");
/// let mut check = v.finish();
/// // No signatures: done at once, with no results.
/// assert_eq!(check.progress(std::time::Instant::now()), Progress::Done(vec![]));
/// ```
#[derive(Debug)]
pub struct DkimVerifier {
    config: VerifierConfig,
    now_unix: u64,
    splitter: HeaderSplitter,
    prepared: Option<Prepared>,
}

impl DkimVerifier {
    /// A verifier; `now_unix` (seconds since the Unix epoch) is checked
    /// against `x=`.
    pub fn new(now_unix: u64, config: VerifierConfig) -> Self {
        DkimVerifier {
            splitter: HeaderSplitter::new(config.max_header_bytes),
            config,
            now_unix,
            prepared: None,
        }
    }

    /// Feed the next chunk of the message (any size, header and body
    /// alike).
    pub fn feed(&mut self, chunk: &[u8]) {
        let body = if self.prepared.is_none() {
            let used = self.splitter.feed(chunk);
            if !self.splitter.is_complete() {
                return;
            }
            self.prepare();
            &chunk[used..]
        } else {
            chunk
        };
        if let Some(prepared) = &mut self.prepared {
            prepared.hashers.update(body);
        }
    }

    fn prepare(&mut self) {
        let splitter = std::mem::replace(&mut self.splitter, HeaderSplitter::new(0));
        let overflowed = splitter.overflowed();
        let header = splitter.into_header();
        let mut prepared = Prepared {
            header: Vec::new(),
            entries: Vec::new(),
            hashers: BodyHashSet::default(),
        };
        if overflowed {
            prepared.entries.push(Entry::Done(DkimResult::from_loose(
                &LooseTags::default(),
                DkimStatus::PermError,
                format!(
                    "message header is larger than {} bytes; signatures not checked",
                    self.config.max_header_bytes
                ),
            )));
            self.prepared = Some(prepared);
            return;
        }
        let fields = parse_header(&header);
        let mut count = 0usize;
        for (index, field) in fields.iter().enumerate() {
            if !field.is("DKIM-Signature") {
                continue;
            }
            count += 1;
            let value = String::from_utf8_lossy(field.raw_value());
            let loose = LooseTags::read(&value);
            if count > self.config.max_signatures {
                prepared.entries.push(Entry::Done(DkimResult::from_loose(
                    &loose,
                    DkimStatus::Neutral,
                    format!(
                        "not checked: more than {} signatures",
                        self.config.max_signatures
                    ),
                )));
                continue;
            }
            if std::str::from_utf8(field.raw_value()).is_err() {
                prepared.entries.push(Entry::Done(DkimResult::from_loose(
                    &loose,
                    DkimStatus::PermError,
                    "the signature field is not UTF-8".to_string(),
                )));
                continue;
            }
            let entry = match Signature::parse(&value) {
                Err(e) => Entry::Done(DkimResult::from_loose(
                    &loose,
                    DkimStatus::PermError,
                    e.to_string(),
                )),
                Ok(sig) => self.screen(sig, index, &mut prepared.hashers),
            };
            prepared.entries.push(entry);
        }
        prepared.header = header;
        self.prepared = Some(prepared);
    }

    /// Rule out what needs no key; otherwise attach a body hasher.
    fn screen(&self, sig: Signature, field: usize, hashers: &mut BodyHashSet) -> Entry {
        if sig.algorithm == Algorithm::RsaSha1 {
            return Entry::Done(DkimResult::from_signature(
                &sig,
                DkimStatus::PermError,
                "rsa-sha1 is not accepted (RFC 8301)",
            ));
        }
        if let Some(x) = sig.expiration
            && self.now_unix > x.saturating_add(self.config.clock_skew)
        {
            return Entry::Done(DkimResult::from_signature(
                &sig,
                DkimStatus::Fail,
                format!("signature expired (x={x})"),
            ));
        }
        if sig.body_length.is_some() && self.config.reject_body_length {
            return Entry::Done(DkimResult::from_signature(
                &sig,
                DkimStatus::Policy,
                "signatures with a body length limit (l=) are not accepted",
            ));
        }
        let hasher = hashers.index_for(sig.body_canon, sig.body_length, sig.algorithm.hash());
        Entry::Pending {
            sig: Box::new(sig),
            field,
            hasher,
        }
    }

    /// The message is complete: finish the body hashes and return the
    /// check that fetches the keys.
    pub fn finish(mut self) -> DkimCheck {
        if self.prepared.is_none() {
            // No empty line: the whole message was header, the body empty.
            self.prepare();
        }
        let Some(prepared) = self.prepared else {
            return DkimCheck::new(Vec::new(), self.config.time_budget);
        };
        let hashes: Vec<BodyHash> = prepared.hashers.finish();
        let fields = parse_header(&prepared.header);
        let mut items = Vec::with_capacity(prepared.entries.len());
        for entry in prepared.entries {
            let item = match entry {
                Entry::Done(result) => Item::Done(result),
                Entry::Pending { sig, field, hasher } => {
                    let computed = &hashes[hasher];
                    if let Some(l) = sig.body_length
                        && l > computed.canonical_len
                    {
                        items.push(Item::Done(DkimResult::from_signature(
                            &sig,
                            DkimStatus::Fail,
                            format!(
                                "l={l} is longer than the body ({} canonical bytes)",
                                computed.canonical_len
                            ),
                        )));
                        continue;
                    }
                    if computed.digest != sig.body_hash {
                        Item::Done(DkimResult::from_signature(
                            &sig,
                            DkimStatus::Fail,
                            "body hash did not verify",
                        ))
                    } else {
                        let data = signed_data(
                            sig.header_canon,
                            &fields,
                            &sig.signed_headers,
                            fields[field].raw(),
                        );
                        Item::NeedKey {
                            query: Query::new(&sig.key_name(), RecordType::Txt),
                            sig,
                            data,
                        }
                    }
                }
            };
            items.push(item);
        }
        DkimCheck::new(items, self.config.time_budget)
    }
}

#[derive(Debug)]
enum Item {
    Done(DkimResult),
    NeedKey {
        sig: Box<Signature>,
        data: Vec<u8>,
        query: Query,
    },
}

/// The key-fetching half of DKIM verification: a [`Check`] whose output
/// is one [`DkimResult`] per DKIM-Signature field, top to bottom.
#[derive(Debug)]
pub struct DkimCheck {
    items: Vec<Item>,
    queries: Vec<Query>,
    answers: HashMap<Query, Answer>,
    budget: Option<Duration>,
    started: Option<Instant>,
}

impl DkimCheck {
    fn new(items: Vec<Item>, budget: Option<Duration>) -> Self {
        let mut queries: Vec<Query> = Vec::new();
        for item in &items {
            if let Item::NeedKey { query, .. } = item
                && !queries.contains(query)
            {
                queries.push(query.clone());
            }
        }
        DkimCheck {
            items,
            queries,
            answers: HashMap::new(),
            budget,
            started: None,
        }
    }

    fn result(&self, sig: &Signature, data: &[u8], query: &Query) -> DkimResult {
        let fail = |status, reason: String| DkimResult::from_signature(sig, status, reason);
        let answer =
            self.answers.get(query).cloned().unwrap_or_else(|| {
                Answer::TempFail("no answer within the time budget".to_string())
            });
        let record = match &answer {
            Answer::NxDomain | Answer::NoData => {
                return fail(
                    DkimStatus::PermError,
                    format!("no key published at {}", query.name()),
                );
            }
            Answer::TempFail(why) => {
                return fail(DkimStatus::TempError, format!("key lookup failed: {why}"));
            }
            Answer::Records(_) => {
                let mut first_error: Option<KeyRecordError> = None;
                let mut found = None;
                for txt in answer.txt() {
                    match KeyRecord::parse_bytes(txt) {
                        Ok(record) => {
                            found = Some(record);
                            break;
                        }
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                match found {
                    Some(record) => record,
                    None => {
                        let why = first_error
                            .map_or_else(|| "no TXT record".to_string(), |e| e.to_string());
                        return fail(DkimStatus::PermError, format!("unusable key record: {why}"));
                    }
                }
            }
        };
        let mut result = self.check_key(sig, &record, data);
        result.testing = record.testing;
        result
    }

    fn check_key(&self, sig: &Signature, record: &KeyRecord, data: &[u8]) -> DkimResult {
        let fail = |status, reason: String| DkimResult::from_signature(sig, status, reason);
        if record.is_revoked() {
            return fail(DkimStatus::PermError, "key revoked (empty p=)".to_string());
        }
        let hash = sig.algorithm.hash();
        if !record.allows_hash(hash) {
            return fail(
                DkimStatus::PermError,
                format!("key record h= does not allow {hash}"),
            );
        }
        if !record.allows_email() {
            return fail(
                DkimStatus::PermError,
                "key record s= does not allow email".to_string(),
            );
        }
        if record.strict && !sig.identity_domain().eq_ignore_ascii_case(&sig.domain) {
            return fail(
                DkimStatus::PermError,
                "key record t=s requires the i= domain to equal d=".to_string(),
            );
        }
        match crypto::verify(sig.algorithm, record, data, &sig.signature) {
            Ok(bits) => {
                let mut r = fail(DkimStatus::Pass, "signature verified".to_string());
                r.key_bits = bits;
                r
            }
            Err(KeyProblem::Mismatch) => {
                fail(DkimStatus::Fail, "signature did not verify".to_string())
            }
            Err(KeyProblem::Unusable(why)) => fail(DkimStatus::PermError, why),
        }
    }
}

impl Check for DkimCheck {
    type Output = Vec<DkimResult>;

    fn progress(&mut self, now: Instant) -> Progress<Vec<DkimResult>> {
        let started = *self.started.get_or_insert(now);
        let missing: Vec<Query> = self
            .queries
            .iter()
            .filter(|q| !self.answers.contains_key(*q))
            .cloned()
            .collect();
        let out_of_time = self
            .budget
            .is_some_and(|b| now.saturating_duration_since(started) >= b);
        if !missing.is_empty() && !out_of_time {
            return Progress::NeedAnswers(missing);
        }
        let results = self
            .items
            .iter()
            .map(|item| match item {
                Item::Done(r) => r.clone(),
                Item::NeedKey { sig, data, query } => self.result(sig, data, query),
            })
            .collect();
        Progress::Done(results)
    }

    fn answer(&mut self, query: &Query, answer: Answer) {
        if self.queries.contains(query) {
            self.answers.insert(query.clone(), answer);
        }
    }
}

/// Verify a whole message in memory: [`DkimVerifier`] fed at once.
pub fn verify_message(message: &[u8], now_unix: u64, config: VerifierConfig) -> DkimCheck {
    let mut verifier = DkimVerifier::new(now_unix, config);
    verifier.feed(message);
    verifier.finish()
}
