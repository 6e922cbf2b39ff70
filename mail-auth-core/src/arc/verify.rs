//! Verifying an ARC chain (RFC 8617 §5.2).
//!
//! [`ArcVerifier`] takes the message in chunks, keeps the header, sorts the
//! ARC fields into sets, checks the chain's form and hashes the body once
//! per distinct body canonicalization of the ARC-Message-Signatures it
//! checks. [`ArcVerifier::finish`] returns an [`ArcCheck`], a [`Check`]
//! that asks for every key record at once and ends with an [`ArcOutput`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postel_dns::{Answer, Query, RecordType};

use super::header::{
    ARC_AUTHENTICATION_RESULTS, ARC_MESSAGE_SIGNATURE, ARC_SEAL, ArcAuthenticationResults,
    ArcMessageSignature, ArcResult, ArcSeal, MAX_INSTANCE, instance_of,
};
use crate::auth_results::MethodResult;
use crate::check::{Check, Progress};
use crate::dkim::{
    Algorithm, BodyHash, BodyHashSet, Canonicalization, KeyProblem, KeyRecord, canonicalize_field,
    signed_data, verify_with_key, without_b_value,
};
use crate::message::{HeaderField, HeaderSplitter, parse_header};

/// Limits and choices for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcConfig {
    /// How many header bytes are kept. A larger header makes the result
    /// [`ArcResult::Fail`]. Default 1 MiB.
    pub max_header_bytes: usize,
    /// Seconds of clock difference tolerated before an AMS `x=` counts as
    /// past. Default 0.
    pub clock_skew: u64,
    /// How long the key lookups may take, from the first
    /// [`Check::progress`] call; unanswered lookups then count as failed
    /// (with [`ArcOutput::temporary`] set). Default `None` (no limit).
    pub time_budget: Option<Duration>,
    /// Also verify the older ARC-Message-Signatures to compute
    /// [`ArcOutput::oldest_pass`] (RFC 8617 §5.2 step 5; extra body hashes
    /// and key lookups). Default true.
    pub oldest_pass: bool,
}

impl Default for ArcConfig {
    fn default() -> Self {
        ArcConfig {
            max_header_bytes: 1 << 20,
            clock_skew: 0,
            time_budget: None,
            oldest_pass: true,
        }
    }
}

/// What one ARC Set said and how far it verified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArcSetInfo {
    /// The instance, 1 to 50.
    pub instance: u32,
    /// The ARC-Seal's `d=` (empty if it did not parse).
    pub seal_domain: String,
    /// The ARC-Seal's `s=` (empty if it did not parse).
    pub seal_selector: String,
    /// The ARC-Seal's `cv=`, if it parsed.
    pub cv: Option<ArcResult>,
    /// The ARC-Message-Signature's `d=` (empty if it did not parse).
    pub signature_domain: String,
    /// The ARC-Message-Signature's `s=` (empty if it did not parse).
    pub signature_selector: String,
    /// The ARC-Authentication-Results payload: what this hop's
    /// authentication found (authserv-id and results, unparsed).
    pub authentication_results: String,
    /// Whether the ARC-Message-Signature verified (`None`: not checked).
    pub signature_verified: Option<bool>,
    /// Whether the ARC-Seal verified (`None`: not checked).
    pub seal_verified: Option<bool>,
}

/// The outcome of verifying a message's ARC chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcOutput {
    /// The Chain Validation Status.
    pub result: ArcResult,
    /// How many ARC Sets the chain has (the highest instance; 0 when there
    /// is no chain). For a malformed chain, the highest instance seen.
    pub instances: u32,
    /// Why the result is not `pass` or `none`, in words.
    pub reason: Option<String>,
    /// RFC 8617's "oldest-pass": the lowest instance from which every
    /// ARC-Message-Signature up to the newest verified, written as 0 when
    /// all of them did. `None` when not computed (the chain did not pass,
    /// or [`ArcConfig::oldest_pass`] is off).
    pub oldest_pass: Option<u32>,
    /// The failure came (at least in part) from a key lookup that failed
    /// for now or got no answer in time: retrying later may pass.
    pub temporary: bool,
    /// The sets, by instance (1 first). Empty when the chain's form was
    /// not valid.
    pub sets: Vec<ArcSetInfo>,
}

