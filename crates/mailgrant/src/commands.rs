//! Each subcommand: call the service, print the result.

use crate::cli::{
    AccountCommand, AppCommand, Cli, Command, GrantCommand, MemberCommand, PrivateAppCommand,
    RegistrationTokenCommand, SecretCommand, TokenCommand, UserCommand,
};
use crate::output;
use mailgrant_core::model::{App, PrivateApp};
use mailgrant_core::registration::RegistrationToken;
use mailgrant_server::service::admin::{self, NewApp};
use mailgrant_server::service::grants;
use mailgrant_server::service::registration;
use mailgrant_server::{AppState, ServerConfig, ServiceError, ServiceResult};
use mailgrant_store::TokenFilter;
use serde_json::{json, Value};
use std::io::Read;
use std::process::ExitCode;

pub async fn run(cli: Cli) -> ExitCode {
    let json = cli.global.json;
    let result = match cli.command {
        Command::Serve(args) => return crate::serve::run(&cli.global, args).await,
        other => manage(&cli.global, other).await,
    };
    match result {
        Ok(value) => {
            output::print(json, &value);
            ExitCode::SUCCESS
        }
        Err(e) => output::fail(json, &e),
    }
}

async fn manage(global: &crate::cli::Global, command: Command) -> ServiceResult<Value> {
    let store = mailgrant_store::open(&global.database_url())
        .await
        .map_err(ServiceError::Store)?;
    // Management needs no issuer; the state is the same one the server uses.
    let state = AppState::new(store, ServerConfig::new("http://localhost"));
    match command {
        Command::Serve(_) => Err(ServiceError::Invalid(
            "serve is not a management command".into(),
        )),
        Command::User(UserCommand::Add { email, .. }) => {
            let password = read_stdin_line("password")?;
            let user = admin::add_user(&state, &email, &password).await?;
            Ok(json!({ "id": user.id, "email": user.email }))
        }
        Command::Account(AccountCommand::Add { name, owner }) => {
            let account = admin::add_account(&state, &name, &owner).await?;
            Ok(json!({ "id": account.id, "name": account.name }))
        }
        Command::Account(AccountCommand::Member(MemberCommand::Add {
            account,
            email,
            role,
        })) => {
            let (account, user, role) = admin::add_member(&state, &account, &email, &role).await?;
            Ok(
                json!({ "account_id": account.id, "user_id": user.id, "email": user.email, "role": role }),
            )
        }
        Command::App(cmd) => app_command(&state, cmd).await,
        Command::RegistrationToken(cmd) => registration_token_command(&state, cmd).await,
        Command::Grant(GrantCommand::List { account }) => {
            let list = grants::list(&state, account.as_deref()).await?;
            Ok(json!({ "grants": list }))
        }
        Command::Grant(GrantCommand::Revoke { id }) => {
            grants::revoke(&state, &id).await?;
            Ok(json!({ "id": id, "revoked": true }))
        }
        Command::PrivateApp(cmd) => private_app_command(&state, cmd).await,
        Command::Token(TokenCommand::Revoke { token }) => {
            let token = if token == "-" {
                read_stdin_line("token")?
            } else {
                token
            };
            let kind = admin::revoke_token(&state, &token).await?;
            Ok(json!({ "revoked": true, "kind": kind.as_str() }))
        }
        Command::Token(TokenCommand::List {
            account,
            client_id,
            private_app,
            all,
        }) => {
            let filter = TokenFilter {
                account_id: account,
                client_id,
                private_app_id: private_app,
                include_inactive: all,
            };
            let tokens = admin::list_tokens(&state, &filter).await?;
            let now = state.now();
            let rows: Vec<Value> = tokens
                .iter()
                .map(|t| {
                    json!({
                        "hash": t.hash.to_hex(),
                        "kind": t.kind.as_str(),
                        "account_id": t.account_id,
                        "client_id": t.client_id,
                        "private_app_id": t.private_app_id,
                        "scope": t.scopes.to_string(),
                        "created_at": t.created_at,
                        "expires_at": t.expires_at,
                        "active": t.is_active(now),
                    })
                })
                .collect();
            Ok(json!({ "tokens": rows }))
        }
    }
}

