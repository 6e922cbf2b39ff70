//! PEM (RFC 7468) reading and writing, for private keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One PEM block: its label (`PRIVATE KEY`, `RSA PRIVATE KEY`, ...) and
/// the decoded DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

/// The first PEM block in `text`. Text before the BEGIN line (comments,
/// "Bag Attributes") is skipped; header lines inside the block (`Proc-Type`,
/// as in encrypted keys) make it fail, since encrypted keys are not
/// supported.
pub(crate) fn decode(text: &str) -> Option<PemBlock> {
    let mut lines = text.lines().map(str::trim);
    let label = loop {
        let line = lines.next()?;
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            break rest.strip_suffix("-----")?.to_string();
        }
    };
    let end = format!("-----END {label}-----");
    let mut b64 = String::new();
    for line in lines {
        if line == end {
            let der = STANDARD.decode(b64.as_bytes()).ok()?;
            return Some(PemBlock { label, der });
        }
        if line.contains(':') {
            return None;
        }
        b64.push_str(line);
    }
    None
}

/// Write `der` as a PEM block with 64-character lines and LF line ends.
#[cfg_attr(not(feature = "keygen"), allow(dead_code))]
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII.
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let der: Vec<u8> = (0..=255).collect();
        let text = encode("PRIVATE KEY", &der);
        let block = decode(&format!("junk\n{text}")).unwrap();
        assert_eq!(block.label, "PRIVATE KEY");
        assert_eq!(block.der, der);
        assert!(decode("-----BEGIN X-----\nAAAA\n").is_none());
        assert!(decode("-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n-----END X-----").is_none());
    }
}
