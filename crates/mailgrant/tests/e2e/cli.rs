//! The management CLI: one JSON object per command, secrets once, precise errors that change nothing.

use crate::harness::{run_cli, seed, TestServer};
use serde_json::Value;

fn app_count(server: &TestServer) -> usize {
    server.cli_ok(&["app", "list"], None)["apps"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn bad_input_fails_precisely_and_changes_nothing() {
    let server = TestServer::start();
    let f = seed(&server);
    let before = app_count(&server);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "app",
                "create",
                "--name",
                "X",
                "--grant-type",
                "client_credentials",
                "--scope",
                "nope.read",
                "--account",
                &f.account_id,
            ],
            "unknown scope `nope.read`",
        ),
        (
            vec![
                "app",
                "create",
                "--name",
                "X",
                "--grant-type",
                "authorization_code",
                "--scope",
                "account.read",
                "--redirect-uri",
                "not a uri",
            ],
            "is not an absolute URI",
        ),
        (
            vec![
                "app",
                "create",
                "--name",
                "X",
                "--grant-type",
                "authorization_code",
                "--scope",
                "account.read",
                "--redirect-uri",
                "http://evil.example.com/cb",
            ],
            "must use https",
        ),
        (
            vec![
                "app",
                "create",
                "--name",
                "X",
                "--grant-type",
                "client_credentials",
                "--scope",
                "account.read",
                "--account",
                "acct_missing",
            ],
            "no account with id acct_missing",
        ),
        (
            vec![
                "app",
                "create",
                "--name",
                "X",
                "--grant-type",
                "client_credentials",
                "--scope",
                "account.read",
                "--public",
                "--account",
                &f.account_id,
            ],
            "public app cannot use client_credentials",
        ),
        (
            vec![
                "app",
                "create",
                "--name",
                "X",
                "--grant-type",
                "password",
                "--scope",
                "account.read",
            ],
            "unknown grant type `password`",
        ),
    ];
    for (args, message) in cases {
        let out = server.cli(&args, None);
        assert!(!out.status.success(), "{args:?} should fail");
        let stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
        let said = stdout["error"]["message"].as_str().unwrap();
        assert!(said.contains(message), "{args:?}: {said}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(message));
    }
    assert_eq!(app_count(&server), before);

    let dup = server.cli(
        &["user", "add", "--email", &f.email, "--password-stdin"],
        Some("another password"),
    );
    assert_eq!(dup.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let missing = server.cli(
        &[
            "account",
            "add",
            "--name",
            "B",
            "--owner",
            "ghost@example.com",
        ],
        None,
    );
    assert_eq!(missing.status.code(), Some(3));

    let short = server.cli(
        &[
            "user",
            "add",
            "--email",
            "new@example.com",
            "--password-stdin",
        ],
        Some("short"),
    );
    assert_eq!(short.status.code(), Some(2));
    let member = server.cli(
        &[
            "account",
            "member",
            "add",
            "--account",
            &f.account_id,
            "--email",
            "new@example.com",
            "--role",
            "admin",
        ],
        None,
    );
    assert_eq!(
        member.status.code(),
        Some(3),
        "the short-password user must not exist"
    );

    let bad_role = server.cli(
        &[
            "account",
            "member",
            "add",
            "--account",
            &f.account_id,
            "--email",
            &f.email,
            "--role",
            "god",
        ],
        None,
    );
    assert_eq!(bad_role.status.code(), Some(2));
    let bad_duration = server.cli(
        &[
            "app",
            "secret",
            "rotate",
            "--client-id",
            &f.client_id,
            "--keep-old-for",
            "soon",
        ],
        None,
    );
    assert_eq!(bad_duration.status.code(), Some(2));
    let not_token = server.cli(&["token", "revoke", "mga_nope"], None);
    assert_eq!(not_token.status.code(), Some(2));
}

#[test]
fn secrets_are_printed_once_and_apps_can_be_listed_shown_and_deleted() {
    let server = TestServer::start();
    let f = seed(&server);
    let shown = server.cli_ok(&["app", "show", "--client-id", &f.client_id], None);
    assert_eq!(shown["client_id"], f.client_id.as_str());
    assert!(shown.get("client_secret").is_none());
    let listed = server.cli(&["app", "list"], None);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("mgs_"));

    let public = server.cli_ok(
        &[
            "app",
            "create",
            "--name",
            "SPA",
            "--public",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--scope",
            "contacts.read",
        ],
        None,
    );
    assert!(public.get("client_secret").is_none());
    assert_eq!(public["public"], true);

    let member = server.cli_ok(
        &[
            "user",
            "add",
            "--email",
            "member@example.com",
            "--password-stdin",
        ],
        Some("member password"),
    );
    assert!(member["id"].as_str().unwrap().starts_with("usr_"));
    let added = server.cli_ok(
        &[
            "account",
            "member",
            "add",
            "--account",
            &f.account_id,
            "--email",
            "member@example.com",
            "--role",
            "member",
        ],
        None,
    );
    assert_eq!(added["role"], "member");

    server.cli_ok(&["app", "delete", "--client-id", &f.client_id], None);
    let gone = server.cli(&["app", "show", "--client-id", &f.client_id], None);
    assert_eq!(gone.status.code(), Some(3));
    let token = crate::harness::http()
        .post(server.url("/oauth/token"))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(token.status(), 401);
}

#[test]
fn works_before_the_server_ever_started_with_flags_on_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| run_cli(args, Some(dir.path()), stdin);
    // No flags at all: the default data folder in the working directory.
    let out = run(
        &[
            "user",
            "add",
            "--email",
            "a@example.com",
            "--password-stdin",
            "--json",
        ],
        Some("a password here\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("mailgrant-data/mailgrant.db").exists());
    // Global flags before the subcommand.
    let out = run(
        &[
            "--json",
            "--data-dir",
            "./mailgrant-data",
            "account",
            "add",
            "--name",
            "A",
            "--owner",
            "a@example.com",
        ],
        None,
    );
    assert!(out.status.success());
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value["id"].as_str().unwrap().starts_with("acct_"));
    // Without --json: readable text, not JSON.
    let out = run(&["app", "list"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("apps: 0"));
}

#[test]
fn serve_runs_on_the_workers_it_is_given_and_refuses_zero() {
    let server = TestServer::start_with(None, &["--workers", "1"]);
    seed(&server);
    // Log lines reach the file within 50 ms (logging.rs); wait a little longer than that at most.
    let announced = |log: &str| {
        log.lines()
            .any(|l| l.contains("mailgrant listening") && l.contains("workers=1"))
    };
    for _ in 0..40 {
        if announced(&server.log()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = server.log();
    assert!(announced(&log), "{log}");

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let out = run_cli(
        &["serve", "--workers", "0", "--data-dir", &data_dir],
        None,
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--workers"), "{stderr}");
    assert!(
        !dir.path().join("mailgrant.db").exists(),
        "a refused start created a database"
    );
}
