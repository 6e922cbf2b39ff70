//! RFC 5322 message splitting: header fields (raw and unfolded) and the body.
