//! Group commit for token issuance on PostgreSQL: the access tokens that arrive while a batch is
//! being written go into the next one, one `INSERT … SELECT FROM UNNEST` and one commit for all of
//! them. Every caller is answered after its batch's commit, never before. A statement and a commit
//! cost PostgreSQL far more than a row does: one a token read 9–11k issuances a second on the
//! bench machine, one a batch 16–22k.

use super::{backend, conflict_as, Prepared};
use crate::rows::TOKEN_COLUMNS;
use crate::{StoreError, StoreResult};
use deadpool_postgres::{GenericClient, Pool};
use mailgrant_core::model::AccessTokenRecord;
use std::sync::{Arc, LazyLock};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// At most this many tokens in one statement: a bound on its size, far above what 2 cores fill.
const MAX_BATCH: usize = 512;
/// Batches written at once, each on its own connection: while they are out, arrivals queue and
/// the next batch grows.
const IN_FLIGHT: usize = 4;

struct Pending {
    token: AccessTokenRecord,
    done: oneshot::Sender<StoreResult<()>>,
}

pub(crate) struct TokenWriter {
    queue: mpsc::Sender<Pending>,
}

impl TokenWriter {
    /// Starts the writer task on the current runtime; it ends when the writer is dropped.
    pub(crate) fn start(pool: Pool) -> Self {
        let (queue, arrivals) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(pool, arrivals));
        Self { queue }
    }

    /// Stores the token; returns once it is committed.
    pub(crate) async fn insert(&self, token: AccessTokenRecord) -> StoreResult<()> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Backend("the token writer stopped".into());
        self.queue
            .send(Pending { token, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(pool: Pool, mut arrivals: mpsc::Receiver<Pending>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = arrivals.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match arrivals.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            write(&pool, batch).await;
            drop(permit);
        });
    }
}

async fn write(pool: &Pool, batch: Vec<Pending>) {
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return answer_all(batch, Err(backend(e))),
    };
    let tokens: Vec<&AccessTokenRecord> = batch.iter().map(|p| &p.token).collect();
    match insert_all(&client, &tokens).await {
        Ok(()) => answer_all(batch, Ok(())),
        // One of them exists already (and the statement stored none): find which, one by one.
        Err(StoreError::Conflict(_)) if batch.len() > 1 => {
            for p in batch {
                let result = insert_all(&client, &[&p.token]).await;
                let _ = p.done.send(result);
            }
        }
        Err(e) => answer_all(batch, Err(e)),
    }
}

fn answer_all(batch: Vec<Pending>, result: StoreResult<()>) {
    for p in batch {
        // A caller that went away (its request was dropped) needs no answer.
        let _ = p.done.send(result.clone());
    }
}

/// Inserts the tokens in one statement: all of them, or none.
pub(crate) async fn insert_all(
    c: &impl GenericClient,
    tokens: &[&AccessTokenRecord],
) -> StoreResult<()> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO access_tokens ({TOKEN_COLUMNS}) SELECT * FROM UNNEST(\
             $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
             $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[])"
        )
    });
    let hashes: Vec<String> = tokens.iter().map(|t| t.hash.to_hex()).collect();
    let kinds: Vec<&str> = tokens.iter().map(|t| t.kind.as_str()).collect();
    let accounts: Vec<&str> = tokens.iter().map(|t| t.account_id.as_str()).collect();
    let clients = optional(tokens, |t| &t.client_id);
    let private_apps = optional(tokens, |t| &t.private_app_id);
    let users = optional(tokens, |t| &t.user_id);
    let grants = optional(tokens, |t| &t.grant_id);
    let families = optional(tokens, |t| &t.family_id);
    let scopes: Vec<String> = tokens.iter().map(|t| t.scopes.to_string()).collect();
    let created: Vec<i64> = tokens.iter().map(|t| t.created_at).collect();
    let expires: Vec<Option<i64>> = tokens.iter().map(|t| t.expires_at).collect();
    let revoked: Vec<Option<i64>> = tokens.iter().map(|t| t.revoked_at).collect();
    c.execute_cached(
        &SQL,
        &[
            &hashes,
            &kinds,
            &accounts,
            &clients,
            &private_apps,
            &users,
            &grants,
            &families,
            &scopes,
            &created,
            &expires,
            &revoked,
        ],
    )
    .await
    .map_err(conflict_as("token"))?;
    Ok(())
}

fn optional<'t>(
    tokens: &[&'t AccessTokenRecord],
    field: impl Fn(&'t AccessTokenRecord) -> &'t Option<String>,
) -> Vec<Option<&'t str>> {
    tokens.iter().map(|t| field(t).as_deref()).collect()
}
