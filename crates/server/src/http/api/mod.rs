//! The email-marketing resource API under `/v1/`.

pub mod account;
pub mod openapi;

use axum::http::StatusCode;
use axum::response::Response;

pub async fn not_found() -> Response {
    super::json_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}
