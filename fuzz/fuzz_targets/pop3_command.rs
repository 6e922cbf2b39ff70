//! Arbitrary bytes through the POP3 command parser: no panic, and every
//! command that parses writes back to a line that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_pop3::Command;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = Command::parse(data) {
        let bytes = command.to_bytes();
        assert!(bytes.ends_with(b"\r\n"));
        let again = Command::parse(&bytes[..bytes.len() - 2]).expect("written command parses");
        assert_eq!(again, command);
    }
});
