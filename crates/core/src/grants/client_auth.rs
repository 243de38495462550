//! Client authentication at the token, revocation and introspection endpoints.

use crate::clock::UnixTime;
use crate::error::OAuthError;
use crate::model::{App, ClientSecret};
use crate::token::{self, TokenHash, TokenKind};

/// How the client presented itself.
#[derive(Debug, Clone)]
pub enum ClientCredentials {
    /// `client_secret_basic` or `client_secret_post`.
    Secret {
        client_id: String,
        secret: crate::Secret,
    },
    /// A public client names itself and proves nothing (PKCE does that).
    PublicId { client_id: String },
}

impl ClientCredentials {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Secret { client_id, .. } | Self::PublicId { client_id } => client_id,
        }
    }
}

fn unknown() -> OAuthError {
    // One message for every failure, so the answer does not tell which part was wrong.
    OAuthError::invalid_client("client authentication failed")
}

/// Check the presented credentials against the app and its stored secrets.
pub fn authenticate(
    app: Option<&App>,
    secrets: &[ClientSecret],
    presented: &ClientCredentials,
    now: UnixTime,
) -> Result<(), OAuthError> {
    let app = app.ok_or_else(unknown)?;
    match presented {
        ClientCredentials::PublicId { .. } if app.public => Ok(()),
        ClientCredentials::PublicId { .. } => Err(unknown()),
        ClientCredentials::Secret { .. } if app.public => Err(OAuthError::invalid_client(
            "public clients have no secret; authenticate with client_id and PKCE",
        )),
        ClientCredentials::Secret { secret, .. } => {
            if token::parse_kind(secret.expose(), TokenKind::ClientSecret).is_err() {
                return Err(unknown());
            }
            let presented_hash = TokenHash::of(secret.expose());
            // Compare against every live secret, without stopping early, so timing says nothing.
            let mut ok = false;
            for s in secrets {
                let live = s.expires_at.is_none_or(|exp| now < exp);
                ok |= live & s.hash.ct_eq(&presented_hash);
            }
            if ok {
                Ok(())
            } else {
                Err(unknown())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::GrantType, ScopeSet, Secret};

    fn app(public: bool) -> App {
        App {
            client_id: "app_1".into(),
            name: "A".into(),
            description: String::new(),
            redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scopes: ScopeSet::default(),
            public,
            account_id: None,
            created_at: 0,
        }
    }

    fn secret(value: &Secret, expires_at: Option<i64>) -> ClientSecret {
        ClientSecret {
            id: "s".into(),
            client_id: "app_1".into(),
            hash: TokenHash::of(value.expose()),
            created_at: 0,
            expires_at,
        }
    }

    #[test]
    fn secret_checks() {
        let good = token::generate(TokenKind::ClientSecret);
        let old = token::generate(TokenKind::ClientSecret);
        let secrets = vec![secret(&good, None), secret(&old, Some(100))];
        let with = |s: &Secret| ClientCredentials::Secret {
            client_id: "app_1".into(),
            secret: s.clone(),
        };
        assert!(authenticate(Some(&app(false)), &secrets, &with(&good), 50).is_ok());
        assert!(authenticate(Some(&app(false)), &secrets, &with(&old), 50).is_ok());
        assert!(authenticate(Some(&app(false)), &secrets, &with(&old), 100).is_err());
        let other = token::generate(TokenKind::ClientSecret);
        assert!(authenticate(Some(&app(false)), &secrets, &with(&other), 50).is_err());
        assert!(authenticate(None, &secrets, &with(&good), 50).is_err());
        assert!(authenticate(Some(&app(true)), &secrets, &with(&good), 50).is_err());
        let public = ClientCredentials::PublicId {
            client_id: "app_1".into(),
        };
        assert!(authenticate(Some(&app(true)), &[], &public, 50).is_ok());
        assert!(authenticate(Some(&app(false)), &[], &public, 50).is_err());
    }
}
