//! Grants: an account's consent to an app. Listing them for the connected-apps page and the CLI,
//! and revoking one, which kills every code and token under it in one transaction.

use crate::state::AppState;
use crate::{ServiceError, ServiceResult};
use mailgrant_core::model::{Role, User};
use mailgrant_core::records::Grant;
use serde::Serialize;

/// A grant as the page and the CLI show it.
#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    pub id: String,
    pub account_id: String,
    pub account_name: String,
    pub client_id: String,
    pub app_name: String,
    pub scopes: Vec<ScopeView>,
    pub scope: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Whether the viewer may revoke it (owners and admins of its account).
    pub can_revoke: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeView {
    pub name: String,
    pub description: &'static str,
}

async fn view(
    state: &AppState,
    g: Grant,
    account_name: String,
    can_revoke: bool,
) -> ServiceResult<GrantView> {
    let app_name = state
        .store()
        .app(&g.client_id)
        .await?
        .map(|a| a.name)
        .unwrap_or_else(|| "(deleted app)".into());
    Ok(GrantView {
        scopes: g
            .scopes
            .iter()
            .map(|s| ScopeView {
                name: s.to_string(),
                description: mailgrant_core::scope::describe(s).unwrap_or(""),
            })
            .collect(),
        scope: g.scopes.to_string(),
        id: g.id,
        account_id: g.account_id,
        account_name,
        client_id: g.client_id,
        app_name,
        created_at: g.created_at,
        last_used_at: g.last_used_at,
        revoked_at: g.revoked_at,
        can_revoke,
    })
}

/// The live grants of every account the user belongs to.
pub async fn connected_apps(state: &AppState, user: &User) -> ServiceResult<Vec<GrantView>> {
    let mut out = Vec::new();
    for m in state.store().memberships_of(&user.id).await? {
        for g in state
            .store()
            .list_grants(Some(&m.account_id), false)
            .await?
        {
            out.push(
                view(
                    state,
                    g,
                    m.account_name.clone(),
                    m.role.can_manage_integrations(),
                )
                .await?,
            );
        }
    }
    Ok(out)
}

/// Revoke a grant from the account page: only owners and admins of its account.
pub async fn revoke_as_user(state: &AppState, user: &User, grant_id: &str) -> ServiceResult<()> {
    let store = state.store();
    let grant = store
        .grant(grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| ServiceError::NotFound("no such connected app".into()))?;
    let role = store
        .memberships_of(&user.id)
        .await?
        .into_iter()
        .find(|m| m.account_id == grant.account_id)
        .map(|m| m.role);
    match role {
        Some(r) if r.can_manage_integrations() => {}
        Some(Role::Member) => {
            return Err(ServiceError::Forbidden(
                "only the account's owners and admins may disconnect apps".into(),
            ))
        }
        _ => return Err(ServiceError::NotFound("no such connected app".into())),
    }
    store.revoke_grant(grant_id, state.now()).await?;
    tracing::info!(grant_id, user_id = %user.id, "grant revoked from the account page");
    Ok(())
}

/// For the CLI: every grant (of one account), live and revoked.
pub async fn list(state: &AppState, account_id: Option<&str>) -> ServiceResult<Vec<GrantView>> {
    let mut out = Vec::new();
    for g in state.store().list_grants(account_id, true).await? {
        let name = state
            .store()
            .account(&g.account_id)
            .await?
            .map(|a| a.name)
            .unwrap_or_default();
        out.push(view(state, g, name, true).await?);
    }
    Ok(out)
}

/// For the CLI: revoke a grant by id.
pub async fn revoke(state: &AppState, grant_id: &str) -> ServiceResult<()> {
    match state.store().grant(grant_id).await? {
        None => Err(ServiceError::NotFound(format!(
            "no grant with id {grant_id}"
        ))),
        Some(g) if g.revoked_at.is_some() => Err(ServiceError::Invalid(format!(
            "grant {grant_id} is already revoked"
        ))),
        Some(_) => {
            state.store().revoke_grant(grant_id, state.now()).await?;
            tracing::info!(grant_id, "grant revoked from the CLI");
            Ok(())
        }
    }
}
