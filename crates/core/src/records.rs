//! The records of the authorization-code flow: sessions, login throttling, grants, codes and
//! refresh tokens. Storage keeps them; the rules in `grants/` and `login` decide over them.

use crate::clock::UnixTime;
use crate::model::AccessTokenRecord;
use crate::scope::ScopeSet;
use crate::token::TokenHash;

/// A browser session. The cookie holds a random value; only its hash is stored.
#[derive(Debug, Clone)]
pub struct Session {
    pub hash: TokenHash,
    /// `None` until the person logs in.
    pub user_id: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// Consecutive failed logins for one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginThrottle {
    pub failures: i64,
    pub last_failure_at: UnixTime,
    pub locked_until: Option<UnixTime>,
}

/// An account's consent to an app for a set of scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub account_id: String,
    pub client_id: String,
    /// The user who (last) consented.
    pub user_id: String,
    pub scopes: ScopeSet,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    /// When a token was last issued under it, to [`Grant::LAST_USED_PRECISION`].
    pub last_used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

impl Grant {
    /// Seconds a stored last use may lag the true one. Every code exchange and refresh under a
    /// grant would otherwise update its row, and on PostgreSQL that row's lock, held to each
    /// commit, made one grant's issuances wait for each other (the bench's refresh row, all on
    /// one grant: 778/s before, 976/s after).
    pub const LAST_USED_PRECISION: UnixTime = 60;

    /// An issuance at `now` moves a stored last use that is at or before this (or none).
    pub fn last_use_moves_if_at_or_before(now: UnixTime) -> UnixTime {
        now - Self::LAST_USED_PRECISION
    }
}

/// An authorization code as stored (by hash), with everything it is bound to.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub hash: TokenHash,
    pub client_id: String,
    /// The redirect URI given in the authorization request; `None` when it was omitted.
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub account_id: String,
    pub user_id: String,
    pub grant_id: String,
    /// The token family the exchange starts; a replay revokes it.
    pub family_id: String,
    pub scopes: ScopeSet,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// A refresh token as stored (by hash).
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    pub hash: TokenHash,
    pub family_id: String,
    pub grant_id: String,
    pub client_id: String,
    pub account_id: String,
    pub user_id: String,
    pub scopes: ScopeSet,
    pub created_at: UnixTime,
    pub family_created_at: UnixTime,
    /// Idle expiry (or the family's absolute end, whichever is first).
    pub expires_at: UnixTime,
    /// Set when it was exchanged for a successor.
    pub rotated_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

impl RefreshTokenRecord {
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.rotated_at.is_none() && now < self.expires_at
    }
}

/// What one token response stores: an access token and maybe a refresh token.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access: AccessTokenRecord,
    pub refresh: Option<RefreshTokenRecord>,
}
