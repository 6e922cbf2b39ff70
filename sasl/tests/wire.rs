//! The base64 framing helpers and line handling on the server.

use postel_sasl::wire::{self, ClientLine};
use postel_sasl::{
    AuthError, Mechanism, ServerExchange, ServerOptions, ServerStep, VerifyRequest, WireError,
};

#[test]
fn star_cancels() {
    assert_eq!(wire::parse_client_line(b"*"), Ok(ClientLine::Cancel));
    assert_eq!(wire::parse_client_line(b" *\t"), Ok(ClientLine::Cancel));
}

#[test]
fn equals_and_empty_lines_are_empty_responses() {
    assert_eq!(
        wire::parse_client_line(b"="),
        Ok(ClientLine::Response(Vec::new()))
    );
    assert_eq!(
        wire::parse_client_line(b""),
        Ok(ClientLine::Response(Vec::new()))
    );
    assert_eq!(wire::parse_initial_response(b"="), Ok(Vec::new()));
}

#[test]
fn base64_lines_decode() {
    assert_eq!(
        wire::parse_client_line(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
        Ok(ClientLine::Response(b"\0tim\0tanstaaftanstaaf".to_vec()))
    );
    assert_eq!(
        wire::parse_initial_response(b"  dGlt \r\n"),
        Ok(b"tim".to_vec())
    );
}

#[test]
fn bad_base64_is_an_error_with_position() {
    assert_eq!(
        wire::parse_client_line(b"dG!t"),
        Err(WireError::InvalidByte {
            offset: 2,
            byte: b'!'
        })
    );
    assert_eq!(
        wire::decode(b"dGlt="),
        Err(WireError::InvalidByte {
            offset: 4,
            byte: b'='
        })
    );
    assert_eq!(wire::decode(b"dGk"), Err(WireError::InvalidPadding));
    assert!(matches!(
        wire::decode(b"dGl"),
        Err(WireError::InvalidPadding)
    ));
    assert!(matches!(
        wire::decode(b"dA"),
        Err(WireError::InvalidPadding)
    ));
    assert!(matches!(
        wire::decode(b"dB=="),
        Err(WireError::NonCanonical { .. })
    ));
    assert!(matches!(
        wire::decode(b"d"),
        Err(WireError::InvalidLength { .. })
    ));
    // "*" is only special as a whole line; "=" only as the whole argument.
    assert!(wire::parse_initial_response(b"*").is_err());
    assert!(wire::decode(b"=").is_err());
    let msg = wire::decode(b"dG!t").unwrap_err().to_string();
    assert!(msg.contains("offset 2"), "{msg}");
}

#[test]
fn encode_round_trips() {
    for data in [&b""[..], b"\0", b"\0tim\0pw", &[0xff; 100]] {
        assert_eq!(wire::decode(wire::encode(data).as_bytes()).unwrap(), data);
    }
    assert_eq!(wire::encode_initial_response(b""), "=");
}

#[test]
fn respond_line_drives_the_server() {
    let mut s = ServerExchange::new(Mechanism::Plain, ServerOptions::default());
    assert_eq!(s.start(None), ServerStep::Challenge(Vec::new()));
    assert!(matches!(
        s.respond_line(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
        ServerStep::Verify(VerifyRequest::Password { .. })
    ));

    let mut s = ServerExchange::new(Mechanism::Plain, ServerOptions::default());
    s.start(None);
    assert_eq!(
        s.respond_line(b"not base64!"),
        ServerStep::Failure(AuthError::BadEncoding(WireError::InvalidByte {
            offset: 3,
            byte: b' '
        }))
    );
}

#[test]
fn respond_line_refuses_overlong_lines_before_decoding() {
    let mut s = ServerExchange::new(
        Mechanism::Login,
        ServerOptions {
            max_response_len: 6,
            ..ServerOptions::default()
        },
    );
    s.start(None);
    // 6 bytes encode to 8 symbols: accepted.
    assert_eq!(
        s.respond_line(b"dXNlcm5t"),
        ServerStep::Challenge(b"Password:".to_vec())
    );
    // 12 symbols: refused without looking at them.
    assert_eq!(
        s.respond_line(b"!!!!!!!!!!!!"),
        ServerStep::Failure(AuthError::ResponseTooLong { len: 12, max: 6 })
    );
}
