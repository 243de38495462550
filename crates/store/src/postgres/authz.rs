//! The authorization-code flow's storage over PostgreSQL; the trait methods in `queries.rs`
//! delegate here.

use super::queries::{insert_token, log_revocation};
use super::{backend, conflict_as, PostgresStore};
use crate::authz_rows::{
    CodeRow, GrantRow, RefreshRow, CODE_COLUMNS, GRANT_COLUMNS, REFRESH_COLUMNS,
};
use crate::{Revocation, StoreError, StoreResult};
use deadpool_postgres::GenericClient;
use mailgrant_core::records::{
    AuthorizationCode, Grant, IssuedTokens, LoginThrottle, RefreshTokenRecord, Session,
};
use mailgrant_core::{TokenHash, UnixTime};
use tokio_postgres::Row;

fn grant_row(r: &Row) -> Grant {
    GrantRow(
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
    )
    .into_grant()
}

fn code_row(r: &Row) -> CodeRow {
    CodeRow {
        hash: r.get(0),
        client_id: r.get(1),
        redirect_uri: r.get(2),
        code_challenge: r.get(3),
        account_id: r.get(4),
        user_id: r.get(5),
        grant_id: r.get(6),
        family_id: r.get(7),
        scopes: r.get(8),
        created_at: r.get(9),
        expires_at: r.get(10),
        used_at: r.get(11),
    }
}

fn refresh_row(r: &Row) -> RefreshRow {
    RefreshRow {
        hash: r.get(0),
        family_id: r.get(1),
        grant_id: r.get(2),
        client_id: r.get(3),
        account_id: r.get(4),
        user_id: r.get(5),
        scopes: r.get(6),
        created_at: r.get(7),
        family_created_at: r.get(8),
        expires_at: r.get(9),
        rotated_at: r.get(10),
        revoked_at: r.get(11),
    }
}

async fn insert_issued(
    c: &impl GenericClient,
    tokens: &IssuedTokens,
    now: UnixTime,
) -> StoreResult<()> {
    insert_token(c, &tokens.access).await?;
    if let Some(t) = &tokens.refresh {
        c.execute(
            &format!("INSERT INTO refresh_tokens ({REFRESH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            &[
                &t.hash.to_hex(),
                &t.family_id,
                &t.grant_id,
                &t.client_id,
                &t.account_id,
                &t.user_id,
                &t.scopes.to_string(),
                &t.created_at,
                &t.family_created_at,
                &t.expires_at,
                &t.rotated_at,
                &t.revoked_at,
            ],
        )
        .await
        .map_err(conflict_as("refresh token"))?;
    }
    if let Some(grant) = &tokens.access.grant_id {
        // A row that does not match is not locked: concurrent issuances under one grant wait
        // for each other only once a minute.
        c.execute(
            "UPDATE grants SET last_used_at = $2 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
            &[grant, &now, &Grant::last_use_moves_if_at_or_before(now)],
        )
        .await
        .map_err(backend)?;
    }
    Ok(())
}

async fn revoke_family(c: &impl GenericClient, family: &str, now: UnixTime) -> StoreResult<bool> {
    let a = c
        .execute(
            "UPDATE access_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family, &now],
        )
        .await
        .map_err(backend)?;
    let r = c
        .execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family, &now],
        )
        .await
        .map_err(backend)?;
    log_revocation(c, &Revocation::Family(family.to_string()), now).await?;
    Ok(a + r > 0)
}

