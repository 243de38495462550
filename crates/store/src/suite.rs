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

/// Many concurrent writes all commit (both backends group them into shared commits); a duplicate
/// among them is refused on its own and takes none of the others down.
pub async fn concurrent_writes(store: DynStore) {
    let (_, taken) = access_token("acct_x", None, Some(NOW + 60));
    store.insert_access_token(&taken).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        let t = if i % 50 == 7 {
            taken.clone()
        } else {
            access_token("acct_x", None, Some(NOW + 60)).1
        };
        tasks.push(tokio::spawn(async move {
            (store.insert_access_token(&t).await, t.hash)
        }));
    }
    let mut refused = 0;
    for task in tasks {
        let (result, hash) = task.await.unwrap();
        if hash == taken.hash {
            assert!(matches!(result, Err(StoreError::Conflict(_))));
            refused += 1;
        } else {
            result.unwrap();
            assert!(store.access_token(&hash).await.unwrap().is_some());
        }
    }
    assert_eq!(refused, 4);
}

/// Initial access tokens for dynamic client registration: stored as hashes, counted atomically
/// with the app they register, refused (creating nothing) once revoked, expired or used up.
pub async fn registration_tokens(store: DynStore) {
    use mailgrant_core::registration::RegistrationToken;
    let owner = user(&format!("{}@example.com", ids::user().to_lowercase()));
    store.create_user(&owner).await.unwrap();
    let account = Account {
        id: ids::account(),
        name: "Registrations".into(),
        created_at: NOW,
    };
    store.create_account(&account, &owner.id).await.unwrap();

    let value = token::generate(TokenKind::Registration);
    let limited = RegistrationToken {
        id: RegistrationToken::new_id(),
        hash: TokenHash::of(value.expose()),
        account_id: Some(account.id.clone()),
        max_uses: Some(3),
        uses: 0,
        created_at: NOW,
        expires_at: Some(NOW + 3600),
        revoked_at: None,
    };
    store.create_registration_token(&limited).await.unwrap();
    let found = store
        .registration_token(&TokenHash::of(value.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, limited.id);
    assert_eq!(found.account_id.as_deref(), Some(account.id.as_str()));
    assert_eq!((found.max_uses, found.uses), (Some(3), 0));
    assert!(store
        .registration_token(&TokenHash::of("not it"))
        .await
        .unwrap()
        .is_none());

    // Ten registrations race for three uses: exactly three apps exist afterwards.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, id, account_id) = (store.clone(), limited.id.clone(), account.id.clone());
        tasks.push(tokio::spawn(async move {
            let app = app(Some(&account_id));
            let result = store.register_app(&app, None, Some(&id)).await;
            (app.client_id, result)
        }));
    }
    let mut registered = 0;
    for task in tasks {
        let (client_id, result) = task.await.unwrap();
        match result {
            Ok(()) => {
                registered += 1;
                assert!(store.app(&client_id).await.unwrap().is_some());
            }
            Err(StoreError::NotFound(_)) => {
                assert!(store.app(&client_id).await.unwrap().is_none());
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(registered, 3);
    let used = store
        .registration_token(&limited.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.uses, 3);

    // Expired at the app's creation time: refused.
    let expired = RegistrationToken {
        id: RegistrationToken::new_id(),
        hash: TokenHash::of(token::generate(TokenKind::Registration).expose()),
        account_id: None,
        max_uses: None,
        uses: 0,
        created_at: NOW - 7200,
        expires_at: Some(NOW),
        revoked_at: None,
    };
    store.create_registration_token(&expired).await.unwrap();
    let late = app(None);
    assert!(matches!(
        store.register_app(&late, None, Some(&expired.id)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.app(&late.client_id).await.unwrap().is_none());

    // Unlimited until revoked; a confidential app's secret is stored with it.
    let open = RegistrationToken {
        id: RegistrationToken::new_id(),
        hash: TokenHash::of(token::generate(TokenKind::Registration).expose()),
        account_id: None,
        max_uses: None,
        uses: 0,
        created_at: NOW,
        expires_at: None,
        revoked_at: None,
    };
    store.create_registration_token(&open).await.unwrap();
    let confidential = app(None);
    let secret = ClientSecret {
        id: ids::secret(),
        client_id: confidential.client_id.clone(),
        hash: TokenHash::of(token::generate(TokenKind::ClientSecret).expose()),
        created_at: NOW,
        expires_at: None,
    };
    store
        .register_app(&confidential, Some(&secret), Some(&open.id))
        .await
        .unwrap();
    assert_eq!(
        store
            .client_secrets(&confidential.client_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .revoke_registration_token(&open.id, NOW + 1)
        .await
        .unwrap());
    assert!(!store
        .revoke_registration_token(&open.id, NOW + 2)
        .await
        .unwrap());
    let after = app(None);
    assert!(store
        .register_app(&after, None, Some(&open.id))
        .await
        .is_err());
    assert!(store.app(&after.client_id).await.unwrap().is_none());

    // Without a token (open registration) the app is simply created.
    let unbound = app(None);
    store.register_app(&unbound, None, None).await.unwrap();
    assert!(store.app(&unbound.client_id).await.unwrap().is_some());

    let listed = store.list_registration_tokens().await.unwrap();
    for t in [&limited, &expired, &open] {
        assert!(listed.iter().any(|l| l.id == t.id));
    }
    let revoked = listed.iter().find(|l| l.id == open.id).unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 1));
    assert_eq!(revoked.uses, 1);
}

// ---- Authorization-code flow (issue 4) ----

fn refresh_record(
    family: &str,
    grant: &str,
    client: &str,
    account: &str,
    user: &str,
) -> (String, mailgrant_core::records::RefreshTokenRecord) {
    let value = token::generate(TokenKind::Refresh).expose().to_string();
    let record = mailgrant_core::records::RefreshTokenRecord {
        hash: TokenHash::of(&value),
        family_id: family.into(),
        grant_id: grant.into(),
        client_id: client.into(),
        account_id: account.into(),
        user_id: user.into(),
        scopes: ScopeSet::parse("account.read").unwrap(),
        created_at: NOW,
        family_created_at: NOW,
        expires_at: NOW + 1000,
        rotated_at: None,
        revoked_at: None,
    };
    (value, record)
}

fn issued(
    account: &str,
    client: &str,
    grant: &str,
    family: &str,
    user: &str,
) -> mailgrant_core::records::IssuedTokens {
    let (_, mut access) = access_token(account, Some(client), Some(NOW + 3600));
    access.grant_id = Some(grant.into());
    access.family_id = Some(family.into());
    access.user_id = Some(user.into());
    let (_, refresh) = refresh_record(family, grant, client, account, user);
    mailgrant_core::records::IssuedTokens {
        access,
        refresh: Some(refresh),
    }
}

/// Sessions, login throttling, grants, codes (single use, replay revokes the family), refresh
/// rotation (exactly one winner), family and grant revocation with their log entries.
pub async fn authorization_flow(store: DynStore) {
    async fn last_used(s: &dyn Store, account: &str, client: &str) -> Option<i64> {
        let grant = s.live_grant(account, client).await.unwrap().unwrap();
        grant.last_used_at
    }
    use mailgrant_core::records::{AuthorizationCode, Grant, LoginThrottle, Session};
    let s: &dyn Store = &*store;
    let u = user("flow@example.com");
    s.create_user(&u).await.unwrap();
    let acct = Account {
        id: ids::account(),
        name: "Flow".into(),
        created_at: NOW,
    };
    s.create_account(&acct, &u.id).await.unwrap();
    let a = app(None);
    s.create_app(&a, None).await.unwrap();

    // Sessions by hash.
    let sid = TokenHash::of("session-value");
    let session = Session {
        hash: sid,
        user_id: Some(u.id.clone()),
        created_at: NOW,
        expires_at: NOW + 60,
    };
    s.create_session(&session).await.unwrap();
    assert_eq!(
        s.session(&sid).await.unwrap().unwrap().user_id,
        Some(u.id.clone())
    );
    s.delete_session(&sid).await.unwrap();
    assert!(s.session(&sid).await.unwrap().is_none());

    // Login throttle: set, update, clear.
    let t = LoginThrottle {
        failures: 3,
        last_failure_at: NOW,
        locked_until: Some(NOW + 900),
    };
    s.set_login_throttle("flow@example.com", Some(&t))
        .await
        .unwrap();
    let t2 = LoginThrottle { failures: 4, ..t };
    s.set_login_throttle("flow@example.com", Some(&t2))
        .await
        .unwrap();
    assert_eq!(
        s.login_throttle("flow@example.com").await.unwrap(),
        Some(t2)
    );
    s.set_login_throttle("flow@example.com", None)
        .await
        .unwrap();
    assert!(s
        .login_throttle("flow@example.com")
        .await
        .unwrap()
        .is_none());

    // Grants: one live grant per account and app; saving again widens it.
    let mut grant = Grant {
        id: ids::grant(),
        account_id: acct.id.clone(),
        client_id: a.client_id.clone(),
        user_id: u.id.clone(),
        scopes: ScopeSet::parse("account.read").unwrap(),
        created_at: NOW,
        updated_at: NOW,
        last_used_at: None,
        revoked_at: None,
    };
    s.save_grant(&grant).await.unwrap();
    grant.scopes = ScopeSet::parse("account.read contacts.read").unwrap();
    s.save_grant(&grant).await.unwrap();
    assert_eq!(
        s.live_grant(&acct.id, &a.client_id).await.unwrap().unwrap(),
        grant
    );
    let second = Grant {
        id: ids::grant(),
        ..grant.clone()
    };
    assert!(matches!(
        s.save_grant(&second).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.list_grants(Some(&acct.id), false).await.unwrap().len(), 1);

    // Codes: single use; a replay stores nothing and revokes the family it started.
    let family = ids::family();
    let code_value = token::generate(TokenKind::Code).expose().to_string();
    let code = AuthorizationCode {
        hash: TokenHash::of(&code_value),
        client_id: a.client_id.clone(),
        redirect_uri: Some("https://sync.example.com/cb".into()),
        code_challenge: None,
        account_id: acct.id.clone(),
        user_id: u.id.clone(),
        grant_id: grant.id.clone(),
        family_id: family.clone(),
        scopes: grant.scopes.clone(),
        created_at: NOW,
        expires_at: NOW + 60,
        used_at: None,
    };
    s.create_code(&code).await.unwrap();
    let stored = s.code(&code.hash).await.unwrap().unwrap();
    assert_eq!(stored.redirect_uri, code.redirect_uri);
    assert_eq!(stored.family_id, family);
    let first = issued(&acct.id, &a.client_id, &grant.id, &family, &u.id);
    assert!(s.redeem_code(&code.hash, &first, NOW + 1).await.unwrap());
    assert!(s
        .access_token(&first.access.hash)
        .await
        .unwrap()
        .unwrap()
        .is_active(NOW + 2));
    let again = issued(&acct.id, &a.client_id, &grant.id, &family, &u.id);
    let (seq, _) = s.revocations_since(-1).await.unwrap();
    assert!(!s.redeem_code(&code.hash, &again, NOW + 2).await.unwrap());
    assert!(s.access_token(&again.access.hash).await.unwrap().is_none());
    assert!(s
        .access_token(&first.access.hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let r1 = first.refresh.as_ref().unwrap();
    assert!(s
        .refresh_token(&r1.hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let (_, log) = s.revocations_since(seq).await.unwrap();
    assert!(log.contains(&Revocation::Family(family.clone())));
    assert_eq!(last_used(s, &acct.id, &a.client_id).await, Some(NOW + 1));

    // Refresh rotation: one winner; the loser stores nothing.
    let family2 = ids::family();
    let (_, root) = refresh_record(&family2, &grant.id, &a.client_id, &acct.id, &u.id);
    let base = issued(&acct.id, &a.client_id, &grant.id, &family2, &u.id);
    let base = mailgrant_core::records::IssuedTokens {
        access: base.access,
        refresh: Some(root.clone()),
    };
    let code2 = AuthorizationCode {
        hash: TokenHash::of("code-2"),
        family_id: family2.clone(),
        ..code.clone()
    };
    s.create_code(&code2).await.unwrap();
    assert!(s.redeem_code(&code2.hash, &base, NOW).await.unwrap());
    // A successor is created at its rotation: that is the old token's `rotated_at`.
    let rotated_at_five = |mut t: mailgrant_core::records::IssuedTokens| {
        t.refresh.as_mut().unwrap().created_at = NOW + 5;
        t
    };
    let next_a = rotated_at_five(issued(&acct.id, &a.client_id, &grant.id, &family2, &u.id));
    let next_b = rotated_at_five(issued(&acct.id, &a.client_id, &grant.id, &family2, &u.id));
    let (ra, rb) = tokio::join!(
        s.rotate_refresh_token(&root.hash, &next_a, NOW + 5),
        s.rotate_refresh_token(&root.hash, &next_b, NOW + 5)
    );
    assert!(ra.unwrap() ^ rb.unwrap(), "exactly one rotation wins");
    assert_eq!(
        s.refresh_token(&root.hash)
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        Some(NOW + 5)
    );
    let winners = [&next_a, &next_b]
        .iter()
        .filter(|t| t.refresh.is_some())
        .count();
    assert_eq!(winners, 2);
    let stored_a = s
        .refresh_token(&next_a.refresh.as_ref().unwrap().hash)
        .await
        .unwrap();
    let stored_b = s
        .refresh_token(&next_b.refresh.as_ref().unwrap().hash)
        .await
        .unwrap();
    assert!(stored_a.is_some() ^ stored_b.is_some());
    // The family's current token is the winner's successor, not the rotated root.
    let current = s
        .current_refresh_token(&grant.id, &family2)
        .await
        .unwrap()
        .unwrap();
    let winner = stored_a.or(stored_b).unwrap();
    assert_eq!(current.hash, winner.hash);
    // The successor rotates in its turn (the family's third generation); then it is the one
    // rotated, the newest is current, and neither older token rotates again.
    let third = issued(&acct.id, &a.client_id, &grant.id, &family2, &u.id);
    assert!(s
        .rotate_refresh_token(&winner.hash, &third, NOW + 5)
        .await
        .unwrap());
    let third_hash = third.refresh.as_ref().unwrap().hash;
    let current = s.current_refresh_token(&grant.id, &family2).await.unwrap();
    assert_eq!(current.map(|c| c.hash), Some(third_hash));
    let winner_now = s.refresh_token(&winner.hash).await.unwrap().unwrap();
    assert_eq!(winner_now.rotated_at, Some(NOW));
    for old in [&root.hash, &winner.hash] {
        let again = issued(&acct.id, &a.client_id, &grant.id, &family2, &u.id);
        assert!(!s.rotate_refresh_token(old, &again, NOW + 6).await.unwrap());
        let again_hash = &again.refresh.as_ref().unwrap().hash;
        assert!(s.refresh_token(again_hash).await.unwrap().is_none());
        assert!(s.access_token(&again.access.hash).await.unwrap().is_none());
    }

    // Family revocation reaches refresh and access tokens, and no other family of the grant.
    let family3 = ids::family();
    let other = issued(&acct.id, &a.client_id, &grant.id, &family3, &u.id);
    s.insert_access_token(&other.access).await.unwrap();
    assert!(s.revoke_family(&grant.id, &family2, NOW + 6).await.unwrap());
    assert!(s
        .current_refresh_token(&grant.id, &family2)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .access_token(&other.access.hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    assert!(s
        .access_token(&base.access.hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert!(!s
        .rotate_refresh_token(&root.hash, &next_a, NOW + 7)
        .await
        .unwrap());

    // The grant's last use moved at the first exchange (NOW + 1), not at the ones within a
    // minute after it; a later one moves it again.
    assert_eq!(last_used(s, &acct.id, &a.client_id).await, Some(NOW + 1));
    let later = NOW + 1 + Grant::LAST_USED_PRECISION;
    let code5 = AuthorizationCode {
        hash: TokenHash::of("code-5"),
        family_id: ids::family(),
        ..code.clone()
    };
    s.create_code(&code5).await.unwrap();
    let tokens = issued(&acct.id, &a.client_id, &grant.id, &code5.family_id, &u.id);
    assert!(s.redeem_code(&code5.hash, &tokens, later).await.unwrap());
    assert_eq!(last_used(s, &acct.id, &a.client_id).await, Some(later));

    // A code exchanged for an access token alone (an app without the refresh grant).
    let code6 = AuthorizationCode {
        hash: TokenHash::of("code-6"),
        family_id: ids::family(),
        ..code.clone()
    };
    s.create_code(&code6).await.unwrap();
    let alone = mailgrant_core::records::IssuedTokens {
        refresh: None,
        ..issued(&acct.id, &a.client_id, &grant.id, &code6.family_id, &u.id)
    };
    assert!(s.redeem_code(&code6.hash, &alone, later).await.unwrap());
    assert!(s.access_token(&alone.access.hash).await.unwrap().is_some());
    // A code that was never issued is not found, and stores nothing.
    let stray = issued(&acct.id, &a.client_id, &grant.id, &ids::family(), &u.id);
    assert!(matches!(
        s.redeem_code(&TokenHash::of("no-such-code"), &stray, later)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(s.access_token(&stray.access.hash).await.unwrap().is_none());

    // Grant revocation kills every token and code under it, and is logged.
    let code3 = AuthorizationCode {
        hash: TokenHash::of("code-3"),
        family_id: ids::family(),
        ..code.clone()
    };
    s.create_code(&code3).await.unwrap();
    let family4 = ids::family();
    let code4 = AuthorizationCode {
        hash: TokenHash::of("code-4"),
        family_id: family4.clone(),
        ..code.clone()
    };
    s.create_code(&code4).await.unwrap();
    let live = issued(&acct.id, &a.client_id, &grant.id, &family4, &u.id);
    assert!(s.redeem_code(&code4.hash, &live, NOW).await.unwrap());
    let (seq, _) = s.revocations_since(-1).await.unwrap();
    s.revoke_grant(&grant.id, NOW + 10).await.unwrap();
    assert!(matches!(
        s.revoke_grant(&grant.id, NOW + 11).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(s
        .access_token(&live.access.hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let lr = live.refresh.as_ref().unwrap();
    assert!(s
        .refresh_token(&lr.hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert!(s
        .code(&code3.hash)
        .await
        .unwrap()
        .unwrap()
        .used_at
        .is_some());
    let (_, log) = s.revocations_since(seq).await.unwrap();
    assert!(log.contains(&Revocation::Grant(grant.id.clone())));
    assert!(s
        .live_grant(&acct.id, &a.client_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.list_grants(Some(&acct.id), true).await.unwrap().len(), 1);
    // A new consent after revocation makes a new grant.
    s.save_grant(&second).await.unwrap();
    assert!(s
        .live_grant(&acct.id, &a.client_id)
        .await
        .unwrap()
        .is_some());

    // Purging removes what expired (the session above expired at NOW + 60; codes at NOW + 60).
    assert!(s.purge_expired_authorization(NOW + 61, 1000).await.unwrap() >= 3);
    assert!(s.code(&code3.hash).await.unwrap().is_none());
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
