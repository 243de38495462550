//! The authorization endpoint's request (RFC 6749 §4.1.1, §4.2.1, RFC 7636, RFC 9207): which
//! errors are shown to the person and which go back to the client, and when to ask for consent.

use crate::error::{OAuthError, OAuthErrorCode};
use crate::model::{App, GrantType, Membership};
use crate::records::Grant;
use crate::scope::ScopeSet;
use crate::{pkce, redirect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Code,
    /// The implicit grant (legacy): the token in the fragment.
    Token,
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (then the token request must repeat it).
    pub redirect_uri_given: bool,
    pub response_type: ResponseType,
    pub scopes: ScopeSet,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    /// `prompt=consent`: ask even when a grant covers the scopes.
    pub force_consent: bool,
    /// `prompt=none`: show nothing; answer at once or redirect with `login_required`,
    /// `consent_required` or `account_selection_required`.
    pub no_interaction: bool,
}

/// Why the request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// About the client or the redirect URI: shown to the person, never redirected.
    Page(String),
    /// Anything else: back to the (verified) redirect URI, in RFC 6749 §4.1.2.1 form.
    Redirect(Box<ErrorRedirect>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub error: OAuthError,
    pub state: Option<String>,
    pub fragment: bool,
}

impl ErrorRedirect {
    /// The URL to send the browser to; `iss` per RFC 9207.
    pub fn location(&self, issuer: &str) -> String {
        let mut params = vec![
            ("error", self.error.code.as_str()),
            ("error_description", self.error.description.as_str()),
        ];
        if let Some(s) = &self.state {
            params.push(("state", s));
        }
        params.push(("iss", issuer));
        response_location(&self.redirect_uri, self.fragment, &params)
    }
}

/// `redirect_uri` with `params` added to its query (code flow) or put in the fragment (implicit).
pub fn response_location(redirect_uri: &str, fragment: bool, params: &[(&str, &str)]) -> String {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    if fragment {
        format!("{redirect_uri}#{encoded}")
    } else if redirect_uri.contains('?') {
        format!("{redirect_uri}&{encoded}")
    } else {
        format!("{redirect_uri}?{encoded}")
    }
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, v)| n == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

fn repeated(pairs: &[(String, String)], name: &str) -> bool {
    pairs.iter().filter(|(n, _)| n == name).count() > 1
}

/// Check an authorization request against the app it names (`None` when no such app).
pub fn validate(
    pairs: &[(String, String)],
    app: Option<&App>,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let page = |m: &str| Err(AuthorizeError::Page(m.to_string()));
    if repeated(pairs, "client_id") || repeated(pairs, "redirect_uri") {
        return page("The request names its client or redirect URI more than once.");
    }
    let Some(client_id) = first(pairs, "client_id") else {
        return page("The request does not name a client (client_id is missing).");
    };
    let Some(app) = app.filter(|a| a.client_id == client_id) else {
        return page("The app that sent you here is not registered with mailgrant.");
    };
    let given = first(pairs, "redirect_uri");
    let redirect_uri = match given {
        Some(uri) if redirect::matches(&app.redirect_uris, uri) => uri.to_string(),
        Some(_) => {
            return page("The redirect URI in the request is not registered for this app.");
        }
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
        None => return page("The request must name one of the app's redirect URIs."),
    };
    let response_type = first(pairs, "response_type");
    let state = first(pairs, "state").map(str::to_string);
    let fail = |error: OAuthError| {
        Err(AuthorizeError::Redirect(Box::new(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            error,
            state: state.clone(),
            fragment: response_type == Some("token"),
        })))
    };
    if let Some((name, _)) = pairs
        .iter()
        .enumerate()
        .find(|(i, (n, _))| pairs[..*i].iter().any(|(m, _)| m == n))
        .map(|(_, p)| p)
    {
        return fail(OAuthError::invalid_request(format!(
            "parameter `{}` appears more than once",
            crate::scope::printable(name)
        )));
    }
    let response_type = match response_type {
        None => {
            return fail(OAuthError::invalid_request(
                "missing parameter `response_type`",
            ))
        }
        Some("code") if app.allows(GrantType::AuthorizationCode) => ResponseType::Code,
        Some("token") if app.allows(GrantType::Implicit) => ResponseType::Token,
        Some("code") | Some("token") => {
            return fail(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "this app may not use this response_type",
            ))
        }
        Some(_) => {
            return fail(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                "response_type must be code",
            ))
        }
    };
    let requested = match first(pairs, "scope").map(ScopeSet::parse).transpose() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let scopes = match ScopeSet::narrow(&app.scopes, requested.as_ref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let prompts: Vec<&str> = first(pairs, "prompt")
        .map(|p| p.split(' ').filter(|v| !v.is_empty()).collect())
        .unwrap_or_default();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return fail(OAuthError::invalid_request(
            "prompt=none cannot be combined with other prompt values",
        ));
    }
    let challenge = first(pairs, "code_challenge");
    let method = first(pairs, "code_challenge_method");
    let code_challenge = match (response_type, challenge) {
        (ResponseType::Code, Some(c)) => match pkce::check_challenge(c, method) {
            Ok(()) => Some(c.to_string()),
            Err(e) => return fail(e),
        },
        (ResponseType::Code, None) if app.public => {
            return fail(OAuthError::invalid_request(
                "public clients must use PKCE: code_challenge with code_challenge_method=S256",
            ))
        }
        (ResponseType::Code, None) if method.is_some() => {
            return fail(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ))
        }
        _ => None,
    };
    Ok(AuthorizeRequest {
        client_id: app.client_id.clone(),
        redirect_uri,
        redirect_uri_given: given.is_some(),
        response_type,
        scopes,
        state,
        code_challenge,
        force_consent: prompts.contains(&"consent"),
        no_interaction: prompts.contains(&"none"),
    })
}

/// The accounts a user may connect apps to: those where they are owner or admin.
pub fn connectable(memberships: &[Membership]) -> Vec<&Membership> {
    memberships
        .iter()
        .filter(|m| m.role.can_manage_integrations())
        .collect()
}

/// Consent may be skipped when the user has exactly one account to connect (so there is no
/// choice to make), that account's live grant to this app covers every requested scope, and the
/// client did not ask for `prompt=consent`. Returns that account's id.
pub fn skip_consent<'a>(
    request: &AuthorizeRequest,
    connectable: &[&'a Membership],
    grant: Option<&Grant>,
) -> Option<&'a str> {
    if request.force_consent || connectable.len() != 1 {
        return None;
    }
    let account = connectable[0];
    let grant = grant?;
    let covers = grant.revoked_at.is_none()
        && grant.account_id == account.account_id
        && grant.client_id == request.client_id
        && request.scopes.is_subset(&grant.scopes);
    covers.then_some(account.account_id.as_str())
}

/// The account a consent form chose: one the user may connect apps to.
pub fn chosen_account<'a>(
    connectable: &[&'a Membership],
    chosen: Option<&str>,
) -> Result<&'a str, OAuthError> {
    match (chosen, connectable) {
        (_, []) => Err(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "only an account's owners and admins may connect apps to it",
        )),
        (None, [only]) => Ok(only.account_id.as_str()),
        (None, _) => Err(OAuthError::invalid_request("choose an account")),
        (Some(id), list) => list
            .iter()
            .find(|m| m.account_id == id)
            .map(|m| m.account_id.as_str())
            .ok_or_else(|| {
                OAuthError::new(
                    OAuthErrorCode::AccessDenied,
                    "you may not connect apps to that account",
                )
            }),
    }
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
