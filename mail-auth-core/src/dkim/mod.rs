//! DKIM (RFC 6376, RFC 8301, RFC 8463): signing, verifying, key records.
