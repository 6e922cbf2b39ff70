//! The whole receiving-side evaluation of one message: SPF, DKIM, DMARC and
//! iprev, and the Authentication-Results header that reports them.
//!
//! This is the async layer most users call: it drives each Sans-IO check
//! with a [`Resolver`]. Callers that need their own scheduling run the
//! checks themselves; this module only strings them together.

use std::net::IpAddr;

use postel_dns::Resolver;

use crate::arc::{ArcCheck, ArcConfig, ArcOutput, verify_arc};
use crate::auth_results::{AuthenticationResults, MethodResult};
use crate::check::drive;
use crate::dkim::{DkimCheck, DkimResult, DkimStatus, VerifierConfig, verify_message};
use crate::dmarc::{
    AuthenticatedIdentifier, AuthorDomain, DmarcCheck, DmarcConfig, DmarcInput, DmarcOutput,
    author_domain,
};
use crate::iprev::{IprevCheck, IprevConfig, IprevOutput};
use crate::message;
use crate::spf::{Identity, SpfCheck, SpfConfig, SpfOutput, SpfRecordCache, SpfResult};

/// What the receiving server knows about one message.
#[derive(Debug, Clone)]
pub struct AuthRequest<'a> {
    /// The SMTP client's address.
    pub ip: IpAddr,
    /// The HELO/EHLO name.
    pub helo: &'a str,
    /// The MAIL FROM address (empty for the null reverse-path).
    pub mail_from: &'a str,
    /// The message as received (header and body).
    pub message: &'a [u8],
    /// The current Unix time (for DKIM `x=`).
    pub now_unix: u64,
    /// A number drawn uniformly from 0..100 by the caller, for DMARC `pct`
    /// sampling.
    pub dmarc_sample: u8,
}

/// Settings for [`authenticate`].
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The authserv-id written in Authentication-Results (this host's name).
    pub authserv_id: String,
    /// SPF limits.
    pub spf: SpfConfig,
    /// DKIM verification limits.
    pub dkim: VerifierConfig,
    /// DMARC settings.
    pub dmarc: DmarcConfig,
    /// iprev limits.
    pub iprev: IprevConfig,
    /// ARC verification limits.
    pub arc: ArcConfig,
}

impl AuthConfig {
    /// The defaults of every check, reporting as `authserv_id`.
    pub fn new(authserv_id: &str) -> Self {
        AuthConfig {
            authserv_id: authserv_id.to_string(),
            spf: SpfConfig {
                receiver: authserv_id.to_string(),
                record_cache: Some(SpfRecordCache::new(4096)),
                ..SpfConfig::default()
            },
            dkim: VerifierConfig::default(),
            dmarc: DmarcConfig::default(),
            iprev: IprevConfig::default(),
            arc: ArcConfig::default(),
        }
    }
}

/// DMARC's outcome, or why it could not be evaluated.
#[derive(Debug, Clone)]
pub enum DmarcVerdict {
    /// DMARC was evaluated for the author domain.
    Evaluated(DmarcOutput),
    /// The From field is missing, repeated or unparsable, so there is no
    /// author domain (RFC 7489 §6.6.1): `permerror`.
    NoAuthorDomain(String),
}

/// Every result for one message.
#[derive(Debug, Clone)]
pub struct AuthReport {
    /// SPF of the MAIL FROM identity.
    pub spf: SpfOutput,
    /// One result per DKIM-Signature field.
    pub dkim: Vec<DkimResult>,
    /// ARC: the chain of custody the message arrived with.
    pub arc: ArcOutput,
    /// DMARC.
    pub dmarc: DmarcVerdict,
    /// iprev of the client address.
    pub iprev: IprevOutput,
    /// The Authentication-Results header reporting all of the above.
    pub authentication_results: AuthenticationResults,
}

/// Evaluate SPF, DKIM, DMARC and iprev for one message held in memory.
pub async fn authenticate<R: Resolver>(
    resolver: &R,
    request: &AuthRequest<'_>,
    config: &AuthConfig,
) -> AuthReport {
    let dkim = verify_message(request.message, request.now_unix, config.dkim.clone());
    let arc = verify_arc(request.message, request.now_unix, config.arc.clone());
    authenticate_with(resolver, request, config, dkim, arc).await
}

/// As [`authenticate`], with DKIM and ARC already fed: a server hands each
/// DATA chunk to a [`DkimVerifier`](crate::dkim::DkimVerifier) and an
/// [`ArcVerifier`](crate::arc::ArcVerifier) as it arrives and passes their
/// `finish()` here, so the body is hashed while it streams in.
/// `request.message` then needs to hold only the header (for the From
/// field).
pub async fn authenticate_with<R: Resolver>(
    resolver: &R,
    request: &AuthRequest<'_>,
    config: &AuthConfig,
    dkim: DkimCheck,
    arc: ArcCheck,
) -> AuthReport {
    let spf = drive(
        SpfCheck::mail_from(
            request.ip,
            request.helo,
            request.mail_from,
            config.spf.clone(),
        ),
        resolver,
    )
    .await;
    let dkim = drive(dkim, resolver).await;
    let arc = drive(arc, resolver).await;
    let iprev = drive(IprevCheck::new(config.iprev.clone(), request.ip), resolver).await;
    let dmarc = evaluate_dmarc(resolver, request, config, &spf, &dkim).await;
    let authentication_results = report(
        &config.authserv_id,
        request,
        &spf,
        &dkim,
        &arc,
        &dmarc,
        &iprev,
    );
    AuthReport {
        spf,
        dkim,
        arc,
        dmarc,
        iprev,
        authentication_results,
    }
}

