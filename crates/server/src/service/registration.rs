//! Dynamic client registration (RFC 7591): who may register (an initial access token, or anyone
//! when open registration is on), how client metadata becomes an app, and the §3.2 answer.
//! The app rules themselves are [`admin::validate_app`]'s, shared with `mailgrant app create`.

use crate::service::admin::{self, NewApp};
use crate::state::AppState;
use crate::{ServiceError, ServiceResult};
use mailgrant_core::model::{App, GrantType};
use mailgrant_core::registration::{self, RegistrationToken};
use mailgrant_core::{
    lifetimes::parse_duration, redirect, token, BearerError, OAuthError, OAuthErrorCode, Secret,
    TokenHash, TokenKind,
};
use serde::{Deserialize, Serialize};

/// The scope a client gets when its registration names none: the least the API offers.
pub const DEFAULT_SCOPE: &str = "account.read";
/// The name a client gets when its registration names none.
pub const DEFAULT_CLIENT_NAME: &str = "Dynamically registered client";

/// RFC 7591 §2 client metadata, as much of it as mailgrant uses. Other members are ignored
/// (and so not echoed back), as §3.2.1 allows.
#[derive(Debug, Default, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub scope: Option<String>,
}

fn bad_metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, description)
}

fn bad_redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRedirectUri, description)
}

impl ClientMetadata {
    pub fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        serde_json::from_slice(body).map_err(|e| {
            bad_metadata(format!(
                "the body must be a JSON object of client metadata: {}",
                e.to_string().split(" at line").next().unwrap_or_default()
            ))
        })
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::ClientSecretBasic, Self::ClientSecretPost]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// What the metadata asks for, checked for RFC 7591 consistency, ready for `validate_app`.
#[derive(Debug)]
pub struct Request {
    pub new_app: NewApp,
    pub auth_method: AuthMethod,
    pub response_types: Vec<String>,
}

/// Map metadata to an app request. `account_id` is the account the initial access token names.
/// Redirect URI problems are `invalid_redirect_uri`; everything else `invalid_client_metadata`.
pub fn to_request(meta: ClientMetadata, account_id: Option<String>) -> Result<Request, OAuthError> {
    let method_text = meta
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic");
    let auth_method = AuthMethod::parse(method_text).ok_or_else(|| {
        bad_metadata(format!(
            "unsupported token_endpoint_auth_method `{}`; use none, client_secret_basic or client_secret_post",
            mailgrant_core::scope::printable(method_text)
        ))
    })?;
    let grant_types = meta
        .grant_types
        .unwrap_or_else(|| vec![GrantType::AuthorizationCode.as_str().to_string()]);
    if grant_types.is_empty() {
        return Err(bad_metadata("grant_types must not be empty"));
    }
    let has = |g: GrantType| grant_types.iter().any(|t| t == g.as_str());
    // RFC 7591 §2.1: response types and grant types must agree.
    let response_types = match meta.response_types {
        Some(types) => {
            for t in &types {
                match t.as_str() {
                    "code" if has(GrantType::AuthorizationCode) => {}
                    "token" if has(GrantType::Implicit) => {}
                    "code" => {
                        return Err(bad_metadata(
                            "response type `code` needs the authorization_code grant type",
                        ))
                    }
                    "token" => {
                        return Err(bad_metadata(
                            "response type `token` needs the implicit grant type",
                        ))
                    }
                    other => {
                        return Err(bad_metadata(format!(
                            "unsupported response type `{}`; use code (or token, legacy)",
                            mailgrant_core::scope::printable(other)
                        )))
                    }
                }
            }
            if has(GrantType::AuthorizationCode) && !types.iter().any(|t| t == "code") {
                return Err(bad_metadata(
                    "the authorization_code grant type needs response type `code`",
                ));
            }
            if has(GrantType::Implicit) && !types.iter().any(|t| t == "token") {
                return Err(bad_metadata(
                    "the implicit grant type needs response type `token`",
                ));
            }
            types
        }
        None => {
            let mut types = Vec::new();
            if has(GrantType::AuthorizationCode) {
                types.push("code".to_string());
            }
            if has(GrantType::Implicit) {
                types.push("token".to_string());
            }
            types
        }
    };
    for uri in &meta.redirect_uris {
        redirect::validate(uri).map_err(|e| bad_redirect(e.to_string()))?;
    }
    if (has(GrantType::AuthorizationCode) || has(GrantType::Implicit))
        && meta.redirect_uris.is_empty()
    {
        return Err(bad_redirect(
            "redirect_uris is required for the authorization_code and implicit grant types",
        ));
    }
    if has(GrantType::ClientCredentials) && account_id.is_none() {
        return Err(bad_metadata(
            "client_credentials needs an initial access token that names an account",
        ));
    }
    let scope = meta.scope.unwrap_or_else(|| DEFAULT_SCOPE.to_string());
    let scopes: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return Err(bad_metadata("scope must name at least one scope"));
    }
    Ok(Request {
        new_app: NewApp {
            name: meta
                .client_name
                .unwrap_or_else(|| DEFAULT_CLIENT_NAME.to_string()),
            description: String::new(),
            redirect_uris: meta.redirect_uris,
            grant_types,
            scopes,
            public: auth_method == AuthMethod::None,
            account_id,
        },
        auth_method,
        response_types,
    })
}

