//! The authorization endpoint over storage: validate, decide whether to ask for consent, record
//! the grant, and issue a code (or, for apps that opted in, an implicit-flow token).

use crate::state::AppState;
use crate::{ServiceError, ServiceResult};
use mailgrant_core::grants::authorize::{
    self, response_location, AuthorizeError, AuthorizeRequest, ErrorRedirect, ResponseType,
};
use mailgrant_core::model::{AccessTokenRecord, App, Membership, User};
use mailgrant_core::records::{AuthorizationCode, Grant};
use mailgrant_core::{ids, token, OAuthError, OAuthErrorCode, TokenHash, TokenKind};

/// A valid request and its app.
pub struct Valid {
    pub app: App,
    pub request: AuthorizeRequest,
}

/// What to do with a logged-in user's request.
pub enum Next {
    /// Send the browser here (a code, a token, or an error for the client).
    Redirect(String),
    /// Ask: these are the accounts the user may connect.
    Consent(Vec<Membership>),
}

pub async fn validate(
    state: &AppState,
    pairs: &[(String, String)],
) -> ServiceResult<Result<Valid, AuthorizeError>> {
    let client_id = pairs
        .iter()
        .find(|(n, _)| n == "client_id")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let app = if client_id.is_empty() || client_id.len() > 100 {
        None
    } else {
        state.store().app(client_id).await?
    };
    Ok(match (authorize::validate(pairs, app.as_ref()), app) {
        (Ok(request), Some(app)) => Ok(Valid { app, request }),
        (Err(e), _) => Err(e),
        // `validate` never passes a request without its app.
        (Ok(_), None) => Err(AuthorizeError::Page("unknown client".into())),
    })
}

fn error_location(state: &AppState, request: &AuthorizeRequest, error: OAuthError) -> String {
    ErrorRedirect {
        redirect_uri: request.redirect_uri.clone(),
        error,
        state: request.state.clone(),
        fragment: request.response_type == ResponseType::Token,
    }
    .location(&state.config().issuer)
}

/// Where to send a `prompt=none` request that would need the person to sign in.
pub fn login_required(state: &AppState, valid: &Valid) -> String {
    error_location(
        state,
        &valid.request,
        OAuthError::new(
            OAuthErrorCode::LoginRequired,
            "prompt=none, and nobody is signed in",
        ),
    )
}

/// After login: skip consent when a grant already covers the request, otherwise ask (or, for
/// `prompt=none`, say what would have been asked).
pub async fn after_login(state: &AppState, user: &User, valid: &Valid) -> ServiceResult<Next> {
    let memberships = state.store().memberships_of(&user.id).await?;
    let connectable = authorize::connectable(&memberships);
    if connectable.is_empty() {
        return Ok(Next::Redirect(error_location(
            state,
            &valid.request,
            OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "only an account's owners and admins may connect apps to it",
            ),
        )));
    }
    let grant = match connectable.as_slice() {
        [only] => {
            state
                .store()
                .live_grant(&only.account_id, &valid.app.client_id)
                .await?
        }
        _ => None,
    };
    if let Some(account) = authorize::skip_consent(&valid.request, &connectable, grant.as_ref()) {
        let account = account.to_string();
        return issue(state, user, valid, &account)
            .await
            .map(Next::Redirect);
    }
    if valid.request.no_interaction {
        let error = if connectable.len() > 1 {
            OAuthError::new(
                OAuthErrorCode::AccountSelectionRequired,
                "prompt=none, and the user would have to choose an account",
            )
        } else {
            OAuthError::new(
                OAuthErrorCode::ConsentRequired,
                "prompt=none, and no grant covers the requested scopes",
            )
        };
        return Ok(Next::Redirect(error_location(state, &valid.request, error)));
    }
    Ok(Next::Consent(connectable.into_iter().cloned().collect()))
}

