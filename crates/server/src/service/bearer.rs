//! Bearer tokens at the resource API (RFC 6750).

use crate::state::AppState;
use crate::ServiceResult;
use mailgrant_core::model::AccessTokenRecord;
use mailgrant_core::{access, TokenHash};

/// Check a presented bearer token for `scope`; the token's record when it may proceed.
pub async fn authorize(
    state: &AppState,
    presented: &str,
    scope: &str,
) -> ServiceResult<AccessTokenRecord> {
    access::check_bearer_format(presented)?;
    let record = state
        .store()
        .access_token(&TokenHash::of(presented))
        .await?;
    access::authorize(record.as_ref(), scope, state.now())?;
    let record =
        record.ok_or_else(|| mailgrant_core::BearerError::InvalidToken("unknown token".into()))?;
    state.limits().api.check(&record.account_id)?;
    Ok(record)
}
