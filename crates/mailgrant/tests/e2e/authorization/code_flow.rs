//! Authorization codes: confidential and public clients, deny, PKCE, replay, redirect URIs.

use super::browser::{
    allowed_code, authorize, browser, code_app, location, oauth_client, param, params, REDIRECT,
};
use crate::harness::{http, TestServer};
use oauth2::basic::BasicErrorResponseType;
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError, Scope,
    TokenResponse,
};
use serde_json::Value;

fn error_of<T: std::fmt::Debug>(
    r: Result<
        T,
        RequestTokenError<impl std::error::Error + 'static, oauth2::basic::BasicErrorResponse>,
    >,
) -> BasicErrorResponseType {
    match r {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        other => panic!("expected an error response, got {other:?}"),
    }
}

fn account_status(server: &TestServer, token: &str) -> u16 {
    http()
        .get(server.url("/v1/account"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn confidential_client_connects_through_login_and_consent() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("account.read".into()))
        .add_scope(Scope::new("contacts.read".into()))
        .url();
    let b = browser();
    let back = authorize(&server, &b, url.as_str(), &app.f, Some("allow"));
    assert!(back.starts_with(REDIRECT), "{back}");
    let p = params(&back, false);
    assert_eq!(param(&p, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param(&p, "iss").as_deref(), Some(server.base.as_str()));
    let code = param(&p, "code").unwrap();
    assert!(code.starts_with("mgc_"));

    let h = http();
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .request(&h)
        .unwrap();
    let access = token.access_token().secret().clone();
    assert!(access.starts_with("mga_"));
    assert!(token.refresh_token().unwrap().secret().starts_with("mgr_"));
    assert_eq!(token.expires_in().unwrap().as_secs(), 3600);
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, vec!["account.read", "contacts.read"]);

    let me: Value = h
        .get(server.url("/v1/account"))
        .bearer_auth(&access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["id"], app.f.account_id.as_str());
    server.assert_log_clean();
}

#[test]
fn public_client_needs_pkce_and_the_right_verifier() {
    let server = TestServer::start();
    let app = code_app(&server, true, &[]);
    assert!(app.client_secret.is_none());
    let client = oauth_client(&server, &app);
    let b = browser();

    // Without PKCE, the request goes back to the client as invalid_request.
    let (url, _) = client.authorize_url(CsrfToken::new_random).url();
    let first = b.get(url.as_str()).send().unwrap();
    assert_eq!(first.status(), 303);
    let p = params(&location(&first), false);
    assert_eq!(param(&p, "error").as_deref(), Some("invalid_request"));

    // plain is refused.
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_extra_param(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .add_extra_param("code_challenge_method", "plain")
        .url();
    let p = params(&location(&b.get(url.as_str()).send().unwrap()), false);
    assert_eq!(param(&p, "error").as_deref(), Some("invalid_request"));

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let back = authorize(&server, &b, url.as_str(), &app.f, Some("allow"));
    let code = param(&params(&back, false), "code").unwrap();

    // A wrong verifier fails and does not burn the code; the right one then works.
    let h = http();
    let wrong = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
        .request(&h);
    assert_eq!(error_of(wrong), BasicErrorResponseType::InvalidGrant);
    let missing = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .request(&h);
    assert_eq!(error_of(missing), BasicErrorResponseType::InvalidGrant);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request(&h)
        .unwrap();
    assert_eq!(account_status(&server, token.access_token().secret()), 200);
    server.assert_log_clean();
}

#[test]
fn deny_returns_access_denied_with_state_and_iss() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let (url, state) = client.authorize_url(CsrfToken::new_random).url();
    let back = authorize(&server, &browser(), url.as_str(), &app.f, Some("deny"));
    assert!(back.starts_with(REDIRECT));
    let p = params(&back, false);
    assert_eq!(param(&p, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&p, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param(&p, "iss").as_deref(), Some(server.base.as_str()));
    assert!(param(&p, "code").is_none());
    // Denying records no grant.
    let grants = server.cli_ok(&["grant", "list"], None);
    assert_eq!(grants["grants"].as_array().unwrap().len(), 0);
}

#[test]
fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let code = allowed_code(&server, &client, &app);
    let h = http();
    let token = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .request(&h)
        .unwrap();
    let access = token.access_token().secret().clone();
    assert_eq!(account_status(&server, &access), 200);

    let again = client
        .exchange_code(AuthorizationCode::new(code))
        .request(&h);
    assert_eq!(error_of(again), BasicErrorResponseType::InvalidGrant);
    // Everything the code issued is dead: the access token and the refresh token.
    assert_eq!(account_status(&server, &access), 401);
    let refreshed = client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .request(&h);
    assert_eq!(error_of(refreshed), BasicErrorResponseType::InvalidGrant);
    assert!(server.log().contains("authorization code replayed"));
    server.assert_log_clean();
}

#[test]
fn codes_are_bound_to_their_client_and_redirect_uri() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let code = allowed_code(&server, &client, &app);
    // Another redirect_uri at the token endpoint is refused.
    let h = http();
    let r = h
        .post(server.url("/oauth/token"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:54321/other"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"], "invalid_grant");
    // Another client cannot use it.
    let other = h
        .post(server.url("/oauth/token"))
        .basic_auth(&app.f.client_id, Some(&app.f.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .unwrap();
    let body: Value = other.json().unwrap();
    assert!(body["error"] == "invalid_grant" || body["error"] == "unauthorized_client");
    // The right client still can.
    assert!(client
        .exchange_code(AuthorizationCode::new(code))
        .request(&h)
        .is_ok());
}

#[test]
fn a_bad_client_or_redirect_uri_gets_a_page_never_a_redirect() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let b = browser();
    let base = server.url("/oauth/authorize");
    for query in [
        format!("response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fevil.example.com%2Fcb&state=s", app.client_id),
        format!("response_type=code&client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback%2Fextra", app.client_id),
        "response_type=code&client_id=app_unknown&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback".to_string(),
        "response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback".to_string(),
    ] {
        let r = b.get(format!("{base}?{query}")).send().unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert!(r.headers().get("location").is_none(), "{query}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(!r.text().unwrap().contains("evil.example.com"));
    }
    // An unknown scope, with a good redirect URI, goes back to the client.
    let r = b
        .get(format!(
            "{base}?response_type=code&client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcallback&scope=campaigns.send&state=abc",
            app.client_id
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(back.starts_with("http://127.0.0.1:4000/callback?"));
    let p = params(&back, false);
    assert_eq!(param(&p, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(param(&p, "state").as_deref(), Some("abc"));
    assert_eq!(param(&p, "iss").as_deref(), Some(server.base.as_str()));
}

#[test]
fn consent_is_not_asked_again_unless_prompt_consent() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let b = browser();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("account.read".into()))
        .url();
    authorize(&server, &b, url.as_str(), &app.f, Some("allow"));
    // Same scopes again: straight back with a code.
    let back = authorize(&server, &b, url.as_str(), &app.f, None);
    assert!(param(&params(&back, false), "code").is_some());
    // prompt=consent asks again; so does a wider scope.
    let (forced, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("account.read".into()))
        .add_extra_param("prompt", "consent")
        .url();
    let r = b.get(forced.as_str()).send().unwrap();
    assert_eq!(r.status(), 200);
    let (wider, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("contacts.read".into()))
        .url();
    let r = b.get(wider.as_str()).send().unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().unwrap();
    assert!(html.contains("See your contacts and lists"));
}

#[test]
fn implicit_flow_only_for_apps_that_opt_in() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let b = browser();
    // Not opted in: unauthorized_client, in the fragment.
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .use_implicit_flow()
        .url();
    let r = b.get(url.as_str()).send().unwrap();
    assert_eq!(r.status(), 303);
    let p = params(&location(&r), true);
    assert_eq!(param(&p, "error").as_deref(), Some("unauthorized_client"));

    let legacy = server.cli_ok(
        &[
            "app",
            "create",
            "--name",
            "Legacy Widget",
            "--redirect-uri",
            super::browser::REGISTERED,
            "--grant-type",
            "implicit",
            "--scope",
            "account.read",
            "--public",
        ],
        None,
    );
    let client =
        super::browser::oauth_client_for(&server, legacy["client_id"].as_str().unwrap(), None);
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .use_implicit_flow()
        .url();
    let back = authorize(&server, &b, url.as_str(), &app.f, Some("allow"));
    assert!(
        !back.contains('?'),
        "the token must be in the fragment only: {back}"
    );
    let p = params(&back, true);
    let token = param(&p, "access_token").unwrap();
    assert!(token.starts_with("mga_"));
    assert_eq!(param(&p, "token_type").as_deref(), Some("Bearer"));
    assert_eq!(param(&p, "state").as_deref(), Some(state.secret().as_str()));
    assert!(param(&p, "refresh_token").is_none());
    assert_eq!(account_status(&server, &token), 200);
    server.assert_log_clean();
}
