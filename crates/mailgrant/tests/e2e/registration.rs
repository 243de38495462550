//! Dynamic client registration (RFC 7591): initial access tokens from the CLI, the registered
//! client working at the token endpoint, every refusal with its RFC code and nothing stored, and
//! the open-registration flag.

use crate::harness::{http, seed, TestServer};
use mailgrant_core::{token, TokenKind};
use serde_json::{json, Value};

struct Answer {
    status: u16,
    challenge: Option<String>,
    body: Value,
}

fn register(server: &TestServer, initial_access_token: Option<&str>, metadata: &Value) -> Answer {
    let mut request = http().post(server.url("/oauth/register")).json(metadata);
    if let Some(t) = initial_access_token {
        request = request.bearer_auth(t);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    if status == 201 {
        assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    }
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    Answer {
        status,
        challenge,
        body: response.json().unwrap(),
    }
}

fn registration_token(server: &TestServer, extra: &[&str]) -> (String, String) {
    let mut args = vec!["registration-token", "create"];
    args.extend_from_slice(extra);
    let created = server.cli_ok(&args, None);
    let value = created["token"].as_str().unwrap().to_string();
    assert!(value.starts_with("mgi_"));
    (created["id"].as_str().unwrap().to_string(), value)
}

fn app_count(server: &TestServer) -> usize {
    server.cli_ok(&["app", "list"], None)["apps"]
        .as_array()
        .unwrap()
        .len()
}

fn token_uses(server: &TestServer, id: &str) -> i64 {
    let listed = server.cli_ok(&["registration-token", "list"], None);
    listed["registration_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()["uses"]
        .as_i64()
        .unwrap()
}

#[test]
fn a_token_naming_an_account_registers_a_client_credentials_client_that_works() {
    let server = TestServer::start();
    let f = seed(&server);
    let (id, iat) = registration_token(
        &server,
        &[
            "--account",
            &f.account_id,
            "--max-uses",
            "2",
            "--expires-in",
            "1h",
        ],
    );
    let answer = register(
        &server,
        Some(&iat),
        &json!({
            "client_name": "Warehouse Sync",
            "grant_types": ["client_credentials"],
            "scope": "account.read contacts.read",
            "token_endpoint_auth_method": "client_secret_post",
            "logo_uri": "https://warehouse.example.com/logo.png",
        }),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    let b = &answer.body;
    let client_id = b["client_id"].as_str().unwrap();
    let secret = b["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("mgs_"));
    assert_eq!(b["client_secret_expires_at"], 0);
    assert!(b["client_id_issued_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(b["client_name"], "Warehouse Sync");
    assert_eq!(b["grant_types"], json!(["client_credentials"]));
    assert_eq!(b["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(b["scope"], "account.read contacts.read");
    assert!(b.get("logo_uri").is_none(), "unused metadata is not echoed");

    // The app belongs to the token's account, and the secret works at the token endpoint.
    let shown = server.cli_ok(&["app", "show", "--client-id", client_id], None);
    assert_eq!(shown["account_id"], f.account_id.as_str());
    assert_eq!(shown["public"], false);
    let token: Value = http()
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "account.read"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    let me: Value = http()
        .get(server.url("/v1/account"))
        .bearer_auth(access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["id"], f.account_id.as_str());
    // A wrong secret does not.
    let wrong = http()
        .post(server.url("/oauth/token"))
        .basic_auth(client_id, Some(&f.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Two uses allowed: the second registration works, the third is refused and stores nothing.
    assert_eq!(token_uses(&server, &id), 1);
    let meta = json!({"grant_types": ["client_credentials"], "scope": "contacts.read"});
    assert_eq!(register(&server, Some(&iat), &meta).status, 201);
    let before = app_count(&server);
    let used_up = register(&server, Some(&iat), &meta);
    assert_eq!(used_up.status, 401);
    assert!(used_up.challenge.unwrap().contains("used up"));
    assert_eq!(app_count(&server), before);
    assert_eq!(token_uses(&server, &id), 2);
    server.assert_log_clean();
}

#[test]
fn a_public_client_gets_no_secret_and_cannot_use_client_credentials() {
    let server = TestServer::start();
    let (_, iat) = registration_token(&server, &[]);
    let answer = register(
        &server,
        Some(&iat),
        &json!({
            "client_name": "Desktop Mailer",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "contacts.read campaigns.read",
        }),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    let b = &answer.body;
    assert!(b.get("client_secret").is_none());
    assert!(b.get("client_secret_expires_at").is_none());
    assert_eq!(b["token_endpoint_auth_method"], "none");
    assert_eq!(b["redirect_uris"], json!(["http://127.0.0.1/callback"]));
    assert_eq!(b["response_types"], json!(["code"]));
    let client_id = b["client_id"].as_str().unwrap();
    let shown = server.cli_ok(&["app", "show", "--client-id", client_id], None);
    assert_eq!(shown["public"], true);
    assert_eq!(shown["account_id"], Value::Null);
    let refused = http()
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .unwrap();
    assert!(refused.status().is_client_error());

    // Defaults: a confidential authorization-code client with the least scope.
    let defaults = register(
        &server,
        Some(&iat),
        &json!({"redirect_uris": ["https://app.example.com/cb"]}),
    );
    assert_eq!(defaults.status, 201, "{}", defaults.body);
    assert_eq!(
        defaults.body["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(defaults.body["grant_types"], json!(["authorization_code"]));
    assert_eq!(defaults.body["scope"], "account.read");
    assert!(defaults.body["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("mgs_"));
    server.assert_log_clean();
}

#[test]
fn every_refusal_has_its_rfc_code_and_stores_nothing() {
    let server = TestServer::start();
    let f = seed(&server);
    let (_, iat) = registration_token(&server, &[]);
    let (_, short_lived) = registration_token(&server, &["--expires-in", "1s"]);
    let (revoked_id, revoked) = registration_token(&server, &[]);
    server.cli_ok(&["registration-token", "revoke", "--id", &revoked_id], None);
    let unknown = token::generate(TokenKind::Registration);
    let access = crate::harness::client_credentials_token(&server, &f, "account.read");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let good = json!({"redirect_uris": ["https://app.example.com/cb"], "scope": "contacts.read"});
    let before = app_count(&server);

    // Authentication: 401 with an RFC 6750 challenge.
    let missing = register(&server, None, &good);
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.challenge.as_deref(),
        Some("Bearer realm=\"mailgrant\"")
    );
    for (presented, why) in [
        ("mgi_not-a-real-token", "malformed"),
        (unknown.expose(), "unknown"),
        (short_lived.as_str(), "expired"),
        (revoked.as_str(), "revoked"),
        (access.as_str(), "not an initial access token"),
    ] {
        let answer = register(&server, Some(presented), &good);
        assert_eq!(answer.status, 401, "{why}");
        let challenge = answer.challenge.unwrap();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
            "{why}: {challenge}"
        );
        assert!(challenge.contains(why), "{why}: {challenge}");
        assert_eq!(answer.body["error"], "invalid_token");
    }

    // Metadata: 400 with the RFC 7591 §3.2.2 code.
    for (metadata, code) in [
        (
            json!({"redirect_uris": ["http://evil.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["not a uri"]}),
            "invalid_redirect_uri",
        ),
        (json!({"scope": "contacts.read"}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://app.example.com/cb"], "scope": "contacts.delete"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb"], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb"], "response_types": ["id_token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": "https://app.example.com/cb"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let answer = register(&server, Some(&iat), &metadata);
        assert_eq!(
            (answer.status, answer.body["error"].as_str()),
            (400, Some(code)),
            "{metadata}"
        );
        assert!(answer.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(app_count(&server), before);

    // CLI refusals: bad duration, bad max-uses, unknown account, unknown id.
    for (args, exit) in [
        (
            vec!["registration-token", "create", "--expires-in", "soon"],
            2,
        ),
        (vec!["registration-token", "create", "--max-uses", "0"], 2),
        (
            vec!["registration-token", "create", "--account", "acct_nope"],
            3,
        ),
        (vec!["registration-token", "revoke", "--id", "regt_nope"], 3),
        (vec!["registration-token", "revoke", "--id", &revoked_id], 3),
    ] {
        assert_eq!(
            server.cli(&args, None).status.code(),
            Some(exit),
            "{args:?}"
        );
    }
    // Listing shows ids and metadata, never values.
    let listed = server
        .cli_ok(&["registration-token", "list"], None)
        .to_string();
    assert!(!listed.contains("mgi_") && listed.contains(&revoked_id));
    server.assert_log_clean();
}

#[test]
fn open_registration_is_off_by_default_and_on_with_the_flag() {
    let closed = TestServer::start();
    let meta = json!({
        "redirect_uris": ["http://localhost/cb"],
        "token_endpoint_auth_method": "none",
        "scope": "contacts.read",
    });
    assert_eq!(register(&closed, None, &meta).status, 401);
    assert_eq!(app_count(&closed), 0);

    let open = TestServer::start_with(None, &["--open-registration"]);
    let public = register(&open, None, &meta);
    assert_eq!(public.status, 201, "{}", public.body);
    let confidential = register(
        &open,
        None,
        &json!({"redirect_uris": ["https://app.example.com/cb"]}),
    );
    assert_eq!(confidential.status, 201);
    assert!(confidential.body["client_secret"].is_string());
    // No account without a token, so no client_credentials.
    let cc = register(&open, None, &json!({"grant_types": ["client_credentials"]}));
    assert_eq!(
        (cc.status, cc.body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    // A bad token is still refused when one is presented.
    assert_eq!(register(&open, Some("mgi_bogus"), &meta).status, 401);
    assert_eq!(app_count(&open), 2);
    open.assert_log_clean();
}

#[test]
fn registration_works_the_same_on_postgres() {
    let Some(server) = TestServer::start_postgres() else {
        return;
    };
    let (_, iat) = registration_token(&server, &["--max-uses", "1"]);
    let meta = json!({"redirect_uris": ["https://app.example.com/cb"], "scope": "contacts.read"});
    let first = register(&server, Some(&iat), &meta);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = register(&server, Some(&iat), &meta);
    assert_eq!(again.status, 401);
    assert_eq!(app_count(&server), 1);
    server.assert_log_clean();
}
