//! Scopes: `resource.action`, from a fixed catalogue that carries the consent screen's wording.

use crate::error::OAuthError;
use std::collections::BTreeSet;
use std::fmt;

pub struct ScopeInfo {
    pub name: &'static str,
    pub description: &'static str,
}

pub const CATALOGUE: &[ScopeInfo] = &[
    ScopeInfo {
        name: "account.read",
        description: "See your account's name and plan",
    },
    ScopeInfo {
        name: "contacts.read",
        description: "See your contacts and lists",
    },
    ScopeInfo {
        name: "contacts.write",
        description: "Add, change and delete your contacts",
    },
    ScopeInfo {
        name: "campaigns.read",
        description: "See your campaigns",
    },
    ScopeInfo {
        name: "campaigns.write",
        description: "Create and edit campaigns",
    },
    ScopeInfo {
        name: "campaigns.send",
        description: "Send campaigns to your contacts",
    },
    ScopeInfo {
        name: "analytics.read",
        description: "See opens, clicks and other campaign results",
    },
];

pub fn describe(name: &str) -> Option<&'static str> {
    CATALOGUE
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.description)
}

pub fn all_names() -> impl Iterator<Item = &'static str> {
    CATALOGUE.iter().map(|s| s.name)
}

/// A set of known scopes, kept sorted so its text form is canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parse a space-separated list (RFC 6749 §3.3); every entry must be in the catalogue.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        Self::from_names(text.split(' ').filter(|s| !s.is_empty()))
    }

    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for name in names {
            if describe(name).is_none() {
                return Err(OAuthError::invalid_scope(format!(
                    "unknown scope `{}`",
                    printable(name)
                )));
            }
            set.insert(name.to_string());
        }
        Ok(Self(set))
    }

    /// Read a set that storage wrote; unknown names (from an older catalogue) are dropped.
    pub fn from_stored(text: &str) -> Self {
        Self(
            text.split(' ')
                .filter(|s| describe(s).is_some())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// Both sets together (a grant widened by a later consent).
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// The scopes to grant: what was asked for, or everything allowed when nothing was asked.
    /// Asking for more than allowed is `invalid_scope` (RFC 6749 §3.3), never a silent cut.
    pub fn narrow(
        allowed: &ScopeSet,
        requested: Option<&ScopeSet>,
    ) -> Result<ScopeSet, OAuthError> {
        match requested {
            None => Ok(allowed.clone()),
            Some(req) if req.is_empty() => Ok(allowed.clone()),
            Some(req) if req.is_subset(allowed) => Ok(req.clone()),
            Some(req) => {
                let extra: Vec<&str> = req.iter().filter(|s| !allowed.contains(s)).collect();
                Err(OAuthError::invalid_scope(format!(
                    "scope not allowed for this client: {}",
                    extra.join(" ")
                )))
            }
        }
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

/// Echo user input in an error only in a short, printable form.
pub fn printable(input: &str) -> String {
    input
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OAuthErrorCode;

    #[test]
    fn parses_and_canonicalises() {
        let s = ScopeSet::parse("contacts.write  account.read contacts.write").unwrap_or_default();
        assert_eq!(s.to_string(), "account.read contacts.write");
    }

    #[test]
    fn unknown_scope_is_invalid_scope() {
        let err = ScopeSet::parse("contacts.read admin.all").err();
        assert_eq!(err.map(|e| e.code), Some(OAuthErrorCode::InvalidScope));
    }

    #[test]
    fn narrowing_never_widens() {
        let allowed = ScopeSet::parse("contacts.read contacts.write").unwrap_or_default();
        let asked = ScopeSet::parse("contacts.read").unwrap_or_default();
        assert_eq!(ScopeSet::narrow(&allowed, Some(&asked)), Ok(asked));
        assert_eq!(ScopeSet::narrow(&allowed, None), Ok(allowed.clone()));
        let wider = ScopeSet::parse("contacts.read campaigns.send").unwrap_or_default();
        assert!(ScopeSet::narrow(&allowed, Some(&wider)).is_err());
    }
}
