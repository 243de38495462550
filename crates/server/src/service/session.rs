//! Browser sessions and login: server-side sessions (the cookie holds a random value, the
//! database its hash), CSRF tokens tied to the session, and throttled password checks.

use crate::state::AppState;
use crate::{ServiceError, ServiceResult};
use mailgrant_core::model::User;
use mailgrant_core::records::Session;
use mailgrant_core::{login, password, session, Secret, TokenHash};
use std::sync::OnceLock;
use std::time::Duration;

/// A live session and the user behind it, if logged in.
#[derive(Debug, Clone)]
pub struct Current {
    pub session: Session,
    pub user: Option<User>,
}

/// Why a login failed; the text is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("Wrong email or password.")]
    Wrong,
    #[error("Too many failed attempts. Try again in {0} minutes.")]
    Locked(i64),
    #[error("The form expired. Please try again.")]
    Csrf,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The server key CSRF tokens are made with (created on first use, shared by every node).
pub async fn csrf_key(state: &AppState) -> ServiceResult<std::sync::Arc<[u8]>> {
    crate::service::keys::get(state, "session").await
}

pub async fn csrf_token(state: &AppState, session: &Session) -> ServiceResult<String> {
    Ok(session::csrf_token(&csrf_key(state).await?, &session.hash))
}

pub async fn check_csrf(
    state: &AppState,
    session: &Session,
    presented: &str,
) -> ServiceResult<bool> {
    Ok(session::csrf_matches(
        &csrf_key(state).await?,
        &session.hash,
        presented,
    ))
}

/// The live session a cookie value names, with its user.
pub async fn current(state: &AppState, cookie: Option<&str>) -> ServiceResult<Option<Current>> {
    let Some(value) = cookie.filter(|v| !v.is_empty() && v.len() <= 100) else {
        return Ok(None);
    };
    let store = state.store();
    let Some(session) = store.session(&TokenHash::of(value)).await? else {
        return Ok(None);
    };
    if state.now() >= session.expires_at {
        return Ok(None);
    }
    let user = match &session.user_id {
        Some(id) => store.user_by_id(id).await?,
        None => None,
    };
    Ok(Some(Current { session, user }))
}

/// A new session (anonymous, or for `user_id`); the cookie value is returned once.
pub async fn start(state: &AppState, user_id: Option<&str>) -> ServiceResult<(Secret, Session)> {
    let value = session::new_session_value();
    let now = state.now();
    let session = Session {
        hash: TokenHash::of(value.expose()),
        user_id: user_id.map(str::to_string),
        created_at: now,
        expires_at: now + state.config().lifetimes.session,
    };
    state.store().create_session(&session).await?;
    Ok((value, session))
}

/// The current session, or a new anonymous one (then the cookie value to set).
pub async fn current_or_start(
    state: &AppState,
    cookie: Option<&str>,
) -> ServiceResult<(Current, Option<Secret>)> {
    if let Some(current) = current(state, cookie).await? {
        return Ok((current, None));
    }
    let (value, session) = start(state, None).await?;
    Ok((
        Current {
            session,
            user: None,
        },
        Some(value),
    ))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| password::hash("not a real password at all").unwrap_or_default())
}

/// Check the password; on success a fresh logged-in session replaces the old one (so a session
/// id fixed before login is worthless after it). Failures are slowed, counted, locked, logged.
#[tracing::instrument(skip_all)]
pub async fn login(
    state: &AppState,
    current: &Current,
    email: &str,
    password_text: &str,
    csrf: &str,
) -> Result<Secret, LoginError> {
    if !check_csrf(state, &current.session, csrf).await? {
        return Err(LoginError::Csrf);
    }
    let email = email.trim().to_lowercase();
    let store = state.store();
    let now = state.now();
    let throttle = store
        .login_throttle(&email)
        .await
        .map_err(ServiceError::from)?;
    if let Err(until) = login::check(throttle.as_ref(), now) {
        tracing::warn!(%email, "login refused: locked out after repeated failures");
        return Err(LoginError::Locked(((until - now) + 59) / 60));
    }
    let user = store
        .user_by_email(&email)
        .await
        .map_err(ServiceError::from)?;
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let attempt = password_text.to_string();
    let ok = tokio::task::spawn_blocking(move || password::verify(&attempt, &stored))
        .await
        .unwrap_or(false);
    match user {
        Some(user) if ok => {
            if throttle.is_some() {
                store
                    .set_login_throttle(&email, None)
                    .await
                    .map_err(ServiceError::from)?;
            }
            let (value, _) = start(state, Some(&user.id)).await?;
            store
                .delete_session(&current.session.hash)
                .await
                .map_err(ServiceError::from)?;
            tracing::info!(user_id = %user.id, "login");
            Ok(value)
        }
        _ => {
            let (next, delay_ms) = login::after_failure(throttle.as_ref(), now);
            store
                .set_login_throttle(&email, Some(&next))
                .await
                .map_err(ServiceError::from)?;
            tracing::warn!(%email, failures = next.failures, locked = next.locked_until.is_some(), "login failed");
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            Err(LoginError::Wrong)
        }
    }
}

pub async fn logout(state: &AppState, current: &Current, csrf: &str) -> ServiceResult<bool> {
    if !check_csrf(state, &current.session, csrf).await? {
        return Ok(false);
    }
    state.store().delete_session(&current.session.hash).await?;
    Ok(true)
}
