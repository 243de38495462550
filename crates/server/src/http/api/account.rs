use crate::http::extract::Bearer;
use crate::service::{admin, bearer};
use crate::state::AppState;
use crate::ServiceError;
use axum::extract::State;
use axum::Json;
use mailgrant_core::model::Account;

/// `GET /v1/account` (scope `account.read`): the account the token acts on.
pub async fn show(
    State(state): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Json<Account>, ServiceError> {
    let grant = bearer::authorize(&state, &token, "account.read").await?;
    Ok(Json(admin::account(&state, &grant.account_id).await?))
}
