//! The [`Store`] trait over PostgreSQL.

use super::batch::insert_all;
use super::{backend, conflict_as, PostgresStore, Prepared};
use crate::rows::{app_fields, AppRow, TokenRow, APP_COLUMNS, TOKEN_COLUMNS};
use crate::{Revocation, Store, StoreError, StoreResult, TokenFilter};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use mailgrant_core::model::{
    AccessTokenRecord, Account, App, ClientSecret, Membership, PrivateApp, Role, User,
};
use mailgrant_core::records::{
    AuthorizationCode, Grant, IssuedTokens, LoginThrottle, RefreshTokenRecord, Session,
};
use mailgrant_core::registration::RegistrationToken;
use mailgrant_core::{ScopeSet, TokenHash, UnixTime};
use tokio_postgres::Row;

fn token_row(r: &Row) -> TokenRow {
    TokenRow {
        hash: r.get(0),
        kind: r.get(1),
        account_id: r.get(2),
        client_id: r.get(3),
        private_app_id: r.get(4),
        user_id: r.get(5),
        grant_id: r.get(6),
        family_id: r.get(7),
        scopes: r.get(8),
        created_at: r.get(9),
        expires_at: r.get(10),
        revoked_at: r.get(11),
    }
}

fn app_row(r: &Row) -> AppRow {
    AppRow {
        client_id: r.get(0),
        name: r.get(1),
        description: r.get(2),
        redirect_uris: r.get(3),
        grant_types: r.get(4),
        scopes: r.get(5),
        public: r.get(6),
        account_id: r.get(7),
        created_at: r.get(8),
    }
}

fn user_row(r: &Row) -> User {
    User {
        id: r.get(0),
        email: r.get(1),
        password_hash: r.get(2),
        created_at: r.get(3),
    }
}

fn private_app_row(r: &Row) -> PrivateApp {
    PrivateApp {
        id: r.get(0),
        account_id: r.get(1),
        name: r.get(2),
        scopes: ScopeSet::from_stored(r.get(3)),
        created_at: r.get(4),
        revoked_at: r.get(5),
    }
}

pub(crate) async fn insert_token(c: &impl GenericClient, t: &AccessTokenRecord) -> StoreResult<()> {
    insert_all(c, &[t]).await
}

/// An arbitrary constant naming the lock that orders the revocation log.
const REVOCATION_LOG_LOCK: i64 = 0x6d67_7265_766f;

pub(crate) async fn log_revocation(
    c: &impl GenericClient,
    what: &Revocation,
    now: UnixTime,
) -> StoreResult<()> {
    let (target, key) = what.parts();
    // Revocations take turns (until commit), so `seq` order is commit order and a cache reading
    // `seq > last` can never skip one that committed late with a smaller number.
    c.execute_cached("SELECT pg_advisory_xact_lock($1)", &[&REVOCATION_LOG_LOCK])
        .await
        .map_err(backend)?;
    c.execute_cached(
        "INSERT INTO revocations (target, key, created_at) VALUES ($1, $2, $3)",
        &[&target, &key, &now],
    )
    .await
    .map_err(backend)?;
    // Wake the caches of every node at once; the log above stays the source of truth.
    c.execute_cached("SELECT pg_notify('mailgrant_revocations', '')", &[])
        .await
        .map_err(backend)?;
    Ok(())
}

