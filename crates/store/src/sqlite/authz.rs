//! The authorization-code flow's storage over SQLite; the trait methods in `queries.rs` delegate here.

use super::queries::{insert_token, log_revocation};
use super::CachedStatements;
use super::{backend, conflict_as, SqliteStore};
use crate::authz_rows::{
    rotation_without_successor, CodeRow, GrantRow, RefreshRow, CODE_COLUMNS, GRANT_COLUMNS,
    REFRESH_COLUMNS, REFRESH_SELECT,
};
use crate::{Revocation, StoreError, StoreResult};
use mailgrant_core::model::AccessTokenRecord;
use mailgrant_core::records::{
    AuthorizationCode, Grant, IssuedTokens, LoginThrottle, RefreshTokenRecord, Session,
};
use mailgrant_core::{TokenHash, UnixTime};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::sync::LazyLock;

fn grant_row(r: &Row<'_>) -> rusqlite::Result<Grant> {
    Ok(GrantRow(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    )
    .into_grant())
}

fn code_row(r: &Row<'_>) -> rusqlite::Result<CodeRow> {
    Ok(CodeRow {
        hash: r.get(0)?,
        client_id: r.get(1)?,
        redirect_uri: r.get(2)?,
        code_challenge: r.get(3)?,
        account_id: r.get(4)?,
        user_id: r.get(5)?,
        grant_id: r.get(6)?,
        family_id: r.get(7)?,
        scopes: r.get(8)?,
        created_at: r.get(9)?,
        expires_at: r.get(10)?,
        used_at: r.get(11)?,
    })
}

fn refresh_row(r: &Row<'_>) -> rusqlite::Result<RefreshRow> {
    Ok(RefreshRow {
        hash: r.get(0)?,
        family_id: r.get(1)?,
        grant_id: r.get(2)?,
        client_id: r.get(3)?,
        account_id: r.get(4)?,
        user_id: r.get(5)?,
        scopes: r.get(6)?,
        created_at: r.get(7)?,
        family_created_at: r.get(8)?,
        expires_at: r.get(9)?,
        rotated_at: r.get(10)?,
        revoked_at: r.get(11)?,
    })
}

// Statements on the token paths are built once, not formatted on every request.
static REFRESH_BY_HASH: LazyLock<String> =
    LazyLock::new(|| format!("{REFRESH_SELECT} WHERE r.hash = ?1"));
static REFRESH_CURRENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{REFRESH_SELECT} WHERE r.grant_id = ?1 AND r.family_id = ?2 \
         ORDER BY r.generation DESC LIMIT 1"
    )
});
static INSERT_REFRESH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO refresh_tokens ({REFRESH_COLUMNS}, generation) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
         ON CONFLICT (grant_id, family_id, generation) DO NOTHING"
    )
});
static CODE_BY_HASH: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CODE_COLUMNS} FROM authorization_codes WHERE hash = ?1"));

