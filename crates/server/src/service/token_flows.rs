//! The authorization code and refresh token grants at the token endpoint.
//!
//! Refresh tokens rotate. A successor pair is *derived*, not random: its values are
//! HMAC-SHA256(server key "refresh-derivation", old refresh token value). So a retry with the old
//! token within the window recomputes the same pair (and two concurrent refreshes of one token
//! answer with the same pair), while no token value is ever stored: only the client knows the old
//! value, and only the server knows the key. The database keeps hashes only, as for every token.

use crate::service::token::TokenResponse;
use crate::state::AppState;
use crate::ServiceResult;
use mailgrant_core::grants::authorization_code::{self, Redeem};
use mailgrant_core::grants::refresh_token::{self, RefreshDecision};
use mailgrant_core::model::{AccessTokenRecord, App};
use mailgrant_core::records::{IssuedTokens, RefreshTokenRecord};
use mailgrant_core::{
    token, IssueOrder, OAuthError, ScopeSet, Secret, TokenHash, TokenKind, UnixTime,
};

const DERIVATION_KEY: &str = "refresh-derivation";

async fn derivation_key(state: &AppState) -> ServiceResult<std::sync::Arc<[u8]>> {
    crate::service::keys::get(state, DERIVATION_KEY).await
}

/// The pair that rotating `old` at `order` yields, always the same for the same old value and
/// order (the order of a stored successor can be read back from its hash).
fn successors(key: &[u8], old: &str, order: IssueOrder) -> (Secret, Secret) {
    (
        token::derive(TokenKind::Access, key, old, order),
        token::derive(TokenKind::Refresh, key, old, order),
    )
}

struct Context<'a> {
    app: &'a App,
    account_id: &'a str,
    user_id: &'a str,
    grant_id: &'a str,
    family_id: &'a str,
    family_created_at: UnixTime,
    refresh_scopes: &'a ScopeSet,
}

fn records(
    c: &Context<'_>,
    access: &Secret,
    access_scopes: &ScopeSet,
    access_expires_at: UnixTime,
    refresh: Option<(&Secret, UnixTime)>,
    now: UnixTime,
) -> IssuedTokens {
    IssuedTokens {
        access: AccessTokenRecord {
            hash: TokenHash::of(access.expose()),
            kind: TokenKind::Access,
            account_id: c.account_id.to_string(),
            client_id: Some(c.app.client_id.clone()),
            private_app_id: None,
            user_id: Some(c.user_id.to_string()),
            grant_id: Some(c.grant_id.to_string()),
            family_id: Some(c.family_id.to_string()),
            scopes: access_scopes.clone(),
            created_at: now,
            expires_at: Some(access_expires_at),
            revoked_at: None,
        },
        refresh: refresh.map(|(value, expires_at)| RefreshTokenRecord {
            hash: TokenHash::of(value.expose()),
            family_id: c.family_id.to_string(),
            grant_id: c.grant_id.to_string(),
            client_id: c.app.client_id.clone(),
            account_id: c.account_id.to_string(),
            user_id: c.user_id.to_string(),
            scopes: c.refresh_scopes.clone(),
            created_at: now,
            family_created_at: c.family_created_at,
            expires_at,
            rotated_at: None,
            revoked_at: None,
        }),
    }
}

fn response(
    access: &Secret,
    scopes: &ScopeSet,
    expires_at: UnixTime,
    refresh: Option<&Secret>,
    now: UnixTime,
) -> TokenResponse {
    TokenResponse {
        access_token: access.expose().to_string(),
        token_type: "Bearer",
        expires_in: (expires_at - now).max(0),
        scope: scopes.to_string(),
        refresh_token: refresh.map(|r| r.expose().to_string()),
    }
}

fn replayed() -> OAuthError {
    OAuthError::invalid_grant(
        "the authorization code was already used; tokens issued from it are revoked",
    )
}

