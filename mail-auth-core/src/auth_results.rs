//! Authentication-Results (RFC 8601): writing and parsing the header.
