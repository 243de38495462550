//! Initial access tokens for dynamic client registration (RFC 7591 §3): the record, and the rule
//! that decides whether a presented one may register a client now.

use crate::clock::UnixTime;
use crate::error::BearerError;
use crate::token::{self, TokenHash, TokenKind};
use serde::Serialize;

/// An initial access token as stored: its hash, never its value.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationToken {
    pub id: String,
    #[serde(skip)]
    pub hash: TokenHash,
    /// Clients registered with this token belong to this account (client_credentials acts on it).
    pub account_id: Option<String>,
    /// How many clients it may register; `None` means no limit.
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

impl RegistrationToken {
    pub fn new_id() -> String {
        crate::ids::new_id("regt")
    }

    /// Why this token may not register a client at `now`, if it may not.
    pub fn refusal(&self, now: UnixTime) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("the initial access token has been revoked")
        } else if self.expires_at.is_some_and(|exp| now >= exp) {
            Some("the initial access token has expired")
        } else if self.max_uses.is_some_and(|max| self.uses >= max) {
            Some("the initial access token has been used up")
        } else {
            None
        }
    }

    pub fn is_usable(&self, now: UnixTime) -> bool {
        self.refusal(now).is_none()
    }
}

/// Check a presented initial access token's shape before any look-up (RFC 6750 errors).
pub fn check_format(presented: &str) -> Result<(), BearerError> {
    match token::parse(presented) {
        Ok(TokenKind::Registration) => Ok(()),
        Ok(_) => Err(BearerError::InvalidToken(
            "this is not an initial access token".into(),
        )),
        Err(e) => Err(BearerError::InvalidToken(format!("malformed token: {e}"))),
    }
}

/// Decide on a looked-up initial access token.
pub fn authorize(
    record: Option<&RegistrationToken>,
    now: UnixTime,
) -> Result<&RegistrationToken, BearerError> {
    let record =
        record.ok_or_else(|| BearerError::InvalidToken("unknown initial access token".into()))?;
    match record.refusal(now) {
        Some(why) => Err(BearerError::InvalidToken(why.into())),
        None => Ok(record),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn token(max_uses: Option<i64>, uses: i64, expires_at: Option<i64>) -> RegistrationToken {
        RegistrationToken {
            id: "regt_x".into(),
            hash: TokenHash::of("x"),
            account_id: None,
            max_uses,
            uses,
            created_at: 1_000,
            expires_at,
            revoked_at: None,
        }
    }

    #[test]
    fn a_fresh_token_is_usable_until_it_expires() {
        let t = token(None, 0, Some(2_000));
        assert!(t.is_usable(1_999));
        assert_eq!(
            t.refusal(2_000),
            Some("the initial access token has expired")
        );
        assert!(token(None, 1_000_000, None).is_usable(9_999_999));
    }

    #[test]
    fn max_uses_and_revocation_stop_a_token() {
        assert!(token(Some(2), 1, None).is_usable(1_000));
        assert!(!token(Some(2), 2, None).is_usable(1_000));
        let mut t = token(None, 0, None);
        t.revoked_at = Some(1_500);
        assert_eq!(
            authorize(Some(&t), 1_000).unwrap_err(),
            BearerError::InvalidToken("the initial access token has been revoked".into())
        );
        assert!(authorize(None, 1_000).is_err());
    }

    #[test]
    fn only_mgi_tokens_pass_the_format_check() {
        let good = token::generate(TokenKind::Registration);
        assert!(check_format(good.expose()).is_ok());
        let access = token::generate(TokenKind::Access);
        assert!(check_format(access.expose()).is_err());
        assert!(check_format("mgi_short").is_err());
    }
}
