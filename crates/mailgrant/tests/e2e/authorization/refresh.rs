//! Rotating refresh tokens: rotation, the retry window, reuse detection, scope narrowing,
//! concurrency, introspection and revocation.

use super::browser::{api_status, code_app, connect, oauth_client, refresh_raw};
use crate::harness::{http, TestServer};
use oauth2::basic::BasicErrorResponseType;
use oauth2::{RequestTokenError, TokenResponse};
use serde_json::Value;
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_string()
}

#[test]
fn each_refresh_rotates_and_the_old_token_stops() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let (_, token) = connect(&server, &app);
    let client = oauth_client(&server, &app);
    let h = http();
    let r0 = token.refresh_token().unwrap().clone();
    let next = client.exchange_refresh_token(&r0).request(&h).unwrap();
    let r1 = next.refresh_token().unwrap().clone();
    assert_ne!(r1.secret(), r0.secret());
    assert_ne!(next.access_token().secret(), token.access_token().secret());
    assert_eq!(api_status(&server, next.access_token().secret()), 200);
    let after = client.exchange_refresh_token(&r1).request(&h).unwrap();
    assert!(after.refresh_token().unwrap().secret().starts_with("mgr_"));
    server.assert_log_clean();
}

#[test]
fn a_retry_within_the_window_gets_the_same_pair() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let (_, token) = connect(&server, &app);
    let r0 = token.refresh_token().unwrap().secret().clone();
    let (st, first) = refresh_raw(&server, &app, &r0, None);
    assert_eq!(st, 200, "{first}");
    let (st, again) = refresh_raw(&server, &app, &r0, None);
    assert_eq!(st, 200, "{again}");
    assert_eq!(s(&first, "access_token"), s(&again, "access_token"));
    assert_eq!(s(&first, "refresh_token"), s(&again, "refresh_token"));
    assert_eq!(api_status(&server, &s(&again, "access_token")), 200);
    // Once the successor has itself been used, the old token is a reuse even inside the window.
    let (st, _) = refresh_raw(&server, &app, &s(&first, "refresh_token"), None);
    assert_eq!(st, 200);
    let (st, body) = refresh_raw(&server, &app, &r0, None);
    assert_eq!((st, s(&body, "error")), (400, "invalid_grant".to_string()));
    server.assert_log_clean();
}

#[test]
fn a_reuse_after_the_window_revokes_the_whole_family() {
    let server = TestServer::start_with(None, &["--refresh-retry-window", "1s"]);
    let app = code_app(&server, false, &[]);
    let (_, token) = connect(&server, &app);
    let r0 = token.refresh_token().unwrap().secret().clone();
    let (_, next) = refresh_raw(&server, &app, &r0, None);
    let (a1, r1) = (s(&next, "access_token"), s(&next, "refresh_token"));
    assert_eq!(api_status(&server, &a1), 200);
    std::thread::sleep(Duration::from_millis(2100));
    let (st, body) = refresh_raw(&server, &app, &r0, None);
    assert_eq!((st, s(&body, "error")), (400, "invalid_grant".to_string()));
    // The thief's replay killed the legitimate client's tokens too: the family is gone.
    assert_eq!(api_status(&server, &a1), 401);
    assert_eq!(api_status(&server, token.access_token().secret()), 401);
    let (st, _) = refresh_raw(&server, &app, &r1, None);
    assert_eq!(st, 400);
    assert!(server.log().contains("suspected theft"));
    server.assert_log_clean();
}

#[test]
fn scope_can_narrow_on_refresh_but_never_widen() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let (_, token) = connect(&server, &app);
    assert_eq!(token.scopes().unwrap().len(), 3);
    let r0 = token.refresh_token().unwrap().secret().clone();
    let (st, body) = refresh_raw(&server, &app, &r0, Some("account.read campaigns.send"));
    assert_eq!((st, s(&body, "error")), (400, "invalid_scope".to_string()));
    let (st, narrow) = refresh_raw(&server, &app, &r0, Some("account.read"));
    assert_eq!(st, 200, "{narrow}");
    assert_eq!(s(&narrow, "scope"), "account.read");
    // The successor refresh token keeps the original scopes.
    let (st, full) = refresh_raw(&server, &app, &s(&narrow, "refresh_token"), None);
    assert_eq!(st, 200);
    assert_eq!(
        s(&full, "scope"),
        "account.read campaigns.read contacts.read"
    );
}

#[test]
fn concurrent_refreshes_of_one_token_leave_exactly_one_family() {
    concurrent_refreshes(TestServer::start());
}

#[test]
fn the_flow_and_concurrent_refreshes_work_on_postgresql() {
    if let Some(server) = TestServer::start_postgres() {
        concurrent_refreshes(server);
    }
}

fn concurrent_refreshes(server: TestServer) {
    let app = Arc::new(code_app(&server, false, &[]));
    let (_, token) = connect(&server, &app);
    let r0 = token.refresh_token().unwrap().secret().clone();
    let server = Arc::new(server);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (server, app, barrier, r0) =
                (server.clone(), app.clone(), barrier.clone(), r0.clone());
            std::thread::spawn(move || {
                barrier.wait();
                refresh_raw(&server, &app, &r0, None)
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok: Vec<&Value> = answers
        .iter()
        .filter(|(st, _)| *st == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        ok.len(),
        8,
        "every concurrent retry is answered: {answers:?}"
    );
    let pair = (s(ok[0], "access_token"), s(ok[0], "refresh_token"));
    for b in &ok {
        assert_eq!((s(b, "access_token"), s(b, "refresh_token")), pair);
    }
    // Exactly one successor exists: the live access tokens are the original and one new one.
    let list = server.cli_ok(&["token", "list", "--client-id", &app.client_id], None);
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2, "{list}");
    let (st, _) = refresh_raw(&server, &app, &pair.1, None);
    assert_eq!(st, 200);
}

#[test]
fn refresh_tokens_introspect_and_revoke_by_family() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let (_, token) = connect(&server, &app);
    let r0 = token.refresh_token().unwrap().secret().clone();
    let h = http();
    let info: Value = h
        .post(server.url("/oauth/introspect"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[("token", r0.as_str())])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    assert_eq!(info["account_id"], app.f.account_id.as_str());
    // RFC 7009: revoking the refresh token revokes its family, access tokens included.
    let r = h
        .post(server.url("/oauth/revoke"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[("token", r0.as_str()), ("token_type_hint", "refresh_token")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api_status(&server, token.access_token().secret()), 401);
    let client = oauth_client(&server, &app);
    match client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .request(&h)
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidGrant)
        }
        other => panic!("{other:?}"),
    }

    // The CLI revokes a refresh token's family too.
    let (_, second) = connect(&server, &app);
    let out = server.cli_ok(
        &["token", "revoke", second.refresh_token().unwrap().secret()],
        None,
    );
    assert_eq!(out["kind"], "refresh");
    assert_eq!(api_status(&server, second.access_token().secret()), 401);
    server.assert_log_clean();
}
