//! Wire helpers for the base64 framing that SMTP, IMAP and POP3 share.
//!
//! Challenges and responses travel as standard base64 (RFC 4648 §4, with
//! padding), one per line. A client cancels an exchange with a line holding
//! only `*` (RFC 4954 §4), and an empty initial response is written `=`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::WireError;

/// Encodes `data` as standard base64 with padding.
///
/// An empty input encodes to an empty string; on an `AUTH` command line an
/// empty initial response is written `=` instead (see
/// [`encode_initial_response`]).
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Encodes an initial response for the `AUTH` command line: `=` for an empty
/// one, base64 otherwise.
pub fn encode_initial_response(data: &[u8]) -> String {
    if data.is_empty() {
        "=".to_owned()
    } else {
        encode(data)
    }
}

/// Decodes strict standard base64 (canonical padding, no embedded
/// whitespace, no stray bits). Whitespace around the text is trimmed first.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, WireError> {
    Ok(STANDARD.decode(text.trim_ascii())?)
}

/// One client line of an exchange, after the framing was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// The client sent `*`: it gives up on the exchange.
    Cancel,
    /// The decoded response.
    Response(Vec<u8>),
}

/// Parses one client line (without CRLF) of an exchange: `*` is a
/// cancellation (RFC 4954 §4), `=` or an empty line is an empty response,
/// anything else must be base64. Surrounding whitespace is ignored.
pub fn parse_client_line(line: &[u8]) -> Result<ClientLine, WireError> {
    match line.trim_ascii() {
        b"*" => Ok(ClientLine::Cancel),
        b"=" => Ok(ClientLine::Response(Vec::new())),
        other => Ok(ClientLine::Response(decode(other)?)),
    }
}

/// Parses an initial response given on the `AUTH` command line: `=` is an
/// empty response, anything else must be base64.
pub fn parse_initial_response(arg: &[u8]) -> Result<Vec<u8>, WireError> {
    match arg.trim_ascii() {
        b"=" => Ok(Vec::new()),
        other => decode(other),
    }
}

/// The length of the base64 text that encodes `decoded_len` bytes. Used to
/// refuse overlong lines before spending effort on decoding them.
pub fn encoded_len(decoded_len: usize) -> usize {
    decoded_len.div_ceil(3).saturating_mul(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_rfc4648_vectors() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn decode_is_strict() {
        assert_eq!(decode(b"Zm9vYg==").unwrap(), b"foob");
        assert_eq!(decode(b"  Zm9vYg==\t").unwrap(), b"foob");
        assert!(matches!(decode(b"Zm9vYg"), Err(WireError::InvalidPadding)));
        assert!(matches!(
            decode(b"Zm9v Yg=="),
            Err(WireError::InvalidByte {
                offset: 4,
                byte: b' '
            })
        ));
        assert!(matches!(
            decode(b"Zh=="),
            Err(WireError::NonCanonical { .. })
        ));
        assert!(matches!(
            decode(b"Zm9vY"),
            Err(WireError::InvalidLength { .. })
        ));
        assert!(decode(b"Zm9v_-==").is_err());
    }

    #[test]
    fn encoded_len_is_exact() {
        for n in 0..20 {
            assert_eq!(encoded_len(n), encode(&vec![0u8; n]).len());
        }
    }

    #[test]
    fn initial_response_encoding() {
        assert_eq!(encode_initial_response(b""), "=");
        assert_eq!(encode_initial_response(b"a"), "YQ==");
    }
}
