//! iprev (RFC 8601 §3): forward-confirmed reverse DNS of the client address.