/// RFC 7591 §3.2.1: the client information response. It carries the secret, so no `Debug`.
#[derive(Serialize)]
pub struct Registered {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: &'static str,
    pub scope: String,
}

impl Registered {
    fn new(app: &App, secret: Option<&Secret>, request: &Request) -> Self {
        Self {
            client_id: app.client_id.clone(),
            client_secret: secret.map(|s| s.expose().to_string()),
            client_id_issued_at: app.created_at,
            // Secrets do not expire by themselves; rotation ends them.
            client_secret_expires_at: secret.map(|_| 0),
            client_name: app.name.clone(),
            redirect_uris: app.redirect_uris.clone(),
            grant_types: app.grant_types.iter().map(|g| g.as_str()).collect(),
            response_types: request.response_types.clone(),
            token_endpoint_auth_method: request.auth_method.as_str(),
            scope: app.scopes.to_string(),
        }
    }
}

/// Who is registering: the initial access token presented, if any.
async fn authorize(
    state: &AppState,
    presented: Option<&str>,
) -> ServiceResult<Option<RegistrationToken>> {
    let Some(presented) = presented else {
        return if state.config().open_registration {
            Ok(None)
        } else {
            Err(BearerError::Missing.into())
        };
    };
    registration::check_format(presented)?;
    let record = state
        .store()
        .registration_token(&TokenHash::of(presented))
        .await?;
    registration::authorize(record.as_ref(), state.now())?;
    Ok(record)
}

