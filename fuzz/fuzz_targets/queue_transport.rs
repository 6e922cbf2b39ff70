//! Transport-table values and next hops (Postfix syntax): parsing never
//! panics, and what parses is written back in a form that parses to the
//! same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_queue::deliver::{SmtpNexthop, Transport, TransportTable};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(hop) = SmtpNexthop::parse(text) {
        let again = SmtpNexthop::parse(&hop.to_string()).expect("written back");
        assert_eq!(again, hop);
    }
    let _ = Transport::parse(text);
    let (pattern, value) = text.split_once(' ').unwrap_or(("example.org", text));
    let mut table = TransportTable::new();
    if table.insert_str(pattern, value).is_ok() {
        let _ = table.route(pattern.trim_start_matches('.'));
        let _ = table.route("x.example.org");
    }
});
