//! Arbitrary DKIM key records: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_auth::dkim::KeyRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = KeyRecord::parse_bytes(data) {
        let _ = key.is_revoked();
        let _ = key.allows_email();
    }
});
