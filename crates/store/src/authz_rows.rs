//! Columns and row conversion for the authorization-code flow's tables, shared by both backends.

use crate::StoreError;
use mailgrant_core::records::{AuthorizationCode, Grant, RefreshTokenRecord};
use mailgrant_core::{ScopeSet, TokenHash};

pub const GRANT_COLUMNS: &str =
    "id, account_id, client_id, user_id, scopes, created_at, updated_at, last_used_at, revoked_at";

pub const CODE_COLUMNS: &str =
    "hash, client_id, redirect_uri, code_challenge, account_id, user_id, \
     grant_id, family_id, scopes, created_at, expires_at, used_at";

/// The columns a refresh token is written with; its generation is 0 (a family's first token)
/// unless a rotation sets it.
pub const REFRESH_COLUMNS: &str = "hash, family_id, grant_id, client_id, account_id, user_id, \
     scopes, created_at, family_created_at, expires_at, rotated_at, revoked_at";

/// A refresh token as read, from `refresh_tokens r`, in `REFRESH_COLUMNS` order. A rotation does
/// not update the old row (migration 0006): the old token was rotated when its successor (the
/// next generation of its family) was created.
pub const REFRESH_SELECT: &str = "SELECT r.hash, r.family_id, r.grant_id, r.client_id, \
     r.account_id, r.user_id, r.scopes, r.created_at, r.family_created_at, r.expires_at, \
     COALESCE(r.rotated_at, (SELECT s.created_at FROM refresh_tokens s \
     WHERE s.grant_id = r.grant_id AND s.family_id = r.family_id AND s.generation = r.generation + 1)), \
     r.revoked_at FROM refresh_tokens r";

/// A rotation is asked to store no successor refresh token: a caller's bug, refused by both
/// backends before anything is written.
pub fn rotation_without_successor() -> StoreError {
    StoreError::Backend("a rotation must store a successor refresh token".into())
}

pub fn hash(text: &str) -> Result<TokenHash, StoreError> {
    TokenHash::from_hex(text).ok_or_else(|| StoreError::Backend("stored hash is corrupt".into()))
}

pub struct GrantRow(
    pub String,
    pub String,
    pub String,
    pub String,
    pub String,
    pub i64,
    pub i64,
    pub Option<i64>,
    pub Option<i64>,
);

impl GrantRow {
    pub fn into_grant(self) -> Grant {
        Grant {
            id: self.0,
            account_id: self.1,
            client_id: self.2,
            user_id: self.3,
            scopes: ScopeSet::from_stored(&self.4),
            created_at: self.5,
            updated_at: self.6,
            last_used_at: self.7,
            revoked_at: self.8,
        }
    }
}

pub struct CodeRow {
    pub hash: String,
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub account_id: String,
    pub user_id: String,
    pub grant_id: String,
    pub family_id: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl CodeRow {
    pub fn into_code(self) -> Result<AuthorizationCode, StoreError> {
        Ok(AuthorizationCode {
            hash: hash(&self.hash)?,
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            code_challenge: self.code_challenge,
            account_id: self.account_id,
            user_id: self.user_id,
            grant_id: self.grant_id,
            family_id: self.family_id,
            scopes: ScopeSet::from_stored(&self.scopes),
            created_at: self.created_at,
            expires_at: self.expires_at,
            used_at: self.used_at,
        })
    }
}

pub struct RefreshRow {
    pub hash: String,
    pub family_id: String,
    pub grant_id: String,
    pub client_id: String,
    pub account_id: String,
    pub user_id: String,
    pub scopes: String,
    pub created_at: i64,
    pub family_created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl RefreshRow {
    /// Read as a family's last generation: its current token, unless that was revoked (or
    /// rotated before migration 0006 and its successor since purged).
    pub fn into_current(self) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let live = self.rotated_at.is_none() && self.revoked_at.is_none();
        live.then(|| self.into_record()).transpose()
    }

    pub fn into_record(self) -> Result<RefreshTokenRecord, StoreError> {
        Ok(RefreshTokenRecord {
            hash: hash(&self.hash)?,
            family_id: self.family_id,
            grant_id: self.grant_id,
            client_id: self.client_id,
            account_id: self.account_id,
            user_id: self.user_id,
            scopes: ScopeSet::from_stored(&self.scopes),
            created_at: self.created_at,
            family_created_at: self.family_created_at,
            expires_at: self.expires_at,
            rotated_at: self.rotated_at,
            revoked_at: self.revoked_at,
        })
    }
}
