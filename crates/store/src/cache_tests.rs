#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::suite::{self, access_token, app, user};
use crate::{DynStore, Store};
use mailgrant_core::ids;

const NOW: i64 = 1_800_000_000;

/// A store, a second handle on the same database (as the CLI would be), an account and an app.
async fn setup() -> (DynStore, DynStore, String, App, tempfile::TempDir) {
    let (store, dir) = suite::fresh_sqlite().await;
    let other = crate::open(&format!(
        "sqlite://{}",
        dir.path().join("test.db").display()
    ))
    .await
    .unwrap();
    let owner = user("owner@example.com");
    store.create_user(&owner).await.unwrap();
    let account = Account {
        id: ids::account(),
        name: "Acme".into(),
        created_at: NOW,
    };
    store.create_account(&account, &owner.id).await.unwrap();
    let a = app(Some(&account.id));
    let secret = ClientSecret {
        id: ids::secret(),
        client_id: a.client_id.clone(),
        hash: TokenHash::of("mgs_secret"),
        created_at: NOW,
        expires_at: None,
    };
    store.create_app(&a, Some(&secret)).await.unwrap();
    (store, other, account.id, a, dir)
}

fn revoked(record: Option<AccessTokenRecord>) -> bool {
    record.is_some_and(|r| r.revoked_at.is_some())
}

async fn default_cache(store: DynStore) -> Arc<CachedStore> {
    CachedStore::new(store, CacheConfig::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_the_cache_evicts_at_once() {
    let (store, _other, account, a, _dir) = setup().await;
    let cache = default_cache(store).await;
    let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    cache.insert_access_token(&t).await.unwrap();
    assert!(!revoked(cache.access_token(&t.hash).await.unwrap()));
    assert_eq!(cache.sizes().0, 1);
    assert!(cache.revoke_access_token(&t.hash, NOW).await.unwrap());
    assert_eq!(cache.sizes().0, 0);
    assert!(revoked(cache.access_token(&t.hash).await.unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_revoking_on_sqlite_is_seen_by_the_next_lookup() {
    let (store, other, account, a, _dir) = setup().await;
    let cache = default_cache(store).await;
    let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    cache.insert_access_token(&t).await.unwrap();
    assert!(!revoked(cache.access_token(&t.hash).await.unwrap()));
    // No poll runs here: the head check on the hit must notice the other handle's revocation.
    assert!(other.revoke_access_token(&t.hash, NOW).await.unwrap());
    assert!(revoked(cache.access_token(&t.hash).await.unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_is_not_remembered() {
    let (store, other, account, a, _dir) = setup().await;
    let cache = default_cache(store).await;
    let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    assert!(cache.access_token(&t.hash).await.unwrap().is_none());
    other.insert_access_token(&t).await.unwrap();
    assert!(cache.access_token(&t.hash).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_cache_applies_the_log_and_distrusts_itself_when_the_log_is_stale() {
    let (store, other, account, a, _dir) = setup().await;
    let config = CacheConfig {
        max_stale: Duration::from_millis(300),
        local_head: false,
        ..CacheConfig::default()
    };
    let cache = CachedStore::new(store, config).await.unwrap();
    let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    cache.insert_access_token(&t).await.unwrap();
    assert!(!revoked(cache.access_token(&t.hash).await.unwrap()));
    other.revoke_access_token(&t.hash, NOW).await.unwrap();
    // Without a head check the hit is served until the log is read...
    assert!(!revoked(cache.access_token(&t.hash).await.unwrap()));
    cache.sync().await.unwrap();
    assert_eq!(cache.sizes().0, 0);
    assert!(revoked(cache.access_token(&t.hash).await.unwrap()));

    // ...and once the log has not been read for max_stale, hits are not trusted at all.
    let (_, t2) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    cache.insert_access_token(&t2).await.unwrap();
    cache.access_token(&t2.hash).await.unwrap();
    other.revoke_access_token(&t2.hash, NOW).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(revoked(cache.access_token(&t2.hash).await.unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_the_log_evicts_within_the_poll_interval() {
    let (store, other, account, a, _dir) = setup().await;
    let config = CacheConfig {
        poll: Duration::from_millis(50),
        local_head: false,
        ..CacheConfig::default()
    };
    let cache = CachedStore::new(store, config).await.unwrap();
    tokio::spawn(cache.clone().follow_revocations());
    let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    cache.insert_access_token(&t).await.unwrap();
    cache.access_token(&t.hash).await.unwrap();
    other.revoke_access_token(&t.hash, NOW).await.unwrap();
    let started = Instant::now();
    while cache.sizes().0 > 0 {
        assert!(started.elapsed() < Duration::from_secs(1), "not evicted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_rotation_or_app_deletion_drops_the_client_and_its_tokens() {
    let (store, _other, account, a, _dir) = setup().await;
    let cache = default_cache(store).await;
    let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    cache.insert_access_token(&t).await.unwrap();
    cache.access_token(&t.hash).await.unwrap();
    assert_eq!(cache.client_secrets(&a.client_id).await.unwrap().len(), 1);
    assert!(cache.app(&a.client_id).await.unwrap().is_some());
    assert_eq!(cache.sizes(), (1, 1, 1, 0));
    let new = ClientSecret {
        id: ids::secret(),
        client_id: a.client_id.clone(),
        hash: TokenHash::of("mgs_new"),
        created_at: NOW,
        expires_at: None,
    };
    cache.rotate_client_secret(&new, NOW).await.unwrap();
    assert_eq!(cache.sizes(), (0, 0, 0, 0));
    assert_eq!(cache.client_secrets(&a.client_id).await.unwrap().len(), 2);
    cache.delete_app(&a.client_id, NOW).await.unwrap();
    assert!(cache.app(&a.client_id).await.unwrap().is_none());
    assert_eq!(cache.sizes().1, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_within_its_capacity() {
    let (store, _other, account, a, _dir) = setup().await;
    let config = CacheConfig {
        capacity: 3,
        ..CacheConfig::default()
    };
    let cache = CachedStore::new(store, config).await.unwrap();
    for _ in 0..10 {
        let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
        cache.insert_access_token(&t).await.unwrap();
        assert!(cache.access_token(&t.hash).await.unwrap().is_some());
        assert!(cache.sizes().0 <= 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_that_raced_an_invalidation_is_dropped() {
    let (store, _other, account, a, _dir) = setup().await;
    let cache = default_cache(store).await;
    let (_, t) = access_token(&account, Some(&a.client_id), Some(NOW + 3600));
    cache.insert_access_token(&t).await.unwrap();
    let stale = t.clone();
    let load = async {
        // The revocation lands while the lookup is in flight.
        cache.invalidate(&Revocation::Token(stale.hash));
        Ok(Some(stale))
    };
    cache
        .fill(&cache.tokens, t.hash, load, AccessTokenRecord::clone)
        .await
        .unwrap();
    assert_eq!(cache.sizes().0, 0);
}
