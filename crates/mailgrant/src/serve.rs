//! `mailgrant serve`: open storage, make keys on first start, serve HTTP until a signal.

use crate::cli::{Global, ServeArgs};
use mailgrant_core::lifetimes::parse_duration;
use mailgrant_core::rate_limit::RateLimit;
use mailgrant_core::{token, TokenKind};
use mailgrant_server::limits::RateLimits;
use mailgrant_server::{AppState, ServerConfig};
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(global: &Global, args: ServeArgs) -> ExitCode {
    match start(global, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn start(global: &Global, args: ServeArgs) -> Result<(), String> {
    let ttl = parse_duration(&args.access_token_ttl)
        .filter(|s| *s > 0)
        .ok_or_else(|| {
            format!(
                "--access-token-ttl `{}` is not a duration such as 1h",
                args.access_token_ttl
            )
        })?;
    let duration = |flag: &str, text: &str, zero_ok: bool| {
        parse_duration(text)
            .filter(|s| *s > 0 || (zero_ok && *s == 0))
            .ok_or_else(|| format!("--{flag} `{text}` is not a duration such as 30s, 1h or 90d"))
    };
    let retry_window = duration("refresh-retry-window", &args.refresh_retry_window, true)?;
    let refresh_idle = duration("refresh-idle-ttl", &args.refresh_idle_ttl, false)?;
    let refresh_absolute = duration("refresh-absolute-ttl", &args.refresh_absolute_ttl, false)?;
    let rate = |flag: &str, spec: &str| {
        RateLimit::parse(spec).map_err(|e| format!("--rate-limit-{flag}: {e}"))
    };
    let rate_limits = RateLimits {
        token: rate("token", &args.rate_limit_token)?,
        api: rate("api", &args.rate_limit_api)?,
        nodes: args.rate_limit_nodes.max(1),
    };
    let purge_every = parse_duration(&args.purge_every)
        .filter(|s| *s > 0)
        .ok_or_else(|| {
            format!(
                "--purge-every `{}` is not a duration such as 60s",
                args.purge_every
            )
        })?;
    let url = global.database_url();
    let store = mailgrant_store::open(&url)
        .await
        .map_err(|e| format!("could not open the database: {e}"))?;
    // Every lookup a request makes goes through the revocation-aware cache (see the README).
    let cache = mailgrant_store::CachedStore::new(store, mailgrant_store::CacheConfig::default())
        .await
        .map_err(|e| format!("could not read the revocation log: {e}"))?;
    tokio::spawn(cache.clone().follow_revocations());
    let store: mailgrant_store::DynStore = cache;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("could not listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let issuer = args.issuer.unwrap_or_else(|| format!("http://{local}"));
    let mut config = ServerConfig::new(issuer);
    config.lifetimes.access_token = ttl;
    config.open_registration = args.open_registration;
    config.lifetimes.refresh_retry_window = retry_window;
    config.lifetimes.refresh_idle = refresh_idle;
    config.lifetimes.refresh_absolute = refresh_absolute;
    config.rate_limits = rate_limits;
    let state = AppState::new(store.clone(), config);

    // Keys are made on first start and kept in the database, so every node and the CLI share them.
    store
        .server_key(
            "session",
            &|| {
                token::generate(TokenKind::ClientSecret)
                    .expose()
                    .to_string()
            },
            state.now(),
        )
        .await
        .map_err(|e| format!("could not create server keys: {e}"))?;

    tokio::spawn(purge_expired(
        state.clone(),
        Duration::from_secs(purge_every as u64),
    ));
    let app = mailgrant_server::http::router(state.clone());
    tracing::info!(address = %local, issuer = %state.config().issuer, backend = store.backend(), open_registration = args.open_registration, workers = tokio::runtime::Handle::current().metrics().num_workers(), "mailgrant listening");
    println!("mailgrant listening on http://{local}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("mailgrant stopped");
    Ok(())
}

/// Delete expired rows a small batch at a time with a pause between batches, so a large purge
/// never holds the writer for more than a millisecond or two (measured under load:
/// `bench/HISTORY.md`).
async fn purge_expired(state: AppState, every: Duration) {
    const GRACE: i64 = 3600;
    loop {
        tokio::time::sleep(every).await;
        let before = state.now() - GRACE;
        let store = state.store();
        in_batches("expired tokens", |limit| store.purge_expired(before, limit)).await;
        in_batches("expired sessions, codes and refresh tokens", |limit| {
            store.purge_expired_authorization(before, limit)
        })
        .await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Run `purge` with a batch limit until it deletes fewer than that, pausing 5 ms between batches.
async fn in_batches<F, Fut>(what: &str, purge: F)
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = mailgrant_store::StoreResult<u64>>,
{
    const BATCH: u32 = 200;
    let mut total = 0;
    loop {
        match purge(BATCH).await {
            Ok(n) => {
                total += n;
                if n < u64::from(BATCH) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "purging {what} failed");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(purged = total, "{what} deleted");
    }
}
