//! Token introspection (RFC 7662), for authenticated confidential clients.

use crate::service::clients;
use crate::state::AppState;
use crate::ServiceResult;
use mailgrant_core::grants::client_auth::ClientCredentials;
use mailgrant_core::{token, OAuthError, TokenHash, TokenKind};
use serde::Serialize;

#[derive(Debug, Serialize, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The account the token acts on (mailgrant extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn introspect(
    state: &AppState,
    client: &ClientCredentials,
    presented: &str,
) -> ServiceResult<Introspection> {
    let caller = clients::authenticate(state, client).await?;
    if caller.public {
        return Err(OAuthError::invalid_client("public clients may not introspect tokens").into());
    }
    let inactive = Ok(Introspection::default());
    let Ok(kind) = token::parse(presented) else {
        return inactive;
    };
    let now = state.now();
    if kind == TokenKind::Refresh {
        return refresh_token(state, &caller.client_id, presented, now).await;
    }
    if !matches!(kind, TokenKind::Access | TokenKind::PrivateApp) {
        return inactive;
    }
    let Some(record) = state
        .store()
        .access_token(&TokenHash::of(presented))
        .await?
    else {
        return inactive;
    };
    if !record.is_active(now) {
        return inactive;
    }
    Ok(Introspection {
        active: true,
        scope: Some(record.scopes.to_string()),
        client_id: record.client_id.clone(),
        token_type: Some("Bearer"),
        exp: record.expires_at,
        iat: Some(record.created_at),
        sub: Some(
            record
                .user_id
                .clone()
                .unwrap_or_else(|| record.account_id.clone()),
        ),
        iss: Some(state.config().issuer.clone()),
        account_id: Some(record.account_id),
    })
}

/// A refresh token is introspected only by the client it was issued to.
async fn refresh_token(
    state: &AppState,
    caller: &str,
    presented: &str,
    now: i64,
) -> ServiceResult<Introspection> {
    let record = state
        .store()
        .refresh_token(&TokenHash::of(presented))
        .await?
        .filter(|r| r.client_id == caller && r.is_active(now));
    Ok(match record {
        None => Introspection::default(),
        Some(r) => Introspection {
            active: true,
            scope: Some(r.scopes.to_string()),
            client_id: Some(r.client_id),
            token_type: Some("refresh_token"),
            exp: Some(r.expires_at),
            iat: Some(r.created_at),
            sub: Some(r.user_id),
            iss: Some(state.config().issuer.clone()),
            account_id: Some(r.account_id),
        },
    })
}
