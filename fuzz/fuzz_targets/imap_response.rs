//! Arbitrary server output through the IMAP response parser: no panic, and
//! every response that parses encodes back to bytes that parse the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_imap::Response;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = Response::parse(data) {
        let bytes = response.encode();
        let again = Response::parse(&bytes).expect("an encoded response parses");
        assert_eq!(again, response);
    }
});