/// The first refresh token that `sql` (one of the `REFRESH_SELECT` statements above) reads.
fn refresh_row_where(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Option<RefreshRow>> {
    c.prepare_cached(sql)
        .and_then(|mut st| st.query_row(params, refresh_row).optional())
        .map_err(backend)
}

/// Store `t` as generation `generation` of its family; false when the family has that generation
/// already (a rotation that lost its race).
fn insert_refresh(c: &Connection, t: &RefreshTokenRecord, generation: i64) -> StoreResult<bool> {
    c.prepare_cached(&INSERT_REFRESH)
        .and_then(|mut st| {
            st.execute(params![
                t.hash.to_hex(),
                t.family_id,
                t.grant_id,
                t.client_id,
                t.account_id,
                t.user_id,
                t.scopes.to_string(),
                t.created_at,
                t.family_created_at,
                t.expires_at,
                t.rotated_at,
                t.revoked_at,
                generation,
            ])
        })
        .map(|n| n == 1)
        .map_err(conflict_as("refresh token"))
}

fn insert_issued(c: &Connection, tokens: &IssuedTokens, now: UnixTime) -> StoreResult<()> {
    // A code exchange starts its family: generation 0, which nothing else has.
    if let Some(r) = &tokens.refresh {
        if !insert_refresh(c, r, 0)? {
            return Err(StoreError::Conflict("refresh token"));
        }
    }
    insert_access_and_use(c, &tokens.access, now)
}

/// Store an exchange's access token and move its grant's last use.
fn insert_access_and_use(
    c: &Connection,
    access: &AccessTokenRecord,
    now: UnixTime,
) -> StoreResult<()> {
    insert_token(c, access)?;
    if let Some(grant) = &access.grant_id {
        c.exec(
            "UPDATE grants SET last_used_at = ?2 \
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?3)",
            params![grant, now, Grant::last_use_moves_if_at_or_before(now)],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// A family's tokens are found under their grant (see migration 0005).
fn revoke_family(c: &Connection, grant: &str, family: &str, now: UnixTime) -> StoreResult<bool> {
    let a = c
        .exec(
            "UPDATE access_tokens SET revoked_at = ?3 \
             WHERE grant_id = ?1 AND family_id = ?2 AND revoked_at IS NULL",
            params![grant, family, now],
        )
        .map_err(backend)?;
    let r = c
        .exec(
            "UPDATE refresh_tokens SET revoked_at = ?3 \
             WHERE grant_id = ?1 AND family_id = ?2 AND revoked_at IS NULL",
            params![grant, family, now],
        )
        .map_err(backend)?;
    log_revocation(c, &Revocation::Family(family.to_string()), now)?;
    Ok(a + r > 0)
}

impl SqliteStore {
    pub(crate) async fn sq_create_session(&self, s: &Session) -> StoreResult<()> {
        let s = s.clone();
        self.write(move |c| {
            c.exec(
                "INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![s.hash.to_hex(), s.user_id, s.created_at, s.expires_at],
            )
            .map_err(conflict_as("session"))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn sq_session(&self, hash: &TokenHash) -> StoreResult<Option<Session>> {
        let hex = hash.to_hex();
        let hash = *hash;
        self.read(move |c| {
            c.row(
                "SELECT user_id, created_at, expires_at FROM sessions WHERE hash = ?1",
                [hex],
                |r| {
                    Ok(Session {
                        hash,
                        user_id: r.get(0)?,
                        created_at: r.get(1)?,
                        expires_at: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    pub(crate) async fn sq_delete_session(&self, hash: &TokenHash) -> StoreResult<()> {
        let hex = hash.to_hex();
        self.write(move |c| {
            c.exec("DELETE FROM sessions WHERE hash = ?1", [&hex])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn sq_login_throttle(
        &self,
        email: &str,
    ) -> StoreResult<Option<LoginThrottle>> {
        let email = email.to_string();
        self.read(move |c| {
            c.row(
                "SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE email = ?1",
                [email],
                |r| {
                    Ok(LoginThrottle {
                        failures: r.get(0)?,
                        last_failure_at: r.get(1)?,
                        locked_until: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    pub(crate) async fn sq_set_login_throttle(
        &self,
        email: &str,
        state: Option<&LoginThrottle>,
    ) -> StoreResult<()> {
        let (email, state) = (email.to_string(), state.cloned());
        self.write(move |c| {
            match &state {
                None => c.exec("DELETE FROM login_throttle WHERE email = ?1", [&email]),
                Some(t) => c.exec(
                    "INSERT INTO login_throttle (email, failures, last_failure_at, locked_until)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (email) DO UPDATE SET
                     failures = excluded.failures, last_failure_at = excluded.last_failure_at,
                     locked_until = excluded.locked_until",
                    params![email, t.failures, t.last_failure_at, t.locked_until],
                ),
            }
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn sq_live_grant(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<Grant>> {
        let (a, cl) = (account_id.to_string(), client_id.to_string());
        self.read(move |c| {
            c.row(
                &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE account_id = ?1 AND client_id = ?2 AND revoked_at IS NULL"),
                [a, cl],
                grant_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    pub(crate) async fn sq_grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        let id = id.to_string();
        self.read(move |c| {
            c.row(
                &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = ?1"),
                [id],
                grant_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    pub(crate) async fn sq_list_grants(
        &self,
        account_id: Option<&str>,
        include_revoked: bool,
    ) -> StoreResult<Vec<Grant>> {
        let account = account_id.map(str::to_string);
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {GRANT_COLUMNS} FROM grants WHERE (?1 IS NULL OR account_id = ?1)
                     AND (?2 OR revoked_at IS NULL) ORDER BY created_at DESC, id LIMIT 1000"
                ))
                .map_err(backend)?;
            let rows = st
                .query_map(params![account, include_revoked], grant_row)
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    pub(crate) async fn sq_save_grant(&self, g: &Grant) -> StoreResult<()> {
        let g = g.clone();
        self.write(move |c| {
            c.exec(
                &format!(
                    "INSERT INTO grants ({GRANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (id) DO UPDATE SET scopes = excluded.scopes,
                     user_id = excluded.user_id, updated_at = excluded.updated_at
                     WHERE grants.revoked_at IS NULL"
                ),
                params![
                    g.id,
                    g.account_id,
                    g.client_id,
                    g.user_id,
                    g.scopes.to_string(),
                    g.created_at,
                    g.updated_at,
                    g.last_used_at,
                    g.revoked_at
                ],
            )
            .map_err(conflict_as("a live grant for this account and app"))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn sq_revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .exec(
                    "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, now],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("live grant"));
            }
            for sql in [
                "UPDATE access_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
                "UPDATE authorization_codes SET used_at = ?2 WHERE grant_id = ?1 AND used_at IS NULL",
            ] {
                c.exec(sql, params![id, now]).map_err(backend)?;
            }
            log_revocation(c, &Revocation::Grant(id.clone()), now)
        })
        .await
    }

    pub(crate) async fn sq_create_code(&self, k: &AuthorizationCode) -> StoreResult<()> {
        let k = k.clone();
        self.write(move |c| {
            c.exec(
                &format!("INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![
                    k.hash.to_hex(),
                    k.client_id,
                    k.redirect_uri,
                    k.code_challenge,
                    k.account_id,
                    k.user_id,
                    k.grant_id,
                    k.family_id,
                    k.scopes.to_string(),
                    k.created_at,
                    k.expires_at,
                    k.used_at
                ],
            )
            .map_err(conflict_as("authorization code"))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn sq_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCode>> {
        let hex = hash.to_hex();
        self.lookup(move |c| {
            let row = c
                .row(&CODE_BY_HASH, [hex], code_row)
                .optional()
                .map_err(backend)?;
            row.map(CodeRow::into_code).transpose()
        })
        .await
    }

    pub(crate) async fn sq_redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let (hex, tokens) = (hash.to_hex(), tokens.clone());
        self.write(move |c| {
            let n = c
                .exec(
                    "UPDATE authorization_codes SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL",
                    params![hex, now],
                )
                .map_err(backend)?;
            if n == 1 {
                insert_issued(c, &tokens, now)?;
                return Ok(true);
            }
            let family: Option<(String, String)> = c
                .row(
                    "SELECT grant_id, family_id FROM authorization_codes WHERE hash = ?1",
                    [&hex],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            match family {
                Some((grant, family)) => revoke_family(c, &grant, &family, now).map(|_| false),
                None => Err(StoreError::NotFound("authorization code")),
            }
        })
        .await
    }

    pub(crate) async fn sq_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let hex = hash.to_hex();
        self.lookup(move |c| {
            refresh_row_where(c, &REFRESH_BY_HASH, params![hex])?
                .map(RefreshRow::into_record)
                .transpose()
        })
        .await
    }

    pub(crate) async fn sq_current_refresh_token(
        &self,
        grant_id: &str,
        family_id: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let (grant, family) = (grant_id.to_string(), family_id.to_string());
        self.lookup(move |c| {
            refresh_row_where(c, &REFRESH_CURRENT, params![grant, family])?
                .map(RefreshRow::into_current)
                .transpose()
                .map(Option::flatten)
        })
        .await
    }

    /// The successor is the old token's family's next generation; a unique conflict on it (or an
    /// old token already rotated or revoked) inserts nothing, and then nothing else is stored.
    pub(crate) async fn sq_rotate_refresh_token(
        &self,
        old: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let (hex, tokens) = (old.to_hex(), tokens.clone());
        self.write(move |c| {
            let Some(next) = &tokens.refresh else {
                return Err(rotation_without_successor());
            };
            // Read first, then insert: an `INSERT … SELECT` from the table it inserts into goes
            // through a temporary table.
            let generation: Option<i64> = c
                .row(
                    "SELECT generation FROM refresh_tokens \
                     WHERE hash = ?1 AND grant_id = ?2 AND family_id = ?3 \
                     AND rotated_at IS NULL AND revoked_at IS NULL",
                    params![hex, next.grant_id, next.family_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(generation) = generation else {
                return Ok(false);
            };
            if !insert_refresh(c, next, generation + 1)? {
                return Ok(false);
            }
            insert_access_and_use(c, &tokens.access, now)?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn sq_revoke_family(
        &self,
        grant: &str,
        family: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let (grant, family) = (grant.to_string(), family.to_string());
        self.write(move |c| revoke_family(c, &grant, &family, now))
            .await
    }

    pub(crate) async fn sq_purge_expired_authorization(
        &self,
        before: UnixTime,
        limit: u32,
    ) -> StoreResult<u64> {
        self.write(move |c| {
            let mut n = 0;
            for table in ["sessions", "authorization_codes", "refresh_tokens"] {
                n += c
                    .exec(
                        &format!(
                            "DELETE FROM {table} WHERE hash IN
                             (SELECT hash FROM {table} WHERE expires_at < ?1 LIMIT ?2)"
                        ),
                        params![before, limit],
                    )
                    .map_err(backend)?;
            }
            Ok(n as u64)
        })
        .await
    }
}
