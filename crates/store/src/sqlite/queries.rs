//! The [`Store`] trait over SQLite.

use super::CachedStatements;
use super::{backend, conflict_as, SqliteStore};
use crate::rows::{app_fields, AppRow, TokenRow, APP_COLUMNS, TOKEN_COLUMNS};
use crate::{Revocation, Store, StoreError, StoreResult, TokenFilter};
use async_trait::async_trait;
use mailgrant_core::model::{
    AccessTokenRecord, Account, App, ClientSecret, Membership, PrivateApp, Role, User,
};
use mailgrant_core::records::{
    AuthorizationCode, Grant, IssuedTokens, LoginThrottle, RefreshTokenRecord, Session,
};
use mailgrant_core::registration::RegistrationToken;
use mailgrant_core::{ScopeSet, TokenHash, UnixTime};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::sync::LazyLock;

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        hash: r.get(0)?,
        kind: r.get(1)?,
        account_id: r.get(2)?,
        client_id: r.get(3)?,
        private_app_id: r.get(4)?,
        user_id: r.get(5)?,
        grant_id: r.get(6)?,
        family_id: r.get(7)?,
        scopes: r.get(8)?,
        created_at: r.get(9)?,
        expires_at: r.get(10)?,
        revoked_at: r.get(11)?,
    })
}