fn app_json(app: &App) -> Value {
    serde_json::to_value(app).unwrap_or(Value::Null)
}

fn with_field(mut value: Value, key: &str, field: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert(key.to_string(), field);
    }
    value
}

async fn app_command(state: &AppState, cmd: AppCommand) -> ServiceResult<Value> {
    match cmd {
        AppCommand::Create {
            name,
            description,
            redirect_uris,
            grant_types,
            scopes,
            public,
            account,
        } => {
            let new = NewApp {
                name,
                description,
                redirect_uris,
                grant_types,
                scopes,
                public,
                account_id: account,
            };
            let (app, secret) = admin::create_app(state, &new).await?;
            let value = app_json(&app);
            Ok(match secret {
                Some(s) => with_field(value, "client_secret", json!(s.expose())),
                None => value,
            })
        }
        AppCommand::List { account } => {
            let apps = admin::list_apps(state, account.as_deref()).await?;
            Ok(json!({ "apps": apps.iter().map(app_json).collect::<Vec<_>>() }))
        }
        AppCommand::Show { client_id } => Ok(app_json(&admin::app(state, &client_id).await?)),
        AppCommand::Delete { client_id } => {
            admin::delete_app(state, &client_id).await?;
            Ok(json!({ "client_id": client_id, "deleted": true }))
        }
        AppCommand::Secret(SecretCommand::Rotate {
            client_id,
            keep_old_for,
        }) => {
            let (secret, old_until) =
                admin::rotate_secret(state, &client_id, &keep_old_for).await?;
            Ok(
                json!({ "client_id": client_id, "client_secret": secret.expose(), "old_secrets_expire_at": old_until }),
            )
        }
    }
}

fn private_app_json(app: &PrivateApp) -> Value {
    serde_json::to_value(app).unwrap_or(Value::Null)
}

async fn private_app_command(state: &AppState, cmd: PrivateAppCommand) -> ServiceResult<Value> {
    match cmd {
        PrivateAppCommand::Create {
            account,
            name,
            scopes,
        } => {
            let (app, token) = admin::create_private_app(state, &account, &name, &scopes).await?;
            Ok(with_field(
                private_app_json(&app),
                "token",
                json!(token.expose()),
            ))
        }
        PrivateAppCommand::Rotate { id } => {
            let (app, token) = admin::rotate_private_app(state, &id).await?;
            Ok(with_field(
                private_app_json(&app),
                "token",
                json!(token.expose()),
            ))
        }
        PrivateAppCommand::Revoke { id } => {
            let app = admin::revoke_private_app(state, &id).await?;
            Ok(json!({ "id": app.id, "revoked": true }))
        }
        PrivateAppCommand::List { account } => {
            let apps = admin::list_private_apps(state, account.as_deref()).await?;
            Ok(json!({ "private_apps": apps.iter().map(private_app_json).collect::<Vec<_>>() }))
        }
    }
}

async fn registration_token_command(
    state: &AppState,
    cmd: RegistrationTokenCommand,
) -> ServiceResult<Value> {
    let as_json = |t: &RegistrationToken| serde_json::to_value(t).unwrap_or(Value::Null);
    match cmd {
        RegistrationTokenCommand::Create {
            expires_in,
            account,
            max_uses,
        } => {
            let (record, value) =
                registration::create_token(state, &expires_in, account.as_deref(), max_uses)
                    .await?;
            Ok(with_field(as_json(&record), "token", json!(value.expose())))
        }
        RegistrationTokenCommand::List => {
            let tokens = registration::list_tokens(state).await?;
            Ok(json!({ "registration_tokens": tokens.iter().map(as_json).collect::<Vec<_>>() }))
        }
        RegistrationTokenCommand::Revoke { id } => {
            registration::revoke_token(state, &id).await?;
            Ok(json!({ "id": id, "revoked": true }))
        }
    }
}

fn read_stdin_line(what: &str) -> ServiceResult<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        ServiceError::Invalid(format!(
            "could not read the {what} from standard input: {e}"
        ))
    })?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err(ServiceError::Invalid(format!(
            "no {what} on standard input"
        )));
    }
    Ok(line)
}
