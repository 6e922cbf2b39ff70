//! `posteld auth sign`.

use std::io::Write;

use postel_auth::dkim::{Algorithm, Canonicalization, SignerConfig, SigningKey, sign_message};

use super::{SignArgs, read_file, unix_now};
use crate::UsageError;

pub fn run(args: SignArgs) -> Result<(), UsageError> {
    let pem = read_file(&args.key)?;
    let pem = String::from_utf8(pem)
        .map_err(|_| UsageError(format!("{}: not a PEM file", args.key.display())))?;
    let key = SigningKey::from_pem(&pem)
        .map_err(|e| UsageError(format!("{}: {e}", args.key.display())))?;
    if let Some(wanted) = &args.algorithm {
        let wanted = Algorithm::parse(wanted)
            .filter(|a| *a != Algorithm::RsaSha1)
            .ok_or_else(|| {
                UsageError(format!(
                    "unknown --algorithm {wanted:?}: use rsa-sha256 or ed25519-sha256"
                ))
            })?;
        if wanted != key.algorithm() {
            return Err(UsageError(format!(
                "--algorithm {wanted} does not match the key, which is for {}",
                key.algorithm()
            )));
        }
    }
    let (header_canon, body_canon) = parse_canonicalization(&args.canonicalization)?;
    let message = read_file(&args.message)?;
    let mut config = SignerConfig::new(&args.domain, &args.selector);
    config.header_canon = header_canon;
    config.body_canon = body_canon;
    let t = args.time.unwrap_or_else(unix_now);
    config.timestamp = Some(t);
    config.expiration = args.expire_after.map(|after| t.saturating_add(after));
    let signature = sign_message(&message, &config, &key)
        .map_err(|e| UsageError(format!("{}: {e}", args.message.display())))?;
    let mut out = std::io::stdout().lock();
    out.write_all(signature.as_bytes())
        .and_then(|()| out.write_all(&message))
        .and_then(|()| out.flush())
        .map_err(|e| UsageError(format!("cannot write the output: {e}")))
}

fn parse_canonicalization(s: &str) -> Result<(Canonicalization, Canonicalization), UsageError> {
    let (h, b) = s.split_once('/').unwrap_or((s, "simple"));
    match (Canonicalization::parse(h), Canonicalization::parse(b)) {
        (Some(h), Some(b)) => Ok((h, b)),
        _ => Err(UsageError(format!(
            "bad --canonicalization {s:?}: use header/body with simple or relaxed, e.g. relaxed/relaxed"
        ))),
    }
}
