//! The storage test suite: the same checks against every backend, plus helpers that make a fresh
//! database for a test. Compiled for tests and under the `test-suite` feature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{DynStore, Revocation, Store, StoreError, TokenFilter};
use mailgrant_core::model::{
    AccessTokenRecord, Account, App, ClientSecret, GrantType, PrivateApp, Role, User,
};
use mailgrant_core::{ids, token, ScopeSet, TokenHash, TokenKind};

/// The environment variable naming a PostgreSQL server for tests (a role that may create databases).
pub const POSTGRES_ENV: &str = "MAILGRANT_TEST_POSTGRES_URL";

/// A fresh SQLite database in a temporary directory (kept alive by the returned guard).
pub async fn fresh_sqlite() -> (DynStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    (crate::open(&url).await.expect("open sqlite"), dir)
}

/// A URL to a fresh, empty PostgreSQL database, or `None` when no server is configured.
/// With `MAILGRANT_REQUIRE_POSTGRES=1` (as CI sets), a missing server is a failure, not a skip.
pub async fn fresh_postgres_url() -> Option<String> {
    let Ok(base) = std::env::var(POSTGRES_ENV) else {
        if std::env::var("MAILGRANT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("{POSTGRES_ENV} is not set but MAILGRANT_REQUIRE_POSTGRES=1");
        }
        eprintln!("skipping PostgreSQL: {POSTGRES_ENV} is not set");
        return None;
    };
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL server");
    tokio::spawn(conn);
    let name = ids::new_id("mgtest").to_lowercase();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&base).expect("postgres url");
    url.set_path(&name);
    Some(url.to_string())
}

pub async fn fresh_postgres() -> Option<DynStore> {
    let url = fresh_postgres_url().await?;
    Some(crate::open(&url).await.expect("open postgres"))
}

const NOW: i64 = 1_800_000_000;

pub fn user(email: &str) -> User {
    User {
        id: ids::user(),
        email: email.into(),
        password_hash: "$argon2id$fake".into(),
        created_at: NOW,
    }
}

pub fn app(account_id: Option<&str>) -> App {
    App {
        client_id: ids::client(),
        name: "Newsletter Sync".into(),
        description: "Copies contacts".into(),
        redirect_uris: vec!["https://sync.example.com/cb".into()],
        grant_types: vec![GrantType::ClientCredentials, GrantType::AuthorizationCode],
        scopes: ScopeSet::parse("account.read contacts.read").unwrap(),
        public: false,
        account_id: account_id.map(str::to_string),
        created_at: NOW,
    }
}

pub fn access_token(
    account_id: &str,
    client_id: Option<&str>,
    expires_at: Option<i64>,
) -> (String, AccessTokenRecord) {
    let value = token::generate(TokenKind::Access).expose().to_string();
    let record = AccessTokenRecord {
        hash: TokenHash::of(&value),
        kind: TokenKind::Access,
        account_id: account_id.into(),
        client_id: client_id.map(str::to_string),
        private_app_id: None,
        user_id: None,
        grant_id: None,
        family_id: None,
        scopes: ScopeSet::parse("account.read").unwrap(),
        created_at: NOW,
        expires_at,
        revoked_at: None,
    };
    (value, record)
}