/// Register a client from a JSON metadata document (RFC 7591 §3.1). Nothing is stored unless
/// every check passes; the secret of a confidential client is in the answer, once.
#[tracing::instrument(skip_all)]
pub async fn register(
    state: &AppState,
    initial_access_token: Option<&str>,
    body: &[u8],
) -> ServiceResult<Registered> {
    let token = authorize(state, initial_access_token).await?;
    let meta = ClientMetadata::from_json(body)?;
    let request = to_request(meta, token.as_ref().and_then(|t| t.account_id.clone()))?;
    let app = admin::validate_app(state, &request.new_app)
        .await
        .map_err(|e| match e {
            ServiceError::Invalid(m) | ServiceError::NotFound(m) => bad_metadata(m).into(),
            other => other,
        })?;
    let secret = (!app.public).then(|| admin::new_client_secret(&app.client_id, app.created_at));
    let token_id = token.as_ref().map(|t| t.id.as_str());
    match state
        .store()
        .register_app(&app, secret.as_ref().map(|(_, r)| r), token_id)
        .await
    {
        Ok(()) => {}
        // The token was revoked, expired or used up between the check and the write.
        Err(mailgrant_store::StoreError::NotFound(_)) => {
            return Err(BearerError::InvalidToken(
                "the initial access token is no longer valid".into(),
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(
        client_id = %app.client_id,
        public = app.public,
        registration_token = token_id.unwrap_or("none (open registration)"),
        "client registered dynamically"
    );
    Ok(Registered::new(
        &app,
        secret.as_ref().map(|(v, _)| v),
        &request,
    ))
}

/// `mailgrant registration-token create`: a new initial access token, its value shown once.
/// `expires_in` is a duration (`24h`) or `never`.
pub async fn create_token(
    state: &AppState,
    expires_in: &str,
    account_id: Option<&str>,
    max_uses: Option<i64>,
) -> ServiceResult<(RegistrationToken, Secret)> {
    let now = state.now();
    let expires_at = match expires_in {
        "never" => None,
        text => Some(
            now + parse_duration(text).filter(|s| *s > 0).ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "`{text}` is not a duration such as 90s, 30m, 24h or 7d, nor `never`"
                ))
            })?,
        ),
    };
    if max_uses.is_some_and(|n| n < 1) {
        return Err(ServiceError::Invalid(
            "--max-uses must be at least 1".into(),
        ));
    }
    if let Some(id) = account_id {
        admin::account(state, id).await?;
    }
    let value = token::generate(TokenKind::Registration);
    let record = RegistrationToken {
        id: RegistrationToken::new_id(),
        hash: TokenHash::of(value.expose()),
        account_id: account_id.map(str::to_string),
        max_uses,
        uses: 0,
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    state.store().create_registration_token(&record).await?;
    tracing::info!(registration_token = %record.id, "initial access token created");
    Ok((record, value))
}

pub async fn list_tokens(state: &AppState) -> ServiceResult<Vec<RegistrationToken>> {
    Ok(state.store().list_registration_tokens().await?)
}

pub async fn revoke_token(state: &AppState, id: &str) -> ServiceResult<()> {
    if state
        .store()
        .revoke_registration_token(id, state.now())
        .await?
    {
        tracing::info!(registration_token = id, "initial access token revoked");
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!(
            "no live initial access token with id {id}"
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn meta(json: &str) -> ClientMetadata {
        ClientMetadata::from_json(json.as_bytes()).unwrap()
    }

    fn code(result: Result<Request, OAuthError>) -> &'static str {
        result.unwrap_err().code.as_str()
    }

    #[test]
    fn defaults_make_a_confidential_code_client_with_the_least_scope() {
        let r = to_request(
            meta(r#"{"redirect_uris":["https://app.example.com/cb"]}"#),
            None,
        )
        .unwrap();
        assert_eq!(r.auth_method, AuthMethod::ClientSecretBasic);
        assert!(!r.new_app.public);
        assert_eq!(r.new_app.grant_types, ["authorization_code"]);
        assert_eq!(r.response_types, ["code"]);
        assert_eq!(r.new_app.scopes, [DEFAULT_SCOPE]);
        assert_eq!(r.new_app.name, DEFAULT_CLIENT_NAME);
        assert_eq!(r.new_app.account_id, None);
    }

    #[test]
    fn auth_method_none_is_a_public_client() {
        let r = to_request(
            meta(r#"{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none",
                     "grant_types":["authorization_code","refresh_token"],"scope":"contacts.read  campaigns.read",
                     "client_name":"CLI tool","logo_uri":"https://x.example/logo.png"}"#),
            None,
        )
        .unwrap();
        assert!(r.new_app.public);
        assert_eq!(r.new_app.scopes, ["contacts.read", "campaigns.read"]);
        assert_eq!(r.new_app.name, "CLI tool");
        assert_eq!(
            to_request(meta(r#"{"token_endpoint_auth_method":"private_key_jwt","redirect_uris":["https://a.example/cb"]}"#), None)
                .unwrap_err()
                .code,
            OAuthErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn redirect_uri_problems_are_invalid_redirect_uri() {
        assert_eq!(
            code(to_request(
                meta(r#"{"redirect_uris":["http://evil.example/cb"]}"#),
                None
            )),
            "invalid_redirect_uri"
        );
        assert_eq!(
            code(to_request(
                meta(r#"{"redirect_uris":["https://a.example/cb#x"]}"#),
                None
            )),
            "invalid_redirect_uri"
        );
        assert_eq!(
            code(to_request(meta(r#"{}"#), None)),
            "invalid_redirect_uri"
        );
        // client_credentials alone needs no redirect URI.
        assert!(to_request(
            meta(r#"{"grant_types":["client_credentials"]}"#),
            Some("acct_1".into())
        )
        .is_ok());
    }

    #[test]
    fn grant_and_response_types_must_agree() {
        let uris = r#""redirect_uris":["https://a.example/cb"]"#;
        assert_eq!(
            code(to_request(
                meta(&format!(r#"{{{uris},"response_types":["token"]}}"#)),
                None
            )),
            "invalid_client_metadata"
        );
        assert_eq!(
            code(to_request(
                meta(&format!(r#"{{{uris},"response_types":["id_token"]}}"#)),
                None
            )),
            "invalid_client_metadata"
        );
        assert_eq!(
            code(to_request(
                meta(&format!(r#"{{{uris},"grant_types":[]}}"#)),
                None
            )),
            "invalid_client_metadata"
        );
        let implicit = to_request(
            meta(&format!(
                r#"{{{uris},"grant_types":["implicit"],"token_endpoint_auth_method":"none"}}"#
            )),
            None,
        )
        .unwrap();
        assert_eq!(implicit.response_types, ["token"]);
    }

    #[test]
    fn client_credentials_needs_an_account_from_the_token() {
        let m = r#"{"grant_types":["client_credentials"],"scope":"contacts.read"}"#;
        assert_eq!(code(to_request(meta(m), None)), "invalid_client_metadata");
        let r = to_request(meta(m), Some("acct_1".into())).unwrap();
        assert_eq!(r.new_app.account_id.as_deref(), Some("acct_1"));
        assert!(r.response_types.is_empty());
    }

    #[test]
    fn malformed_json_and_empty_scope_are_invalid_client_metadata() {
        assert_eq!(
            ClientMetadata::from_json(b"{\"redirect_uris\":\"https://a.example/cb\"}")
                .unwrap_err()
                .code,
            OAuthErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            ClientMetadata::from_json(b"not json").unwrap_err().code,
            OAuthErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            code(to_request(
                meta(r#"{"redirect_uris":["https://a.example/cb"],"scope":" "}"#),
                None
            )),
            "invalid_client_metadata"
        );
    }
}
