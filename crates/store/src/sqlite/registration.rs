//! Initial access tokens for dynamic client registration, over SQLite.

use super::queries::insert_app;
use super::CachedStatements;
use super::{backend, conflict_as, SqliteStore};
use crate::{StoreError, StoreResult};
use mailgrant_core::model::{App, ClientSecret};
use mailgrant_core::registration::RegistrationToken;
use mailgrant_core::{TokenHash, UnixTime};
use rusqlite::{params, OptionalExtension, Row};

const COLUMNS: &str = "id, hash, account_id, max_uses, uses, created_at, expires_at, revoked_at";

/// A row as read; the hash is checked when it becomes a record.
struct TokenRow(RegistrationToken, String);

fn row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    let token = RegistrationToken {
        id: r.get(0)?,
        // Replaced by the stored hash in `into_token`.
        hash: TokenHash::of(""),
        account_id: r.get(2)?,
        max_uses: r.get(3)?,
        uses: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
    };
    Ok(TokenRow(token, r.get(1)?))
}

fn into_token(TokenRow(mut token, hex): TokenRow) -> StoreResult<RegistrationToken> {
    token.hash = TokenHash::from_hex(&hex)
        .ok_or_else(|| StoreError::Backend("stored registration token hash is corrupt".into()))?;
    Ok(token)
}

impl SqliteStore {
    pub(crate) async fn create_registration_token_impl(
        &self,
        t: &RegistrationToken,
    ) -> StoreResult<()> {
        let t = t.clone();
        self.write(move |c| {
            c.exec(
                &format!("INSERT INTO registration_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    t.id,
                    t.hash.to_hex(),
                    t.account_id,
                    t.max_uses,
                    t.uses,
                    t.created_at,
                    t.expires_at,
                    t.revoked_at
                ],
            )
            .map_err(conflict_as("registration token"))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn registration_token_impl(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<RegistrationToken>> {
        let hex = hash.to_hex();
        self.read(move |c| {
            c.row(
                &format!("SELECT {COLUMNS} FROM registration_tokens WHERE hash = ?1"),
                [hex],
                row,
            )
            .optional()
            .map_err(backend)?
            .map(into_token)
            .transpose()
        })
        .await
    }

    pub(crate) async fn list_registration_tokens_impl(
        &self,
    ) -> StoreResult<Vec<RegistrationToken>> {
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM registration_tokens ORDER BY created_at, id"
                ))
                .map_err(backend)?;
            let rows = st.query_map([], row).map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(into_token))
                .collect()
        })
        .await
    }

    pub(crate) async fn revoke_registration_token_impl(
        &self,
        id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .exec(
                    "UPDATE registration_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, now],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    pub(crate) async fn register_app_impl(
        &self,
        app: &App,
        secret: Option<&ClientSecret>,
        token_id: Option<&str>,
    ) -> StoreResult<()> {
        let (app, secret) = (app.clone(), secret.cloned());
        let token_id = token_id.map(str::to_string);
        self.write(move |c| {
            if let Some(id) = &token_id {
                let n = c
                    .exec(
                        "UPDATE registration_tokens SET uses = uses + 1
                         WHERE id = ?1 AND revoked_at IS NULL
                           AND (expires_at IS NULL OR expires_at > ?2)
                           AND (max_uses IS NULL OR uses < max_uses)",
                        params![id, app.created_at],
                    )
                    .map_err(backend)?;
                if n == 0 {
                    return Err(StoreError::NotFound("live registration token"));
                }
            }
            insert_app(c, &app, secret.as_ref())
        })
        .await
    }
}
