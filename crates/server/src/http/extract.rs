//! Request extractors: the OAuth form body with client credentials, and bearer tokens.

use crate::ServiceError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mailgrant_core::grants::client_auth::ClientCredentials;
use mailgrant_core::grants::request::Params;
use mailgrant_core::{BearerError, OAuthError, Secret};

/// A form-encoded OAuth request (RFC 6749 §3.2) and the `Authorization` header that came with it.
pub struct OAuthForm {
    pub pairs: Vec<(String, String)>,
    authorization: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ServiceError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )
            .into());
        }
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the body could not be read"))?;
        Ok(Self {
            pairs: super::form::pairs(&body),
            authorization,
        })
    }
}

impl OAuthForm {
    pub fn params(&self) -> Result<Params<'_>, ServiceError> {
        Ok(Params::new(&self.pairs)?)
    }

    /// The client's credentials: HTTP Basic, or `client_id`/`client_secret` in the body, never
    /// both (RFC 6749 §2.3.1). A bare `client_id` identifies a public client. `params` are this
    /// form's own ([`OAuthForm::params`]), checked once by the handler.
    pub fn client(&self, params: &Params<'_>) -> Result<ClientCredentials, ServiceError> {
        let basic = self.authorization.as_deref().and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
        match (basic, params.get("client_secret")) {
            (Some(_), Some(_)) => Err(OAuthError::invalid_request(
                "use one client authentication method, not Basic and client_secret together",
            )
            .into()),
            (Some(encoded), None) => {
                let (id, secret) = decode_basic(encoded)?;
                if params.get("client_id").is_some_and(|body_id| body_id != id) {
                    return Err(OAuthError::invalid_request(
                        "client_id differs from the Basic credentials",
                    )
                    .into());
                }
                Ok(ClientCredentials::Secret {
                    client_id: id,
                    secret: Secret::new(secret),
                })
            }
            (None, Some(secret)) => Ok(ClientCredentials::Secret {
                client_id: params.require("client_id")?.to_string(),
                secret: Secret::new(secret),
            }),
            (None, None) => match params.get("client_id") {
                Some(id) => Ok(ClientCredentials::PublicId {
                    client_id: id.to_string(),
                }),
                None => Err(OAuthError::invalid_client("client authentication is required").into()),
            },
        }
    }
}

fn decode_basic(encoded: &str) -> Result<(String, String), ServiceError> {
    let bad = || ServiceError::from(OAuthError::invalid_client("malformed Basic credentials"));
    let raw = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both halves are form-urlencoded before Base64.
    Ok((
        super::form::component(id.as_bytes()),
        super::form::component(secret.as_bytes()),
    ))
}

/// A bearer token from the `Authorization` header (RFC 6750 §2.1).
pub struct Bearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        bearer_from(&parts.headers)
            .map(Bearer)
            .map_err(ServiceError::Bearer)
    }
}

fn bearer_from(headers: &HeaderMap) -> Result<String, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(BearerError::Missing);
    };
    if values.next().is_some() {
        return Err(BearerError::InvalidRequest(
            "more than one Authorization header".into(),
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| BearerError::InvalidRequest("the Authorization header is not text".into()))?;
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(BearerError::InvalidRequest(
            "the bearer token is empty".into(),
        ));
    }
    Ok(token.to_string())
}

/// `Option<Bearer>`: no `Authorization` header at all is `None`; a malformed one is still refused.
impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Bearer {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        match bearer_from(&parts.headers) {
            Ok(token) => Ok(Some(Bearer(token))),
            Err(BearerError::Missing) if !parts.headers.contains_key(header::AUTHORIZATION) => {
                Ok(None)
            }
            Err(e) => Err(ServiceError::Bearer(e)),
        }
    }
}
