//! `GET/POST /login` and `POST /logout`.

use super::{
    failure, login_url, render, safe_return_to, see_other, session_cookie, set_session_cookie,
};
use crate::paths;
use crate::service::session::{self, LoginError};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ReturnTo {
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

async fn show(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    return_to: &str,
    email: &str,
    error: Option<String>,
) -> Response {
    let (current, new_cookie) =
        match session::current_or_start(state, session_cookie(headers).as_deref()).await {
            Ok(c) => c,
            Err(e) => return failure(e),
        };
    let csrf = match session::csrf_token(state, &current.session).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let mut response = render(
        status,
        "login.html",
        context! { action => paths::LOGIN, csrf_token => csrf, return_to => return_to, email => email, error => error },
    );
    if new_cookie.is_some() {
        set_session_cookie(&mut response, state, new_cookie.as_ref());
    }
    response
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReturnTo>,
) -> Response {
    let return_to = safe_return_to(q.return_to.as_deref());
    show(&state, &headers, StatusCode::OK, &return_to, "", None).await
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let return_to = safe_return_to(form.return_to.as_deref());
    let current = match session::current(&state, session_cookie(&headers).as_deref()).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            let error = Some(LoginError::Csrf.to_string());
            return show(
                &state,
                &headers,
                StatusCode::FORBIDDEN,
                &return_to,
                &form.email,
                error,
            )
            .await;
        }
        Err(e) => return failure(e),
    };
    match session::login(
        &state,
        &current,
        &form.email,
        &form.password,
        &form.csrf_token,
    )
    .await
    {
        Ok(value) => {
            let mut response = see_other(&return_to);
            set_session_cookie(&mut response, &state, Some(&value));
            response
        }
        Err(LoginError::Service(e)) => failure(e),
        Err(e) => {
            let status = match e {
                LoginError::Csrf => StatusCode::FORBIDDEN,
                LoginError::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            show(
                &state,
                &headers,
                status,
                &return_to,
                &form.email,
                Some(e.to_string()),
            )
            .await
        }
    }
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let current = match session::current(&state, session_cookie(&headers).as_deref()).await {
        Ok(c) => c,
        Err(e) => return failure(e),
    };
    if let Some(current) = current {
        match session::logout(&state, &current, &form.csrf_token).await {
            Ok(true) => {}
            Ok(false) => return super::form_expired(),
            Err(e) => return failure(e),
        }
    }
    let mut response = see_other(&login_url(paths::CONNECTED_APPS));
    set_session_cookie(&mut response, &state, None);
    response
}
