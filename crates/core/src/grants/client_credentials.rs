//! The client credentials grant (RFC 6749 §4.4): a server acting on its own app's account.

use super::IssueDecision;
use crate::clock::UnixTime;
use crate::error::OAuthError;
use crate::lifetimes::Lifetimes;
use crate::model::{App, GrantType};
use crate::scope::ScopeSet;

pub fn decide(
    app: &App,
    requested: Option<&ScopeSet>,
    lifetimes: &Lifetimes,
    now: UnixTime,
) -> Result<IssueDecision, OAuthError> {
    if app.public {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use the client_credentials grant",
        ));
    }
    if !app.allows(GrantType::ClientCredentials) {
        return Err(OAuthError::unauthorized_client(
            "this client is not allowed the client_credentials grant",
        ));
    }
    let Some(account_id) = app.account_id.clone() else {
        return Err(OAuthError::unauthorized_client(
            "this client belongs to no account, so client_credentials has nothing to act on",
        ));
    };
    let scopes = ScopeSet::narrow(&app.scopes, requested)?;
    Ok(IssueDecision {
        account_id,
        scopes,
        expires_at: now + lifetimes.access_token,
        // RFC 6749 §4.4.3: no refresh token for client credentials.
        with_refresh_token: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OAuthErrorCode;

    fn app(grants: Vec<GrantType>, account: Option<&str>) -> App {
        App {
            client_id: "app_1".into(),
            name: "A".into(),
            description: String::new(),
            redirect_uris: vec![],
            grant_types: grants,
            scopes: ScopeSet::parse("account.read contacts.read").unwrap_or_default(),
            public: false,
            account_id: account.map(str::to_string),
            created_at: 0,
        }
    }

    #[test]
    fn issues_on_the_owning_account_with_narrowed_scope() {
        let a = app(vec![GrantType::ClientCredentials], Some("acct_1"));
        let asked = ScopeSet::parse("account.read").unwrap_or_default();
        let d = decide(&a, Some(&asked), &Lifetimes::default(), 1000);
        assert_eq!(
            d,
            Ok(IssueDecision {
                account_id: "acct_1".into(),
                scopes: asked,
                expires_at: 4600,
                with_refresh_token: false
            })
        );
    }

    #[test]
    fn refuses_what_it_must() {
        let lt = Lifetimes::default();
        let no_grant = app(vec![GrantType::AuthorizationCode], Some("acct_1"));
        assert_eq!(
            decide(&no_grant, None, &lt, 0).map_err(|e| e.code),
            Err(OAuthErrorCode::UnauthorizedClient)
        );
        let no_account = app(vec![GrantType::ClientCredentials], None);
        assert!(decide(&no_account, None, &lt, 0).is_err());
        let a = app(vec![GrantType::ClientCredentials], Some("acct_1"));
        let wider = ScopeSet::parse("campaigns.send").unwrap_or_default();
        assert_eq!(
            decide(&a, Some(&wider), &lt, 0).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidScope)
        );
    }
}