fn app_row(r: &Row<'_>) -> rusqlite::Result<AppRow> {
    Ok(AppRow {
        client_id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        redirect_uris: r.get(3)?,
        grant_types: r.get(4)?,
        scopes: r.get(5)?,
        public: r.get(6)?,
        account_id: r.get(7)?,
        created_at: r.get(8)?,
    })
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        password_hash: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn private_app_row(r: &Row<'_>) -> rusqlite::Result<PrivateApp> {
    Ok(PrivateApp {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        scopes: ScopeSet::from_stored(&r.get::<_, String>(3)?),
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

/// Built once: every issued token runs it.
static INSERT_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO access_tokens ({TOKEN_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    )
});

pub(crate) fn insert_token(conn: &Connection, t: &AccessTokenRecord) -> StoreResult<()> {
    conn.prepare_cached(&INSERT_TOKEN)
        .and_then(|mut st| {
            st.execute(params![
                t.hash.to_hex(),
                t.kind.as_str(),
                t.account_id,
                t.client_id,
                t.private_app_id,
                t.user_id,
                t.grant_id,
                t.family_id,
                t.scopes.to_string(),
                t.created_at,
                t.expires_at,
                t.revoked_at,
            ])
        })
        .map_err(conflict_as("token"))?;
    Ok(())
}

pub(crate) fn log_revocation(
    conn: &Connection,
    what: &Revocation,
    now: UnixTime,
) -> StoreResult<()> {
    let (target, key) = what.parts();
    super::signal::note_revocation();
    conn.prepare_cached("INSERT INTO revocations (target, key, created_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![target, key, now]))
        .map_err(backend)?;
    Ok(())
}

fn require(changed: usize, what: &'static str) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let u = user.clone();
        self.write(move |c| {
            c.exec(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![u.id, u.email, u.password_hash, u.created_at],
            )
            .map_err(conflict_as("a user with this email"))?;
            Ok(())
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email.to_string();
        self.read(move |c| {
            c.row(
                "SELECT id, email, password_hash, created_at FROM users WHERE email = ?1",
                [email],
                user_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let id = id.to_string();
        self.read(move |c| {
            c.row(
                "SELECT id, email, password_hash, created_at FROM users WHERE id = ?1",
                [id],
                user_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn create_account(&self, account: &Account, owner_id: &str) -> StoreResult<()> {
        let a = account.clone();
        let owner = owner_id.to_string();
        self.write(move |c| {
            c.exec(
                "INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![a.id, a.name, a.created_at],
            )
            .map_err(conflict_as("account"))?;
            c.exec(
                "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
                params![a.id, owner, a.created_at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        self.lookup(|c| {
            c.row(
                "SELECT id, name, created_at FROM accounts WHERE id = ?1",
                [id],
                |r| {
                    Ok(Account {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn add_member(
        &self,
        account_id: &str,
        user_id: &str,
        role: Role,
        now: UnixTime,
    ) -> StoreResult<()> {
        let (a, u) = (account_id.to_string(), user_id.to_string());
        self.write(move |c| {
            c.exec(
                "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, user_id) DO UPDATE SET role = excluded.role",
                params![a, u, role.as_str(), now],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn memberships_of(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        let u = user_id.to_string();
        self.read(move |c| {
            let mut st = c
                .prepare(
                    "SELECT m.account_id, a.name, m.user_id, m.role FROM memberships m
                     JOIN accounts a ON a.id = m.account_id WHERE m.user_id = ?1 ORDER BY a.name",
                )
                .map_err(backend)?;
            let rows = st
                .query_map([u], |r| {
                    Ok(Membership {
                        account_id: r.get(0)?,
                        account_name: r.get(1)?,
                        user_id: r.get(2)?,
                        role: Role::parse(&r.get::<_, String>(3)?).unwrap_or(Role::Member),
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn create_app(&self, app: &App, secret: Option<&ClientSecret>) -> StoreResult<()> {
        let app = app.clone();
        let secret = secret.cloned();
        self.write(move |c| insert_app(c, &app, secret.as_ref()))
            .await
    }

    async fn app(&self, client_id: &str) -> StoreResult<Option<App>> {
        self.lookup(|c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {APP_COLUMNS} FROM apps WHERE client_id = ?1 AND deleted_at IS NULL"
                ))
                .and_then(|mut st| st.query_row([client_id], app_row).optional())
                .map_err(backend)?;
            row.map(AppRow::into_app).transpose()
        })
        .await
    }

    async fn list_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<App>> {
        let account = account_id.map(str::to_string);
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {APP_COLUMNS} FROM apps WHERE deleted_at IS NULL
                     AND (?1 IS NULL OR account_id = ?1) ORDER BY created_at, client_id"
                ))
                .map_err(backend)?;
            let rows = st.query_map([account], app_row).map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(AppRow::into_app))
                .collect()
        })
        .await
    }

    async fn delete_app(&self, client_id: &str, now: UnixTime) -> StoreResult<()> {
        let id = client_id.to_string();
        self.write(move |c| {
            let n = c
                .exec(
                    "UPDATE apps SET deleted_at = ?2 WHERE client_id = ?1 AND deleted_at IS NULL",
                    params![id, now],
                )
                .map_err(backend)?;
            require(n, "app")?;
            c.exec(
                "UPDATE access_tokens SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )
            .map_err(backend)?;
            c.exec(
                "UPDATE client_secrets SET expires_at = ?2 WHERE client_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                params![id, now],
            )
            .map_err(backend)?;
            log_revocation(c, &Revocation::Client(id.clone()), now)
        })
        .await
    }

    async fn client_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>> {
        self.lookup(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT id, client_id, hash, created_at, expires_at FROM client_secrets WHERE client_id = ?1",
                )
                .map_err(backend)?;
            let rows = st
                .query_map([client_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(backend)?;
            rows.map(|r| {
                let (id, client_id, hash, created_at, expires_at) = r.map_err(backend)?;
                Ok(ClientSecret {
                    id,
                    client_id,
                    hash: TokenHash::from_hex(&hash).ok_or(StoreError::Backend("corrupt secret hash".into()))?,
                    created_at,
                    expires_at,
                })
            })
            .collect()
        })
        .await
    }

    async fn rotate_client_secret(
        &self,
        new: &ClientSecret,
        old_until: UnixTime,
    ) -> StoreResult<()> {
        let s = new.clone();
        self.write(move |c| {
            let live: i64 = c
                .row(
                    "SELECT COUNT(*) FROM apps WHERE client_id = ?1 AND deleted_at IS NULL AND public = 0",
                    [&s.client_id],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if live == 0 {
                return Err(StoreError::NotFound("confidential app"));
            }
            c.exec(
                "UPDATE client_secrets SET expires_at = ?2
                 WHERE client_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                params![s.client_id, old_until],
            )
            .map_err(backend)?;
            insert_secret(c, &s)?;
            log_revocation(c, &Revocation::Client(s.client_id.clone()), s.created_at)
        })
        .await
    }

    async fn create_private_app(
        &self,
        app: &PrivateApp,
        token: &AccessTokenRecord,
    ) -> StoreResult<()> {
        let (app, token) = (app.clone(), token.clone());
        self.write(move |c| {
            c.exec(
                "INSERT INTO private_apps (id, account_id, name, scopes, created_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                params![
                    app.id,
                    app.account_id,
                    app.name,
                    app.scopes.to_string(),
                    app.created_at
                ],
            )
            .map_err(conflict_as("private app"))?;
            insert_token(c, &token)
        })
        .await
    }

    async fn private_app(&self, id: &str) -> StoreResult<Option<PrivateApp>> {
        let id = id.to_string();
        self.read(move |c| {
            c.row(
                "SELECT id, account_id, name, scopes, created_at, revoked_at FROM private_apps WHERE id = ?1",
                [id],
                private_app_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn list_private_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<PrivateApp>> {
        let account = account_id.map(str::to_string);
        self.read(move |c| {
            let mut st = c
                .prepare(
                    "SELECT id, account_id, name, scopes, created_at, revoked_at FROM private_apps
                     WHERE (?1 IS NULL OR account_id = ?1) ORDER BY created_at, id",
                )
                .map_err(backend)?;
            let rows = st.query_map([account], private_app_row).map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn rotate_private_app(
        &self,
        id: &str,
        token: &AccessTokenRecord,
        now: UnixTime,
    ) -> StoreResult<()> {
        let (id, token) = (id.to_string(), token.clone());
        self.write(move |c| {
            let live: i64 = c
                .row(
                    "SELECT COUNT(*) FROM private_apps WHERE id = ?1 AND revoked_at IS NULL",
                    [&id],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            require(live as usize, "live private app")?;
            revoke_private_app_tokens(c, &id, now)?;
            insert_token(c, &token)
        })
        .await
    }

    async fn revoke_private_app(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .exec(
                    "UPDATE private_apps SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, now],
                )
                .map_err(backend)?;
            require(n, "live private app")?;
            revoke_private_app_tokens(c, &id, now)
        })
        .await
    }

    async fn insert_access_token(&self, token: &AccessTokenRecord) -> StoreResult<()> {
        let token = token.clone();
        self.write_one_statement(move |c| insert_token(c, &token))
            .await
    }

    async fn access_token(&self, hash: &TokenHash) -> StoreResult<Option<AccessTokenRecord>> {
        let hex = hash.to_hex();
        self.lookup(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE hash = ?1"
                ))
                .and_then(|mut st| st.query_row([hex], token_row).optional())
                .map_err(backend)?;
            row.map(TokenRow::into_record).transpose()
        })
        .await
    }

    async fn revoke_access_token(&self, hash: &TokenHash, now: UnixTime) -> StoreResult<bool> {
        let hash = *hash;
        self.write(move |c| {
            let n = c
                .exec(
                    "UPDATE access_tokens SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL",
                    params![hash.to_hex(), now],
                )
                .map_err(backend)?;
            if n > 0 {
                log_revocation(c, &Revocation::Token(hash), now)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn list_access_tokens(
        &self,
        filter: &TokenFilter,
        now: UnixTime,
    ) -> StoreResult<Vec<AccessTokenRecord>> {
        let f = filter.clone();
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_tokens
                     WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR client_id = ?2)
                       AND (?3 IS NULL OR private_app_id = ?3)
                       AND (?4 OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?5)))
                     ORDER BY created_at DESC LIMIT 1000"
                ))
                .map_err(backend)?;
            let rows = st
                .query_map(
                    params![
                        f.account_id,
                        f.client_id,
                        f.private_app_id,
                        f.include_inactive,
                        now
                    ],
                    token_row,
                )
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(TokenRow::into_record))
                .collect()
        })
        .await
    }

    async fn purge_expired(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        self.write(move |c| {
            let n = c
                .exec(
                    "DELETE FROM access_tokens WHERE hash IN
                     (SELECT hash FROM access_tokens WHERE expires_at < ?1 LIMIT ?2)",
                    params![before, limit],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn revocations_since(&self, seq: i64) -> StoreResult<(i64, Vec<Revocation>)> {
        self.read(move |c| {
            if seq < 0 {
                let last: i64 = c
                    .row("SELECT COALESCE(MAX(seq), 0) FROM revocations", [], |r| r.get(0))
                    .map_err(backend)?;
                return Ok((last, Vec::new()));
            }
            let mut st = c
                .prepare_cached("SELECT seq, target, key FROM revocations WHERE seq > ?1 ORDER BY seq LIMIT 1000")
                .map_err(backend)?;
            let rows = st
                .query_map([seq], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
                .map_err(backend)?;
            let mut last = seq;
            let mut out = Vec::new();
            for row in rows {
                let (s, target, key) = row.map_err(backend)?;
                last = s;
                out.extend(Revocation::from_parts(&target, key));
            }
            Ok((last, out))
        })
        .await
    }

    async fn server_key(
        &self,
        name: &str,
        make: &(dyn Fn() -> String + Sync),
        now: UnixTime,
    ) -> StoreResult<String> {
        let (name, fresh) = (name.to_string(), make());
        self.write(move |c| {
            c.exec(
                "INSERT INTO server_keys (name, value, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
                params![name, fresh, now],
            )
            .map_err(backend)?;
            c.row("SELECT value FROM server_keys WHERE name = ?1", [&name], |r| r.get(0))
                .map_err(backend)
        })
        .await
    }

    // ---- Authorization-code flow (issue 4): implemented in authz.rs.
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.sq_create_session(session).await
    }
    async fn session(&self, hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.sq_session(hash).await
    }
    async fn delete_session(&self, hash: &TokenHash) -> StoreResult<()> {
        self.sq_delete_session(hash).await
    }
    async fn login_throttle(&self, email: &str) -> StoreResult<Option<LoginThrottle>> {
        self.sq_login_throttle(email).await
    }
    async fn set_login_throttle(
        &self,
        email: &str,
        state: Option<&LoginThrottle>,
    ) -> StoreResult<()> {
        self.sq_set_login_throttle(email, state).await
    }
    async fn live_grant(&self, account_id: &str, client_id: &str) -> StoreResult<Option<Grant>> {
        self.sq_live_grant(account_id, client_id).await
    }
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        self.sq_grant(id).await
    }
    async fn list_grants(
        &self,
        account_id: Option<&str>,
        include_revoked: bool,
    ) -> StoreResult<Vec<Grant>> {
        self.sq_list_grants(account_id, include_revoked).await
    }
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        self.sq_save_grant(grant).await
    }
    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        self.sq_revoke_grant(id, now).await
    }
    async fn create_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        self.sq_create_code(code).await
    }
    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCode>> {
        self.sq_code(hash).await
    }
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.sq_redeem_code(hash, tokens, now).await
    }
    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
        self.sq_refresh_token(hash).await
    }
    async fn current_refresh_token(
        &self,
        grant_id: &str,
        family_id: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        self.sq_current_refresh_token(grant_id, family_id).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.sq_rotate_refresh_token(old, tokens, now).await
    }
    async fn revoke_family(
        &self,
        grant_id: &str,
        family_id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.sq_revoke_family(grant_id, family_id, now).await
    }
    async fn purge_expired_authorization(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        self.sq_purge_expired_authorization(before, limit).await
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
    fn revocations_head_local(&self) -> Option<StoreResult<i64>> {
        Some(self.revocations_head())
    }
}

/// Insert an app and its first secret (inside the caller's savepoint).
pub(crate) fn insert_app(
    c: &Connection,
    app: &App,
    secret: Option<&ClientSecret>,
) -> StoreResult<()> {
    let (redirect_uris, grant_types) = app_fields(app);
    c.exec(
        &format!("INSERT INTO apps ({APP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            app.client_id,
            app.name,
            app.description,
            redirect_uris,
            grant_types,
            app.scopes.to_string(),
            app.public as i32,
            app.account_id,
            app.created_at
        ],
    )
    .map_err(conflict_as("app"))?;
    if let Some(s) = secret {
        insert_secret(c, s)?;
    }
    Ok(())
}

fn insert_secret(c: &Connection, s: &ClientSecret) -> StoreResult<()> {
    c.exec(
        "INSERT INTO client_secrets (id, client_id, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![s.id, s.client_id, s.hash.to_hex(), s.created_at, s.expires_at],
    )
    .map_err(conflict_as("client secret"))?;
    Ok(())
}

fn revoke_private_app_tokens(c: &Connection, id: &str, now: UnixTime) -> StoreResult<()> {
    c.exec(
        "UPDATE access_tokens SET revoked_at = ?2 WHERE private_app_id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )
    .map_err(backend)?;
    log_revocation(c, &Revocation::PrivateApp(id.to_string()), now)
}
