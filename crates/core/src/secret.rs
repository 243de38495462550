//! A secret value in memory: never printed by `Debug`, compared in constant time.

use std::fmt;
use subtle::ConstantTimeEq;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value itself. Callers use it to hash it or to show it once; never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("mgs_supersecret");
        assert!(!format!("{s:?}").contains("supersecret"));
        assert!(s.ct_eq("mgs_supersecret"));
        assert!(!s.ct_eq("mgs_other"));
    }
}