impl ArcOutput {
    fn none() -> Self {
        ArcOutput {
            result: ArcResult::None,
            instances: 0,
            reason: None,
            oldest_pass: None,
            temporary: false,
            sets: Vec::new(),
        }
    }

    fn fail(instances: u32, reason: String) -> Self {
        ArcOutput {
            result: ArcResult::Fail,
            instances,
            reason: Some(reason),
            oldest_pass: None,
            temporary: false,
            sets: Vec::new(),
        }
    }

    /// The Authentication-Results entry (RFC 8617 §10.1): `arc=<result>`
    /// with a comment naming the instance count and the newest sealer,
    /// `reason=` on failure and `header.oldest-pass` when computed. Add
    /// `smtp.remote-ip` with [`MethodResult::with_property`] if wanted.
    pub fn to_method_result(&self) -> MethodResult {
        let mut m = MethodResult::new("arc", self.result.as_str());
        if self.instances > 0 {
            let mut comment = format!("i={}", self.instances);
            if let Some(last) = self.sets.last()
                && !last.seal_domain.is_empty()
            {
                comment.push_str(&format!(" d={}", last.seal_domain));
            }
            m = m.with_comment(&comment);
        }
        if let Some(reason) = &self.reason {
            m = m.with_reason(reason);
        }
        if let Some(oldest) = self.oldest_pass {
            m = m.with_property("header", "oldest-pass", &oldest.to_string());
        }
        m
    }
}

/// The field indices of one ARC Set (all three present once grouped).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SetFields {
    pub(crate) aar: Option<usize>,
    pub(crate) ams: Option<usize>,
    pub(crate) seal: Option<usize>,
}

#[derive(Debug)]
enum AmsEntry {
    /// Not verified (older AMS with oldest-pass off).
    Skipped,
    /// Known to fail without a key.
    Failed(String),
    /// Needs the body hash, then the key.
    Pending {
        sig: Box<ArcMessageSignature>,
        hasher: usize,
    },
}

#[derive(Debug)]
struct Chain {
    header: Vec<u8>,
    sets: Vec<SetFields>,
    seals: Vec<ArcSeal>,
    ams: Vec<AmsEntry>,
    hashers: BodyHashSet,
    infos: Vec<ArcSetInfo>,
}

#[derive(Debug)]
enum Prepared {
    Done(ArcOutput),
    Chain(Box<Chain>),
}

/// Verifies the ARC chain of a message fed in chunks.
///
/// ```
/// use postel_auth::arc::{ArcConfig, ArcResult, ArcVerifier};
/// use postel_auth::{Check, Progress};
/// let mut v = ArcVerifier::new(1_700_000_000, ArcConfig::default());
/// v.feed(b"From: a@example.com\r\n\r\nHello\r\n");
/// let mut check = v.finish();
/// let Progress::Done(out) = check.progress(std::time::Instant::now()) else { panic!() };
/// assert_eq!(out.result, ArcResult::None);
/// ```
#[derive(Debug)]
pub struct ArcVerifier {
    config: ArcConfig,
    now_unix: u64,
    splitter: HeaderSplitter,
    prepared: Option<Prepared>,
}