fn require(changed: u64, what: &'static str) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}

/// Insert an app and its first secret (inside the caller's transaction).
pub(crate) async fn insert_app(
    c: &impl GenericClient,
    app: &App,
    secret: Option<&ClientSecret>,
) -> StoreResult<()> {
    let (redirect_uris, grant_types) = app_fields(app);
    c.execute_cached(
        &format!("INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
        &[
            &app.client_id,
            &app.name,
            &app.description,
            &redirect_uris,
            &grant_types,
            &app.scopes.to_string(),
            &(app.public as i32),
            &app.account_id,
            &app.created_at,
        ],
    )
    .await
    .map_err(conflict_as("app"))?;
    if let Some(s) = secret {
        insert_secret(c, s).await?;
    }
    Ok(())
}

async fn insert_secret(c: &impl GenericClient, s: &ClientSecret) -> StoreResult<()> {
    c.execute_cached(
        "INSERT INTO client_secrets (id, client_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[&s.id, &s.client_id, &s.hash.to_hex(), &s.created_at, &s.expires_at],
    )
    .await
    .map_err(conflict_as("client secret"))?;
    Ok(())
}

async fn revoke_private_app_tokens(
    c: &impl GenericClient,
    id: &str,
    now: UnixTime,
) -> StoreResult<()> {
    c.execute_cached(
        "UPDATE access_tokens SET revoked_at = $2 WHERE private_app_id = $1 AND revoked_at IS NULL",
        &[&id, &now],
    )
    .await
    .map_err(backend)?;
    log_revocation(c, &Revocation::PrivateApp(id.to_string()), now).await
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn create_user(&self, u: &User) -> StoreResult<()> {
        self.client()
            .await?
            .execute_cached(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                &[&u.id, &u.email, &u.password_hash, &u.created_at],
            )
            .await
            .map_err(conflict_as("a user with this email"))?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                "SELECT id, email, password_hash, created_at FROM users WHERE email = $1",
                &[&email],
            )
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(user_row))
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                "SELECT id, email, password_hash, created_at FROM users WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(user_row))
    }

    async fn create_account(&self, a: &Account, owner_id: &str) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute_cached(
            "INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)",
            &[&a.id, &a.name, &a.created_at],
        )
        .await
        .map_err(conflict_as("account"))?;
        tx.execute_cached(
            "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
            &[&a.id, &owner_id, &a.created_at],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                "SELECT id, name, created_at FROM accounts WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|r| Account {
            id: r.get(0),
            name: r.get(1),
            created_at: r.get(2),
        }))
    }

    async fn add_member(
        &self,
        account_id: &str,
        user_id: &str,
        role: Role,
        now: UnixTime,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_cached(
                "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account_id, user_id) DO UPDATE SET role = excluded.role",
                &[&account_id, &user_id, &role.as_str(), &now],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn memberships_of(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        let rows = self
            .client()
            .await?
            .query_cached(
                "SELECT m.account_id, a.name, m.user_id, m.role FROM memberships m
                 JOIN accounts a ON a.id = m.account_id WHERE m.user_id = $1 ORDER BY a.name",
                &[&user_id],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| Membership {
                account_id: r.get(0),
                account_name: r.get(1),
                user_id: r.get(2),
                role: Role::parse(r.get(3)).unwrap_or(Role::Member),
            })
            .collect())
    }

    async fn create_app(&self, app: &App, secret: Option<&ClientSecret>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        insert_app(&tx, app, secret).await?;
        tx.commit().await.map_err(backend)
    }

    async fn app(&self, client_id: &str) -> StoreResult<Option<App>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                &format!(
                    "SELECT {APP_COLUMNS} FROM apps WHERE client_id = $1 AND deleted_at IS NULL"
                ),
                &[&client_id],
            )
            .await
            .map_err(backend)?;
        row.as_ref().map(|r| app_row(r).into_app()).transpose()
    }

    async fn list_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<App>> {
        let rows = self
            .client()
            .await?
            .query_cached(
                &format!(
                    "SELECT {APP_COLUMNS} FROM apps WHERE deleted_at IS NULL
                     AND ($1::TEXT IS NULL OR account_id = $1) ORDER BY created_at, client_id"
                ),
                &[&account_id],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(|r| app_row(r).into_app()).collect()
    }

    async fn delete_app(&self, client_id: &str, now: UnixTime) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let n = tx
            .execute_cached(
                "UPDATE apps SET deleted_at = $2 WHERE client_id = $1 AND deleted_at IS NULL",
                &[&client_id, &now],
            )
            .await
            .map_err(backend)?;
        require(n, "app")?;
        tx.execute_cached(
            "UPDATE access_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
            &[&client_id, &now],
        )
        .await
        .map_err(backend)?;
        tx.execute_cached(
            "UPDATE client_secrets SET expires_at = $2 WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
            &[&client_id, &now],
        )
        .await
        .map_err(backend)?;
        log_revocation(&tx, &Revocation::Client(client_id.to_string()), now).await?;
        tx.commit().await.map_err(backend)
    }

    async fn client_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>> {
        let rows = self
            .client()
            .await?
            .query_cached(
                "SELECT id, client_id, hash, created_at, expires_at FROM client_secrets WHERE client_id = $1",
                &[&client_id],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(ClientSecret {
                    id: r.get(0),
                    client_id: r.get(1),
                    hash: TokenHash::from_hex(r.get(2))
                        .ok_or(StoreError::Backend("corrupt secret hash".into()))?,
                    created_at: r.get(3),
                    expires_at: r.get(4),
                })
            })
            .collect()
    }

    async fn rotate_client_secret(&self, s: &ClientSecret, old_until: UnixTime) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let live = tx
            .query_opt_cached(
                "SELECT 1 FROM apps WHERE client_id = $1 AND deleted_at IS NULL AND public = 0 FOR UPDATE",
                &[&s.client_id],
            )
            .await
            .map_err(backend)?;
        if live.is_none() {
            return Err(StoreError::NotFound("confidential app"));
        }
        tx.execute_cached(
            "UPDATE client_secrets SET expires_at = $2
             WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
            &[&s.client_id, &old_until],
        )
        .await
        .map_err(backend)?;
        insert_secret(&tx, s).await?;
        log_revocation(&tx, &Revocation::Client(s.client_id.clone()), s.created_at).await?;
        tx.commit().await.map_err(backend)
    }

    async fn create_private_app(
        &self,
        app: &PrivateApp,
        token: &AccessTokenRecord,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute_cached(
            "INSERT INTO private_apps (id, account_id, name, scopes, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, NULL)",
            &[
                &app.id,
                &app.account_id,
                &app.name,
                &app.scopes.to_string(),
                &app.created_at,
            ],
        )
        .await
        .map_err(conflict_as("private app"))?;
        insert_token(&tx, token).await?;
        tx.commit().await.map_err(backend)
    }

    async fn private_app(&self, id: &str) -> StoreResult<Option<PrivateApp>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                "SELECT id, account_id, name, scopes, created_at, revoked_at FROM private_apps WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(private_app_row))
    }

    async fn list_private_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<PrivateApp>> {
        let rows = self
            .client()
            .await?
            .query_cached(
                "SELECT id, account_id, name, scopes, created_at, revoked_at FROM private_apps
                 WHERE ($1::TEXT IS NULL OR account_id = $1) ORDER BY created_at, id",
                &[&account_id],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(private_app_row).collect())
    }

    async fn rotate_private_app(
        &self,
        id: &str,
        token: &AccessTokenRecord,
        now: UnixTime,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let live = tx
            .query_opt_cached(
                "SELECT 1 FROM private_apps WHERE id = $1 AND revoked_at IS NULL FOR UPDATE",
                &[&id],
            )
            .await
            .map_err(backend)?;
        if live.is_none() {
            return Err(StoreError::NotFound("live private app"));
        }
        revoke_private_app_tokens(&tx, id, now).await?;
        insert_token(&tx, token).await?;
        tx.commit().await.map_err(backend)
    }

    async fn revoke_private_app(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let n = tx
            .execute_cached(
                "UPDATE private_apps SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now],
            )
            .await
            .map_err(backend)?;
        require(n, "live private app")?;
        revoke_private_app_tokens(&tx, id, now).await?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_access_token(&self, token: &AccessTokenRecord) -> StoreResult<()> {
        self.tokens.insert(token.clone()).await
    }

    async fn access_token(&self, hash: &TokenHash) -> StoreResult<Option<AccessTokenRecord>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                &format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE hash = $1"),
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?;
        row.as_ref().map(|r| token_row(r).into_record()).transpose()
    }

    async fn revoke_access_token(&self, hash: &TokenHash, now: UnixTime) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let n = tx
            .execute_cached(
                "UPDATE access_tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
                &[&hash.to_hex(), &now],
            )
            .await
            .map_err(backend)?;
        if n > 0 {
            log_revocation(&tx, &Revocation::Token(*hash), now).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_access_tokens(
        &self,
        f: &TokenFilter,
        now: UnixTime,
    ) -> StoreResult<Vec<AccessTokenRecord>> {
        let rows = self
            .client()
            .await?
            .query_cached(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_tokens
                     WHERE ($1::TEXT IS NULL OR account_id = $1) AND ($2::TEXT IS NULL OR client_id = $2)
                       AND ($3::TEXT IS NULL OR private_app_id = $3)
                       AND ($4 OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $5)))
                     ORDER BY created_at DESC LIMIT 1000"
                ),
                &[&f.account_id, &f.client_id, &f.private_app_id, &f.include_inactive, &now],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(|r| token_row(r).into_record()).collect()
    }

    async fn purge_expired(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        self.client()
            .await?
            .execute_cached(
                "DELETE FROM access_tokens WHERE hash IN
                 (SELECT hash FROM access_tokens WHERE expires_at < $1 LIMIT $2)",
                &[&before, &(limit as i64)],
            )
            .await
            .map_err(backend)
    }

    async fn revocations_since(&self, seq: i64) -> StoreResult<(i64, Vec<Revocation>)> {
        let client = self.client().await?;
        if seq < 0 {
            let row = client
                .query_one_cached("SELECT COALESCE(MAX(seq), 0) FROM revocations", &[])
                .await
                .map_err(backend)?;
            return Ok((row.get(0), Vec::new()));
        }
        let rows = client
            .query_cached(
                "SELECT seq, target, key FROM revocations WHERE seq > $1 ORDER BY seq LIMIT 1000",
                &[&seq],
            )
            .await
            .map_err(backend)?;
        let mut last = seq;
        let mut out = Vec::new();
        for r in rows {
            last = r.get(0);
            out.extend(Revocation::from_parts(r.get(1), r.get(2)));
        }
        Ok((last, out))
    }

    async fn server_key(
        &self,
        name: &str,
        make: &(dyn Fn() -> String + Sync),
        now: UnixTime,
    ) -> StoreResult<String> {
        let client = self.client().await?;
        client
            .execute_cached(
                "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                &[&name, &make(), &now],
            )
            .await
            .map_err(backend)?;
        let row = client
            .query_one_cached("SELECT value FROM server_keys WHERE name = $1", &[&name])
            .await
            .map_err(backend)?;
        Ok(row.get(0))
    }

    // ---- Authorization-code flow (issue 4): implemented in authz.rs.
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.pg_create_session(session).await
    }
    async fn session(&self, hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.pg_session(hash).await
    }
    async fn delete_session(&self, hash: &TokenHash) -> StoreResult<()> {
        self.pg_delete_session(hash).await
    }
    async fn login_throttle(&self, email: &str) -> StoreResult<Option<LoginThrottle>> {
        self.pg_login_throttle(email).await
    }
    async fn set_login_throttle(
        &self,
        email: &str,
        state: Option<&LoginThrottle>,
    ) -> StoreResult<()> {
        self.pg_set_login_throttle(email, state).await
    }
    async fn live_grant(&self, account_id: &str, client_id: &str) -> StoreResult<Option<Grant>> {
        self.pg_live_grant(account_id, client_id).await
    }
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        self.pg_grant(id).await
    }
    async fn list_grants(
        &self,
        account_id: Option<&str>,
        include_revoked: bool,
    ) -> StoreResult<Vec<Grant>> {
        self.pg_list_grants(account_id, include_revoked).await
    }
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        self.pg_save_grant(grant).await
    }
    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        self.pg_revoke_grant(id, now).await
    }
    async fn create_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        self.pg_create_code(code).await
    }
    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCode>> {
        self.pg_code(hash).await
    }
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.pg_redeem_code(hash, tokens, now).await
    }
    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
        self.pg_refresh_token(hash).await
    }
    async fn current_refresh_token(
        &self,
        grant_id: &str,
        family_id: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        self.pg_current_refresh_token(grant_id, family_id).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.pg_rotate_refresh_token(old, tokens, now).await
    }
    async fn revoke_family(
        &self,
        grant_id: &str,
        family_id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.pg_revoke_family(grant_id, family_id, now).await
    }
    async fn purge_expired_authorization(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        self.pg_purge_expired_authorization(before, limit).await
    }
    // Dynamic client registration (RFC 7591); the queries are in registration.rs.
    async fn create_registration_token(&self, token: &RegistrationToken) -> StoreResult<()> {
        self.create_registration_token_impl(token).await
    }
    async fn registration_token(&self, hash: &TokenHash) -> StoreResult<Option<RegistrationToken>> {
        self.registration_token_impl(hash).await
    }
    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>> {
        self.list_registration_tokens_impl().await
    }
    async fn revoke_registration_token(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        self.revoke_registration_token_impl(id, now).await
    }
    async fn register_app(
        &self,
        app: &App,
        secret: Option<&ClientSecret>,
        token_id: Option<&str>,
    ) -> StoreResult<()> {
        self.register_app_impl(app, secret, token_id).await
    }
    async fn revocation_signals(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<()>>> {
        self.listen_revocations().await.map(Some)
    }
}
