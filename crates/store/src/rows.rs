//! Turning stored columns into domain records, shared by both backends.

use crate::StoreError;
use mailgrant_core::model::{AccessTokenRecord, App, GrantType};
use mailgrant_core::{ScopeSet, TokenHash, TokenKind};

pub const TOKEN_COLUMNS: &str =
    "hash, kind, account_id, client_id, private_app_id, user_id, grant_id, \
     family_id, scopes, created_at, expires_at, revoked_at";

pub const APP_COLUMNS: &str =
    "client_id, name, description, redirect_uris, grant_types, scopes, public, account_id, created_at";

/// The columns of `access_tokens`, as either backend reads them.
pub struct TokenRow {
    pub hash: String,
    pub kind: String,
    pub account_id: String,
    pub client_id: Option<String>,
    pub private_app_id: Option<String>,
    pub user_id: Option<String>,
    pub grant_id: Option<String>,
    pub family_id: Option<String>,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenRow {
    pub fn into_record(self) -> Result<AccessTokenRecord, StoreError> {
        Ok(AccessTokenRecord {
            hash: TokenHash::from_hex(&self.hash).ok_or_else(|| corrupt("token hash"))?,
            kind: TokenKind::parse(&self.kind).ok_or_else(|| corrupt("token kind"))?,
            account_id: self.account_id,
            client_id: self.client_id,
            private_app_id: self.private_app_id,
            user_id: self.user_id,
            grant_id: self.grant_id,
            family_id: self.family_id,
            scopes: ScopeSet::from_stored(&self.scopes),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}

pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub public: i32,
    pub account_id: Option<String>,
    pub created_at: i64,
}

impl AppRow {
    pub fn into_app(self) -> Result<App, StoreError> {
        Ok(App {
            client_id: self.client_id,
            name: self.name,
            description: self.description,
            redirect_uris: serde_json::from_str(&self.redirect_uris)
                .map_err(|_| corrupt("redirect URIs"))?,
            grant_types: self
                .grant_types
                .split(' ')
                .filter_map(GrantType::parse)
                .collect(),
            scopes: ScopeSet::from_stored(&self.scopes),
            public: self.public != 0,
            account_id: self.account_id,
            created_at: self.created_at,
        })
    }
}

/// The stored text forms of an app's list fields.
pub fn app_fields(app: &App) -> (String, String) {
    let redirect_uris = serde_json::to_string(&app.redirect_uris).unwrap_or_else(|_| "[]".into());
    let grant_types = app
        .grant_types
        .iter()
        .map(|g| g.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    (redirect_uris, grant_types)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} is corrupt"))
}
