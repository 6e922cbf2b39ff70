//! Arbitrary DKIM-Signature values: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_auth::dkim::Signature;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(sig) = Signature::parse(text)
    {
        // A parsed signature's identity lies within its domain.
        let _ = sig.identity_domain();
    }
});
