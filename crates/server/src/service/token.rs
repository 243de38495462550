//! The token endpoint: dispatch a typed request to its grant, mint, store durably, answer.

use crate::service::{clients, token_flows};
use crate::state::AppState;
use crate::ServiceResult;
use mailgrant_core::grants::client_auth::ClientCredentials;
use mailgrant_core::grants::request::TokenRequest;
use mailgrant_core::grants::{client_credentials, IssueDecision};
use mailgrant_core::model::{AccessTokenRecord, App};
use mailgrant_core::{token, TokenHash, TokenKind};
use serde::Serialize;

/// RFC 6749 §5.1.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn exchange(
    state: &AppState,
    client: &ClientCredentials,
    request: TokenRequest,
) -> ServiceResult<TokenResponse> {
    let app = clients::authenticate(state, client).await?;
    // Keyed after authentication, so nobody can spend another client's budget.
    state.limits().token.check(&app.client_id)?;
    match request {
        TokenRequest::ClientCredentials { scope } => {
            let decision = client_credentials::decide(
                &app,
                scope.as_ref(),
                &state.config().lifetimes,
                state.now(),
            )?;
            issue_access_token(state, &app, decision).await
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            token_flows::authorization_code(
                state,
                &app,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
            )
            .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => token_flows::refresh(state, &app, &refresh_token, scope.as_ref()).await,
    }
}

/// Mint an access token for a decision and commit it before anyone sees it.
pub async fn issue_access_token(
    state: &AppState,
    app: &App,
    decision: IssueDecision,
) -> ServiceResult<TokenResponse> {
    let now = state.now();
    let value = token::generate(TokenKind::Access);
    let record = AccessTokenRecord {
        hash: TokenHash::of(value.expose()),
        kind: TokenKind::Access,
        account_id: decision.account_id,
        client_id: Some(app.client_id.clone()),
        private_app_id: None,
        user_id: None,
        grant_id: None,
        family_id: None,
        scopes: decision.scopes,
        created_at: now,
        expires_at: Some(decision.expires_at),
        revoked_at: None,
    };
    state.store().insert_access_token(&record).await?;
    tracing::info!(client_id = %app.client_id, account_id = %record.account_id, scope = %record.scopes, "access token issued");
    Ok(TokenResponse {
        access_token: value.expose().to_string(),
        token_type: "Bearer",
        expires_in: decision.expires_at - now,
        scope: record.scopes.to_string(),
        refresh_token: None,
    })
}
