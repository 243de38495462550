//! `/account/connected-apps`: the apps connected to the user's accounts, with revoke buttons
//! for owners and admins.

use super::{failure, login_url, render, see_other, session_cookie};
use crate::paths;
use crate::service::{grants, session};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use mailgrant_core::model::User;
use minijinja::context;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Notice {
    revoked: Option<String>,
}

fn when(t: Option<i64>, now: i64) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let ago = (now - t).max(0);
            match ago {
                0..=59 => "just now".into(),
                60..=3599 => format!("{} minutes ago", ago / 60),
                3600..=86_399 => format!("{} hours ago", ago / 3600),
                _ => format!("{} days ago", ago / 86_400),
            }
        }
    }
}

/// The signed-in user and their session, or the answer that sends them to log in first.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(session::Current, User), Response> {
    match session::current(state, session_cookie(headers).as_deref()).await {
        Ok(Some(mut current)) => match current.user.take() {
            Some(user) => Ok((current, user)),
            None => Err(see_other(&login_url(paths::CONNECTED_APPS))),
        },
        Ok(None) => Err(see_other(&login_url(paths::CONNECTED_APPS))),
        Err(e) => Err(failure(e)),
    }
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Notice>,
) -> Response {
    let (current, user) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let user = &user;
    let (list, csrf) = match (
        grants::connected_apps(&state, user).await,
        session::csrf_token(&state, &current.session).await,
    ) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => return failure(e),
    };
    let now = state.now();
    let rows: Vec<_> = list
        .iter()
        .map(|g| {
            context! {
                id => g.id, app_name => g.app_name, client_id => g.client_id,
                account_name => g.account_name, scopes => g.scopes,
                last_used => when(g.last_used_at, now), can_revoke => g.can_revoke,
            }
        })
        .collect();
    render(
        StatusCode::OK,
        "connected_apps.html",
        context! {
            email => user.email,
            grants => rows,
            csrf_token => csrf,
            revoke_action => paths::CONNECTED_APPS_REVOKE,
            logout_action => paths::LOGOUT,
            notice => q.revoked.map(|_| "The app was disconnected; its tokens no longer work."),
        },
    )
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    grant_id: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let (current, user) = match signed_in(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let user = &user;
    match session::check_csrf(&state, &current.session, &form.csrf_token).await {
        Ok(true) => {}
        Ok(false) => return super::form_expired(),
        Err(e) => return failure(e),
    }
    match grants::revoke_as_user(&state, user, &form.grant_id).await {
        Ok(()) => see_other(&format!("{}?revoked=1", paths::CONNECTED_APPS)),
        Err(e) => failure(e),
    }
}
