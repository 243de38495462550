//! Domain rules of mailgrant. Nothing in this crate does I/O or reads the clock: time comes in as a
//! parameter, storage and HTTP live in other crates.

pub mod access;
pub mod clock;
pub mod error;
pub mod grants;
pub mod ids;
pub mod lifetimes;
pub mod login;
pub mod model;
pub mod password;
pub mod pkce;
pub mod rate_limit;
pub mod records;
pub mod redirect;
pub mod registration;
pub mod scope;
pub mod secret;
pub mod session;
pub mod token;

pub use clock::{Clock, FixedClock, SystemClock, UnixTime};
pub use error::{BearerError, OAuthError, OAuthErrorCode};
pub use scope::ScopeSet;
pub use secret::Secret;
pub use token::{IssueOrder, TokenHash, TokenKind};
