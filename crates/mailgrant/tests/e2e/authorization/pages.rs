//! The pages themselves: security headers, cookies, CSRF, lockout, logout.

use super::browser::{browser, code_app, input_value, location, log_in, oauth_client};
use crate::harness::TestServer;
use oauth2::CsrfToken;

#[test]
fn pages_refuse_framing_and_the_session_cookie_is_locked_down() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let (url, _) = client.authorize_url(CsrfToken::new_random).url();
    let b = browser();
    let page = b.get(server.url("/login")).send().unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let cookie = h["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http issuer: no Secure");
    let html = page.text().unwrap();
    assert!(html.contains("<input id=\"email\" name=\"email\""));
    assert!(html.contains("name=\"password\" type=\"password\""));
    assert_eq!(html.matches("<button type=\"submit\">").count(), 1);

    // The consent page carries the same headers and the contract's buttons.
    let after = log_in(&server, &b, url.as_str(), &app.f.email, &app.f.password);
    assert_eq!(after.status(), 303);
    let login_cookie = after.headers()["set-cookie"].to_str().unwrap().to_string();
    assert_ne!(
        cookie.split(';').next(),
        login_cookie.split(';').next(),
        "a new session at login"
    );
    let consent = b.get(server.url(&location(&after))).send().unwrap();
    assert_eq!(consent.headers()["x-frame-options"], "DENY");
    let html = consent.text().unwrap();
    assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"allow\">"));
    assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"deny\">"));
    assert!(
        html.contains("Campaign Planner") && html.contains("Plans and schedules your newsletters")
    );
    assert!(
        html.contains("See your account&#x27;s name and plan")
            || html.contains("See your account's name and plan")
    );

    // A consent post without the session's CSRF token is refused.
    let request = input_value(&html, "request").unwrap();
    let forged = b
        .post(server.url("/oauth/authorize"))
        .form(&[
            ("csrf_token", "nope"),
            ("request", request.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("location").is_none());
}

#[test]
fn https_issuers_get_secure_cookies() {
    let server = TestServer::start_with(None, &["--issuer", "https://auth.example.com"]);
    let page = browser().get(server.url("/login")).send().unwrap();
    assert!(page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
}

#[test]
fn a_login_without_the_csrf_token_is_refused() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let b = browser();
    b.get(server.url("/login")).send().unwrap();
    let r = b
        .post(server.url("/login"))
        .form(&[
            ("email", app.f.email.as_str()),
            ("password", app.f.password.as_str()),
            ("csrf_token", "x"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[test]
fn repeated_wrong_passwords_are_slowed_locked_and_logged() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let b = browser();
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let r = log_in(
            &server,
            &b,
            &server.url("/login"),
            &app.f.email,
            "wrong password 123",
        );
        assert_eq!(r.status(), 401);
        assert!(r.text().unwrap().contains("Wrong email or password"));
    }
    // 0 + 100 + 200 + 400 + 800 ms of slowing down.
    assert!(started.elapsed().as_millis() >= 1500);
    let locked = log_in(
        &server,
        &b,
        &server.url("/login"),
        &app.f.email,
        &app.f.password,
    );
    assert_eq!(locked.status(), 429);
    assert!(locked.text().unwrap().contains("Too many failed attempts"));
    let log = server.log();
    assert!(log.contains("login failed"));
    assert!(log.contains("locked out"));
    assert!(!log.contains("wrong password 123"));
    assert!(!log.contains(&app.f.password));
    // Another email is not affected.
    server.cli_ok(
        &[
            "user",
            "add",
            "--email",
            "other@example.com",
            "--password-stdin",
        ],
        Some("other password 1"),
    );
    let ok = log_in(
        &server,
        &browser(),
        &server.url("/login"),
        "other@example.com",
        "other password 1",
    );
    assert_eq!(ok.status(), 303);
}

#[test]
fn logout_ends_the_session() {
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let b = browser();
    let r = log_in(
        &server,
        &b,
        &server.url("/login"),
        &app.f.email,
        &app.f.password,
    );
    assert_eq!(location(&r), "/account/connected-apps");
    let html = b
        .get(server.url("/account/connected-apps"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = input_value(&html, "csrf_token").unwrap();
    let out = b
        .post(server.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = b.get(server.url("/account/connected-apps")).send().unwrap();
    assert_eq!(after.status(), 303);
    assert!(location(&after).starts_with("/login"));
}

/// `prompt=none` (OpenID Connect Core §3.1.2.1): never a page. Signed out → `login_required`;
/// signed in without a covering grant → `consent_required`; with one → the code at once.
#[test]
fn prompt_none_answers_without_showing_a_page() {
    use super::browser::{connect, param, params, REDIRECT};
    let server = TestServer::start();
    let app = code_app(&server, false, &[]);
    let client = oauth_client(&server, &app);
    let silent = |b: &reqwest::blocking::Client| {
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_extra_param("prompt", "none")
            .url();
        let r = b.get(url.as_str()).send().unwrap();
        assert_eq!(r.status(), 303);
        let back = location(&r);
        assert!(back.starts_with(REDIRECT), "{back}");
        let list = params(&back, false);
        assert_eq!(
            param(&list, "state").as_deref(),
            Some(state.secret().as_str())
        );
        assert_eq!(param(&list, "iss").as_deref(), Some(server.base.as_str()));
        list
    };
    let signed_out = silent(&browser());
    assert_eq!(
        param(&signed_out, "error").as_deref(),
        Some("login_required")
    );

    let b = browser();
    let (url, _) = client.authorize_url(CsrfToken::new_random).url();
    assert_eq!(
        log_in(&server, &b, url.as_str(), &app.f.email, &app.f.password).status(),
        303
    );
    let no_grant = silent(&b);
    assert_eq!(
        param(&no_grant, "error").as_deref(),
        Some("consent_required")
    );

    let (connected, _) = connect(&server, &app);
    let granted = silent(&connected);
    assert!(param(&granted, "code").unwrap().starts_with("mgc_"));
    assert_eq!(param(&granted, "error"), None);

    // prompt=none with another value is a malformed request, answered at the redirect URI.
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_extra_param("prompt", "none consent")
        .url();
    let r = connected.get(url.as_str()).send().unwrap();
    let list = params(&location(&r), false);
    assert_eq!(param(&list, "error").as_deref(), Some("invalid_request"));
    server.assert_log_clean();
}
