//! `GET /openapi.json`: the resource API described for client generators and schemathesis.

use crate::paths;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn document(State(state): State<AppState>) -> Json<Value> {
    let c = state.config();
    let error = json!({ "$ref": "#/components/schemas/Error" });
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mailgrant email-marketing API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Bearer tokens (RFC 6750) from the OAuth 2.0 server described at /.well-known/oauth-authorization-server."
        },
        "servers": [{ "url": c.issuer }],
        "components": {
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": c.url(paths::TOKEN),
                            "scopes": scopes(),
                        },
                        "authorizationCode": {
                            "authorizationUrl": c.url(paths::AUTHORIZE),
                            "tokenUrl": c.url(paths::TOKEN),
                            "refreshUrl": c.url(paths::TOKEN),
                            "scopes": scopes(),
                        }
                    }
                },
                "privateAppToken": { "type": "http", "scheme": "bearer", "description": "A private-app token (mgp_…)." }
            },
            "schemas": {
                "Account": {
                    "type": "object",
                    "required": ["id", "name", "created_at"],
                    "properties": {
                        "id": { "type": "string" },
                        "name": { "type": "string" },
                        "created_at": { "type": "integer", "description": "Unix seconds" }
                    }
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": { "type": "string" },
                        "message": { "type": "string" }
                    }
                }
            }
        },
        "paths": {
            paths::API_ACCOUNT: {
                "get": {
                    "summary": "The account the token acts on",
                    "operationId": "getAccount",
                    "security": [{ "oauth2": ["account.read"] }, { "privateAppToken": [] }],
                    "responses": {
                        "200": { "description": "The account", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Account" } } } },
                        "401": { "description": "Missing, malformed, unknown, expired or revoked token", "content": { "application/json": { "schema": error } } },
                        "403": { "description": "The token lacks account.read", "content": { "application/json": { "schema": error } } }
                    }
                }
            }
        }
    }))
}

fn scopes() -> Value {
    mailgrant_core::scope::CATALOGUE
        .iter()
        .map(|s| (s.name.to_string(), Value::from(s.description)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
