//! The authorization-code flow's storage over PostgreSQL; the trait methods in `queries.rs`
//! delegate here.

use super::queries::log_revocation;
use super::{backend, conflict_as, PostgresStore, Prepared};
use crate::authz_rows::{
    rotation_without_successor, CodeRow, GrantRow, RefreshRow, CODE_COLUMNS, GRANT_COLUMNS,
    REFRESH_COLUMNS, REFRESH_SELECT,
};
use crate::rows::TOKEN_COLUMNS;
use crate::{Revocation, StoreError, StoreResult};
use deadpool_postgres::GenericClient;
use mailgrant_core::records::{
    AuthorizationCode, Grant, IssuedTokens, LoginThrottle, RefreshTokenRecord, Session,
};
use mailgrant_core::{TokenHash, UnixTime};
use std::sync::LazyLock;
use tokio_postgres::types::ToSql;
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

/// What an exchange consumes: the row its input names, still unused. The statement that marks it
/// (or, for a refresh token, inserts its successor) is the one that writes what it issues (see
/// `exchange_sql`).
#[derive(Clone, Copy)]
enum Consumed {
    Code,
    RefreshToken,
}

/// The successor of refresh token $1 as its family's next generation (migration 0006): nothing
/// when $1 was rotated (the generation exists: a unique conflict) or revoked. The old row is
/// locked, not updated, so that a rotation racing its family's revocation waits for it and then
/// inserts nothing.
const ROTATION: &str = "INSERT INTO refresh_tokens (hash, family_id, grant_id, client_id, \
     account_id, user_id, scopes, created_at, family_created_at, expires_at, rotated_at, \
     revoked_at, generation) \
     SELECT $16::text, o.family_id, o.grant_id, $19::text, $20::text, $21::text, $22::text, \
     $23::bigint, $24::bigint, $25::bigint, $26::bigint, $27::bigint, o.generation + 1 \
     FROM refresh_tokens o WHERE o.hash = $1 AND o.family_id = $17::text \
     AND o.grant_id = $18::text AND o.rotated_at IS NULL AND o.revoked_at IS NULL FOR UPDATE \
     ON CONFLICT (grant_id, family_id, generation) DO NOTHING";

/// One statement for a whole exchange: consume the input, insert the access token (and the
/// refresh token), move the grant's last use; the inserts and the update read `consumed`, so they
/// write nothing when the input was already used. One round trip and its own transaction, where
/// a transaction of five statements took ten round trips with the old row locked throughout.
/// Parameters: $1 input hash, $2 now, $3 the grant's last-use threshold, $4–$15 the access
/// token, $16–$27 the refresh token (a rotation always has one). Casts, because
/// `INSERT … SELECT` does not type parameters from the target columns.
fn exchange_sql(consumed: Consumed, with_refresh: bool) -> StoreResult<&'static str> {
    static SQL: LazyLock<[String; 3]> = LazyLock::new(|| {
        let code_refresh = format!(
            ", refresh AS (INSERT INTO refresh_tokens ({REFRESH_COLUMNS}) \
             SELECT $16::text, $17::text, $18::text, $19::text, $20::text, $21::text, \
             $22::text, $23::bigint, $24::bigint, $25::bigint, $26::bigint, $27::bigint \
             FROM consumed)"
        );
        let build = |consume: &str, refresh: &str| {
            format!(
                "WITH consumed AS ({consume} RETURNING 1), \
                 access AS (INSERT INTO access_tokens ({TOKEN_COLUMNS}) \
                 SELECT $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text, \
                 $11::text, $12::text, $13::bigint, $14::bigint, $15::bigint FROM consumed){refresh}, \
                 last_use AS (UPDATE grants SET last_used_at = $2 WHERE id = $10 \
                 AND (last_used_at IS NULL OR last_used_at <= $3) AND EXISTS (SELECT 1 FROM consumed)) \
                 SELECT count(*) FROM consumed"
            )
        };
        let use_code =
            "UPDATE authorization_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL";
        [
            build(use_code, ""),
            build(use_code, &code_refresh),
            build(ROTATION, ""),
        ]
    });
    match (consumed, with_refresh) {
        (Consumed::Code, false) => Ok(&SQL[0]),
        (Consumed::Code, true) => Ok(&SQL[1]),
        (Consumed::RefreshToken, true) => Ok(&SQL[2]),
        (Consumed::RefreshToken, false) => Err(rotation_without_successor()),
    }
}

/// A unique violation in an exchange names the table whose row exists already.
fn exchange_conflict(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error().and_then(|db| db.table()) {
        Some("refresh_tokens") => conflict_as("refresh token")(e),
        _ => conflict_as("token")(e),
    }
}

