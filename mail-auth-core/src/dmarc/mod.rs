//! DMARC (RFC 7489): records, discovery, alignment, policy and reports.
