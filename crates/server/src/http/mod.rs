//! The HTTP layer: routes, extractors, and the one place errors become responses.

mod api;
mod error;
mod extract;
mod form;
mod oauth;
mod pages;

use crate::paths;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::time::Instant;

pub use error::json_error;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(paths::DISCOVERY, get(oauth::discovery::metadata))
        .route(paths::TOKEN, post(oauth::token::token))
        .route(
            paths::AUTHORIZE,
            get(pages::authorize::start).post(pages::authorize::consent),
        )
        .route(
            paths::LOGIN,
            get(pages::login::page).post(pages::login::submit),
        )
        .route(paths::LOGOUT, post(pages::login::logout))
        .route(paths::CONNECTED_APPS, get(pages::connected_apps::page))
        .route(
            paths::CONNECTED_APPS_REVOKE,
            post(pages::connected_apps::revoke),
        )
        .route(paths::REVOKE, post(oauth::revoke::revoke))
        .route(paths::INTROSPECT, post(oauth::introspect::introspect))
        .route(paths::REGISTER, post(oauth::register::register))
        .route(paths::API_ACCOUNT, get(api::account::show))
        .route(paths::OPENAPI, get(api::openapi::document))
        .route(paths::HEALTH, get(|| async { "ok" }))
        .fallback(api::not_found)
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// One log line a request: method, route (never the query, which may carry codes), status, time.
async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    // Lookups of this request share one revocation-freshness check (see mailgrant_store::cache).
    let mut response = mailgrant_store::cache::within_request(next.run(request)).await;
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    tracing::debug!(
        %method,
        route,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
