//! Arbitrary client messages into every server mechanism and arbitrary
//! challenges into every client mechanism: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_sasl::{
    ClientCredentials, ClientExchange, Mechanism, ScramCredentials, ServerExchange, ServerOptions,
    ServerStep, Verification, wire,
};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let mechanism = Mechanism::ALL[usize::from(data[0]) % Mechanism::ALL.len()];
    let rest = &data[1..];
    let mut parts = rest.split(|&b| b == b'\n');

    // Server side.
    let mut server = ServerExchange::new(mechanism, ServerOptions::default());
    let mut step = server.start(parts.next());
    for _ in 0..8 {
        step = match step {
            ServerStep::Challenge(_) => match parts.next() {
                Some(p) => server.respond(p),
                None => break,
            },
            ServerStep::Verify(_) => {
                let v = if mechanism == Mechanism::ScramSha256 {
                    Verification::Scram {
                        credentials: ScramCredentials::derive("pencil", b"salt", 4096),
                        server_nonce: "srvnonce".into(),
                    }
                } else {
                    Verification::Accepted
                };
                server.verified(v)
            }
            ServerStep::Success { .. } | ServerStep::Failure(_) => break,
        };
    }
    let _ = wire::parse_client_line(rest);
    let _ = wire::decode(rest);

    // Client side.
    let credentials = if matches!(mechanism, Mechanism::XOAuth2 | Mechanism::OAuthBearer) {
        ClientCredentials::bearer("user@example.org", "token")
    } else {
        ClientCredentials::password("user", "pencil")
    };
    if let Ok(mut client) = ClientExchange::new(mechanism, credentials, Some("clientnonce".into()))
    {
        let _ = client.initial_response();
        for challenge in rest.split(|&b| b == b'\n').take(4) {
            if client.respond(challenge).is_err() {
                break;
            }
        }
        let _ = client.finish(Some(rest));
    }
});
