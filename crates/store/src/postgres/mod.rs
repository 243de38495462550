//! PostgreSQL backend: a deadpool of tokio-postgres connections. Each write is one transaction;
//! access tokens issued at the same time share one (`batch.rs`).

mod authz;
mod batch;
mod queries;
mod registration;

use crate::migrations::{Dialect, CREATE_TABLE, MIGRATIONS};
use crate::{StoreError, StoreResult};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::future::Future;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, NoTls, Row};

pub struct PostgresStore {
    pool: Pool,
    url: String,
    tokens: batch::TokenWriter,
}

pub(crate) fn backend<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(crate) fn conflict_as(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => StoreError::Conflict(what),
        _ => backend(e),
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The queries every store method runs, through each connection's cache of prepared statements:
/// a query given as text costs a Parse and Describe round trip, and a plan, every time it runs
/// (half the round trips of a token issuance). Statements are cached by their text, per
/// connection; the store's query texts are a fixed set.
pub(crate) trait Prepared: GenericClient + Sized {
    fn execute_cached<'a>(
        &'a self,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a {
        async move { self.execute(&self.prepare_cached(sql).await?, params).await }
    }

    fn query_cached<'a>(
        &'a self,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send + 'a {
        async move { self.query(&self.prepare_cached(sql).await?, params).await }
    }

    fn query_opt_cached<'a>(
        &'a self,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send + 'a {
        async move {
            self.query_opt(&self.prepare_cached(sql).await?, params)
                .await
        }
    }

    fn query_one_cached<'a>(
        &'a self,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Row, Error>> + Send + 'a {
        async move {
            self.query_one(&self.prepare_cached(sql).await?, params)
                .await
        }
    }
}

impl<C: GenericClient> Prepared for C {}

/// An arbitrary constant naming the migration lock, so that nodes starting together take turns.
const MIGRATION_LOCK: i64 = 0x6d61_696c_6772;

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(backend)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(backend)?;
        let store = Self {
            tokens: batch::TokenWriter::start(pool.clone()),
            pool,
            url: url.to_string(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The URL, for components (such as a LISTEN connection) that need their own connection.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `LISTEN` on `mailgrant_revocations` over a connection of its own; one `()` per
    /// notification (coalesced when the reader lags). The channel closes if the connection drops.
    pub async fn listen_revocations(&self) -> StoreResult<tokio::sync::mpsc::Receiver<()>> {
        let (client, mut connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .map_err(backend)?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        // The client lives in the task (inside this receiver): dropping it would end the connection.
        let (keep, kept) = tokio::sync::oneshot::channel::<tokio_postgres::Client>();
        tokio::spawn(async move {
            let _client = kept;
            loop {
                let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                match message {
                    Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                        if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) =
                            tx.try_send(())
                        {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "the LISTEN connection failed");
                        break;
                    }
                    None => break,
                }
            }
        });
        client
            .batch_execute("LISTEN mailgrant_revocations")
            .await
            .map_err(backend)?;
        let _ = keep.send(client);
        Ok(rx)
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(backend)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend)?;
        tx.batch_execute(CREATE_TABLE).await.map_err(backend)?;
        for m in MIGRATIONS {
            let done = tx
                .query_opt(
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    &[&m.version],
                )
                .await
                .map_err(backend)?;
            if done.is_none() {
                tx.batch_execute(&m.sql_for(Dialect::Postgres))
                    .await
                    .map_err(backend)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at)
                     VALUES ($1, $2, EXTRACT(EPOCH FROM now())::BIGINT)",
                    &[&m.version, &m.name],
                )
                .await
                .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)
    }
}
