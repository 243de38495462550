//! RFC 7591 dynamic client registration: JSON metadata in, 201 with the client's credentials out.

use super::no_store_json;
use crate::http::extract::Bearer;
use crate::service;
use crate::state::AppState;
use crate::ServiceError;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

pub async fn register(
    State(state): State<AppState>,
    initial_access_token: Option<Bearer>,
    body: Bytes,
) -> Result<Response, ServiceError> {
    let token = initial_access_token.map(|Bearer(t)| t);
    let registered = service::registration::register(&state, token.as_deref(), &body).await?;
    let mut response = no_store_json(registered);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}
