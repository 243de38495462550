//! The token endpoint's request (RFC 6749 §4.1.3, §4.4.2, §6), parsed into one typed value.

use crate::error::OAuthError;
use crate::scope::ScopeSet;
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub enum TokenRequest {
    AuthorizationCode {
        code: Secret,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    ClientCredentials {
        scope: Option<ScopeSet>,
    },
    RefreshToken {
        refresh_token: Secret,
        scope: Option<ScopeSet>,
    },
}

/// Form parameters with the RFC's rule that none may appear twice (§3.2).
pub struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> Result<Self, OAuthError> {
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{}` appears more than once",
                    crate::scope::printable(name)
                )));
            }
        }
        Ok(Self(pairs))
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&'a str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    pub fn scope(&self) -> Result<Option<ScopeSet>, OAuthError> {
        self.get("scope").map(ScopeSet::parse).transpose()
    }
}

impl TokenRequest {
    pub fn parse(params: &Params<'_>) -> Result<Self, OAuthError> {
        match params.require("grant_type")? {
            "authorization_code" => Ok(Self::AuthorizationCode {
                code: Secret::new(params.require("code")?),
                redirect_uri: params.get("redirect_uri").map(str::to_string),
                code_verifier: params.get("code_verifier").map(str::to_string),
            }),
            "client_credentials" => Ok(Self::ClientCredentials {
                scope: params.scope()?,
            }),
            "refresh_token" => Ok(Self::RefreshToken {
                refresh_token: Secret::new(params.require("refresh_token")?),
                scope: params.scope()?,
            }),
            other => Err(OAuthError::new(
                crate::OAuthErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type `{}` is not supported",
                    crate::scope::printable(other)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OAuthErrorCode;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn parse(list: &[(&str, &str)]) -> Result<TokenRequest, OAuthErrorCode> {
        let p = pairs(list);
        Params::new(&p)
            .and_then(|p| TokenRequest::parse(&p))
            .map_err(|e| e.code)
    }

    #[test]
    fn parses_each_grant() {
        assert!(matches!(
            parse(&[
                ("grant_type", "client_credentials"),
                ("scope", "account.read")
            ]),
            Ok(TokenRequest::ClientCredentials { scope: Some(_) })
        ));
        assert!(matches!(
            parse(&[("grant_type", "authorization_code"), ("code", "mgc_x")]),
            Ok(TokenRequest::AuthorizationCode { .. })
        ));
        assert!(matches!(
            parse(&[("grant_type", "refresh_token"), ("refresh_token", "mgr_x")]),
            Ok(TokenRequest::RefreshToken { scope: None, .. })
        ));
    }

    #[test]
    fn refuses_bad_requests_precisely() {
        assert_eq!(parse(&[]).err(), Some(OAuthErrorCode::InvalidRequest));
        assert_eq!(
            parse(&[("grant_type", "password")]).err(),
            Some(OAuthErrorCode::UnsupportedGrantType)
        );
        assert_eq!(
            parse(&[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials")
            ])
            .err(),
            Some(OAuthErrorCode::InvalidRequest)
        );
        assert_eq!(
            parse(&[("grant_type", "client_credentials"), ("scope", "nope.read")]).err(),
            Some(OAuthErrorCode::InvalidScope)
        );
        assert_eq!(
            parse(&[("grant_type", "authorization_code")]).err(),
            Some(OAuthErrorCode::InvalidRequest)
        );
    }
}
