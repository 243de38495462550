//! RFC 8414 authorization server metadata: everything a client needs, from this alone.

use crate::paths;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use mailgrant_core::scope;
use serde_json::{json, Value};

pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let c = state.config();
    Json(json!({
        "issuer": c.issuer,
        "authorization_endpoint": c.url(paths::AUTHORIZE),
        "token_endpoint": c.url(paths::TOKEN),
        "revocation_endpoint": c.url(paths::REVOKE),
        "introspection_endpoint": c.url(paths::INTROSPECT),
        "registration_endpoint": c.url(paths::REGISTER),
        "scopes_supported": scope::all_names().collect::<Vec<_>>(),
        "response_types_supported": ["code", "token"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token", "implicit"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": c.url(paths::OPENAPI),
    }))
}
