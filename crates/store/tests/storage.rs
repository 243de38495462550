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
