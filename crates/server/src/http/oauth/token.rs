use super::no_store_json;
use crate::http::extract::OAuthForm;
use crate::service;
use crate::state::AppState;
use crate::ServiceError;
use axum::extract::State;
use axum::response::Response;
use mailgrant_core::grants::request::TokenRequest;

pub async fn token(
    State(state): State<AppState>,
    form: OAuthForm,
) -> Result<Response, ServiceError> {
    let params = form.params()?;
    let request = TokenRequest::parse(&params)?;
    let client = form.client(&params)?;
    let answer = service::token::exchange(&state, &client, request).await?;
    Ok(no_store_json(answer))
}
