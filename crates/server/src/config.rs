//! Settings the server runs with.

use crate::limits::RateLimits;
use mailgrant_core::lifetimes::Lifetimes;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Public base URL, without a trailing slash (RFC 8414 `issuer`).
    pub issuer: String,
    pub lifetimes: Lifetimes,
    /// Dynamic client registration without an initial access token (off by default).
    pub open_registration: bool,
    pub rate_limits: RateLimits,
}

impl ServerConfig {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_string(),
            lifetimes: Lifetimes::default(),
            open_registration: false,
            rate_limits: RateLimits::default(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Cookies get `Secure` when the issuer is https.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}
