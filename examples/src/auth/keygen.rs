//! `posteld auth keygen`.

use std::io::Write;

use postel_auth::dkim::keygen::{generate_ed25519, generate_rsa_2048, zone_file_line};

use super::KeygenArgs;
use crate::UsageError;

pub fn run(args: KeygenArgs) -> Result<(), UsageError> {
    let key = match args.algorithm.to_ascii_lowercase().as_str() {
        "rsa" | "rsa-sha256" => generate_rsa_2048(),
        "ed25519" | "ed25519-sha256" => generate_ed25519(),
        other => {
            return Err(UsageError(format!(
                "unknown --algorithm {other:?}: use rsa or ed25519"
            )));
        }
    }
    .map_err(|e| UsageError(e.to_string()))?;
    write_private(&args.out, key.private_key_pem.as_bytes())
        .map_err(|e| UsageError(format!("{}: cannot write: {e}", args.out.display())))?;
    println!(
        "{}",
        zone_file_line(&args.selector, &args.domain, &key.dns_record)
    );
    Ok(())
}

/// Write the key readable by its owner only.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(data)?;
    file.sync_all()
}
