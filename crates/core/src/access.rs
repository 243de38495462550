//! The rule of the resource API: may this bearer token do this?

use crate::clock::UnixTime;
use crate::error::BearerError;
use crate::model::AccessTokenRecord;
use crate::token::{self, TokenKind};

/// Check the shape of a presented bearer token before any look-up. Only access and
/// private-app tokens are bearer tokens; a refresh token or a secret is refused here.
pub fn check_bearer_format(presented: &str) -> Result<(), BearerError> {
    match token::parse(presented) {
        Ok(TokenKind::Access | TokenKind::PrivateApp) => Ok(()),
        Ok(_) => Err(BearerError::InvalidToken(
            "this kind of token is not a bearer token".into(),
        )),
        Err(e) => Err(BearerError::InvalidToken(format!("malformed token: {e}"))),
    }
}

/// Decide on a looked-up token: unknown, expired, revoked, or lacking the scope.
pub fn authorize(
    record: Option<&AccessTokenRecord>,
    required_scope: &str,
    now: UnixTime,
) -> Result<(), BearerError> {
    let Some(record) = record else {
        return Err(BearerError::InvalidToken("unknown token".into()));
    };
    if record.revoked_at.is_some() {
        return Err(BearerError::InvalidToken(
            "the token has been revoked".into(),
        ));
    }
    if record.expires_at.is_some_and(|exp| now >= exp) {
        return Err(BearerError::InvalidToken("the token has expired".into()));
    }
    if !record.scopes.contains(required_scope) {
        return Err(BearerError::InsufficientScope(required_scope.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ScopeSet, TokenHash};

    fn record(expires_at: Option<i64>, revoked_at: Option<i64>) -> AccessTokenRecord {
        AccessTokenRecord {
            hash: TokenHash::of("x"),
            kind: TokenKind::Access,
            account_id: "acct_1".into(),
            client_id: None,
            private_app_id: None,
            user_id: None,
            grant_id: None,
            family_id: None,
            scopes: ScopeSet::parse("account.read").unwrap_or_default(),
            created_at: 0,
            expires_at,
            revoked_at,
        }
    }

    #[test]
    fn each_failure_is_told_apart() {
        assert_eq!(
            authorize(Some(&record(Some(100), None)), "account.read", 50),
            Ok(())
        );
        assert!(matches!(
            authorize(None, "account.read", 50),
            Err(BearerError::InvalidToken(_))
        ));
        assert!(matches!(
            authorize(Some(&record(Some(100), None)), "account.read", 100),
            Err(BearerError::InvalidToken(d)) if d.contains("expired")
        ));
        assert!(matches!(
            authorize(Some(&record(None, Some(10))), "account.read", 50),
            Err(BearerError::InvalidToken(d)) if d.contains("revoked")
        ));
        assert_eq!(
            authorize(Some(&record(None, None)), "contacts.read", 50),
            Err(BearerError::InsufficientScope("contacts.read".into()))
        );
    }

    #[test]
    fn format_is_checked_first() {
        assert!(check_bearer_format("mga_nonsense").is_err());
        let refresh = token::generate(TokenKind::Refresh);
        assert!(check_bearer_format(refresh.expose()).is_err());
        let access = token::generate(TokenKind::Access);
        assert!(check_bearer_format(access.expose()).is_ok());
    }
}
