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
    if token::parse(presented) == Ok(TokenKind::Refresh) {
        // Revoking a refresh token revokes its whole family (RFC 7009 §2.1).
        let record = state
            .store()
            .refresh_token(&TokenHash::of(presented))
            .await?;
        if let Some(r) = record.filter(|r| r.client_id == caller.client_id) {
            state
                .store()
                .revoke_family(&r.grant_id, &r.family_id, state.now())
                .await?;
            tracing::info!(client_id = %caller.client_id, family_id = %r.family_id, "refresh token family revoked by its client");
        }
        return Ok(());
    }
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
