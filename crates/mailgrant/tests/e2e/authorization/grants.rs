//! Grants: the connected-apps page, revoking from it and from the CLI, and who may connect.

use super::browser::{
    api_status, browser, code_app, connect, input_value, location, log_in, oauth_client, param,
    params, refresh_raw,
};
use crate::harness::TestServer;
use oauth2::{CsrfToken, TokenResponse};
use serde_json::Value;

#[test]
fn revoking_from_the_account_page_kills_every_token_at_once() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let (b, token) = connect(&server, &app);
    let access = token.access_token().secret().clone();
    let refresh = token.refresh_token().unwrap().secret().clone();
    assert_eq!(api_status(&server, &access), 200);

    let page = b.get(server.url("/account/connected-apps")).send().unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("Campaign Planner"));
    assert!(html.contains("See your contacts and lists"));
    assert!(
        !html.contains(">never<"),
        "last use is shown after the code exchange"
    );
    let grant_id = input_value(&html, "grant_id").unwrap();
    let csrf = input_value(&html, "csrf_token").unwrap();

    // Without the CSRF token nothing happens.
    let forged = b
        .post(server.url("/account/connected-apps/revoke"))
        .form(&[("grant_id", grant_id.as_str()), ("csrf_token", "forged")])
        .send()
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(api_status(&server, &access), 200);

    let r = b
        .post(server.url("/account/connected-apps/revoke"))
        .form(&[
            ("grant_id", grant_id.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(api_status(&server, &access), 401);
    let (st, body) = refresh_raw(&server, &app, &refresh, None);
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")));
    let html = b
        .get(server.url("/account/connected-apps"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!html.contains("Campaign Planner"));
    let list = server.cli_ok(&["grant", "list", "--account", &app.f.account_id], None);
    assert!(list["grants"][0]["revoked_at"].is_i64());
    server.assert_log_clean();
}

#[test]
fn the_cli_lists_and_revokes_grants() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let (_, token) = connect(&server, &app);
    let list = server.cli_ok(&["grant", "list"], None);
    let grants = list["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    let g = &grants[0];
    assert_eq!(g["client_id"], app.client_id.as_str());
    assert_eq!(g["account_id"], app.f.account_id.as_str());
    assert_eq!(g["scope"], "account.read campaigns.read contacts.read");
    assert!(g["last_used_at"].is_i64());
    let id = g["id"].as_str().unwrap();
    let out = server.cli_ok(&["grant", "revoke", "--id", id], None);
    assert_eq!(out["revoked"], true);
    assert_eq!(api_status(&server, token.access_token().secret()), 401);
    let again = server.cli(&["grant", "revoke", "--id", id], None);
    assert!(!again.status.success());
    let missing = server.cli(&["grant", "revoke", "--id", "grant_nope"], None);
    assert!(!missing.status.success());
}

#[test]
fn members_may_not_connect_or_disconnect_apps() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let (_, _token) = connect(&server, &app);
    server.cli_ok(
        &[
            "user",
            "add",
            "--email",
            "member@example.com",
            "--password-stdin",
        ],
        Some("member password 1"),
    );
    server.cli_ok(
        &[
            "account",
            "member",
            "add",
            "--account",
            &app.f.account_id,
            "--email",
            "member@example.com",
            "--role",
            "member",
        ],
        None,
    );
    let b = browser();
    let client = oauth_client(&server, &app);
    let (url, _) = client.authorize_url(CsrfToken::new_random).url();
    let after = log_in(
        &server,
        &b,
        url.as_str(),
        "member@example.com",
        "member password 1",
    );
    assert_eq!(after.status(), 303);
    let r = b.get(server.url(&location(&after))).send().unwrap();
    assert_eq!(r.status(), 303);
    let p = params(&location(&r), false);
    assert_eq!(param(&p, "error").as_deref(), Some("access_denied"));
    // The page shows the app but no revoke button, and a forged revoke is refused.
    let html = b
        .get(server.url("/account/connected-apps"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(html.contains("Campaign Planner"));
    assert!(input_value(&html, "grant_id").is_none());
    let csrf = input_value(&html, "csrf_token").unwrap();
    let list: Value = server.cli_ok(&["grant", "list"], None);
    let grant_id = list["grants"][0]["id"].as_str().unwrap().to_string();
    let r = b
        .post(server.url("/account/connected-apps/revoke"))
        .form(&[
            ("grant_id", grant_id.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[test]
fn a_user_of_several_accounts_chooses_one() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let second = server.cli_ok(
        &[
            "account",
            "add",
            "--name",
            "Beta Shop",
            "--owner",
            &app.f.email,
        ],
        None,
    );
    let second_id = second["id"].as_str().unwrap();
    let client = oauth_client(&server, &app);
    let (url, _) = client.authorize_url(CsrfToken::new_random).url();
    let b = browser();
    let after = log_in(&server, &b, url.as_str(), &app.f.email, &app.f.password);
    let html = b
        .get(server.url(&location(&after)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(html.contains("<select id=\"account_id\" name=\"account_id\">"));
    assert!(html.contains("Beta Shop") && html.contains("Acme Newsletters"));
    let back = super::browser::consent(&server, &b, &html, "allow", Some(second_id));
    let code = param(&params(&back, false), "code").unwrap();
    let token = client
        .exchange_code(oauth2::AuthorizationCode::new(code))
        .request(&crate::harness::http())
        .unwrap();
    let me: Value = crate::harness::http()
        .get(server.url("/v1/account"))
        .bearer_auth(token.access_token().secret())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["id"], second_id);
    // An account the user is not in is refused.
    let (url, _) = client.authorize_url(CsrfToken::new_random).url();
    let html = b.get(url.as_str()).send().unwrap().text().unwrap();
    let back = super::browser::consent(&server, &b, &html, "allow", Some("acct_not_mine"));
    assert_eq!(
        param(&params(&back, false), "error").as_deref(),
        Some("access_denied")
    );
}
