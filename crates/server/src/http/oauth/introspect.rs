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
    let params = form.params()?;
    let token = params.require("token")?;
    let client = form.client(&params)?;
    let answer = service::introspection::introspect(&state, &client, token).await?;
    Ok(no_store_json(answer))
}