impl PostgresStore {
    pub(crate) async fn pg_create_session(&self, s: &Session) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&s.hash.to_hex(), &s.user_id, &s.created_at, &s.expires_at],
            )
            .await
            .map_err(conflict_as("session"))?;
        Ok(())
    }

    pub(crate) async fn pg_session(&self, hash: &TokenHash) -> StoreResult<Option<Session>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT user_id, created_at, expires_at FROM sessions WHERE hash = $1",
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|r| Session {
            hash: *hash,
            user_id: r.get(0),
            created_at: r.get(1),
            expires_at: r.get(2),
        }))
    }

    pub(crate) async fn pg_delete_session(&self, hash: &TokenHash) -> StoreResult<()> {
        self.client()
            .await?
            .execute("DELETE FROM sessions WHERE hash = $1", &[&hash.to_hex()])
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn pg_login_throttle(
        &self,
        email: &str,
    ) -> StoreResult<Option<LoginThrottle>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE email = $1",
                &[&email],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|r| LoginThrottle {
            failures: i64::from(r.get::<_, i32>(0)),
            last_failure_at: r.get(1),
            locked_until: r.get(2),
        }))
    }

    pub(crate) async fn pg_set_login_throttle(
        &self,
        email: &str,
        state: Option<&LoginThrottle>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        match state {
            None => {
                client
                    .execute("DELETE FROM login_throttle WHERE email = $1", &[&email])
                    .await
            }
            Some(t) => {
                let failures = i32::try_from(t.failures).unwrap_or(i32::MAX);
                client
                    .execute(
                        "INSERT INTO login_throttle (email, failures, last_failure_at, locked_until)
                         VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO UPDATE SET
                         failures = excluded.failures, last_failure_at = excluded.last_failure_at,
                         locked_until = excluded.locked_until",
                        &[&email, &failures, &t.last_failure_at, &t.locked_until],
                    )
                    .await
            }
        }
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn pg_live_grant(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<Grant>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE account_id = $1 AND client_id = $2 AND revoked_at IS NULL"),
                &[&account_id, &client_id],
            )
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(grant_row))
    }

    pub(crate) async fn pg_grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(grant_row))
    }

    pub(crate) async fn pg_list_grants(
        &self,
        account_id: Option<&str>,
        include_revoked: bool,
    ) -> StoreResult<Vec<Grant>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {GRANT_COLUMNS} FROM grants WHERE ($1::TEXT IS NULL OR account_id = $1)
                     AND ($2 OR revoked_at IS NULL) ORDER BY created_at DESC, id LIMIT 1000"
                ),
                &[&account_id, &include_revoked],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(grant_row).collect())
    }

    pub(crate) async fn pg_save_grant(&self, g: &Grant) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                &format!(
                    "INSERT INTO grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (id) DO UPDATE SET scopes = excluded.scopes,
                     user_id = excluded.user_id, updated_at = excluded.updated_at
                     WHERE grants.revoked_at IS NULL"
                ),
                &[
                    &g.id,
                    &g.account_id,
                    &g.client_id,
                    &g.user_id,
                    &g.scopes.to_string(),
                    &g.created_at,
                    &g.updated_at,
                    &g.last_used_at,
                    &g.revoked_at,
                ],
            )
            .await
            .map_err(conflict_as("a live grant for this account and app"))?;
        Ok(())
    }

    pub(crate) async fn pg_revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound("live grant"));
        }
        for sql in [
            "UPDATE access_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
            "UPDATE authorization_codes SET used_at = $2 WHERE grant_id = $1 AND used_at IS NULL",
        ] {
            tx.execute(sql, &[&id, &now]).await.map_err(backend)?;
        }
        log_revocation(&tx, &Revocation::Grant(id.to_string()), now).await?;
        tx.commit().await.map_err(backend)
    }

    pub(crate) async fn pg_create_code(&self, k: &AuthorizationCode) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                &format!("INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
                &[
                    &k.hash.to_hex(),
                    &k.client_id,
                    &k.redirect_uri,
                    &k.code_challenge,
                    &k.account_id,
                    &k.user_id,
                    &k.grant_id,
                    &k.family_id,
                    &k.scopes.to_string(),
                    &k.created_at,
                    &k.expires_at,
                    &k.used_at,
                ],
            )
            .await
            .map_err(conflict_as("authorization code"))?;
        Ok(())
    }

    pub(crate) async fn pg_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCode>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {CODE_COLUMNS} FROM authorization_codes WHERE hash = $1"),
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?;
        row.as_ref().map(|r| code_row(r).into_code()).transpose()
    }

    pub(crate) async fn pg_redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let hex = hash.to_hex();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE authorization_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL",
                &[&hex, &now],
            )
            .await
            .map_err(backend)?;
        let redeemed = if n == 1 {
            insert_issued(&tx, tokens, now).await?;
            true
        } else {
            let row = tx
                .query_opt(
                    "SELECT family_id FROM authorization_codes WHERE hash = $1",
                    &[&hex],
                )
                .await
                .map_err(backend)?;
            let Some(row) = row else {
                return Err(StoreError::NotFound("authorization code"));
            };
            let family: String = row.get(0);
            revoke_family(&tx, &family, now).await?;
            false
        };
        tx.commit().await.map_err(backend)?;
        Ok(redeemed)
    }

    pub(crate) async fn pg_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        self.refresh_token_where("hash = $1", &hash.to_hex()).await
    }

    pub(crate) async fn pg_current_refresh_token(
        &self,
        family_id: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        self.refresh_token_where(
            "family_id = $1 AND rotated_at IS NULL AND revoked_at IS NULL ORDER BY hash DESC LIMIT 1",
            family_id,
        )
        .await
    }

    /// The first refresh token matching `condition` (one parameter, `key`).
    async fn refresh_token_where(
        &self,
        condition: &str,
        key: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE {condition}"),
                &[&key],
            )
            .await
            .map_err(backend)?;
        row.as_ref()
            .map(|r| refresh_row(r).into_record())
            .transpose()
    }

    pub(crate) async fn pg_rotate_refresh_token(
        &self,
        old: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE refresh_tokens SET rotated_at = $2
                 WHERE hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
                &[&old.to_hex(), &now],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Ok(false);
        }
        insert_issued(&tx, tokens, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    pub(crate) async fn pg_revoke_family(&self, family: &str, now: UnixTime) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let any = revoke_family(&tx, family, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(any)
    }

    pub(crate) async fn pg_purge_expired_authorization(
        &self,
        before: UnixTime,
        limit: u32,
    ) -> StoreResult<u64> {
        let client = self.client().await?;
        let mut n = 0;
        for table in ["sessions", "authorization_codes", "refresh_tokens"] {
            n += client
                .execute(
                    &format!(
                        "DELETE FROM {table} WHERE hash IN
                         (SELECT hash FROM {table} WHERE expires_at < $1 LIMIT $2)"
                    ),
                    &[&before, &i64::from(limit)],
                )
                .await
                .map_err(backend)?;
        }
        Ok(n)
    }
}
