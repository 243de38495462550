//! Starting the real server, running the real CLI against the same database, and checking logs.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mailgrant");

#[allow(dead_code)]
pub struct TestServer {
    pub base: String,
    pub database_url: String,
    child: Option<Child>,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl TestServer {
    /// A server on a fresh SQLite database.
    pub fn start() -> Self {
        Self::start_with(None, &[])
    }

    /// A server on `database_url` (a fresh SQLite database when `None`), with extra serve flags.
    pub fn start_with(database_url: Option<String>, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = database_url
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("mailgrant.db").display()));
        Self::spawn(dir, database_url, extra)
    }

    /// A server on a fresh PostgreSQL database, or `None` when no server is configured.
    pub fn start_postgres() -> Option<Self> {
        let url = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(mailgrant_store::suite::fresh_postgres_url())?;
        Some(Self::start_with(Some(url), &[]))
    }

    /// Another node on the same database (for multi-node tests).
    pub fn another_node(&self) -> Self {
        Self::spawn(tempfile::tempdir().unwrap(), self.database_url.clone(), &[])
    }

    fn spawn(dir: tempfile::TempDir, database_url: String, extra: &[&str]) -> Self {
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &database_url,
            ])
            .args(["--data-dir", &dir.path().display().to_string()])
            .args(extra)
            // Debug logs make the no-secrets-in-logs check meaningful.
            .env("MAILGRANT_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("mailgrant listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "server did not start: {line:?}; log: {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                )
            })
            .to_string();
        Self {
            base,
            database_url,
            child: Some(child),
            log_path,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Run the CLI on the server's database with `--json`.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--json", "--database-url", &self.database_url]);
        run_cli(&all, None, stdin)
    }

    /// Run the CLI, require success, and parse its one JSON object.
    pub fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "mailgrant {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The server's log so far. The server writes its log out every 50 ms (logging.rs), so
    /// wait for one such write first.
    pub fn log(&self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(120));
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// No token- or secret-shaped value in the server's log.
    pub fn assert_log_clean(&self) {
        let log = self.log();
        for prefix in ["mga_", "mgr_", "mgp_", "mgs_", "mgc_", "mgi_"] {
            for (i, _) in log.match_indices(prefix) {
                let tail: String = log[i + 4..]
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                assert!(
                    tail.len() < 20,
                    "the server log contains a token-shaped value after {prefix}"
                );
            }
        }
    }

    /// Stop with SIGTERM and wait, as an operator would.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Run the binary with `args`, in `cwd` when given, feeding `stdin`.
pub fn run_cli(args: &[&str], cwd: Option<&std::path::Path>, stdin: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A user who owns an account, and a confidential client_credentials app on it.
#[allow(dead_code)]
pub struct Fixture {
    pub email: String,
    pub password: String,
    pub account_id: String,
    pub client_id: String,
    pub client_secret: String,
}

pub fn seed(server: &TestServer) -> Fixture {
    let email = "owner@example.com".to_string();
    let password = "correct horse battery".to_string();
    server.cli_ok(
        &["user", "add", "--email", &email, "--password-stdin"],
        Some(&password),
    );
    let account = server.cli_ok(
        &[
            "account",
            "add",
            "--name",
            "Acme Newsletters",
            "--owner",
            &email,
        ],
        None,
    );
    let account_id = account["id"].as_str().unwrap().to_string();
    let app = server.cli_ok(
        &[
            "app",
            "create",
            "--name",
            "Sync Server",
            "--grant-type",
            "client_credentials",
            "--scope",
            "account.read",
            "--scope",
            "contacts.read",
            "--account",
            &account_id,
        ],
        None,
    );
    Fixture {
        email,
        password,
        account_id,
        client_id: app["client_id"].as_str().unwrap().to_string(),
        client_secret: app["client_secret"].as_str().unwrap().to_string(),
    }
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client_credentials token through the plain form API (Basic auth).
pub fn client_credentials_token(server: &TestServer, f: &Fixture, scope: &str) -> String {
    let response = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&f.client_id, Some(&f.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    body["access_token"].as_str().unwrap().to_string()
}
