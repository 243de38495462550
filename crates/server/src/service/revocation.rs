//! Token revocation (RFC 7009): a client revokes tokens issued to it.

use crate::service::clients;
use crate::state::AppState;
use crate::ServiceResult;
use mailgrant_core::grants::client_auth::ClientCredentials;
use mailgrant_core::{token, TokenHash, TokenKind};

/// Revoke `presented` if it was issued to the calling client. Unknown or foreign tokens are
/// answered the same way as revoked ones (RFC 7009 §2.2), so the endpoint reveals nothing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke(
    state: &AppState,
    client: &ClientCredentials,
    presented: &str,
) -> ServiceResult<()> {
    let caller = clients::authenticate(state, client).await?;
    if token::parse(presented) != Ok(TokenKind::Access) {
        return Ok(());
    }
    let hash = TokenHash::of(presented);
    let store = state.store();
    if let Some(record) = store.access_token(&hash).await? {
        if record.client_id.as_deref() == Some(caller.client_id.as_str()) {
            store.revoke_access_token(&hash, state.now()).await?;
            tracing::info!(client_id = %caller.client_id, "access token revoked by its client");
        }
    }
    Ok(())
}
