//! The service layer: each operation takes parsed input and the state, applies the domain rules,
//! and talks to storage. No axum here; the HTTP layer and the CLI both call it.

pub mod admin;
pub mod authorize;
pub mod bearer;
pub mod clients;
pub mod grants;
pub mod introspection;
pub mod keys;
pub mod registration;
pub mod revocation;
pub mod session;
pub mod token;
pub mod token_flows;

use mailgrant_core::{BearerError, OAuthError};
use mailgrant_store::StoreError;

/// The one error type of the service layer. The HTTP layer maps it to responses in one place.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// An OAuth protocol error, for the client, in RFC form.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// A resource-API authentication failure (RFC 6750).
    #[error("{}", .0.description())]
    Bearer(BearerError),
    /// Bad input to a management operation; the text says what is wrong.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many requests for one client or account (429).
    #[error("rate limit exceeded")]
    RateLimited(crate::limits::Limited),
    /// Storage failed. The detail goes to the log, never to a client.
    #[error("internal error")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ServiceError::Conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => ServiceError::NotFound(format!("{what} not found")),
            other => ServiceError::Store(other),
        }
    }
}

impl From<BearerError> for ServiceError {
    fn from(e: BearerError) -> Self {
        ServiceError::Bearer(e)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