/// A family's tokens are found under their grant (see migration 0005).
async fn revoke_family(
    c: &impl GenericClient,
    grant: &str,
    family: &str,
    now: UnixTime,
) -> StoreResult<bool> {
    let a = c
        .execute_cached(
            "UPDATE access_tokens SET revoked_at = $3 \
             WHERE grant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
            &[&grant, &family, &now],
        )
        .await
        .map_err(backend)?;
    let r = c
        .execute_cached(
            "UPDATE refresh_tokens SET revoked_at = $3 \
             WHERE grant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
            &[&grant, &family, &now],
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
            .execute_cached(
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
            .query_opt_cached(
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
            .execute_cached("DELETE FROM sessions WHERE hash = $1", &[&hash.to_hex()])
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
            .query_opt_cached(
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
                    .execute_cached("DELETE FROM login_throttle WHERE email = $1", &[&email])
                    .await
            }
            Some(t) => {
                let failures = i32::try_from(t.failures).unwrap_or(i32::MAX);
                client
                    .execute_cached(
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
            .query_opt_cached(
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
            .query_opt_cached(
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
            .query_cached(
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
            .execute_cached(
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
            .execute_cached(
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
            tx.execute_cached(sql, &[&id, &now])
                .await
                .map_err(backend)?;
        }
        log_revocation(&tx, &Revocation::Grant(id.to_string()), now).await?;
        tx.commit().await.map_err(backend)
    }

    pub(crate) async fn pg_create_code(&self, k: &AuthorizationCode) -> StoreResult<()> {
        self.client()
            .await?
            .execute_cached(
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
            .query_opt_cached(
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
        if self.exchange(Consumed::Code, hash, tokens, now).await? {
            return Ok(true);
        }
        // Used before: whoever holds it may have stolen it, so what it issued is revoked.
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let row = tx
            .query_opt_cached(
                "SELECT grant_id, family_id FROM authorization_codes WHERE hash = $1",
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("authorization code"));
        };
        let (grant, family): (String, String) = (row.get(0), row.get(1));
        revoke_family(&tx, &grant, &family, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(false)
    }

    /// Consumes the input and writes what it issues, in one statement; false if the input was
    /// already used (or, for a refresh token, revoked) and nothing was written.
    async fn exchange(
        &self,
        consumed: Consumed,
        input: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let input = input.to_hex();
        let threshold = Grant::last_use_moves_if_at_or_before(now);
        let a = &tokens.access;
        let (a_hash, a_kind, a_scopes) = (a.hash.to_hex(), a.kind.as_str(), a.scopes.to_string());
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &input,
            &now,
            &threshold,
            &a_hash,
            &a_kind,
            &a.account_id,
            &a.client_id,
            &a.private_app_id,
            &a.user_id,
            &a.grant_id,
            &a.family_id,
            &a_scopes,
            &a.created_at,
            &a.expires_at,
            &a.revoked_at,
        ];
        let refresh = tokens
            .refresh
            .as_ref()
            .map(|r| (r, r.hash.to_hex(), r.scopes.to_string()));
        if let Some((r, r_hash, r_scopes)) = &refresh {
            params.extend_from_slice(&[
                r_hash,
                &r.family_id,
                &r.grant_id,
                &r.client_id,
                &r.account_id,
                &r.user_id,
                r_scopes,
                &r.created_at,
                &r.family_created_at,
                &r.expires_at,
                &r.rotated_at,
                &r.revoked_at,
            ]);
        }
        let row = self
            .client()
            .await?
            .query_one_cached(exchange_sql(consumed, refresh.is_some())?, &params)
            .await
            .map_err(exchange_conflict)?;
        Ok(row.get::<_, i64>(0) == 1)
    }

    pub(crate) async fn pg_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        self.refresh_row_where("r.hash = $1", &[&hash.to_hex()])
            .await?
            .map(RefreshRow::into_record)
            .transpose()
    }

    pub(crate) async fn pg_current_refresh_token(
        &self,
        grant_id: &str,
        family_id: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let last = "r.grant_id = $1 AND r.family_id = $2 ORDER BY r.generation DESC LIMIT 1";
        self.refresh_row_where(last, &[&grant_id, &family_id])
            .await?
            .map(RefreshRow::into_current)
            .transpose()
            .map(Option::flatten)
    }

    /// The first refresh token (as `REFRESH_SELECT` reads it) matching `condition`.
    async fn refresh_row_where(
        &self,
        condition: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Option<RefreshRow>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(&format!("{REFRESH_SELECT} WHERE {condition}"), params)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(refresh_row))
    }

    pub(crate) async fn pg_rotate_refresh_token(
        &self,
        old: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.exchange(Consumed::RefreshToken, old, tokens, now)
            .await
    }

    pub(crate) async fn pg_revoke_family(
        &self,
        grant: &str,
        family: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let any = revoke_family(&tx, grant, family, now).await?;
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
                .execute_cached(
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
