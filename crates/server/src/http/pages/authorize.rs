//! `GET /oauth/authorize` (RFC 6749 §4.1.1) and the consent form's `POST` to the same path.

use super::{error_page, failure, login_url, render, see_other, session_cookie};
use crate::paths;
use crate::service::authorize::{self, Next, Valid};
use crate::service::session::{self, Current};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use mailgrant_core::grants::authorize::AuthorizeError;
use mailgrant_core::model::User;
use mailgrant_core::scope;
use minijinja::context;

fn parse(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Validate; an error is either a page (client or redirect URI) or a redirect to the client.
async fn validated(state: &AppState, query: &str) -> Result<Valid, Response> {
    match authorize::validate(state, &parse(query)).await {
        Ok(Ok(valid)) => Ok(valid),
        Ok(Err(AuthorizeError::Page(message))) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "This app's request cannot be accepted",
            &message,
        )),
        Ok(Err(AuthorizeError::Redirect(e))) => Err(see_other(&e.location(&state.config().issuer))),
        Err(e) => Err(failure(e)),
    }
}

async fn logged_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Current, User)>, Response> {
    match session::current(state, session_cookie(headers).as_deref()).await {
        Ok(Some(c)) => Ok(c.user.clone().map(|u| (c, u))),
        Ok(None) => Ok(None),
        Err(e) => Err(failure(e)),
    }
}

pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let valid = match validated(&state, &query).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (current, user) = match logged_in(&state, &headers).await {
        Ok(Some(pair)) => pair,
        Ok(None) if valid.request.no_interaction => {
            return see_other(&authorize::login_required(&state, &valid))
        }
        Ok(None) => return see_other(&login_url(&format!("{}?{query}", paths::AUTHORIZE))),
        Err(r) => return r,
    };
    let accounts = match authorize::after_login(&state, &user, &valid).await {
        Ok(Next::Redirect(location)) => return see_other(&location),
        Ok(Next::Consent(accounts)) => accounts,
        Err(e) => return failure(e),
    };
    let csrf = match session::csrf_token(&state, &current.session).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let scopes: Vec<_> = valid
        .request
        .scopes
        .iter()
        .map(|s| context! { name => s, description => scope::describe(s).unwrap_or(s) })
        .collect();
    let redirect_host = url::Url::parse(&valid.request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| valid.request.redirect_uri.clone());
    render(
        StatusCode::OK,
        "consent.html",
        context! {
            action => paths::AUTHORIZE,
            csrf_token => csrf,
            request => query,
            app_name => valid.app.name,
            app_description => valid.app.description,
            scopes => scopes,
            accounts => accounts,
            email => user.email,
            redirect_host => redirect_host,
            connected_apps => paths::CONNECTED_APPS,
        },
    )
}

#[derive(serde::Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    request: String,
    decision: Option<String>,
    account_id: Option<String>,
}

pub async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let valid = match validated(&state, &form.request).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (current, user) = match logged_in(&state, &headers).await {
        Ok(Some(pair)) => pair,
        Ok(None) => {
            return see_other(&login_url(&format!(
                "{}?{}",
                paths::AUTHORIZE,
                form.request
            )))
        }
        Err(r) => return r,
    };
    match session::check_csrf(&state, &current.session, &form.csrf_token).await {
        Ok(true) => {}
        Ok(false) => return error_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "The consent form expired or did not come from this site. Start again from the app.",
        ),
        Err(e) => return failure(e),
    }
    let allow = match form.decision.as_deref() {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "Choose Allow or Deny.",
            )
        }
    };
    match authorize::decide(&state, &user, &valid, allow, form.account_id.as_deref()).await {
        Ok(location) => see_other(&location),
        Err(e) => failure(e),
    }
}
