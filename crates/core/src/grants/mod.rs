//! One module per grant type. Each takes the parsed request, the authenticated client and the
//! time, and decides; none of them does I/O.

pub mod authorization_code;
pub mod authorize;
pub mod client_auth;
pub mod client_credentials;
pub mod refresh_token;
pub mod request;

use crate::clock::UnixTime;
use crate::scope::ScopeSet;

/// What a grant decided to issue; the caller mints, stores and returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueDecision {
    pub account_id: String,
    pub scopes: ScopeSet,
    pub expires_at: UnixTime,
    pub with_refresh_token: bool,
}
