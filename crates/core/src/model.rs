//! The records the rules speak about. Storage reads and writes these; HTTP shows them.

use crate::clock::UnixTime;
use crate::scope::ScopeSet;
use crate::token::TokenHash;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
    /// Owners and admins manage private apps and connected apps.
    pub fn can_manage_integrations(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: UnixTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: UnixTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub account_id: String,
    pub account_name: String,
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
    Implicit,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
        GrantType::Implicit,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Implicit => "implicit",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// An OAuth client registered by a developer.
#[derive(Debug, Clone, Serialize)]
pub struct App {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    #[serde(serialize_with = "scope_text")]
    pub scopes: ScopeSet,
    /// Public clients have no secret and must use PKCE.
    pub public: bool,
    /// The account a client_credentials token acts on.
    pub account_id: Option<String>,
    pub created_at: UnixTime,
}

impl App {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A client secret as stored: only its hash, and when it stops working (set by rotation).
#[derive(Debug, Clone)]
pub struct ClientSecret {
    pub id: String,
    pub client_id: String,
    pub hash: TokenHash,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrivateApp {
    pub id: String,
    pub account_id: String,
    pub name: String,
    #[serde(serialize_with = "scope_text")]
    pub scopes: ScopeSet,
    pub created_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

/// A bearer token (access or private-app) as storage keeps it.
#[derive(Debug, Clone)]
pub struct AccessTokenRecord {
    pub hash: TokenHash,
    pub kind: crate::token::TokenKind,
    pub account_id: String,
    pub client_id: Option<String>,
    pub private_app_id: Option<String>,
    pub user_id: Option<String>,
    pub grant_id: Option<String>,
    pub family_id: Option<String>,
    pub scopes: ScopeSet,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

impl AccessTokenRecord {
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|exp| now < exp)
    }
}

pub fn scope_text<S: serde::Serializer>(scopes: &ScopeSet, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&scopes.to_string())
}
