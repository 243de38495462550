//! Many nodes on one PostgreSQL database behave as one server: a token issued on one is good on
//! every other, and a revocation on one is refused on every other within 50 ms (LISTEN/NOTIFY
//! into each node's cache).

use crate::harness::{client_credentials_token, http, seed, TestServer};
use std::time::{Duration, Instant};

fn account_status(server: &TestServer, token: &str) -> u16 {
    http()
        .get(server.url("/v1/account"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Poll `server` until `token` is refused; how long that took. Fails after `limit`.
fn refused_within(server: &TestServer, token: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if account_status(server, token) == 401 {
            return started.elapsed();
        }
        if started.elapsed() >= limit {
            let log = server.log();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            panic!("node still accepts the revoked token after {limit:?}; log tail: {tail:#?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_revocation_on_node_a_is_refused_on_node_b_within_50_ms() {
    let Some(a) = TestServer::start_postgres() else {
        return;
    };
    let b = a.another_node();
    let f = seed(&a);
    let token = client_credentials_token(&a, &f, "account.read");
    // Issued on A, good on B at once; these requests also put the token in both caches.
    assert_eq!(account_status(&b, &token), 200);
    assert_eq!(account_status(&a, &token), 200);
    assert_eq!(account_status(&b, &token), 200);

    let revoked = http()
        .post(a.url("/oauth/revoke"))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(account_status(&a, &token), 401, "A evicts its own at once");
    let took = refused_within(&b, &token, Duration::from_millis(50));
    eprintln!("node B refused the token {took:?} after node A revoked it");
    a.assert_log_clean();
    b.assert_log_clean();
}

#[test]
fn a_cli_revocation_reaches_every_node_within_50_ms() {
    let Some(a) = TestServer::start_postgres() else {
        return;
    };
    let b = a.another_node();
    let f = seed(&a);
    let token = client_credentials_token(&b, &f, "account.read");
    assert_eq!(account_status(&a, &token), 200);
    assert_eq!(account_status(&b, &token), 200);
    a.cli_ok(&["token", "revoke", &token], None);
    refused_within(&a, &token, Duration::from_millis(50));
    refused_within(&b, &token, Duration::from_millis(50));
}

#[test]
fn a_secret_rotation_on_the_cli_reaches_both_nodes() {
    let Some(a) = TestServer::start_postgres() else {
        return;
    };
    let b = a.another_node();
    let f = seed(&a);
    client_credentials_token(&a, &f, "account.read");
    client_credentials_token(&b, &f, "account.read");
    a.cli_ok(
        &[
            "app",
            "secret",
            "rotate",
            "--client-id",
            &f.client_id,
            "--keep-old-for",
            "0",
        ],
        None,
    );
    for node in [&a, &b] {
        let started = Instant::now();
        loop {
            let status = http()
                .post(node.url("/oauth/token"))
                .basic_auth(&f.client_id, Some(&f.client_secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .unwrap()
                .status();
            if status == 401 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_millis(50),
                "old secret still works"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
