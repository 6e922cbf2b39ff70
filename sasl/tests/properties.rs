//! Property tests: arbitrary input never panics, and client and server
//! always agree with each other.

mod common;

use std::sync::OnceLock;

use postel_sasl::{
    ClientCredentials, ClientExchange, ClientOptions, Mechanism, ScramCredentials, ServerExchange,
    ServerOptions, ServerStep, Verification, wire,
};
use proptest::prelude::*;

fn scram_credentials() -> &'static ScramCredentials {
    static CREDS: OnceLock<ScramCredentials> = OnceLock::new();
    CREDS.get_or_init(|| ScramCredentials::derive("pencil", b"salty", 4096))
}

fn mechanism() -> impl Strategy<Value = Mechanism> {
    prop::sample::select(Mechanism::ALL.to_vec())
}

fn verification() -> impl Strategy<Value = Verification> {
    prop_oneof![
        Just(Verification::Accepted),
        Just(Verification::Rejected),
        "[a-z]{0,8}".prop_map(Verification::AcceptedAs),
        "[ -~]{0,12}".prop_map(|nonce| Verification::Scram {
            credentials: scram_credentials().clone(),
            server_nonce: nonce,
        }),
    ]
}

/// Feeds one input to whichever call the exchange expects next.
fn feed(s: &mut ServerExchange, step: &ServerStep, bytes: &[u8], v: &Verification) -> ServerStep {
    match step {
        ServerStep::Verify(_) => s.verified(v.clone()),
        _ => s.respond(bytes),
    }
}

proptest! {
    #[test]
    fn server_never_panics(
        mechanism in mechanism(),
        initial in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
        inputs in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..200), verification()),
            0..5,
        ),
    ) {
        let mut s = ServerExchange::new(mechanism, ServerOptions {
            max_response_len: 150,
            ..ServerOptions::default()
        });
        let mut step = s.start(initial.as_deref());
        for (bytes, v) in &inputs {
            let finished_before = s.is_finished();
            step = feed(&mut s, &step, bytes, v);
            if finished_before {
                prop_assert!(matches!(step, ServerStep::Failure(_)));
            }
        }
    }

    #[test]
    fn server_never_panics_on_lines(
        mechanism in mechanism(),
        lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), 0..4),
    ) {
        let mut s = ServerExchange::new(mechanism, ServerOptions::default());
        s.start(None);
        for line in &lines {
            s.respond_line(line);
        }
    }

    #[test]
    fn structured_scram_messages_never_panic_or_succeed_by_chance(
        username in "[ -~]{0,12}",
        nonce in "[!-~]{0,12}",
        proof in prop::collection::vec(any::<u8>(), 0..40),
        cbind in "[ -~]{0,8}",
        tail in "[ -~]{0,16}",
    ) {
        let mut s = ServerExchange::new(Mechanism::ScramSha256, ServerOptions::default());
        let first = format!("n,,n={username},r={nonce}");
        if let ServerStep::Verify(_) = s.start(Some(first.as_bytes())) {
            let step = s.verified(Verification::Scram {
                credentials: scram_credentials().clone(),
                server_nonce: "SRV".into(),
            });
            prop_assert!(matches!(step, ServerStep::Challenge(_)));
            let last = format!(
                "c={cbind},r={nonce}SRV,{tail}p={}",
                wire::encode(&proof)
            );
            let step = s.respond(last.as_bytes());
            prop_assert!(matches!(step, ServerStep::Failure(_)), "{:?}", step);
        }
    }

    #[test]
    fn client_never_panics(
        mechanism in mechanism(),
        use_initial in any::<bool>(),
        challenges in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..4),
        additional in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
    ) {
        let creds = common::credentials(mechanism, "user", "pencil");
        let mut c = ClientExchange::with_options(
            mechanism,
            creds,
            Some("nonce".into()),
            ClientOptions { scram_min_iterations: 1, scram_max_iterations: 64, ..ClientOptions::default() },
        ).unwrap();
        if use_initial {
            c.initial_response();
        }
        for challenge in &challenges {
            let _ = c.respond(challenge);
        }
        let _ = c.finish(additional.as_deref());
        prop_assert!(c.is_finished());
    }

    #[test]
    fn scram_client_never_panics_on_server_first(
        server_nonce in "[ -~]{0,12}",
        salt in prop::collection::vec(any::<u8>(), 0..20),
        iterations in "[0-9+-]{0,12}",
        extra in "[ -~]{0,16}",
        final_message in prop::collection::vec(any::<u8>(), 0..60),
    ) {
        let mut c = ClientExchange::with_options(
            Mechanism::ScramSha256,
            ClientCredentials::password("user", "pencil"),
            Some("cnonce".into()),
            ClientOptions { scram_min_iterations: 1, scram_max_iterations: 64, ..ClientOptions::default() },
        ).unwrap();
        c.initial_response();
        let first = format!(
            "r=cnonce{server_nonce},s={},i={iterations}{extra}",
            wire::encode(&salt)
        );
        if c.respond(first.as_bytes()).is_ok() {
            // A random server-final can never carry the right signature.
            prop_assert!(c.finish(Some(&final_message)).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trip_succeeds_with_the_right_secret_and_fails_with_another(
        mechanism in mechanism(),
        username in prop_oneof!["[ -~]{1,16}", "[^\\p{Cc}]{1,8}"],
        secret in "[!-~]{1,24}",
        other in "[!-~]{1,24}",
        use_initial in any::<bool>(),
    ) {
        prop_assume!(secret != other);
        let store = common::Store::new(&username, &secret);

        let good = common::run(
            mechanism,
            common::credentials(mechanism, &username, &secret),
            &store,
            use_initial,
        );
        let identity = good.server.clone().unwrap();
        prop_assert_eq!(identity.authcid, username.clone());
        prop_assert_eq!(good.client, Some(Ok(())));

        let bad = common::run(
            mechanism,
            common::credentials(mechanism, &username, &other),
            &store,
            use_initial,
        );
        prop_assert!(bad.server.is_err(), "{:?}", bad);
    }
}
