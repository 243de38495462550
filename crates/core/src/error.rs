//! The errors of the OAuth edge, as the RFCs name them. The HTTP layer maps them to responses in
//! one place; the text here is what a client may see, never internal detail.

use std::fmt;

/// RFC 6749 §5.2 / §4.1.2.1, RFC 7591 §3.2.2 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    InvalidRedirectUri,
    InvalidClientMetadata,
    InvalidToken,
    UnsupportedTokenType,
    SlowDown,
    /// OpenID Connect Core §3.1.2.6, answered to `prompt=none`: the person would have to sign in,
    /// approve the app, or pick an account.
    LoginRequired,
    ConsentRequired,
    AccountSelectionRequired,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidToken => "invalid_token",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::SlowDown => "slow_down",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::AccountSelectionRequired => "account_selection_required",
        }
    }

    /// The HTTP status RFC 6749 §5.2 gives each code at the token endpoint.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            Self::SlowDown => 429,
            _ => 400,
        }
    }
}

/// An OAuth error: the RFC code and a description safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::UnauthorizedClient, d)
    }
    pub fn server_error() -> Self {
        Self::new(
            OAuthErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

/// RFC 6750 §3.1 errors of a protected resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No credentials at all: 401 with a bare challenge.
    Missing,
    InvalidRequest(String),
    InvalidToken(String),
    /// The token is fine but lacks this scope.
    InsufficientScope(String),
}

impl BearerError {
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Missing | Self::InvalidToken(_) => 401,
            Self::InvalidRequest(_) => 400,
            Self::InsufficientScope(_) => 403,
        }
    }
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Missing => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
        }
    }
    pub fn description(&self) -> &str {
        match self {
            Self::Missing => "a bearer token is required",
            Self::InvalidRequest(d) | Self::InvalidToken(d) => d,
            Self::InsufficientScope(_) => "the token lacks the scope this request needs",
        }
    }
    /// The value of `WWW-Authenticate`.
    pub fn challenge(&self, realm: &str) -> String {
        match self {
            Self::Missing => format!("Bearer realm=\"{realm}\""),
            Self::InsufficientScope(scope) => format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{}\", scope=\"{scope}\"",
                self.description()
            ),
            other => format!(
                "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{}\"",
                other.code().unwrap_or("invalid_token"),
                other.description()
            ),
        }
    }
}