async fn evaluate_dmarc<R: Resolver>(
    resolver: &R,
    request: &AuthRequest<'_>,
    config: &AuthConfig,
    spf: &SpfOutput,
    dkim: &[DkimResult],
) -> DmarcVerdict {
    let (fields, _) = message::split(request.message);
    let from_values: Vec<String> = fields
        .iter()
        .filter(|f| f.is("from"))
        .map(|f| f.unfolded_value())
        .collect();
    let from_refs: Vec<&str> = from_values.iter().map(String::as_str).collect();
    let domains = match author_domain(&from_refs) {
        Ok(AuthorDomain::Single(d)) => vec![d],
        Ok(AuthorDomain::Multiple(ds)) => ds,
        Err(e) => return DmarcVerdict::NoAuthorDomain(e.to_string()),
    };
    let spf_id = AuthenticatedIdentifier {
        domain: spf.domain.clone(),
        passed: spf.result == SpfResult::Pass,
    };
    let dkim_ids: Vec<AuthenticatedIdentifier> = dkim
        .iter()
        .filter(|r| !r.domain.is_empty())
        .map(|r| AuthenticatedIdentifier {
            domain: r.domain.clone(),
            passed: r.status == DkimStatus::Pass,
        })
        .collect();
    // With several author domains, each is evaluated and the strictest
    // outcome stands (RFC 7489 §6.6.1 leaves the choice to the receiver).
    let mut worst: Option<DmarcOutput> = None;
    for domain in domains {
        let input = DmarcInput {
            from_domain: domain,
            spf: Some(spf_id.clone()),
            dkim: dkim_ids.clone(),
        };
        let sample = request.dmarc_sample;
        let out = drive(
            DmarcCheck::new(config.dmarc.clone(), input, move || sample),
            resolver,
        )
        .await;
        let stricter = match &worst {
            None => true,
            Some(w) => out.disposition > w.disposition,
        };
        if stricter {
            worst = Some(out);
        }
    }
    match worst {
        Some(out) => DmarcVerdict::Evaluated(out),
        None => DmarcVerdict::NoAuthorDomain("no author domain".into()),
    }
}

fn spf_comment(authserv_id: &str, ip: IpAddr, spf: &SpfOutput) -> String {
    let d = &spf.domain;
    match spf.result {
        SpfResult::Pass => {
            format!("{authserv_id}: domain of {d} designates {ip} as permitted sender")
        }
        SpfResult::Fail => {
            format!("{authserv_id}: domain of {d} does not designate {ip} as permitted sender")
        }
        SpfResult::SoftFail => {
            format!(
                "{authserv_id}: domain of transitioning {d} does not designate {ip} as permitted sender"
            )
        }
        SpfResult::Neutral => {
            format!("{authserv_id}: {ip} is neither permitted nor denied by domain of {d}")
        }
        SpfResult::None => format!("{authserv_id}: domain of {d} does not publish SPF"),
        SpfResult::TempError | SpfResult::PermError => format!(
            "{authserv_id}: error in processing SPF of {d}: {}",
            spf.problem.as_deref().unwrap_or("unknown")
        ),
    }
}

fn report(
    authserv_id: &str,
    request: &AuthRequest<'_>,
    spf: &SpfOutput,
    dkim: &[DkimResult],
    arc: &ArcOutput,
    dmarc: &DmarcVerdict,
    iprev: &IprevOutput,
) -> AuthenticationResults {
    let mut ar = AuthenticationResults::new(authserv_id);
    let mut spf_result = MethodResult::new("spf", spf.result.as_str()).with_comment(&spf_comment(
        authserv_id,
        request.ip,
        spf,
    ));
    spf_result = match spf.identity {
        Identity::MailFrom if !request.mail_from.is_empty() => {
            spf_result.with_property("smtp", "mailfrom", request.mail_from)
        }
        _ => spf_result.with_property("smtp", "helo", request.helo),
    };
    ar.push(spf_result);
    if dkim.is_empty() {
        ar.push(MethodResult::new("dkim", "none"));
    }
    for r in dkim {
        let mut m = MethodResult::new("dkim", r.status.as_str());
        if r.status != DkimStatus::Pass && !r.reason.is_empty() {
            m = m.with_reason(&r.reason);
        }
        if let Some(bits) = r.key_bits {
            m = m.with_comment(&format!("{bits}-bit key"));
        }
        if !r.domain.is_empty() {
            m = m.with_property("header", "d", &r.domain);
        }
        if !r.selector.is_empty() {
            m = m.with_property("header", "s", &r.selector);
        }
        if !r.b_prefix.is_empty() {
            m = m.with_property("header", "b", &r.b_prefix);
        }
        ar.push(m);
    }
    ar.push(
        arc.to_method_result()
            .with_property("smtp", "remote-ip", &request.ip.to_string()),
    );
    match dmarc {
        DmarcVerdict::Evaluated(out) => {
            ar.push(out.to_method_result());
        }
        DmarcVerdict::NoAuthorDomain(why) => {
            ar.push(MethodResult::new("dmarc", "permerror").with_reason(why));
        }
    }
    ar.push(iprev.to_method_result());
    ar
}
