//! Arbitrary Authentication-Results values: parsing never panics, and what
//! parses writes out to a value that parses to the same results.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_auth::auth_results::AuthenticationResults;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ar) = AuthenticationResults::parse(text) {
        let written = ar.to_value();
        let again = AuthenticationResults::parse(&written)
            .unwrap_or_else(|e| panic!("{written:?} does not parse: {e}"));
        assert_eq!(again, ar, "round trip of {written:?}");
    }
});
