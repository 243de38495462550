//! Storage for mailgrant: one trait, [`Store`], implemented for SQLite and PostgreSQL over the
//! same versioned migrations. Nothing here knows HTTP.

mod authz_rows;
pub mod cache;
mod migrations;
pub mod postgres;
mod rows;
pub mod sqlite;
#[cfg(feature = "test-suite")]
pub mod suite;

use async_trait::async_trait;
use mailgrant_core::model::{
    AccessTokenRecord, Account, App, ClientSecret, Membership, PrivateApp, Role, User,
};
use mailgrant_core::records::{
    AuthorizationCode, Grant, IssuedTokens, LoginThrottle, RefreshTokenRecord, Session,
};
use mailgrant_core::registration::RegistrationToken;
use mailgrant_core::{TokenHash, UnixTime};
use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint said no: the thing exists already.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The database failed; the detail is for the log, not for a client.
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a revocation reached; caches drop entries that match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    Token(TokenHash),
    Family(String),
    Grant(String),
    Client(String),
    PrivateApp(String),
}

impl Revocation {
    pub(crate) fn parts(&self) -> (&'static str, String) {
        match self {
            Revocation::Token(h) => ("token", h.to_hex()),
            Revocation::Family(id) => ("family", id.clone()),
            Revocation::Grant(id) => ("grant", id.clone()),
            Revocation::Client(id) => ("client", id.clone()),
            Revocation::PrivateApp(id) => ("private_app", id.clone()),
        }
    }
    pub(crate) fn from_parts(target: &str, key: String) -> Option<Self> {
        Some(match target {
            "token" => Revocation::Token(TokenHash::from_hex(&key)?),
            "family" => Revocation::Family(key),
            "grant" => Revocation::Grant(key),
            "client" => Revocation::Client(key),
            "private_app" => Revocation::PrivateApp(key),
            _ => return None,
        })
    }
}

/// Which bearer tokens to list.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub account_id: Option<String>,
    pub client_id: Option<String>,
    pub private_app_id: Option<String>,
    pub include_inactive: bool,
}

