//! Management operations: users, accounts, apps, private apps, tokens. The CLI calls these, and
//! so do the account pages; each checks its input fully before it changes anything.

use crate::state::AppState;
use crate::{ServiceError, ServiceResult};
use mailgrant_core::lifetimes::parse_duration;
use mailgrant_core::model::{
    AccessTokenRecord, Account, App, ClientSecret, GrantType, PrivateApp, Role, User,
};
use mailgrant_core::{ids, password, redirect, token, ScopeSet, Secret, TokenHash, TokenKind};
use mailgrant_store::TokenFilter;

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(msg.into())
}

fn scopes_from(names: &[String]) -> ServiceResult<ScopeSet> {
    if names.is_empty() {
        return Err(invalid("at least one --scope is required"));
    }
    ScopeSet::from_names(names.iter().map(String::as_str)).map_err(|e| invalid(e.description))
}

fn check_email(email: &str) -> ServiceResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(invalid(format!("`{email}` is not an email address")))
    }
}

fn check_name(name: &str, what: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid(format!("{what} must be 1 to 200 characters")));
    }
    Ok(name.to_string())
}

pub async fn add_user(state: &AppState, email: &str, password_text: &str) -> ServiceResult<User> {
    let email = check_email(email)?;
    let password_hash = password::hash(password_text).map_err(|e| invalid(e.to_string()))?;
    let user = User {
        id: ids::user(),
        email,
        password_hash,
        created_at: state.now(),
    };
    state.store().create_user(&user).await?;
    Ok(user)
}

async fn user_by_email(state: &AppState, email: &str) -> ServiceResult<User> {
    let email = check_email(email)?;
    state
        .store()
        .user_by_email(&email)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no user with email {email}")))
}

