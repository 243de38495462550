//! Route paths, shared by the router and the discovery document so the two cannot drift.

pub const DISCOVERY: &str = "/.well-known/oauth-authorization-server";
pub const AUTHORIZE: &str = "/oauth/authorize";
pub const TOKEN: &str = "/oauth/token";
pub const REVOKE: &str = "/oauth/revoke";
pub const INTROSPECT: &str = "/oauth/introspect";
pub const REGISTER: &str = "/oauth/register";
pub const API_ACCOUNT: &str = "/v1/account";
pub const HEALTH: &str = "/healthz";
pub const OPENAPI: &str = "/openapi.json";
// Pages of the authorization-code flow (HTML forms, no JavaScript).
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const CONNECTED_APPS: &str = "/account/connected-apps";
pub const CONNECTED_APPS_REVOKE: &str = "/account/connected-apps/revoke";
