//! A script that behaves like a person in a browser: follows the login and consent forms.

use crate::harness::{seed, Fixture, TestServer};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, TokenUrl};
use reqwest::blocking::{Client, Response};
use url::Url;

pub const REDIRECT: &str = "http://127.0.0.1:54321/callback";
pub const REGISTERED: &str = "http://127.0.0.1/callback";

pub type Oauth =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A user-agent with a cookie jar that does not follow redirects (so each step can be checked).
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on a {} answer", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the hidden (or any) input named `name` in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

/// The query (or fragment) parameters of a redirect.
pub fn params(url: &str, fragment: bool) -> Vec<(String, String)> {
    let u = Url::parse(url).unwrap();
    let text = if fragment {
        u.fragment().unwrap_or("").to_string()
    } else {
        u.query().unwrap_or("").to_string()
    };
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

pub fn param(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// Log in through the form that `start` leads to; returns where the login sent the browser.
pub fn log_in(
    server: &TestServer,
    b: &Client,
    start: &str,
    email: &str,
    password: &str,
) -> Response {
    let first = b.get(start).send().unwrap();
    let login_path = if first.status() == 303 {
        location(&first)
    } else {
        start.to_string()
    };
    let login_url = if login_path.starts_with('/') {
        server.url(&login_path)
    } else {
        login_path
    };
    let page = b.get(&login_url).send().unwrap();
    assert_eq!(page.status(), 200, "login page");
    let html = page.text().unwrap();
    let csrf = input_value(&html, "csrf_token").unwrap();
    let return_to = input_value(&html, "return_to").unwrap();
    b.post(server.url("/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", csrf.as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .unwrap()
}

/// Open the authorize URL, log in if asked, answer the consent form with `decision` (`None`:
/// expect no consent form), and return the final redirect to the client.
pub fn authorize(
    server: &TestServer,
    b: &Client,
    authorize_url: &str,
    f: &Fixture,
    decision: Option<&str>,
) -> String {
    let mut r = b.get(authorize_url).send().unwrap();
    if r.status() == 303 && location(&r).starts_with("/login") {
        let after = log_in(server, b, authorize_url, &f.email, &f.password);
        assert_eq!(after.status(), 303, "login should redirect back");
        let back = location(&after);
        assert!(back.starts_with("/oauth/authorize?"), "{back}");
        r = b.get(server.url(&back)).send().unwrap();
    }
    match decision {
        None => {
            assert_eq!(r.status(), 303, "expected no consent form");
            location(&r)
        }
        Some(decision) => {
            assert_eq!(r.status(), 200, "expected the consent form");
            let html = r.text().unwrap();
            consent(server, b, &html, decision, None)
        }
    }
}

/// Submit a consent form page.
pub fn consent(
    server: &TestServer,
    b: &Client,
    html: &str,
    decision: &str,
    account: Option<&str>,
) -> String {
    let csrf = input_value(html, "csrf_token").unwrap();
    let request = input_value(html, "request").unwrap();
    let mut form = vec![
        ("csrf_token", csrf),
        ("request", request),
        ("decision", decision.to_string()),
    ];
    if let Some(a) = account {
        form.push(("account_id", a.to_string()));
    } else if let Some(a) = input_value(html, "account_id") {
        form.push(("account_id", a));
    }
    let r = b
        .post(server.url("/oauth/authorize"))
        .form(&form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "consent answer");
    location(&r)
}

/// A seeded owner and account plus an authorization-code app.
pub struct CodeApp {
    pub f: Fixture,
    pub client_id: String,
    pub client_secret: Option<String>,
}

pub fn code_app(server: &TestServer, public: bool, extra: &[&str]) -> CodeApp {
    let f = seed(server);
    let mut args = vec![
        "app",
        "create",
        "--name",
        "Campaign Planner",
        "--description",
        "Plans and schedules your newsletters",
        "--redirect-uri",
        REGISTERED,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--scope",
        "account.read",
        "--scope",
        "contacts.read",
        "--scope",
        "campaigns.read",
    ];
    if public {
        args.push("--public");
    }
    args.extend_from_slice(extra);
    let app = server.cli_ok(&args, None);
    CodeApp {
        f,
        client_id: app["client_id"].as_str().unwrap().to_string(),
        client_secret: app["client_secret"].as_str().map(str::to_string),
    }
}

pub fn oauth_client(server: &TestServer, app: &CodeApp) -> Oauth {
    oauth_client_for(server, &app.client_id, app.client_secret.as_deref())
}

pub fn oauth_client_for(server: &TestServer, client_id: &str, secret: Option<&str>) -> Oauth {
    let mut c = BasicClient::new(ClientId::new(client_id.to_string()))
        .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_string()).unwrap());
    if let Some(s) = secret {
        c = c.set_client_secret(ClientSecret::new(s.to_string()));
    }
    c
}

/// Log in, allow, and return the code the redirect carries (no PKCE: a confidential client).
pub fn allowed_code(server: &TestServer, client: &Oauth, app: &CodeApp) -> String {
    let (url, _) = client.authorize_url(oauth2::CsrfToken::new_random).url();
    let back = authorize(server, &browser(), url.as_str(), &app.f, Some("allow"));
    param(&params(&back, false), "code").unwrap()
}

/// Connect the app through login and consent and exchange the code: the browser (still logged
/// in) and the token response.
pub fn connect(server: &TestServer, app: &CodeApp) -> (Client, oauth2::basic::BasicTokenResponse) {
    use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge};
    let client = oauth_client(server, app);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("prompt", "consent")
        .url();
    let b = browser();
    let back = authorize(server, &b, url.as_str(), &app.f, Some("allow"));
    let code = param(&params(&back, false), "code").unwrap();
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request(&crate::harness::http())
        .unwrap();
    (b, token)
}

/// A refresh through the plain form API: status and JSON body.
pub fn refresh_raw(
    server: &TestServer,
    app: &CodeApp,
    refresh: &str,
    scope: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let r = crate::harness::http()
        .post(server.url("/oauth/token"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&form)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

pub fn api_status(server: &TestServer, token: &str) -> u16 {
    crate::harness::http()
        .get(server.url("/v1/account"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}
