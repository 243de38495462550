use crate::http::extract::OAuthForm;
use crate::service;
use crate::state::AppState;
use crate::ServiceError;
use axum::extract::State;
use axum::http::StatusCode;

pub async fn revoke(
    State(state): State<AppState>,
    form: OAuthForm,
) -> Result<StatusCode, ServiceError> {
    let params = form.params()?;
    let token = params.require("token")?;
    let client = form.client(&params)?;
    service::revocation::revoke(&state, &client, token).await?;
    Ok(StatusCode::OK)
}
