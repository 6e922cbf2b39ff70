//! A secret that never prints and is wiped when dropped.

use std::fmt;

/// Bytes that must not leak: a password, a token, a private key. `Debug`
/// prints `Secret(<n bytes>)`, there is no `Display`, and the bytes are
/// overwritten with zeros when the value is dropped.
///
/// The wipe is a best effort without `unsafe`: the zeros are written and the
/// buffer passed through [`std::hint::black_box`], which keeps the compiler
/// from removing the writes. A secret is never reallocated after it is
/// made, so no stale copy stays behind in freed memory from the secret
/// itself (copies the caller made before are the caller's).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes ownership of the bytes (no copy).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret bytes, for the one place that must use them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, if it is UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s.into_bytes())
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Secret(v)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            *b = 0;
        }
        std::hint::black_box(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_bytes() {
        let s = Secret::from("hunter2");
        let shown = format!("{s:?}");
        assert_eq!(shown, "Secret(<7 bytes>)");
        assert!(!shown.contains("hunter2"));
        assert_eq!(s.expose(), b"hunter2");
        assert_eq!(s.expose_str(), Some("hunter2"));
    }
}