/// The consent form's answer.
pub async fn decide(
    state: &AppState,
    user: &User,
    valid: &Valid,
    allow: bool,
    account_id: Option<&str>,
) -> ServiceResult<String> {
    if !allow {
        tracing::info!(client_id = %valid.app.client_id, user_id = %user.id, "consent denied");
        return Ok(error_location(
            state,
            &valid.request,
            OAuthError::new(OAuthErrorCode::AccessDenied, "the user denied the request"),
        ));
    }
    let memberships = state.store().memberships_of(&user.id).await?;
    let connectable = authorize::connectable(&memberships);
    let account = match authorize::chosen_account(&connectable, account_id) {
        Ok(a) => a.to_string(),
        Err(e) => return Ok(error_location(state, &valid.request, e)),
    };
    issue(state, user, valid, &account).await
}

/// Record (or widen) the grant, then issue what the response type asks for.
async fn issue(
    state: &AppState,
    user: &User,
    valid: &Valid,
    account: &str,
) -> ServiceResult<String> {
    let grant = save_grant(state, user, valid, account).await?;
    let (app, req) = (&valid.app, &valid.request);
    let now = state.now();
    let lifetimes = &state.config().lifetimes;
    let issuer = state.config().issuer.as_str();
    let mut params: Vec<(&str, String)> = Vec::new();
    match req.response_type {
        ResponseType::Code => {
            let value = token::generate(TokenKind::Code);
            let code = AuthorizationCode {
                hash: TokenHash::of(value.expose()),
                client_id: app.client_id.clone(),
                redirect_uri: req.redirect_uri_given.then(|| req.redirect_uri.clone()),
                code_challenge: req.code_challenge.clone(),
                account_id: account.to_string(),
                user_id: user.id.clone(),
                grant_id: grant.id.clone(),
                family_id: ids::family(),
                scopes: req.scopes.clone(),
                created_at: now,
                expires_at: now + lifetimes.authorization_code,
                used_at: None,
            };
            state.store().create_code(&code).await?;
            tracing::info!(client_id = %app.client_id, account_id = account, grant_id = %grant.id, "authorization code issued");
            params.push(("code", value.expose().to_string()));
        }
        ResponseType::Token => {
            let value = token::generate(TokenKind::Access);
            let record = AccessTokenRecord {
                hash: TokenHash::of(value.expose()),
                kind: TokenKind::Access,
                account_id: account.to_string(),
                client_id: Some(app.client_id.clone()),
                private_app_id: None,
                user_id: Some(user.id.clone()),
                grant_id: Some(grant.id.clone()),
                family_id: None,
                scopes: req.scopes.clone(),
                created_at: now,
                expires_at: Some(now + lifetimes.access_token),
                revoked_at: None,
            };
            state.store().insert_access_token(&record).await?;
            tracing::info!(client_id = %app.client_id, account_id = account, grant_id = %grant.id, "implicit-flow access token issued");
            params.push(("access_token", value.expose().to_string()));
            params.push(("token_type", "Bearer".into()));
            params.push(("expires_in", lifetimes.access_token.to_string()));
            params.push(("scope", req.scopes.to_string()));
        }
    }
    if let Some(s) = &req.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", issuer.to_string()));
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(response_location(
        &req.redirect_uri,
        req.response_type == ResponseType::Token,
        &pairs,
    ))
}

async fn save_grant(
    state: &AppState,
    user: &User,
    valid: &Valid,
    account: &str,
) -> ServiceResult<Grant> {
    let store = state.store();
    let now = state.now();
    for _ in 0..2 {
        let existing = store.live_grant(account, &valid.app.client_id).await?;
        let grant = match existing {
            Some(g) if valid.request.scopes.is_subset(&g.scopes) => return Ok(g),
            Some(g) => Grant {
                scopes: g.scopes.union(&valid.request.scopes),
                user_id: user.id.clone(),
                updated_at: now,
                ..g
            },
            None => Grant {
                id: ids::grant(),
                account_id: account.to_string(),
                client_id: valid.app.client_id.clone(),
                user_id: user.id.clone(),
                scopes: valid.request.scopes.clone(),
                created_at: now,
                updated_at: now,
                last_used_at: None,
                revoked_at: None,
            },
        };
        match store.save_grant(&grant).await {
            Ok(()) => {
                tracing::info!(grant_id = %grant.id, client_id = %grant.client_id, account_id = account, scope = %grant.scopes, "grant saved");
                return Ok(grant);
            }
            // Another consent for the same account and app won the race: read it and go again.
            Err(mailgrant_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ServiceError::Conflict(
        "the grant changed while saving; try again".into(),
    ))
}
