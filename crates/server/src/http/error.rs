//! The one mapping from service errors to HTTP responses: RFC 6749 bodies at the OAuth edge,
//! RFC 6750 challenges at the API, JSON everywhere, no internal detail to clients.

use crate::limits::Limited;
use crate::ServiceError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mailgrant_core::{OAuthError, OAuthErrorCode};
use serde_json::json;

pub const REALM: &str = "mailgrant";

pub fn json_error(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({ "error": error, "message": message }))).into_response()
}

fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        Json(json!({ "error": e.code.as_str(), "error_description": e.description })),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if e.code == OAuthErrorCode::InvalidClient {
        // RFC 6749 §5.2: a 401 names the scheme the client should use.
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mailgrant\", charset=\"UTF-8\""),
        );
    }
    response
}

/// 429 with `Retry-After` (RFC 9110) and the `RateLimit-*` fields (IETF httpapi draft).
fn rate_limited(l: &Limited) -> Response {
    let message = format!("too many requests; retry after {} s", l.retry_after_secs);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({ "error": "rate_limited", "error_description": message, "message": message })),
    )
        .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("retry-after", l.retry_after_secs.to_string()),
        ("ratelimit-limit", l.limit.to_string()),
        ("ratelimit-remaining", "0".to_string()),
        ("ratelimit-reset", l.reset_secs.to_string()),
        (
            "ratelimit-policy",
            format!("{};w={}", l.limit, l.window_secs),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        match &self {
            ServiceError::OAuth(e) => oauth_error(e),
            ServiceError::Bearer(e) => {
                let status =
                    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
                let mut response =
                    json_error(status, e.code().unwrap_or("invalid_token"), e.description());
                if let Ok(value) = HeaderValue::from_str(&e.challenge(REALM)) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            ServiceError::Invalid(m) => json_error(StatusCode::BAD_REQUEST, "invalid_request", m),
            ServiceError::NotFound(m) => json_error(StatusCode::NOT_FOUND, "not_found", m),
            ServiceError::Conflict(m) => json_error(StatusCode::CONFLICT, "conflict", m),
            ServiceError::Forbidden(m) => json_error(StatusCode::FORBIDDEN, "forbidden", m),
            ServiceError::RateLimited(l) => rate_limited(l),
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server could not complete the request",
                )
            }
        }
    }
}