/// Every check, in order, on one store.
pub async fn run_all(store: DynStore) {
    let s: &dyn Store = &*store;
    // Users: unique email.
    let alice = user("alice@example.com");
    s.create_user(&alice).await.unwrap();
    assert!(matches!(
        s.create_user(&user("alice@example.com")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.user_by_email("alice@example.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert!(s
        .user_by_email("nobody@example.com")
        .await
        .unwrap()
        .is_none());

    // Accounts and memberships.
    let acct = Account {
        id: ids::account(),
        name: "Acme".into(),
        created_at: NOW,
    };
    s.create_account(&acct, &alice.id).await.unwrap();
    let bob = user("bob@example.com");
    s.create_user(&bob).await.unwrap();
    s.add_member(&acct.id, &bob.id, Role::Member, NOW)
        .await
        .unwrap();
    s.add_member(&acct.id, &bob.id, Role::Admin, NOW)
        .await
        .unwrap();
    let m = s.memberships_of(&bob.id).await.unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].role, Role::Admin);
    assert_eq!(
        s.memberships_of(&alice.id).await.unwrap()[0].role,
        Role::Owner
    );

    // Apps and secrets, with rotation.
    let a = app(Some(&acct.id));
    let first = ClientSecret {
        id: ids::secret(),
        client_id: a.client_id.clone(),
        hash: TokenHash::of("mgs_first"),
        created_at: NOW,
        expires_at: None,
    };
    s.create_app(&a, Some(&first)).await.unwrap();
    let loaded = s.app(&a.client_id).await.unwrap().unwrap();
    assert_eq!(loaded.redirect_uris, a.redirect_uris);
    assert_eq!(loaded.grant_types, a.grant_types);
    assert_eq!(loaded.scopes, a.scopes);
    assert_eq!(s.list_apps(Some(&acct.id)).await.unwrap().len(), 1);
    let second = ClientSecret {
        id: ids::secret(),
        hash: TokenHash::of("mgs_second"),
        ..first.clone()
    };
    s.rotate_client_secret(&second, NOW + 3600).await.unwrap();
    let secrets = s.client_secrets(&a.client_id).await.unwrap();
    assert_eq!(secrets.len(), 2);
    let old = secrets.iter().find(|x| x.id == first.id).unwrap();
    assert_eq!(old.expires_at, Some(NOW + 3600));

    // Access tokens: insert, look up, revoke, list, purge.
    let (_, t1) = access_token(&acct.id, Some(&a.client_id), Some(NOW + 3600));
    let (_, t2) = access_token(&acct.id, Some(&a.client_id), Some(NOW - 10));
    s.insert_access_token(&t1).await.unwrap();
    s.insert_access_token(&t2).await.unwrap();
    assert!(matches!(
        s.insert_access_token(&t1).await,
        Err(StoreError::Conflict(_))
    ));
    let got = s.access_token(&t1.hash).await.unwrap().unwrap();
    assert_eq!(got.account_id, acct.id);
    assert!(got.is_active(NOW));
    let (seq0, _) = s.revocations_since(-1).await.unwrap();
    assert!(s.revoke_access_token(&t1.hash, NOW).await.unwrap());
    assert!(!s.revoke_access_token(&t1.hash, NOW).await.unwrap());
    assert!(!s
        .access_token(&t1.hash)
        .await
        .unwrap()
        .unwrap()
        .is_active(NOW));
    let (seq1, revs) = s.revocations_since(seq0).await.unwrap();
    assert!(seq1 > seq0);
    assert_eq!(revs, vec![Revocation::Token(t1.hash)]);
    let live = s
        .list_access_tokens(
            &TokenFilter {
                account_id: Some(acct.id.clone()),
                ..Default::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert!(live.is_empty());
    let all = s
        .list_access_tokens(
            &TokenFilter {
                client_id: Some(a.client_id.clone()),
                include_inactive: true,
                ..Default::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(s.purge_expired(NOW, 100).await.unwrap(), 1);
    assert!(s.access_token(&t2.hash).await.unwrap().is_none());

    // Deleting an app revokes its tokens.
    let (_, t3) = access_token(&acct.id, Some(&a.client_id), Some(NOW + 3600));
    s.insert_access_token(&t3).await.unwrap();
    s.delete_app(&a.client_id, NOW).await.unwrap();
    assert!(s.app(&a.client_id).await.unwrap().is_none());
    assert!(!s
        .access_token(&t3.hash)
        .await
        .unwrap()
        .unwrap()
        .is_active(NOW));
    assert!(matches!(
        s.delete_app(&a.client_id, NOW).await,
        Err(StoreError::NotFound(_))
    ));

    // Private apps: create, rotate (old token dies), revoke.
    let pa = PrivateApp {
        id: ids::private_app(),
        account_id: acct.id.clone(),
        name: "CRM sync".into(),
        scopes: ScopeSet::parse("contacts.read").unwrap(),
        created_at: NOW,
        revoked_at: None,
    };
    let (_, mut p1) = access_token(&acct.id, None, None);
    p1.kind = TokenKind::PrivateApp;
    p1.private_app_id = Some(pa.id.clone());
    s.create_private_app(&pa, &p1).await.unwrap();
    let (_, mut p2) = access_token(&acct.id, None, None);
    p2.kind = TokenKind::PrivateApp;
    p2.private_app_id = Some(pa.id.clone());
    s.rotate_private_app(&pa.id, &p2, NOW).await.unwrap();
    assert!(!s
        .access_token(&p1.hash)
        .await
        .unwrap()
        .unwrap()
        .is_active(NOW));
    assert!(s
        .access_token(&p2.hash)
        .await
        .unwrap()
        .unwrap()
        .is_active(NOW));
    s.revoke_private_app(&pa.id, NOW).await.unwrap();
    assert!(!s
        .access_token(&p2.hash)
        .await
        .unwrap()
        .unwrap()
        .is_active(NOW));
    assert!(s
        .private_app(&pa.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert!(matches!(
        s.revoke_private_app(&pa.id, NOW).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.list_private_apps(Some(&acct.id)).await.unwrap().len(), 1);

    // Server keys are made once and then kept.
    let k1 = s
        .server_key("cookie", &|| "one".to_string(), NOW)
        .await
        .unwrap();
    let k2 = s
        .server_key("cookie", &|| "two".to_string(), NOW)
        .await
        .unwrap();
    assert_eq!((k1.as_str(), k2.as_str()), ("one", "one"));
}

/// Many concurrent writes all commit (the SQLite writer groups them).
pub async fn concurrent_writes(store: DynStore) {
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (_, t) = access_token("acct_x", None, Some(NOW + 60));
            store.insert_access_token(&t).await.unwrap();
            t.hash
        }));
    }
    for task in tasks {
        let hash = task.await.unwrap();
        assert!(store.access_token(&hash).await.unwrap().is_some());
    }
}

/// Issue 5: a cache following the log of a PostgreSQL store drops a token revoked behind its back
/// (as by another node) within 50 ms, through `LISTEN`, long before its next poll.
pub async fn cache_hears_postgres_notify(store: DynStore) {
    use std::time::{Duration, Instant};
    let config = crate::CacheConfig {
        poll: Duration::from_secs(30),
        max_stale: Duration::from_secs(60),
        ..crate::CacheConfig::default()
    };
    let cache = crate::CachedStore::new(store.clone(), config)
        .await
        .unwrap();
    tokio::spawn(cache.clone().follow_revocations());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let owner = user("notify@example.com");
    store.create_user(&owner).await.unwrap();
    let acct = Account {
        id: ids::account(),
        name: "Notify".into(),
        created_at: NOW,
    };
    store.create_account(&acct, &owner.id).await.unwrap();
    let (_, t) = access_token(&acct.id, None, Some(NOW + 3600));
    store.insert_access_token(&t).await.unwrap();
    assert!(cache.access_token(&t.hash).await.unwrap().is_some());
    assert_eq!(cache.sizes().0, 1);
    store.revoke_access_token(&t.hash, NOW).await.unwrap();
    let revoked = Instant::now();
    while cache.sizes().0 > 0 {
        assert!(
            revoked.elapsed() < Duration::from_millis(50),
            "NOTIFY did not reach the cache within 50 ms"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
