//! Initial access tokens for dynamic client registration, over PostgreSQL.

use super::queries::insert_app;
use super::{backend, conflict_as, PostgresStore, Prepared};
use crate::{StoreError, StoreResult};
use mailgrant_core::model::{App, ClientSecret};
use mailgrant_core::registration::RegistrationToken;
use mailgrant_core::{TokenHash, UnixTime};
use tokio_postgres::Row;

const COLUMNS: &str = "id, hash, account_id, max_uses, uses, created_at, expires_at, revoked_at";

fn token(r: &Row) -> StoreResult<RegistrationToken> {
    Ok(RegistrationToken {
        id: r.get(0),
        hash: TokenHash::from_hex(r.get(1)).ok_or_else(|| {
            StoreError::Backend("stored registration token hash is corrupt".into())
        })?,
        account_id: r.get(2),
        max_uses: r.get(3),
        uses: r.get(4),
        created_at: r.get(5),
        expires_at: r.get(6),
        revoked_at: r.get(7),
    })
}

impl PostgresStore {
    pub(crate) async fn create_registration_token_impl(
        &self,
        t: &RegistrationToken,
    ) -> StoreResult<()> {
        self.client()
            .await?
            .execute_cached(
                &format!("INSERT INTO registration_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
                &[
                    &t.id,
                    &t.hash.to_hex(),
                    &t.account_id,
                    &t.max_uses,
                    &t.uses,
                    &t.created_at,
                    &t.expires_at,
                    &t.revoked_at,
                ],
            )
            .await
            .map_err(conflict_as("registration token"))?;
        Ok(())
    }

    pub(crate) async fn registration_token_impl(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<RegistrationToken>> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                &format!("SELECT {COLUMNS} FROM registration_tokens WHERE hash = $1"),
                &[&hash.to_hex()],
            )
            .await
            .map_err(backend)?;
        row.as_ref().map(token).transpose()
    }

    pub(crate) async fn list_registration_tokens_impl(
        &self,
    ) -> StoreResult<Vec<RegistrationToken>> {
        let rows = self
            .client()
            .await?
            .query_cached(
                &format!("SELECT {COLUMNS} FROM registration_tokens ORDER BY created_at, id"),
                &[],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(token).collect()
    }

    pub(crate) async fn revoke_registration_token_impl(
        &self,
        id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let n = self
            .client()
            .await?
            .execute_cached(
                "UPDATE registration_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now],
            )
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    pub(crate) async fn register_app_impl(
        &self,
        app: &App,
        secret: Option<&ClientSecret>,
        token_id: Option<&str>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        if let Some(id) = token_id {
            // The row lock taken by this UPDATE makes concurrent registrations take turns, so
            // `max_uses` holds under concurrency.
            let n = tx
                .execute_cached(
                    "UPDATE registration_tokens SET uses = uses + 1
                     WHERE id = $1 AND revoked_at IS NULL
                       AND (expires_at IS NULL OR expires_at > $2)
                       AND (max_uses IS NULL OR uses < max_uses)",
                    &[&id, &app.created_at],
                )
                .await
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("live registration token"));
            }
        }
        insert_app(&tx, app, secret).await?;
        tx.commit().await.map_err(backend)
    }
}