pub async fn account(state: &AppState, id: &str) -> ServiceResult<Account> {
    state
        .store()
        .account(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no account with id {id}")))
}

pub async fn add_account(
    state: &AppState,
    name: &str,
    owner_email: &str,
) -> ServiceResult<Account> {
    let name = check_name(name, "account name")?;
    let owner = user_by_email(state, owner_email).await?;
    let account = Account {
        id: ids::account(),
        name,
        created_at: state.now(),
    };
    state.store().create_account(&account, &owner.id).await?;
    Ok(account)
}

pub async fn add_member(
    state: &AppState,
    account_id: &str,
    email: &str,
    role: &str,
) -> ServiceResult<(Account, User, Role)> {
    let role = match Role::parse(role) {
        Some(Role::Owner) | None => return Err(invalid("role must be admin or member")),
        Some(r) => r,
    };
    let account = account(state, account_id).await?;
    let user = user_by_email(state, email).await?;
    state
        .store()
        .add_member(&account.id, &user.id, role, state.now())
        .await?;
    Ok((account, user, role))
}

/// What a developer asks for when registering an app.
#[derive(Debug, Clone, Default)]
pub struct NewApp {
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub public: bool,
    pub account_id: Option<String>,
}

/// Check a registration and turn it into an app; shared by the CLI and dynamic registration.
pub async fn validate_app(state: &AppState, new: &NewApp) -> ServiceResult<App> {
    let name = check_name(&new.name, "app name")?;
    let scopes = scopes_from(&new.scopes)?;
    if new.grant_types.is_empty() {
        return Err(invalid("at least one --grant-type is required"));
    }
    let mut grant_types = Vec::new();
    for g in &new.grant_types {
        let grant = GrantType::parse(g).ok_or_else(|| {
            invalid(format!(
                "unknown grant type `{g}`; use authorization_code, client_credentials, refresh_token or implicit"
            ))
        })?;
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    for uri in &new.redirect_uris {
        redirect::validate(uri).map_err(|e| invalid(e.to_string()))?;
    }
    let needs_redirect = grant_types
        .iter()
        .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    if needs_redirect && new.redirect_uris.is_empty() {
        return Err(invalid(
            "authorization_code and implicit need at least one --redirect-uri",
        ));
    }
    if grant_types.contains(&GrantType::ClientCredentials) {
        if new.public {
            return Err(invalid(
                "a public app cannot use client_credentials: it has no secret",
            ));
        }
        if new.account_id.is_none() {
            return Err(invalid(
                "client_credentials needs --account: the account its tokens act on",
            ));
        }
    }
    if let Some(id) = &new.account_id {
        account(state, id).await?;
    }
    Ok(App {
        client_id: ids::client(),
        name,
        description: new.description.trim().to_string(),
        redirect_uris: new.redirect_uris.clone(),
        grant_types,
        scopes,
        public: new.public,
        account_id: new.account_id.clone(),
        created_at: state.now(),
    })
}

pub(crate) fn new_client_secret(client_id: &str, now: i64) -> (Secret, ClientSecret) {
    let value = token::generate(TokenKind::ClientSecret);
    let record = ClientSecret {
        id: ids::secret(),
        client_id: client_id.to_string(),
        hash: TokenHash::of(value.expose()),
        created_at: now,
        expires_at: None,
    };
    (value, record)
}

/// Register an app; confidential apps get their secret here, once.
pub async fn create_app(state: &AppState, new: &NewApp) -> ServiceResult<(App, Option<Secret>)> {
    let app = validate_app(state, new).await?;
    let secret = (!app.public).then(|| new_client_secret(&app.client_id, app.created_at));
    state
        .store()
        .create_app(&app, secret.as_ref().map(|(_, r)| r))
        .await?;
    tracing::info!(client_id = %app.client_id, public = app.public, "app registered");
    Ok((app, secret.map(|(v, _)| v)))
}

pub async fn app(state: &AppState, client_id: &str) -> ServiceResult<App> {
    state
        .store()
        .app(client_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no app with client_id {client_id}")))
}

pub async fn list_apps(state: &AppState, account_id: Option<&str>) -> ServiceResult<Vec<App>> {
    Ok(state.store().list_apps(account_id).await?)
}

pub async fn delete_app(state: &AppState, client_id: &str) -> ServiceResult<()> {
    app(state, client_id).await?;
    state.store().delete_app(client_id, state.now()).await?;
    tracing::info!(client_id, "app deleted; its tokens are revoked");
    Ok(())
}

/// A new secret; the old ones keep working for `keep_old_for` (e.g. `24h`; `0` stops them now).
pub async fn rotate_secret(
    state: &AppState,
    client_id: &str,
    keep_old_for: &str,
) -> ServiceResult<(Secret, i64)> {
    let keep = parse_duration(keep_old_for).ok_or_else(|| {
        invalid(format!(
            "`{keep_old_for}` is not a duration such as 90s, 30m, 24h or 7d"
        ))
    })?;
    let app = app(state, client_id).await?;
    if app.public {
        return Err(invalid("public apps have no secret to rotate"));
    }
    let now = state.now();
    let (value, record) = new_client_secret(client_id, now);
    state
        .store()
        .rotate_client_secret(&record, now + keep)
        .await?;
    tracing::info!(client_id, keep_old_for = keep, "client secret rotated");
    Ok((value, now + keep))
}

fn private_app_token(app: &PrivateApp, now: i64) -> (Secret, AccessTokenRecord) {
    let value = token::generate(TokenKind::PrivateApp);
    let record = AccessTokenRecord {
        hash: TokenHash::of(value.expose()),
        kind: TokenKind::PrivateApp,
        account_id: app.account_id.clone(),
        client_id: None,
        private_app_id: Some(app.id.clone()),
        user_id: None,
        grant_id: None,
        family_id: None,
        scopes: app.scopes.clone(),
        created_at: now,
        expires_at: None,
        revoked_at: None,
    };
    (value, record)
}

pub async fn create_private_app(
    state: &AppState,
    account_id: &str,
    name: &str,
    scopes: &[String],
) -> ServiceResult<(PrivateApp, Secret)> {
    let name = check_name(name, "private app name")?;
    let scopes = scopes_from(scopes)?;
    account(state, account_id).await?;
    let now = state.now();
    let app = PrivateApp {
        id: ids::private_app(),
        account_id: account_id.to_string(),
        name,
        scopes,
        created_at: now,
        revoked_at: None,
    };
    let (value, record) = private_app_token(&app, now);
    state.store().create_private_app(&app, &record).await?;
    tracing::info!(private_app_id = %app.id, account_id, "private app created");
    Ok((app, value))
}

async fn live_private_app(state: &AppState, id: &str) -> ServiceResult<PrivateApp> {
    match state.store().private_app(id).await? {
        Some(app) if app.revoked_at.is_none() => Ok(app),
        Some(_) => Err(invalid(format!("private app {id} is revoked"))),
        None => Err(ServiceError::NotFound(format!(
            "no private app with id {id}"
        ))),
    }
}

pub async fn rotate_private_app(state: &AppState, id: &str) -> ServiceResult<(PrivateApp, Secret)> {
    let app = live_private_app(state, id).await?;
    let now = state.now();
    let (value, record) = private_app_token(&app, now);
    state.store().rotate_private_app(id, &record, now).await?;
    tracing::info!(private_app_id = id, "private app token rotated");
    Ok((app, value))
}

pub async fn revoke_private_app(state: &AppState, id: &str) -> ServiceResult<PrivateApp> {
    let app = live_private_app(state, id).await?;
    state.store().revoke_private_app(id, state.now()).await?;
    tracing::info!(private_app_id = id, "private app revoked");
    Ok(app)
}

pub async fn list_private_apps(
    state: &AppState,
    account_id: Option<&str>,
) -> ServiceResult<Vec<PrivateApp>> {
    Ok(state.store().list_private_apps(account_id).await?)
}

/// Revoke any token by its value. Says what kind it was; refuses what is not a token.
pub async fn revoke_token(state: &AppState, presented: &str) -> ServiceResult<TokenKind> {
    let kind =
        token::parse(presented).map_err(|e| invalid(format!("not a mailgrant token: {e}")))?;
    let hash = TokenHash::of(presented);
    let revoked = match kind {
        TokenKind::Access | TokenKind::PrivateApp => {
            state
                .store()
                .revoke_access_token(&hash, state.now())
                .await?
        }
        TokenKind::Refresh => match state.store().refresh_token(&hash).await? {
            Some(r) => {
                state
                    .store()
                    .revoke_family(&r.grant_id, &r.family_id, state.now())
                    .await?
            }
            None => false,
        },
        other => {
            return Err(invalid(format!(
                "{} tokens are revoked another way (rotate the secret, revoke the grant)",
                other.as_str()
            )))
        }
    };
    if revoked {
        tracing::info!(kind = kind.as_str(), "token revoked from the CLI");
        Ok(kind)
    } else {
        Err(ServiceError::NotFound(
            "no live token with that value".into(),
        ))
    }
}

pub async fn list_tokens(
    state: &AppState,
    filter: &TokenFilter,
) -> ServiceResult<Vec<AccessTokenRecord>> {
    Ok(state
        .store()
        .list_access_tokens(filter, state.now())
        .await?)
}
