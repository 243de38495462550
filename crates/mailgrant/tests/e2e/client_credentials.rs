//! Discovery, the client credentials grant, introspection and revocation, driven by the `oauth2`
//! crate from the discovery document alone.

use crate::harness::{client_credentials_token, http, seed, TestServer};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, IntrospectionUrl, RevocationUrl, Scope,
    StandardRevocableToken, TokenIntrospectionResponse, TokenResponse, TokenUrl,
};
use serde_json::Value;

fn discovery(server: &TestServer) -> Value {
    http()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn discovery_names_every_endpoint() {
    let server = TestServer::start();
    let meta = discovery(&server);
    assert_eq!(meta["issuer"], server.base.as_str());
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "registration_endpoint",
    ] {
        assert!(
            meta[key].as_str().unwrap().starts_with(&server.base),
            "{key}"
        );
    }
    let scopes: Vec<&str> = meta["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(scopes.contains(&"account.read") && scopes.contains(&"campaigns.send"));
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let methods = meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(
        methods.contains(&Value::from("client_secret_basic"))
            && methods.contains(&Value::from("client_secret_post"))
    );
}

#[test]
fn oauth2_client_gets_uses_introspects_and_revokes_a_token() {
    let server = TestServer::start();
    let f = seed(&server);
    let meta = discovery(&server);
    let url = |k: &str| meta[k].as_str().unwrap().to_string();
    let client = BasicClient::new(ClientId::new(f.client_id.clone()))
        .set_client_secret(ClientSecret::new(f.client_secret.clone()))
        .set_token_uri(TokenUrl::new(url("token_endpoint")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(url("introspection_endpoint")).unwrap())
        .set_revocation_url(RevocationUrl::new(url("revocation_endpoint")).unwrap());
    let h = http();
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("account.read".into()))
        .request(&h)
        .unwrap();
    let access = token.access_token().secret().clone();
    assert!(access.starts_with("mga_"));
    assert_eq!(token.expires_in().unwrap().as_secs(), 3600);
    assert!(token.refresh_token().is_none());

    let me = h
        .get(server.url("/v1/account"))
        .bearer_auth(&access)
        .send()
        .unwrap();
    assert_eq!(me.status(), 200);
    let body: Value = me.json().unwrap();
    assert_eq!(body["id"], f.account_id.as_str());
    assert_eq!(body["name"], "Acme Newsletters");

    let info = client.introspect(token.access_token()).request(&h).unwrap();
    assert!(info.active());
    assert_eq!(info.client_id().unwrap().as_str(), f.client_id);
    assert_eq!(info.scopes().unwrap().len(), 1);

    // The oauth2 crate refuses a revocation URL without TLS (RFC 7009 §2), and the test server is
    // plain http on loopback, so the revocation request is sent by hand in the same shape.
    let refused = client.revoke_token(StandardRevocableToken::AccessToken(
        token.access_token().clone(),
    ));
    assert!(refused.is_err());
    let revoked = h
        .post(url("revocation_endpoint"))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[
            ("token", access.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // Refused on the very next request, and inactive for introspection.
    let after = h
        .get(server.url("/v1/account"))
        .bearer_auth(&access)
        .send()
        .unwrap();
    assert_eq!(after.status(), 401);
    let info = client.introspect(token.access_token()).request(&h).unwrap();
    assert!(!info.active());
    server.assert_log_clean();
}

#[test]
fn client_secret_post_works_and_scope_defaults_to_everything_allowed() {
    let server = TestServer::start();
    let f = seed(&server);
    let client = BasicClient::new(ClientId::new(f.client_id.clone()))
        .set_client_secret(ClientSecret::new(f.client_secret.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap());
    let token = client
        .exchange_client_credentials()
        .request(&http())
        .unwrap();
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        scopes,
        vec!["account.read".to_string(), "contacts.read".to_string()]
    );
}

fn token_error(
    server: &TestServer,
    build: impl FnOnce(reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder,
) -> (u16, Value, Option<String>) {
    let response = build(http().post(server.url("/oauth/token")))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().unwrap(), challenge)
}

#[test]
fn token_endpoint_errors_follow_rfc_6749() {
    let server = TestServer::start();
    let f = seed(&server);
    let (id, secret) = (f.client_id.as_str(), f.client_secret.as_str());

    let (status, body, challenge) = token_error(&server, |r| {
        r.basic_auth(id, Some("mgs_wrong"))
            .form(&[("grant_type", "client_credentials")])
    });
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(challenge.unwrap().starts_with("Basic"));

    let (status, body, _) = token_error(&server, |r| {
        r.basic_auth("app_unknown", Some(secret))
            .form(&[("grant_type", "client_credentials")])
    });
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Bodies sent with good Basic credentials, and the 400 error each must get.
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("grant_type", "password")], "unsupported_grant_type"),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "campaigns.send"),
            ],
            "invalid_scope",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "admin.everything"),
            ],
            "invalid_scope",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", secret),
            ],
            "invalid_request",
        ),
    ];
    for (form, code) in cases {
        let (status, body, _) = token_error(&server, |r| r.basic_auth(id, Some(secret)).form(form));
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(code)),
            "{form:?}"
        );
    }

    let (status, body, _) = token_error(&server, |r| {
        r.basic_auth(id, Some(secret))
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
    });
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, body, _) =
        token_error(&server, |r| r.form(&[("grant_type", "client_credentials")]));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // A client without the grant.
    let other = server.cli_ok(
        &[
            "app",
            "create",
            "--name",
            "Web",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://web.example.com/cb",
            "--scope",
            "account.read",
        ],
        None,
    );
    let (oid, osecret) = (
        other["client_id"].as_str().unwrap(),
        other["client_secret"].as_str().unwrap(),
    );
    let (status, body, _) = token_error(&server, |r| {
        r.basic_auth(oid, Some(osecret))
            .form(&[("grant_type", "client_credentials")])
    });
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    server.assert_log_clean();
}

