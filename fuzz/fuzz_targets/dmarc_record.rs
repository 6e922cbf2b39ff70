//! Arbitrary DMARC records: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_auth::dmarc::DmarcRecord;

fuzz_target!(|data: &[u8]| {
    let _ = DmarcRecord::parse_bytes(data);
});
