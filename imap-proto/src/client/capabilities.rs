//! What the server advertised.

use postel_sasl::Mechanism;

use crate::literal::NonSyncLiterals;

/// The server's capability list, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    list: Vec<String>,
}

impl Capabilities {
    /// From the atoms of a CAPABILITY response or code.
    pub fn new<S: AsRef<str>>(atoms: &[S]) -> Self {
        Self {
            list: atoms
                .iter()
                .map(|a| a.as_ref().to_ascii_uppercase())
                .collect(),
        }
    }

    /// The capabilities, upper-cased, in the server's order.
    pub fn as_slice(&self) -> &[String] {
        &self.list
    }

    /// Whether `name` is advertised (ASCII case-insensitive).
    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// `IMAP4rev2` (RFC 9051).
    pub fn imap4rev2(&self) -> bool {
        self.has("IMAP4rev2")
    }

    /// `IDLE` (RFC 2177; part of IMAP4rev2).
    pub fn idle(&self) -> bool {
        self.has("IDLE") || self.imap4rev2()
    }

    /// `SASL-IR` (RFC 4959).
    pub fn sasl_ir(&self) -> bool {
        self.has("SASL-IR")
    }

    /// `LOGINDISABLED`.
    pub fn login_disabled(&self) -> bool {
        self.has("LOGINDISABLED")
    }

    /// `STARTTLS`.
    pub fn starttls(&self) -> bool {
        self.has("STARTTLS")
    }

    /// Whether `AUTH=<mechanism>` is advertised.
    pub fn offers(&self, mechanism: Mechanism) -> bool {
        self.auth_mechanisms()
            .any(|m| m.eq_ignore_ascii_case(mechanism.name()))
    }

    /// The mechanism names of the `AUTH=` capabilities.
    pub fn auth_mechanisms(&self) -> impl Iterator<Item = &str> {
        self.list.iter().filter_map(|c| c.strip_prefix("AUTH="))
    }

    /// Which non-synchronizing literals the server accepts: LITERAL+, else
    /// LITERAL- (which IMAP4rev2 includes), else none.
    pub fn non_sync_literals(&self) -> NonSyncLiterals {
        if self.has("LITERAL+") {
            NonSyncLiterals::Plus
        } else if self.has("LITERAL-") || self.imap4rev2() {
            NonSyncLiterals::Minus
        } else {
            NonSyncLiterals::Refused
        }
    }
}
