//! SPF (RFC 7208): record parsing, macro expansion and the evaluation machine.
