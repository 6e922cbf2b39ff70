//! ARC, the Authenticated Received Chain (RFC 8617): verifying a chain and
//! sealing a message when forwarding it.
//!
//! * Verify: feed a message to an [`ArcVerifier`] in chunks, then
//!   [`ArcVerifier::finish`] gives an [`ArcCheck`]: a
//!   [`Check`](crate::Check) that asks for every key record at once and
//!   ends with an [`ArcOutput`] (`none`, `pass` or `fail`, with the
//!   "oldest-pass" value and what each ARC Set said).
//!   [`verify_arc`] does both for a message in memory;
//!   [`ArcOutput::to_method_result`] gives the Authentication-Results
//!   entry.
//! * Seal: an [`ArcSealer`] (streaming) or [`seal_message`] adds ARC Set
//!   N+1 given the incoming chain's status and this host's
//!   Authentication-Results. A failed chain is not sealed (see
//!   [`SealError::ChainFailed`]).
//! * Parse: [`ArcSeal`], [`ArcMessageSignature`] and
//!   [`ArcAuthenticationResults`] read the three fields.
//!
//! ARC reuses DKIM's pieces: the tag lists, key records (`s._domainkey.d`
//! TXT), canonicalizations, body hashing and signature algorithms.
//! Signatures with `rsa-sha1` or an RSA key under 1024 bits do not verify.

mod header;
mod seal;
mod verify;

pub use header::{
    ARC_AUTHENTICATION_RESULTS, ARC_MESSAGE_SIGNATURE, ARC_SEAL, ArcAuthenticationResults,
    ArcHeaderError, ArcMessageSignature, ArcResult, ArcSeal, MAX_INSTANCE,
};
pub use seal::{ArcSealer, ArcSet, SealError, SealerConfig, seal_message};
pub use verify::{ArcCheck, ArcConfig, ArcOutput, ArcSetInfo, ArcVerifier, verify_arc};
