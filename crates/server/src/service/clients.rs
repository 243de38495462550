//! Client authentication against stored apps and secrets.

use crate::state::AppState;
use crate::ServiceResult;
use mailgrant_core::grants::client_auth::{self, ClientCredentials};
use mailgrant_core::model::App;

/// Authenticate the presented client; the app on success, `invalid_client` otherwise.
#[tracing::instrument(level = "debug", skip_all, fields(client_id = %presented.client_id()))]
pub async fn authenticate(state: &AppState, presented: &ClientCredentials) -> ServiceResult<App> {
    let store = state.store();
    let app = store.app(presented.client_id()).await?;
    let secrets = match (&app, presented) {
        (Some(a), ClientCredentials::Secret { .. }) if !a.public => {
            store.client_secrets(&a.client_id).await?
        }
        _ => Vec::new(),
    };
    client_auth::authenticate(app.as_ref(), &secrets, presented, state.now())?;
    app.ok_or_else(|| {
        mailgrant_core::OAuthError::invalid_client("client authentication failed").into()
    })
}
