//! The refresh token grant (RFC 6749 §6, RFC 9700 §4.14): refresh tokens rotate; a retry with
//! the old token within a short window gets the same successor pair; a reuse after it means the
//! token was stolen, and the whole family is revoked.

use crate::clock::UnixTime;
use crate::error::OAuthError;
use crate::lifetimes::Lifetimes;
use crate::model::{App, GrantType};
use crate::records::RefreshTokenRecord;
use crate::scope::ScopeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Issue a successor refresh token (same scopes) and an access token (`access_scopes`).
    Rotate {
        access_scopes: ScopeSet,
        access_expires_at: UnixTime,
        refresh_expires_at: UnixTime,
    },
    /// Rotated moments ago: answer again with the same successor pair.
    Retry,
    /// Used again after the window: refuse and revoke the family.
    Reuse { family_id: String },
}

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

pub fn decide(
    record: Option<&RefreshTokenRecord>,
    app: &App,
    requested: Option<&ScopeSet>,
    lifetimes: &Lifetimes,
    now: UnixTime,
) -> Result<RefreshDecision, OAuthError> {
    let record = record
        .filter(|r| r.client_id == app.client_id)
        .ok_or_else(invalid)?;
    if !app.allows(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client(
            "this client is not allowed the refresh_token grant",
        ));
    }
    if record.revoked_at.is_some() {
        return Err(invalid());
    }
    if let Some(rotated) = record.rotated_at {
        return Ok(if now - rotated <= lifetimes.refresh_retry_window {
            RefreshDecision::Retry
        } else {
            RefreshDecision::Reuse {
                family_id: record.family_id.clone(),
            }
        });
    }
    if now >= record.expires_at {
        return Err(invalid());
    }
    // Narrowing only: a scope beyond the token's is invalid_scope, never a silent widening.
    let access_scopes = ScopeSet::narrow(&record.scopes, requested)?;
    let absolute_end = record.family_created_at + lifetimes.refresh_absolute;
    Ok(RefreshDecision::Rotate {
        access_scopes,
        access_expires_at: now + lifetimes.access_token,
        refresh_expires_at: (now + lifetimes.refresh_idle).min(absolute_end),
    })
}

/// A retry is answered only while its successor is still live; if the successor was itself
/// rotated, the old token's holder is not the client that moved on: treat it as a reuse.
pub fn check_retry(
    record: &RefreshTokenRecord,
    successor: Option<&RefreshTokenRecord>,
    now: UnixTime,
) -> Result<(), RefreshDecision> {
    match successor {
        Some(s) if s.is_active(now) => Ok(()),
        _ => Err(RefreshDecision::Reuse {
            family_id: record.family_id.clone(),
        }),
    }
}

#[cfg(test)]
#[path = "refresh_token_tests.rs"]
mod tests;
