//! The authorization-code flow end to end: login and consent driven with plain form posts (a
//! cookie-keeping HTTP client, CSRF tokens read from the HTML), tokens through the `oauth2` crate.

mod browser;
mod code_flow;
mod grants;
mod pages;
mod refresh;
