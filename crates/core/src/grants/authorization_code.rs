//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6): a code
//! is single-use, short-lived, and bound to client, redirect URI and PKCE challenge.

use crate::clock::UnixTime;
use crate::error::OAuthError;
use crate::lifetimes::Lifetimes;
use crate::model::{App, GrantType};
use crate::pkce;
use crate::records::AuthorizationCode;
use crate::scope::ScopeSet;

/// What an exchange may issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDecision {
    pub scopes: ScopeSet,
    pub access_expires_at: UnixTime,
    /// `Some(expiry)` when the app may refresh.
    pub refresh_expires_at: Option<UnixTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeem {
    Issue(CodeDecision),
    /// The code was used before: refuse, and revoke every token issued from it.
    Replay {
        grant_id: String,
        family_id: String,
    },
}

fn bad(why: &str) -> OAuthError {
    OAuthError::invalid_grant(why)
}

pub fn redeem(
    code: Option<&AuthorizationCode>,
    app: &App,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    lifetimes: &Lifetimes,
    now: UnixTime,
) -> Result<Redeem, OAuthError> {
    // One message for unknown codes and codes of other clients: neither says more than the other.
    let code = code
        .filter(|c| c.client_id == app.client_id)
        .ok_or_else(|| bad("the authorization code is invalid"))?;
    if !app.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client is not allowed the authorization_code grant",
        ));
    }
    if code.used_at.is_some() {
        return Ok(Redeem::Replay {
            grant_id: code.grant_id.clone(),
            family_id: code.family_id.clone(),
        });
    }
    if now >= code.expires_at {
        return Err(bad("the authorization code has expired"));
    }
    if let Some(expected) = &code.redirect_uri {
        if redirect_uri != Some(expected.as_str()) {
            return Err(bad(
                "redirect_uri must be the one given in the authorization request",
            ));
        }
    }
    match (&code.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) => pkce::verify(verifier, challenge)?,
        (Some(_), None) => return Err(bad("code_verifier is required")),
        (None, Some(_)) => {
            return Err(bad(
                "code_verifier sent, but the authorization request had no code_challenge",
            ))
        }
        (None, None) if app.public => return Err(bad("public clients must use PKCE")),
        (None, None) => {}
    }
    Ok(Redeem::Issue(CodeDecision {
        scopes: code.scopes.clone(),
        access_expires_at: now + lifetimes.access_token,
        refresh_expires_at: app
            .allows(GrantType::RefreshToken)
            .then(|| now + lifetimes.refresh_idle.min(lifetimes.refresh_absolute)),
    }))
}

#[cfg(test)]
#[path = "authorization_code_tests.rs"]
mod tests;