impl ArcVerifier {
    /// A verifier; `now_unix` (seconds since the Unix epoch) is checked
    /// against the `x=` of ARC-Message-Signatures.
    pub fn new(now_unix: u64, config: ArcConfig) -> Self {
        ArcVerifier {
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
        if let Some(Prepared::Chain(chain)) = &mut self.prepared {
            chain.hashers.update(body);
        }
    }

    fn prepare(&mut self) {
        let splitter = std::mem::replace(&mut self.splitter, HeaderSplitter::new(0));
        if splitter.overflowed() {
            self.prepared = Some(Prepared::Done(ArcOutput::fail(
                0,
                format!(
                    "message header is larger than {} bytes; ARC chain not checked",
                    self.config.max_header_bytes
                ),
            )));
            return;
        }
        let header = splitter.into_header();
        self.prepared = Some(match self.sort(&header) {
            Err(out) => Prepared::Done(out),
            Ok(mut chain) => {
                chain.header = header;
                Prepared::Chain(chain)
            }
        });
    }

    /// Group the ARC fields into sets, check the chain's form (RFC 8617
    /// §5.2 steps 1 to 3) and screen the ARC-Message-Signatures.
    fn sort(&self, header: &[u8]) -> Result<Box<Chain>, ArcOutput> {
        let fields = parse_header(header);
        let sets = group_sets(&fields).map_err(|(n, why)| ArcOutput::fail(n, why))?;
        if sets.is_empty() {
            return Err(ArcOutput::none());
        }
        let n = sets.len() as u32;
        let value_of = |index: Option<usize>| -> String {
            index.map_or_else(String::new, |i| {
                String::from_utf8_lossy(fields[i].raw_value()).into_owned()
            })
        };
        // Every ARC-Seal must parse, the newest must not say cv=fail, the
        // first must say none and the others pass.
        let mut seals = Vec::with_capacity(sets.len());
        for (slot, set) in sets.iter().enumerate() {
            let seal = ArcSeal::parse(&value_of(set.seal))
                .map_err(|e| ArcOutput::fail(n, format!("ARC-Seal i={}: {e}", slot + 1)))?;
            seals.push(seal);
        }
        if let Some(last) = seals.last()
            && last.cv == ArcResult::Fail
        {
            return Err(ArcOutput::fail(
                n,
                format!("the newest ARC-Seal (i={n}) says cv=fail"),
            ));
        }
        for seal in &seals {
            let expected = if seal.instance == 1 {
                ArcResult::None
            } else {
                ArcResult::Pass
            };
            if seal.cv != expected {
                return Err(ArcOutput::fail(
                    n,
                    format!(
                        "ARC-Seal i={} says cv={} where cv={} is required",
                        seal.instance, seal.cv, expected
                    ),
                ));
            }
        }
        let mut infos = Vec::with_capacity(sets.len());
        let mut ams = Vec::with_capacity(sets.len());
        let mut hashers = BodyHashSet::default();
        for (slot, set) in sets.iter().enumerate() {
            let instance = slot as u32 + 1;
            let seal = &seals[slot];
            let mut info = ArcSetInfo {
                instance,
                seal_domain: seal.domain.clone(),
                seal_selector: seal.selector.clone(),
                cv: Some(seal.cv),
                ..ArcSetInfo::default()
            };
            if let Ok(aar) = ArcAuthenticationResults::parse(&value_of(set.aar)) {
                info.authentication_results = aar.payload;
            }
            let newest = instance == n;
            let entry = if !newest && !self.config.oldest_pass {
                AmsEntry::Skipped
            } else {
                match ArcMessageSignature::parse(&value_of(set.ams)) {
                    Err(e) => {
                        info.signature_verified = Some(false);
                        AmsEntry::Failed(e.to_string())
                    }
                    Ok(sig) => {
                        info.signature_domain = sig.domain.clone();
                        info.signature_selector = sig.selector.clone();
                        self.screen(sig, &mut hashers)
                    }
                }
            };
            if newest && let AmsEntry::Failed(why) = &entry {
                return Err(ArcOutput::fail(
                    n,
                    format!("ARC-Message-Signature i={n}: {why}"),
                ));
            }
            ams.push(entry);
            infos.push(info);
        }
        Ok(Box::new(Chain {
            header: Vec::new(),
            sets,
            seals,
            ams,
            hashers,
            infos,
        }))
    }

    /// Rule out what needs no key; otherwise attach a body hasher.
    fn screen(&self, sig: ArcMessageSignature, hashers: &mut BodyHashSet) -> AmsEntry {
        if sig.algorithm == Algorithm::RsaSha1 {
            return AmsEntry::Failed("rsa-sha1 is not accepted (RFC 8301)".to_string());
        }
        if let Some(x) = sig.expiration
            && self.now_unix > x.saturating_add(self.config.clock_skew)
        {
            return AmsEntry::Failed(format!("signature expired (x={x})"));
        }
        let hasher = hashers.index_for(sig.body_canon, sig.body_length, sig.algorithm.hash());
        AmsEntry::Pending {
            sig: Box::new(sig),
            hasher,
        }
    }

    /// The message is complete: finish the body hashes and return the
    /// check that fetches the keys.
    pub fn finish(mut self) -> ArcCheck {
        if self.prepared.is_none() {
            // No empty line: the whole message was header.
            self.prepare();
        }
        let budget = self.config.time_budget;
        let chain = match self.prepared {
            None => return ArcCheck::done(ArcOutput::none()),
            Some(Prepared::Done(out)) => return ArcCheck::done(out),
            Some(Prepared::Chain(chain)) => chain,
        };
        let Chain {
            header,
            sets,
            seals,
            ams,
            hashers,
            infos,
        } = *chain;
        let hashes: Vec<BodyHash> = hashers.finish();
        let fields = parse_header(&header);
        let n = sets.len() as u32;

        let mut ams_jobs = Vec::with_capacity(ams.len());
        for (slot, entry) in ams.into_iter().enumerate() {
            let job = match entry {
                AmsEntry::Skipped => AmsJob::Skipped,
                AmsEntry::Failed(why) => AmsJob::Failed(why),
                AmsEntry::Pending { sig, hasher } => {
                    let computed = &hashes[hasher];
                    let field = sets[slot].ams.map(|i| &fields[i]);
                    match (body_problem(&sig, computed), field) {
                        (Some(why), _) => AmsJob::Failed(why),
                        (None, None) => AmsJob::Failed("field missing".to_string()),
                        (None, Some(field)) => AmsJob::Verify(Job {
                            algorithm: sig.algorithm,
                            data: signed_data(
                                sig.header_canon,
                                &fields,
                                &sig.signed_headers,
                                field.raw(),
                            ),
                            query: Query::new(&sig.key_name(), RecordType::Txt),
                            signature: sig.signature,
                        }),
                    }
                }
            };
            ams_jobs.push(job);
        }
        if let Some(AmsJob::Failed(why)) = ams_jobs.last() {
            let mut out = ArcOutput::fail(n, format!("ARC-Message-Signature i={n}: {why}"));
            out.sets = infos;
            if let Some(last) = out.sets.last_mut() {
                last.signature_verified = Some(false);
            }
            return ArcCheck::done(out);
        }
        let seal_jobs = seals
            .iter()
            .map(|seal| Job {
                algorithm: seal.algorithm,
                data: seal_input(&fields, &sets, seal.instance),
                query: Query::new(&seal.key_name(), RecordType::Txt),
                signature: seal.signature.clone(),
            })
            .collect();
        ArcCheck::new(
            Pending {
                ams: ams_jobs,
                seals: seal_jobs,
                infos,
            },
            budget,
        )
    }
}

/// Group the ARC fields of a header into sets, by instance (index 0 is
/// instance 1). Fails, with the highest instance seen and the reason, when
/// an ARC field has no readable instance, when one set has two fields of
/// a kind, or when a set from 1 to the highest instance lacks a field.
pub(crate) fn group_sets(fields: &[HeaderField<'_>]) -> Result<Vec<SetFields>, (u32, String)> {
    let mut sets: Vec<SetFields> = Vec::new();
    let mut highest = 0u32;
    let mut malformed: Option<String> = None;
    for (index, field) in fields.iter().enumerate() {
        let kind = if field.is(ARC_SEAL) {
            ARC_SEAL
        } else if field.is(ARC_MESSAGE_SIGNATURE) {
            ARC_MESSAGE_SIGNATURE
        } else if field.is(ARC_AUTHENTICATION_RESULTS) {
            ARC_AUTHENTICATION_RESULTS
        } else {
            continue;
        };
        let value = String::from_utf8_lossy(field.raw_value());
        let instance = match instance_of(kind, &value) {
            Ok(i) => i,
            Err(e) => {
                malformed.get_or_insert_with(|| format!("{kind}: {e}"));
                continue;
            }
        };
        highest = highest.max(instance);
        let slot = instance as usize - 1;
        if sets.len() <= slot {
            sets.resize(slot + 1, SetFields::default());
        }
        let set = &mut sets[slot];
        let place = match kind {
            ARC_SEAL => &mut set.seal,
            ARC_MESSAGE_SIGNATURE => &mut set.ams,
            _ => &mut set.aar,
        };
        if place.is_some() {
            malformed.get_or_insert_with(|| format!("more than one {kind} with i={instance}"));
        }
        *place = Some(index);
    }
    if let Some(why) = malformed {
        return Err((highest, why));
    }
    debug_assert!(highest <= MAX_INSTANCE && sets.len() == highest as usize);
    for (slot, set) in sets.iter().enumerate() {
        for (present, kind) in [
            (set.aar, ARC_AUTHENTICATION_RESULTS),
            (set.ams, ARC_MESSAGE_SIGNATURE),
            (set.seal, ARC_SEAL),
        ] {
            if present.is_none() {
                return Err((highest, format!("ARC Set i={} has no {kind}", slot + 1)));
            }
        }
    }
    Ok(sets)
}

/// Why the body does not fit the signature, if it does not.
fn body_problem(sig: &ArcMessageSignature, computed: &BodyHash) -> Option<String> {
    if let Some(l) = sig.body_length
        && l > computed.canonical_len
    {
        return Some(format!(
            "l={l} is longer than the body ({} canonical bytes)",
            computed.canonical_len
        ));
    }
    (computed.digest != sig.body_hash).then(|| "body hash did not verify".to_string())
}

/// The signing input of the ARC-Seal of `instance` (RFC 8617 §5.1.1): the
/// ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal of every
/// set from 1 to `instance`, relaxed, the last ARC-Seal with its `b=`
/// value deleted and without its final CRLF.
fn seal_input(fields: &[HeaderField<'_>], sets: &[SetFields], instance: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (slot, set) in sets.iter().take(instance as usize).enumerate() {
        let last = slot + 1 == instance as usize;
        for index in [set.aar, set.ams, set.seal].into_iter().flatten() {
            let raw = fields[index].raw();
            if last && Some(index) == set.seal {
                canonicalize_field(Canonicalization::Relaxed, &without_b_value(raw), &mut out);
            } else {
                canonicalize_field(Canonicalization::Relaxed, raw, &mut out);
            }
        }
    }
    if out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// The seal input for sets given as raw field bytes, for the sealer: each
/// set is (AAR, AMS, AS) raw; the last AS has its `b=` still empty.
pub(crate) fn seal_input_raw(sets: &[[&[u8]; 3]]) -> Vec<u8> {
    let mut out = Vec::new();
    for set in sets {
        for raw in set {
            canonicalize_field(Canonicalization::Relaxed, raw, &mut out);
        }
    }
    if out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

#[derive(Debug)]
struct Job {
    algorithm: Algorithm,
    signature: Vec<u8>,
    data: Vec<u8>,
    query: Query,
}

#[derive(Debug)]
enum AmsJob {
    Skipped,
    Failed(String),
    Verify(Job),
}

#[derive(Debug)]
struct Pending {
    ams: Vec<AmsJob>,
    seals: Vec<Job>,
    infos: Vec<ArcSetInfo>,
}

/// Why a signature did not verify, and whether that may change later.
struct JobFailure {
    reason: String,
    temporary: bool,
}

/// The key-fetching half of ARC verification: a [`Check`] whose output is
/// the [`ArcOutput`].
#[derive(Debug)]
pub struct ArcCheck {
    done: Option<ArcOutput>,
    pending: Option<Pending>,
    queries: Vec<Query>,
    answers: HashMap<Query, Answer>,
    budget: Option<Duration>,
    started: Option<Instant>,
}

impl ArcCheck {
    fn done(out: ArcOutput) -> Self {
        ArcCheck {
            done: Some(out),
            pending: None,
            queries: Vec::new(),
            answers: HashMap::new(),
            budget: None,
            started: None,
        }
    }

    fn new(pending: Pending, budget: Option<Duration>) -> Self {
        let mut queries: Vec<Query> = Vec::new();
        let ams = pending.ams.iter().filter_map(|j| match j {
            AmsJob::Verify(job) => Some(job),
            _ => None,
        });
        for job in ams.chain(&pending.seals) {
            if !queries.contains(&job.query) {
                queries.push(job.query.clone());
            }
        }
        ArcCheck {
            done: None,
            pending: Some(pending),
            queries,
            answers: HashMap::new(),
            budget,
            started: None,
        }
    }

    fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let fail = |reason: String| JobFailure {
            reason,
            temporary: false,
        };
        let answer =
            self.answers.get(&job.query).cloned().unwrap_or_else(|| {
                Answer::TempFail("no answer within the time budget".to_string())
            });
        let record = match &answer {
            Answer::NxDomain | Answer::NoData => {
                return Err(fail(format!("no key published at {}", job.query.name())));
            }
            Answer::TempFail(why) => {
                return Err(JobFailure {
                    reason: format!("key lookup failed: {why}"),
                    temporary: true,
                });
            }
            Answer::Records(_) => {
                let mut first_error = None;
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
                        return Err(fail(format!("unusable key record: {why}")));
                    }
                }
            }
        };
        if record.is_revoked() {
            return Err(fail("key revoked (empty p=)".to_string()));
        }
        let hash = job.algorithm.hash();
        if !record.allows_hash(hash) {
            return Err(fail(format!("key record h= does not allow {hash}")));
        }
        if !record.allows_email() {
            return Err(fail("key record s= does not allow email".to_string()));
        }
        match verify_with_key(job.algorithm, &record, &job.data, &job.signature) {
            Ok(_) => Ok(()),
            Err(KeyProblem::Mismatch) => Err(fail("signature did not verify".to_string())),
            Err(KeyProblem::Unusable(why)) => Err(fail(why)),
        }
    }

    fn conclude(&self, pending: &Pending) -> ArcOutput {
        let n = pending.seals.len() as u32;
        let mut infos = pending.infos.clone();
        let mut out = ArcOutput {
            result: ArcResult::Pass,
            instances: n,
            reason: None,
            oldest_pass: None,
            temporary: false,
            sets: Vec::new(),
        };
        let mut ams_ok = Vec::with_capacity(pending.ams.len());
        let mut newest_ams: Option<JobFailure> = None;
        for (slot, job) in pending.ams.iter().enumerate() {
            let outcome = match job {
                AmsJob::Skipped => None,
                AmsJob::Failed(why) => Some(Err(JobFailure {
                    reason: why.clone(),
                    temporary: false,
                })),
                AmsJob::Verify(job) => Some(self.run(job)),
            };
            infos[slot].signature_verified = outcome.as_ref().map(Result::is_ok);
            ams_ok.push(outcome.as_ref().is_some_and(Result::is_ok));
            if slot + 1 == n as usize
                && let Some(Err(e)) = outcome
            {
                newest_ams = Some(e);
            }
        }
        let mut seal_failure: Option<(u32, JobFailure)> = None;
        for (slot, job) in pending.seals.iter().enumerate().rev() {
            let outcome = self.run(job);
            infos[slot].seal_verified = Some(outcome.is_ok());
            if let Err(e) = outcome
                && seal_failure.is_none()
            {
                seal_failure = Some((slot as u32 + 1, e));
            }
        }
        if let Some(e) = newest_ams {
            out.result = ArcResult::Fail;
            out.reason = Some(format!("ARC-Message-Signature i={n}: {}", e.reason));
            out.temporary = e.temporary;
        } else if let Some((i, e)) = seal_failure {
            out.result = ArcResult::Fail;
            out.reason = Some(format!("ARC-Seal i={i}: {}", e.reason));
            out.temporary = e.temporary;
        } else if pending.ams.len() == n as usize
            && pending
                .ams
                .iter()
                .take(n.saturating_sub(1) as usize)
                .all(|j| !matches!(j, AmsJob::Skipped))
        {
            let mut oldest = n;
            while oldest > 1 && ams_ok[oldest as usize - 2] {
                oldest -= 1;
            }
            out.oldest_pass = Some(if oldest == 1 { 0 } else { oldest });
        }
        out.sets = infos;
        out
    }
}

impl Check for ArcCheck {
    type Output = ArcOutput;

    fn progress(&mut self, now: Instant) -> Progress<ArcOutput> {
        if let Some(out) = &self.done {
            return Progress::Done(out.clone());
        }
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
        let out = match &self.pending {
            Some(pending) => self.conclude(pending),
            None => ArcOutput::none(),
        };
        Progress::Done(out)
    }

    fn answer(&mut self, query: &Query, answer: Answer) {
        if self.queries.contains(query) {
            self.answers.insert(query.clone(), answer);
        }
    }
}

/// Verify the ARC chain of a whole message in memory: [`ArcVerifier`] fed
/// at once.
pub fn verify_arc(message: &[u8], now_unix: u64, config: ArcConfig) -> ArcCheck {
    let mut verifier = ArcVerifier::new(now_unix, config);
    verifier.feed(message);
    verifier.finish()
}
