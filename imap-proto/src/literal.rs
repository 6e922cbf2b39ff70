//! Literal forms (RFC 9051 §4.3, RFC 7888): which non-synchronizing
//! literals a server accepts.
//!
//! Both LITERAL+ and LITERAL- use the `{n+}` syntax; LITERAL- only bounds
//! its size. There is no `{n-}` form.

/// Which non-synchronizing literals the server accepts (RFC 7888), for the
/// writer (which form to send) and the reader (which form to allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonSyncLiterals {
    /// Neither LITERAL+ nor LITERAL-: every literal is synchronizing.
    #[default]
    Refused,
    /// LITERAL+: any literal may be non-synchronizing.
    Plus,
    /// LITERAL-: non-synchronizing literals of at most 4096 bytes.
    Minus,
}

/// The largest non-synchronizing literal under LITERAL- (RFC 7888 §5).
pub const LITERAL_MINUS_MAX: u64 = 4096;
