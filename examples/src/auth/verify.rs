//! `posteld auth verify`.

use postel_auth::{AuthConfig, AuthRequest, DmarcVerdict, authenticate};
use serde_json::json;

use super::{VerifyArgs, read_file, unix_now};
use crate::UsageError;
use crate::resolver::AnyResolver;

pub async fn run(args: VerifyArgs) -> Result<(), UsageError> {
    let message = read_file(&args.message)?;
    let resolver = AnyResolver::from_args(&args.zones)?;
    let request = AuthRequest {
        ip: args.ip,
        helo: &args.helo,
        mail_from: &args.mail_from,
        message: &message,
        now_unix: args.time.unwrap_or_else(unix_now),
        dmarc_sample: sample(),
    };
    let config = AuthConfig::new(&args.authserv_id);
    let report = authenticate(&resolver, &request, &config).await;
    let header = report.authentication_results.to_value();
    if !args.json {
        println!("{header}");
        return Ok(());
    }
    let dkim: Vec<_> = report
        .dkim
        .iter()
        .map(|r| {
            json!({
                "domain": r.domain,
                "selector": r.selector,
                "algorithm": r.algorithm.map(|a| a.to_string()),
                "result": r.status.as_str(),
                "reason": r.reason,
            })
        })
        .collect();
    let dmarc = match &report.dmarc {
        DmarcVerdict::Evaluated(out) => json!({
            "result": out.result.as_str(),
            "policy": out.policy.map(|p| p.as_str()),
            "disposition": out.disposition.as_str(),
            "domain": out.from_domain,
            "record_domain": out.record_domain,
        }),
        DmarcVerdict::NoAuthorDomain(why) => json!({
            "result": "permerror",
            "policy": null,
            "disposition": "none",
            "domain": null,
            "reason": why,
        }),
    };
    let value = json!({
        "spf": {
            "result": report.spf.result.as_str(),
            "domain": report.spf.domain,
            "explanation": report.spf.explanation,
        },
        "dkim": dkim,
        "arc": {
            "result": report.arc.result.as_str(),
            "instances": report.arc.instances,
            "oldest_pass": report.arc.oldest_pass,
            "reason": report.arc.reason,
        },
        "dmarc": dmarc,
        "iprev": {
            "result": report.iprev.result.as_str(),
            "names": report.iprev.names,
        },
        "authentication_results": header,
    });
    println!("{value}");
    Ok(())
}

/// A number in 0..100 for DMARC pct sampling. The admin tool has no need
/// for a cryptographic source: the low bits of the clock spread well enough.
fn sample() -> u8 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos % 100) as u8
}
