//! HTML pages: login, consent, connected apps. Plain forms that work without JavaScript, every
//! form with a hidden `csrf_token`; templates are files embedded at build time.

pub mod authorize;
pub mod connected_apps;
pub mod login;

use crate::paths;
use crate::state::AppState;
use crate::ServiceError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mailgrant_core::session::COOKIE_NAME;
use mailgrant_core::Secret;
use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("../../../templates/base.html")),
            ("login.html", include_str!("../../../templates/login.html")),
            (
                "consent.html",
                include_str!("../../../templates/consent.html"),
            ),
            ("error.html", include_str!("../../../templates/error.html")),
            (
                "connected_apps.html",
                include_str!("../../../templates/connected_apps.html"),
            ),
        ] {
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

/// Headers every page carries: no framing (clickjacking), no caching, no referrer.
fn harden(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Render a template; a failure is a bland 500 with the detail in the log.
pub fn render(status: StatusCode, name: &str, ctx: impl Serialize) -> Response {
    let body = templates().get_template(name).and_then(|t| t.render(ctx));
    let mut response = match body {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    };
    harden(&mut response);
    response
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        "error.html",
        minijinja::context! { title => title, message => message },
    )
}

/// A form whose CSRF token did not check out (expired, or not from this site).
pub fn form_expired() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Form expired",
        "The form expired. Go back, reload the page and try again.",
    )
}

/// A 303 to `location` (a form's answer, or a redirect to the client).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "The redirect target is not valid.",
            )
        }
    }
    harden(&mut response);
    response
}

/// A service failure on a page: an HTML page, never a JSON body or internal detail.
pub fn failure(e: ServiceError) -> Response {
    match e {
        ServiceError::Store(inner) => {
            tracing::error!(error = %inner, "storage failure on a page");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete the request. Please try again.",
            )
        }
        ServiceError::Forbidden(m) => error_page(StatusCode::FORBIDDEN, "Not allowed", &m),
        ServiceError::NotFound(m) => error_page(StatusCode::NOT_FOUND, "Not found", &m),
        other => error_page(StatusCode::BAD_REQUEST, "Bad request", &other.to_string()),
    }
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

/// `Set-Cookie` for a session value: HttpOnly, SameSite=Lax, Path=/, Secure on https issuers.
pub fn set_session_cookie(response: &mut Response, state: &AppState, value: Option<&Secret>) {
    let secure = if state.config().is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = match value {
        Some(v) => format!(
            "{COOKIE_NAME}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
            v.expose(),
            state.config().lifetimes.session
        ),
        None => format!("{COOKIE_NAME}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}"),
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Where to go after login: only paths on this server (never `//host` or a full URL). Control
/// characters are refused too: browsers drop tabs and newlines, so `/\t/host` would be `//host`.
pub fn safe_return_to(candidate: Option<&str>) -> String {
    match candidate {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => paths::CONNECTED_APPS.to_string(),
    }
}

/// The login page's URL that comes back to `return_to`.
pub fn login_url(return_to: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{}?{q}", paths::LOGIN)
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;
    use crate::paths;

    #[test]
    fn return_to_stays_on_this_server() {
        assert_eq!(
            safe_return_to(Some("/oauth/authorize?x=1")),
            "/oauth/authorize?x=1"
        );
        for hostile in [
            "//evil.example",
            "https://evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "evil",
        ] {
            assert_eq!(
                safe_return_to(Some(hostile)),
                paths::CONNECTED_APPS,
                "{hostile:?}"
            );
        }
        assert_eq!(safe_return_to(None), paths::CONNECTED_APPS);
    }
}