#[test]
fn rotated_secret_keeps_the_old_one_for_the_grace_period_only() {
    let server = TestServer::start();
    let f = seed(&server);
    let try_secret = |secret: &str| {
        http()
            .post(server.url("/oauth/token"))
            .basic_auth(&f.client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let rotated = server.cli_ok(
        &[
            "app",
            "secret",
            "rotate",
            "--client-id",
            &f.client_id,
            "--keep-old-for",
            "24h",
        ],
        None,
    );
    let second = rotated["client_secret"].as_str().unwrap().to_string();
    assert_eq!(try_secret(&f.client_secret), 200);
    assert_eq!(try_secret(&second), 200);
    let rotated = server.cli_ok(
        &[
            "app",
            "secret",
            "rotate",
            "--client-id",
            &f.client_id,
            "--keep-old-for",
            "0s",
        ],
        None,
    );
    let third = rotated["client_secret"].as_str().unwrap().to_string();
    assert_eq!(try_secret(&f.client_secret), 401);
    assert_eq!(try_secret(&second), 401);
    assert_eq!(try_secret(&third), 200);
}

#[test]
fn introspection_requires_a_client_and_says_inactive_for_garbage() {
    let server = TestServer::start();
    let f = seed(&server);
    let token = client_credentials_token(&server, &f, "account.read");
    let anonymous = http()
        .post(server.url("/oauth/introspect"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    for garbage in ["nonsense", "mga_tooshort", &token[..token.len() - 1]] {
        let body: Value = http()
            .post(server.url("/oauth/introspect"))
            .basic_auth(&f.client_id, Some(&f.client_secret))
            .form(&[("token", garbage)])
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(body, serde_json::json!({ "active": false }));
    }
}

#[test]
fn expired_access_tokens_are_refused() {
    let server = TestServer::start_with(None, &["--access-token-ttl", "1s"]);
    let f = seed(&server);
    let token = client_credentials_token(&server, &f, "account.read");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let response = http()
        .get(server.url("/v1/account"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains("expired"),
        "{challenge}"
    );
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let mut server = TestServer::start();
    assert!(server.stop().success());
    assert!(server.log().contains("mailgrant stopped"));
}

#[test]
fn the_same_flow_works_on_postgres() {
    let Some(server) = TestServer::start_postgres() else {
        return;
    };
    let f = seed(&server);
    let token = client_credentials_token(&server, &f, "account.read");
    let h = http();
    assert_eq!(
        h.get(server.url("/v1/account"))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status(),
        200
    );
    let revoke = h
        .post(server.url("/oauth/revoke"))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(revoke.status(), 200);
    assert_eq!(
        h.get(server.url("/v1/account"))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status(),
        401
    );
    let info: Value = h
        .post(server.url("/oauth/introspect"))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["active"], false);
    server.assert_log_clean();
}
