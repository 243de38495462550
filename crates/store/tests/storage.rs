//! The shared storage suite against SQLite and PostgreSQL.

use mailgrant_store::suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_storage_suite() {
    let (store, _dir) = suite::fresh_sqlite().await;
    suite::run_all(store.clone()).await;
    suite::registration_tokens(store.clone()).await;
    suite::concurrent_writes(store.clone()).await;
    suite::authorization_flow(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_storage_suite() {
    let Some(store) = suite::fresh_postgres().await else {
        return;
    };
    suite::run_all(store.clone()).await;
    suite::registration_tokens(store.clone()).await;
    suite::concurrent_writes(store.clone()).await;
    suite::authorization_flow(store).await;
}

// Issue 5: the revocation-aware cache must pass the same suite as what it wraps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::unwrap_used)]
async fn the_cache_over_sqlite_passes_the_storage_suite() {
    let (store, _dir) = suite::fresh_sqlite().await;
    let cached = mailgrant_store::CachedStore::new(store, Default::default())
        .await
        .unwrap();
    suite::run_all(cached.clone()).await;
    suite::concurrent_writes(cached).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::unwrap_used)]
async fn the_cache_over_postgres_passes_the_storage_suite_and_hears_notify() {
    let Some(store) = suite::fresh_postgres().await else {
        return;
    };
    suite::cache_hears_postgres_notify(store.clone()).await;
    let cached = mailgrant_store::CachedStore::new(store, Default::default())
        .await
        .unwrap();
    suite::run_all(cached.clone()).await;
    suite::concurrent_writes(cached).await;
}
