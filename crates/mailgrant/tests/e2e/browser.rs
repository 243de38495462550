//! Headless Chromium, driven over WebDriver (`chromedriver` + the `fantoccini` crate), against the
//! real server: a person's browser, not a script, walks the pages.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test.sh` installs them when run as
//! root). Without them the tests are skipped with a message, unless `MAILGRANT_REQUIRE_BROWSER=1`
//! (CI sets it), which turns a missing browser into a failure. `MAILGRANT_CHROMIUM` and
//! `MAILGRANT_CHROMEDRIVER` point at other binaries. All traffic stays on 127.0.0.1.

use crate::harness::{http, seed, TestServer};
use fantoccini::{Client, ClientBuilder, Locator};
use oauth2::basic::BasicClient;
use oauth2::url::Url;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The longest any one step (a page load, an element appearing, a redirect arriving) may take.
const STEP: Duration = Duration::from_secs(20);

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn from_env_or(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    candidates.iter().find_map(|c| {
        if c.contains('/') {
            Some(PathBuf::from(c)).filter(|p| p.is_file())
        } else {
            on_path(c)
        }
    })
}

/// Debian's `/usr/bin/chromium` is a wrapper script; chromedriver gets the real binary.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium = from_env_or(
        "MAILGRANT_CHROMIUM",
        &[
            "/usr/lib/chromium/chromium",
            "chromium",
            "chromium-browser",
            "google-chrome",
        ],
    )?;
    let driver = from_env_or("MAILGRANT_CHROMEDRIVER", &["chromedriver"])?;
    Some((chromium, driver))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One headless Chromium session with its own chromedriver and empty profile.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    runtime: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A browser, or `None` (after saying why) when none is installed and none is required.
    pub fn launch_or_skip(test: &str) -> Option<Self> {
        let required = std::env::var("MAILGRANT_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        let Some((chromium, driver)) = binaries() else {
            assert!(
                !required,
                "MAILGRANT_REQUIRE_BROWSER=1 but chromium or chromedriver is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "skipping {test}: no chromium/chromedriver (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        Some(Self::launch(&chromium, &driver))
    }

    fn launch(chromium: &Path, driver_bin: &Path) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", driver_bin.display()));
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + STEP;
        while !http()
            .get(format!("{webdriver}/status"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": STEP.as_millis() as u64, "script": STEP.as_millis() as u64 },
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--no-proxy-server",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--disable-default-apps",
                    "--disable-domain-reliability",
                    "--disable-client-side-phishing-detection",
                    "--window-size=1024,768",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = runtime
            .block_on(
                ClientBuilder::new(connector)
                    .capabilities(capabilities)
                    .connect(&webdriver),
            )
            .unwrap_or_else(|e| panic!("could not start a Chromium session: {e}"));
        Self {
            client: Some(client),
            driver,
            runtime,
            _profile: profile,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    pub fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("could not open {url}: {e}"));
    }

    /// Wait (at most one step) for an element; `None` when it did not appear.
    pub fn wait_for(&self, css: &str) -> Option<fantoccini::elements::Element> {
        self.runtime
            .block_on(
                self.client()
                    .wait()
                    .at_most(STEP)
                    .every(Duration::from_millis(100))
                    .for_element(Locator::Css(css)),
            )
            .ok()
    }

    /// The element, or a failure that shows the page it was not on.
    pub fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.wait_for(css).unwrap_or_else(|| {
            panic!(
                "no `{css}` within {STEP:?} on {}; the page was:\n{}",
                self.url(),
                self.page_text()
            )
        })
    }

    pub fn exists(&self, css: &str) -> bool {
        self.runtime
            .block_on(self.client().find_all(Locator::Css(css)))
            .is_ok_and(|found| !found.is_empty())
    }

    pub fn text(&self, css: &str) -> String {
        let element = self.element(css);
        self.runtime.block_on(element.text()).unwrap()
    }

    pub fn fill(&self, css: &str, value: &str) {
        let element = self.element(css);
        self.runtime.block_on(element.clear()).unwrap();
        self.runtime.block_on(element.send_keys(value)).unwrap();
    }

    pub fn click(&self, css: &str) {
        let element = self.element(css);
        self.runtime
            .block_on(element.click())
            .unwrap_or_else(|e| panic!("could not click `{css}`: {e}"));
    }

    pub fn select(&self, css: &str, value: &str) {
        let element = self.element(css);
        self.runtime
            .block_on(element.select_by_value(value))
            .unwrap_or_else(|e| panic!("could not choose {value} in `{css}`: {e}"));
    }

    pub fn url(&self) -> String {
        self.runtime
            .block_on(self.client().current_url())
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The visible text of the page, for failure messages (bounded).
    pub fn page_text(&self) -> String {
        let text = self
            .runtime
            .block_on(self.client().find(Locator::Css("body")))
            .ok()
            .and_then(|body| self.runtime.block_on(body.text()).ok())
            .unwrap_or_default();
        text.chars().take(2000).collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(STEP, client.close()).await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A stand-in for a client's redirect URI: a loopback listener that answers 200 and records
/// the request line of every request it gets.
pub struct Callback {
    pub redirect_uri: String,
    requests: mpsc::Receiver<String>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Callback {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, requests) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Read the rest of the head so the browser sees a clean exchange.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let body = "<!doctype html><title>callback</title><p id=\"received\">callback received</p>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sender.send(request_line.trim_end().to_string());
            }
        });
        Self {
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            requests,
            stop,
            port,
        }
    }

    /// The query of the first request to `/callback` within one step, parsed.
    pub fn wait(&self) -> Option<Vec<(String, String)>> {
        let deadline = Instant::now() + STEP;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.requests.recv_timeout(left).ok()?;
            // "GET /callback?code=…&state=… HTTP/1.1"
            let target = line.split(' ').nth(1).unwrap_or_default();
            if target.starts_with("/callback") {
                let url = Url::parse(&format!("http://127.0.0.1{target}")).unwrap();
                return Some(url.query_pairs().into_owned().collect());
            }
        }
        None
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The plumbing, provable before the consent pages exist: Chromium reads the server's discovery
/// document and an error answer, and a navigation reaches the loopback redirect listener.
#[test]
fn chromium_reads_server_pages_and_reaches_a_loopback_redirect_uri() {
    let Some(browser) = Browser::launch_or_skip("the Chromium plumbing test") else {
        return;
    };
    let server = TestServer::start();
    browser.goto(&server.url("/.well-known/oauth-authorization-server"));
    let meta: Value = serde_json::from_str(&browser.text("body")).unwrap();
    assert_eq!(meta["issuer"], server.base.as_str());
    assert_eq!(
        meta["authorization_endpoint"],
        server.url("/oauth/authorize").as_str()
    );

    browser.goto(&server.url("/no-such-page"));
    let error: Value = serde_json::from_str(&browser.text("body")).unwrap();
    assert_eq!(error["error"], "not_found");

    let callback = Callback::start();
    browser.goto(&format!(
        "{}?code=mgc_example&state=s1",
        callback.redirect_uri
    ));
    let query = callback.wait().expect("the listener saw the navigation");
    assert_eq!(param(&query, "code"), Some("mgc_example"));
    assert_eq!(param(&query, "state"), Some("s1"));
    assert_eq!(browser.text("#received"), "callback received");
    server.assert_log_clean();
}

/// Issue 4: log in, consent, land on the client's redirect URI with a code, exchange it.
/// Written against the page contract (login `email`/`password`/`csrf_token` + submit button;
/// consent `decision=allow|deny`, maybe `account_id`); the pages come with the flows branch.
#[test]
fn chromium_logs_in_consents_and_lands_on_the_redirect_uri_with_a_code() {
    let Some(browser) = Browser::launch_or_skip("the Chromium login-and-consent test") else {
        return;
    };
    let server = TestServer::start();
    let f = seed(&server);
    let callback = Callback::start();
    let app = server.cli_ok(
        &[
            "app",
            "create",
            "--name",
            "Browser Test Client",
            "--description",
            "Reads your contacts to test the consent screen",
            "--redirect-uri",
            &callback.redirect_uri,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "account.read",
            "--scope",
            "contacts.read",
        ],
        None,
    );
    let client = BasicClient::new(ClientId::new(app["client_id"].as_str().unwrap().into()))
        .set_client_secret(ClientSecret::new(
            app["client_secret"].as_str().unwrap().into(),
        ))
        .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(callback.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("account.read".into()))
        .add_scope(Scope::new("contacts.read".into()))
        .set_pkce_challenge(challenge)
        .url();

    // Log in.
    browser.goto(authorize_url.as_str());
    browser.element("input[name=email]");
    assert!(
        browser.exists("input[type=hidden][name=csrf_token]"),
        "the login form carries a CSRF token"
    );
    browser.fill("input[name=email]", &f.email);
    browser.fill("input[name=password]", &f.password);
    browser.click("button[type=submit]");

    // Consent: the app is named, and the account is chosen when there is a choice.
    browser.element("button[name=decision][value=allow]");
    assert!(browser.exists("button[name=decision][value=deny]"));
    assert!(
        browser.page_text().contains("Browser Test Client"),
        "the consent page names the app"
    );
    if browser.exists("select[name=account_id]") {
        browser.select("select[name=account_id]", &f.account_id);
    }
    browser.click("button[name=decision][value=allow]");

    // The browser lands on the redirect URI with a code, the state and the issuer.
    let query = callback.wait().unwrap_or_else(|| {
        panic!(
            "no redirect to the client within {STEP:?}; the browser is on {}:\n{}",
            browser.url(),
            browser.page_text()
        )
    });
    let code = param(&query, "code").expect("a code in the redirect");
    assert!(code.starts_with("mgc_"), "{code}");
    assert_eq!(param(&query, "state"), Some(state.secret().as_str()));
    assert_eq!(param(&query, "iss"), Some(server.base.as_str()));
    assert!(browser.url().starts_with(&callback.redirect_uri));

    // The code works once, with the PKCE verifier, for a token that reads the account.
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(verifier)
        .request(&http())
        .unwrap();
    let access = token.access_token().secret();
    assert!(access.starts_with("mga_"));
    let me: Value = http()
        .get(server.url("/v1/account"))
        .bearer_auth(access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["id"], f.account_id.as_str());
    server.assert_log_clean();
}