#[tracing::instrument(skip_all, fields(client_id = %app.client_id))]
pub async fn authorization_code(
    state: &AppState,
    app: &App,
    code: &Secret,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> ServiceResult<TokenResponse> {
    if token::parse_kind(code.expose(), TokenKind::Code).is_err() {
        return Err(OAuthError::invalid_grant("the authorization code is invalid").into());
    }
    let store = state.store();
    let hash = TokenHash::of(code.expose());
    let now = state.now();
    let record = store.code(&hash).await?;
    let decision = authorization_code::redeem(
        record.as_ref(),
        app,
        redirect_uri,
        code_verifier,
        &state.config().lifetimes,
        now,
    )?;
    let (Some(code_record), Redeem::Issue(d)) = (record, decision.clone()) else {
        if let Redeem::Replay {
            grant_id,
            family_id,
        } = decision
        {
            store.revoke_family(&grant_id, &family_id, now).await?;
            tracing::warn!(%family_id, "authorization code replayed: its tokens are revoked");
        }
        return Err(replayed().into());
    };
    let access = token::generate(TokenKind::Access);
    let refresh = d
        .refresh_expires_at
        .map(|exp| (token::generate(TokenKind::Refresh), exp));
    let ctx = Context {
        app,
        account_id: &code_record.account_id,
        user_id: &code_record.user_id,
        grant_id: &code_record.grant_id,
        family_id: &code_record.family_id,
        family_created_at: now,
        refresh_scopes: &d.scopes,
    };
    let tokens = records(
        &ctx,
        &access,
        &d.scopes,
        d.access_expires_at,
        refresh.as_ref().map(|(v, e)| (v, *e)),
        now,
    );
    if !store.redeem_code(&hash, &tokens, now).await? {
        tracing::warn!(family_id = %code_record.family_id, "authorization code replayed concurrently: its tokens are revoked");
        return Err(replayed().into());
    }
    tracing::info!(account_id = %code_record.account_id, grant_id = %code_record.grant_id, scope = %d.scopes, "authorization code exchanged");
    Ok(response(
        &access,
        &d.scopes,
        d.access_expires_at,
        refresh.as_ref().map(|(v, _)| v),
        now,
    ))
}

#[tracing::instrument(skip_all, fields(client_id = %app.client_id))]
pub async fn refresh(
    state: &AppState,
    app: &App,
    presented: &Secret,
    requested: Option<&ScopeSet>,
) -> ServiceResult<TokenResponse> {
    if token::parse_kind(presented.expose(), TokenKind::Refresh).is_err() {
        return Err(OAuthError::invalid_grant("the refresh token is invalid").into());
    }
    let store = state.store();
    let hash = TokenHash::of(presented.expose());
    let key = derivation_key(state).await?;
    // Two rounds at most: a lost race re-reads the token, which then says Retry.
    for _ in 0..2 {
        let now = state.now();
        let record = store.refresh_token(&hash).await?;
        let decision = refresh_token::decide(
            record.as_ref(),
            app,
            requested,
            &state.config().lifetimes,
            now,
        )?;
        let Some(record) = record else {
            break;
        };
        let decision = match decision {
            RefreshDecision::Retry => {
                // The presented token's successor, if it is still the family's current token: its
                // hash gives the order it was derived at, so the same pair can be derived again.
                let current = store
                    .current_refresh_token(&record.grant_id, &record.family_id)
                    .await?;
                let retried = current.and_then(|c| {
                    let (access, successor) = successors(&key, presented.expose(), c.hash.order());
                    let derived_from_presented = TokenHash::of(successor.expose()).ct_eq(&c.hash);
                    derived_from_presented.then_some((c, access, successor))
                });
                let reuse = RefreshDecision::Reuse {
                    family_id: record.family_id.clone(),
                };
                match retried {
                    Some((next, access, successor))
                        if refresh_token::check_retry(&record, Some(&next), now).is_ok() =>
                    {
                        let issued = store.access_token(&TokenHash::of(access.expose())).await?;
                        if let Some(a) = issued.filter(|a| a.revoked_at.is_none()) {
                            tracing::info!(family_id = %record.family_id, "refresh retried within the window: same pair");
                            return Ok(response(
                                &access,
                                &a.scopes,
                                a.expires_at.unwrap_or(now),
                                Some(&successor),
                                now,
                            ));
                        }
                        reuse
                    }
                    // No live successor derived from this token: a reuse after rotation.
                    _ => reuse,
                }
            }
            other => other,
        };
        match decision {
            RefreshDecision::Rotate {
                access_scopes,
                access_expires_at,
                refresh_expires_at,
            } => {
                let (access, successor) = successors(&key, presented.expose(), IssueOrder::now());
                let ctx = Context {
                    app,
                    account_id: &record.account_id,
                    user_id: &record.user_id,
                    grant_id: &record.grant_id,
                    family_id: &record.family_id,
                    family_created_at: record.family_created_at,
                    refresh_scopes: &record.scopes,
                };
                let tokens = records(
                    &ctx,
                    &access,
                    &access_scopes,
                    access_expires_at,
                    Some((&successor, refresh_expires_at)),
                    now,
                );
                if store.rotate_refresh_token(&hash, &tokens, now).await? {
                    tracing::info!(family_id = %record.family_id, scope = %access_scopes, "refresh token rotated");
                    return Ok(response(
                        &access,
                        &access_scopes,
                        access_expires_at,
                        Some(&successor),
                        now,
                    ));
                }
            }
            RefreshDecision::Reuse { family_id } => {
                store
                    .revoke_family(&record.grant_id, &family_id, now)
                    .await?;
                tracing::warn!(%family_id, account_id = %record.account_id, "refresh token reused after rotation: suspected theft; the whole family is revoked");
                return Err(OAuthError::invalid_grant(
                    "the refresh token was already used; its family is revoked",
                )
                .into());
            }
            RefreshDecision::Retry => {}
        }
    }
    Err(OAuthError::invalid_grant("the refresh token is invalid, expired or revoked").into())
}