/// The storage of the authorization server. Writes return only after a durable commit.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs.
    fn backend(&self) -> &'static str;

    // Users, accounts, memberships.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// Create the account and make `owner_id` its owner, in one transaction.
    async fn create_account(&self, account: &Account, owner_id: &str) -> StoreResult<()>;
    async fn account(&self, id: &str) -> StoreResult<Option<Account>>;
    async fn add_member(
        &self,
        account_id: &str,
        user_id: &str,
        role: Role,
        now: UnixTime,
    ) -> StoreResult<()>;
    async fn memberships_of(&self, user_id: &str) -> StoreResult<Vec<Membership>>;

    // Apps (OAuth clients) and their secrets.
    async fn create_app(&self, app: &App, secret: Option<&ClientSecret>) -> StoreResult<()>;
    async fn app(&self, client_id: &str) -> StoreResult<Option<App>>;
    async fn list_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<App>>;
    /// Delete the app and revoke every token issued to it.
    async fn delete_app(&self, client_id: &str, now: UnixTime) -> StoreResult<()>;
    async fn client_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>>;
    /// Add `new` and make every other live secret of the client stop at `old_until`.
    async fn rotate_client_secret(
        &self,
        new: &ClientSecret,
        old_until: UnixTime,
    ) -> StoreResult<()>;

    // Private apps: an account's own integration with one live token.
    async fn create_private_app(
        &self,
        app: &PrivateApp,
        token: &AccessTokenRecord,
    ) -> StoreResult<()>;
    async fn private_app(&self, id: &str) -> StoreResult<Option<PrivateApp>>;
    async fn list_private_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<PrivateApp>>;
    /// Revoke the app's live tokens and store `token` in their place.
    async fn rotate_private_app(
        &self,
        id: &str,
        token: &AccessTokenRecord,
        now: UnixTime,
    ) -> StoreResult<()>;
    async fn revoke_private_app(&self, id: &str, now: UnixTime) -> StoreResult<()>;

    // Bearer tokens.
    async fn insert_access_token(&self, token: &AccessTokenRecord) -> StoreResult<()>;
    async fn access_token(&self, hash: &TokenHash) -> StoreResult<Option<AccessTokenRecord>>;
    /// Revoke one token; false when there was no live token with that hash.
    async fn revoke_access_token(&self, hash: &TokenHash, now: UnixTime) -> StoreResult<bool>;
    async fn list_access_tokens(
        &self,
        filter: &TokenFilter,
        now: UnixTime,
    ) -> StoreResult<Vec<AccessTokenRecord>>;
    /// Delete tokens that expired before `before`; returns how many went.
    async fn purge_expired(&self, before: UnixTime, limit: u32) -> StoreResult<u64>;

    // Revocation log, read by caches.
    async fn revocations_since(&self, seq: i64) -> StoreResult<(i64, Vec<Revocation>)>;

    /// A server-wide secret, created with `make` on first use and shared by every node.
    async fn server_key(
        &self,
        name: &str,
        make: &(dyn Fn() -> String + Sync),
        now: UnixTime,
    ) -> StoreResult<String>;

    // Dynamic client registration (RFC 7591): initial access tokens, kept as hashes.
    async fn create_registration_token(&self, token: &RegistrationToken) -> StoreResult<()>;
    async fn registration_token(&self, hash: &TokenHash) -> StoreResult<Option<RegistrationToken>>;
    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>>;
    /// Revoke a live initial access token; false when there was none with that id.
    async fn revoke_registration_token(&self, id: &str, now: UnixTime) -> StoreResult<bool>;
    /// Create a dynamically registered app. With `token_id`, in the same transaction, count one
    /// use of that initial access token, and create nothing (`NotFound`) unless it is still live
    /// at `app.created_at` (not revoked, not expired, not used up).
    async fn register_app(
        &self,
        app: &App,
        secret: Option<&ClientSecret>,
        token_id: Option<&str>,
    ) -> StoreResult<()>;
    // ---- Authorization-code flow (issue 4): sessions, login throttling, grants, codes,
    // ---- rotating refresh tokens. Every revocation here appends to the revocations log.
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    async fn session(&self, hash: &TokenHash) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, hash: &TokenHash) -> StoreResult<()>;
    async fn login_throttle(&self, email: &str) -> StoreResult<Option<LoginThrottle>>;
    /// Store the throttle state of `email`; `None` clears it.
    async fn set_login_throttle(
        &self,
        email: &str,
        state: Option<&LoginThrottle>,
    ) -> StoreResult<()>;
    /// The live grant of `account_id` to `client_id`, if any.
    async fn live_grant(&self, account_id: &str, client_id: &str) -> StoreResult<Option<Grant>>;
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>>;
    /// Grants, newest first; only live ones unless `include_revoked`.
    async fn list_grants(
        &self,
        account_id: Option<&str>,
        include_revoked: bool,
    ) -> StoreResult<Vec<Grant>>;
    /// Insert a grant, or update scopes/user/updated_at of the live grant with the same id.
    /// A second live grant for the same account and app is a `Conflict`.
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()>;
    /// Revoke a live grant and, in the same transaction, every code and token under it.
    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()>;
    async fn create_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCode>>;
    /// Mark the code used and store `tokens`, atomically. `false` when the code was already used:
    /// then nothing is stored and the code's family is revoked (and that revocation commits).
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool>;
    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>>;
    /// The family's current refresh token: the one neither rotated nor revoked (expired or not).
    /// Families are indexed under their grant.
    async fn current_refresh_token(
        &self,
        grant_id: &str,
        family_id: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>>;
    /// Store `old`'s successors, the refresh token as its family's next generation (which is what
    /// marks `old` rotated), atomically; `false` (storing nothing) when
    /// `old` was already rotated or revoked: another request won.
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// Revoke every refresh and access token of a family (of the grant `grant_id`, which is how
    /// its access tokens are found); false when nothing was live.
    async fn revoke_family(
        &self,
        grant_id: &str,
        family_id: &str,
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// Delete up to `limit` each of the sessions, codes and refresh tokens that expired before
    /// `before`; how many went (fewer than `limit` means none are left).
    async fn purge_expired_authorization(&self, before: UnixTime, limit: u32) -> StoreResult<u64>;
    // ---- Cache support (issue 5): how a cache learns of revocations. Defaults: polling only. ----
    /// The newest revocation-log `seq`, when the backend can read it without a network round trip
    /// (SQLite: a local read of a few microseconds). `None` when it cannot; caches then rely on
    /// [`Store::revocations_since`] polling and [`Store::revocation_signals`].
    fn revocations_head_local(&self) -> Option<StoreResult<i64>> {
        None
    }
    /// Signals, pushed by the database, that the revocation log grew (PostgreSQL `LISTEN`);
    /// `None` when the backend has no such push. The channel closes when the push stops.
    async fn revocation_signals(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<()>>> {
        Ok(None)
    }
}

pub type DynStore = Arc<dyn Store>;
pub use cache::{CacheConfig, CachedStore};

/// Open the store a URL names: `sqlite://path` (or a bare path) or `postgres://…`.
pub async fn open(url: &str) -> StoreResult<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        let path = path.to_string();
        let store = tokio::task::spawn_blocking(move || sqlite::SqliteStore::open(&path))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        Ok(Arc::new(store))
    }
}
