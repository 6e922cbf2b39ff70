//! `posteld auth spf`.

use postel_auth::drive;
use postel_auth::spf::{SpfCheck, SpfConfig};
use serde_json::json;

use super::SpfArgs;
use crate::UsageError;
use crate::resolver::AnyResolver;

pub async fn run(args: SpfArgs) -> Result<(), UsageError> {
    let resolver = AnyResolver::from_args(&args.zones)?;
    let check = SpfCheck::mail_from(args.ip, &args.helo, &args.mail_from, SpfConfig::default());
    let out = drive(check, &resolver).await;
    if args.json {
        let value = json!({
            "result": out.result.as_str(),
            "domain": out.domain,
            "explanation": out.explanation,
            "problem": out.problem,
        });
        println!("{value}");
    } else {
        let mut line = format!("{} domain={}", out.result, out.domain);
        if let Some(e) = &out.explanation {
            line.push_str(&format!(" explanation={e:?}"));
        }
        if let Some(p) = &out.problem {
            line.push_str(&format!(" problem={p:?}"));
        }
        println!("{line}");
    }
    Ok(())
}
