//! OAuth endpoints: each handler parses, calls the service, answers.

pub mod discovery;
pub mod introspect;
pub mod register;
pub mod revoke;
pub mod token;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// A JSON answer carrying token material: never cached (RFC 6749 §5.1).
pub fn no_store_json<T: Serialize>(body: T) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
