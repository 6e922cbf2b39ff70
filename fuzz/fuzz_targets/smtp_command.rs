//! Arbitrary command lines: parsing never panics, and whatever parses
//! serializes to a line that parses to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_smtp::Command;
use postel_smtp::address::PathSyntax;

fuzz_target!(|data: &[u8]| {
    for lenient in [false, true] {
        let syntax = PathSyntax { lenient };
        if let Ok(cmd) = Command::parse(data, syntax) {
            let wire = cmd.to_bytes();
            let again = Command::parse(&wire[..wire.len() - 2], PathSyntax { lenient: false })
                .expect("a serialized command must parse strictly");
            // Legacy commands and NOOP drop their arguments by design.
            if !matches!(cmd, Command::Legacy(_) | Command::Noop) {
                assert_eq!(again, cmd);
            }
        }
    }
});
