//! `/v1/account` with private-app and client-credentials tokens: RFC 6750 answers for each failure.

use crate::harness::{client_credentials_token, http, seed, TestServer};
use serde_json::Value;

fn get_account(server: &TestServer, auth: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = http().get(server.url("/v1/account"));
    if let Some(value) = auth {
        request = request.header("authorization", value);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, challenge, response.json().unwrap())
}

#[test]
fn private_app_tokens_work_until_rotated_or_revoked() {
    let server = TestServer::start();
    let f = seed(&server);
    let created = server.cli_ok(
        &[
            "private-app",
            "create",
            "--account",
            &f.account_id,
            "--name",
            "CRM",
            "--scope",
            "account.read",
        ],
        None,
    );
    let id = created["id"].as_str().unwrap().to_string();
    let first = created["token"].as_str().unwrap().to_string();
    assert!(first.starts_with("mgp_"));
    let (status, _, body) = get_account(&server, Some(&format!("Bearer {first}")));
    assert_eq!(
        (status, body["id"].as_str()),
        (200, Some(f.account_id.as_str()))
    );

    let rotated = server.cli_ok(&["private-app", "rotate", "--id", &id], None);
    let second = rotated["token"].as_str().unwrap().to_string();
    assert_eq!(
        get_account(&server, Some(&format!("Bearer {first}"))).0,
        401
    );
    assert_eq!(
        get_account(&server, Some(&format!("Bearer {second}"))).0,
        200
    );

    server.cli_ok(&["private-app", "revoke", "--id", &id], None);
    let (status, challenge, _) = get_account(&server, Some(&format!("Bearer {second}")));
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains("revoked"));

    // Listing never shows a token value.
    let list = server.cli(&["private-app", "list", "--account", &f.account_id], None);
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(!text.contains(&first) && !text.contains(&second) && !text.contains("mgp_"));
    server.assert_log_clean();
}

#[test]
fn every_kind_of_bad_token_is_refused_with_a_precise_challenge() {
    let server = TestServer::start();
    let f = seed(&server);
    let good = client_credentials_token(&server, &f, "account.read");
    let narrow = client_credentials_token(&server, &f, "contacts.read");

    let (status, challenge, _) = get_account(&server, None);
    assert_eq!(status, 401);
    assert_eq!(challenge.unwrap(), "Bearer realm=\"mailgrant\"");

    let (status, challenge, body) = get_account(&server, Some("Bearer not-a-token"));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(challenge.unwrap().contains("malformed"));

    // One changed character: the checksum catches it without a database look-up.
    let mut bytes = good.clone().into_bytes();
    bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(bytes).unwrap();
    let (status, challenge, _) = get_account(&server, Some(&format!("Bearer {typo}")));
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains("checksum"));

    // Well-formed but unknown.
    let unknown = mailgrant_core::token::generate(mailgrant_core::TokenKind::Access);
    let (status, challenge, _) =
        get_account(&server, Some(&format!("Bearer {}", unknown.expose())));
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains("unknown token"));

    let (status, challenge, body) = get_account(&server, Some(&format!("Bearer {narrow}")));
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let challenge = challenge.unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"account.read\"")
    );

    let (status, _, _) = get_account(&server, Some(&format!("Basic {good}")));
    assert_eq!(status, 401);
    let (status, _, _) = get_account(&server, Some(&format!("bearer {good}")));
    assert_eq!(status, 200);

    // A client secret is not a bearer token.
    let (status, challenge, _) = get_account(&server, Some(&format!("Bearer {}", f.client_secret)));
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains("not a bearer token"));
    server.assert_log_clean();
}

#[test]
fn a_cli_revocation_reaches_the_running_server_at_once() {
    let server = TestServer::start();
    let f = seed(&server);
    let token = client_credentials_token(&server, &f, "account.read");
    assert_eq!(
        get_account(&server, Some(&format!("Bearer {token}"))).0,
        200
    );
    server.cli_ok(&["token", "revoke", &token], None);
    assert_eq!(
        get_account(&server, Some(&format!("Bearer {token}"))).0,
        401
    );
    let listed = server.cli_ok(&["token", "list", "--account", &f.account_id], None);
    assert!(listed["tokens"].as_array().unwrap().is_empty());
}

#[test]
fn unknown_paths_answer_json_404() {
    let server = TestServer::start();
    let response = http().get(server.url("/v1/nothing-here")).send().unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"], "not_found");
}

#[test]
fn openapi_document_describes_the_api() {
    let server = TestServer::start();
    let doc: Value = http()
        .get(server.url("/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/account"]["get"]["responses"]["403"].is_object());
    let scopes =
        &doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"];
    assert!(scopes["account.read"].is_string());
}

/// 429 with `Retry-After` and `RateLimit-*`, per client at the token endpoint and per account at
/// the API; other clients are not affected.
#[test]
fn rate_limits_answer_429_with_retry_after_and_ratelimit_headers() {
    let server = TestServer::start_with(
        None,
        &["--rate-limit-token", "2/m", "--rate-limit-api", "3/m"],
    );
    let f = seed(&server);
    let token = client_credentials_token(&server, &f, "account.read");
    client_credentials_token(&server, &f, "account.read");
    let limited = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(limited.status(), 429);
    let h = limited.headers();
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "retry-after {retry}");
    assert_eq!(h["ratelimit-limit"], "2");
    assert_eq!(h["ratelimit-remaining"], "0");
    assert_eq!(h["ratelimit-policy"], "2;w=60");
    assert!(h.contains_key("ratelimit-reset"));
    let body: Value = limited.json().unwrap();
    assert_eq!(body["error"], "rate_limited");

    // The API: per account.
    for _ in 0..3 {
        assert_eq!(
            get_account(&server, Some(&format!("Bearer {token}"))).0,
            200
        );
    }
    let response = http()
        .get(server.url("/v1/account"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["ratelimit-limit"], "3");
    assert!(response.headers().contains_key("retry-after"));

    // Bad flags are refused before anything opens.
    let out = std::process::Command::new(crate::harness::BIN)
        .args([
            "serve",
            "--rate-limit-token",
            "lots",
            "--data-dir",
            "/nonexistent/mg",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate-limit-token"));
    server.assert_log_clean();
}
