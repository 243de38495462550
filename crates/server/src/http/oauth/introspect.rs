use super::no_store_json;
use crate::http::extract::OAuthForm;
use crate::service;
use crate::state::AppState;
use crate::ServiceError;
use axum::extract::State;
use axum::response::Response;

pub async fn introspect(
    State(state): State<AppState>,
    form: OAuthForm,
) -> Result<Response, ServiceError> {
    let token = form.params()?.require("token")?.to_string();
    let client = form.client()?;
    let answer = service::introspection::introspect(&state, &client, &token).await?;
    Ok(no_store_json(answer))
}
