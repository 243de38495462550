//! A bounded in-process cache in front of any [`Store`], for what every request looks up: bearer
//! tokens, apps and client secrets (and accounts, briefly). Revocation reaches it three ways:
//!
//! - revocations made through this process evict at once, after their commit;
//! - every `poll` interval the log of revocations ([`Store::revocations_since`]) is read and
//!   applied, so revocations by the CLI or by other nodes arrive within that interval; a push from
//!   the database ([`Store::revocation_signals`], PostgreSQL `LISTEN`) triggers the same read at once;
//! - where the backend can read the log's head locally ([`Store::revocations_head_local`], SQLite),
//!   a hit first compares it with what was applied, so a revocation or rotation committed by
//!   another process (the CLI) is honoured by the very next request. A head read serves every
//!   lookup of every request that arrived before it started ([`within_request`] marks arrival),
//!   so one request pays for at most one, and concurrent requests share them.
//!
//! If the log cannot be read for longer than `max_stale`, hits are not trusted and every lookup goes
//! to the database. Only positive answers are cached: an unknown token is asked for again, so a
//! token issued a moment ago is never refused. A fill that raced an invalidation is dropped (epoch).

use crate::{Revocation, Store, StoreResult, TokenFilter};
use async_trait::async_trait;
use mailgrant_core::model::{
    AccessTokenRecord, Account, App, ClientSecret, Membership, PrivateApp, Role, User,
};
use mailgrant_core::records::{
    AuthorizationCode, Grant, IssuedTokens, LoginThrottle, RefreshTokenRecord, Session,
};
use mailgrant_core::registration::RegistrationToken;
use mailgrant_core::{TokenHash, UnixTime};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

tokio::task_local! {
    static REQUEST_ARRIVED: Instant;
}

/// Run `f` (the handling of one request) with its arrival time noted, so that its lookups can
/// share one freshness check. Outside of it, each lookup counts as a new arrival.
pub async fn within_request<F: std::future::Future>(f: F) -> F::Output {
    REQUEST_ARRIVED.scope(Instant::now(), f).await
}

fn arrival() -> Instant {
    REQUEST_ARRIVED
        .try_with(|at| *at)
        .unwrap_or_else(|_| Instant::now())
}

#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Entries per kind (tokens, apps, secrets, accounts); a full map starts over.
    pub capacity: usize,
    /// How often the revocation log is read.
    pub poll: Duration,
    /// Hits are not trusted when the log has not been read for this long.
    pub max_stale: Duration,
    /// Accounts have no revocation; they are kept this long.
    pub account_ttl: Duration,
    /// Check the log's head on hits where the backend can read it locally (SQLite), so that
    /// another process's revocation is honoured by the next request. Off: poll only.
    pub local_head: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            poll: Duration::from_millis(200),
            max_stale: Duration::from_secs(1),
            account_ttl: Duration::from_secs(1),
            local_head: true,
        }
    }
}

/// A bounded map; when full it is emptied (simple, and the hot entries come straight back).
struct Bounded<K, V> {
    map: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }
    fn get(&self, k: &K) -> Option<V> {
        self.map.lock().ok()?.get(k).cloned()
    }
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<K, V>) -> R) -> Option<R> {
        self.map.lock().ok().map(|mut m| f(&mut m))
    }
    fn len(&self) -> usize {
        self.with(|m| m.len()).unwrap_or(0)
    }
}

pub struct CachedStore {
    inner: Arc<dyn Store>,
    config: CacheConfig,
    tokens: Bounded<TokenHash, AccessTokenRecord>,
    apps: Bounded<String, App>,
    secrets: Bounded<String, Vec<ClientSecret>>,
    accounts: Bounded<String, (Account, Instant)>,
    /// Bumped by every invalidation; a fill that started under another epoch is dropped.
    epoch: AtomicU64,
    /// The revocation-log `seq` applied so far.
    applied: AtomicI64,
    /// When the log was last read successfully.
    synced_at: Mutex<Instant>,
    /// One reader of the log at a time.
    sync_lock: tokio::sync::Mutex<()>,
    /// The last local head read: when it started and what it said.
    head: Mutex<(Instant, i64)>,
}

enum Freshness {
    Fresh,
    Behind,
    Unknown,
}

impl CachedStore {
    /// Wrap `inner`; reads the log's head so that only later revocations are applied.
    pub async fn new(inner: Arc<dyn Store>, config: CacheConfig) -> StoreResult<Arc<Self>> {
        let (head, _) = inner.revocations_since(-1).await?;
        let capacity = config.capacity.max(1);
        Ok(Arc::new(Self {
            inner,
            config,
            tokens: Bounded::new(capacity),
            apps: Bounded::new(capacity),
            secrets: Bounded::new(capacity),
            accounts: Bounded::new(capacity),
            epoch: AtomicU64::new(0),
            applied: AtomicI64::new(head),
            synced_at: Mutex::new(Instant::now()),
            sync_lock: tokio::sync::Mutex::new(()),
            head: Mutex::new((Instant::now(), head)),
        }))
    }

    /// Keep the cache in step with the revocation log until the process ends: poll, and read at
    /// once when the database pushes a signal. Spawn this once per cache.
    pub async fn follow_revocations(self: Arc<Self>) {
        let mut signals = self.subscribe().await;
        let mut ticker = tokio::time::interval(self.config.poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resubscribe = Instant::now() + Duration::from_secs(5);
        loop {
            match signals.as_mut() {
                Some(rx) => tokio::select! {
                    _ = ticker.tick() => {}
                    signal = rx.recv() => if signal.is_none() {
                        tracing::warn!("revocation signals stopped; polling only");
                        signals = None;
                    },
                },
                None => {
                    ticker.tick().await;
                    if Instant::now() >= resubscribe {
                        signals = self.subscribe().await;
                        resubscribe = Instant::now() + Duration::from_secs(5);
                    }
                }
            }
            if let Err(e) = self.sync().await {
                tracing::warn!(error = %e, "reading the revocation log failed");
            }
        }
    }

    async fn subscribe(&self) -> Option<tokio::sync::mpsc::Receiver<()>> {
        match self.inner.revocation_signals().await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!(error = %e, "could not subscribe to revocation signals");
                None
            }
        }
    }

    /// Read the revocation log from where we are and apply it.
    pub async fn sync(&self) -> StoreResult<()> {
        let _one = self.sync_lock.lock().await;
        loop {
            let from = self.applied.load(Ordering::Acquire);
            let (last, revocations) = self.inner.revocations_since(from).await?;
            for r in &revocations {
                self.invalidate(r);
            }
            self.applied.store(last, Ordering::Release);
            if last == from || revocations.len() < 1000 {
                break;
            }
        }
        if let Ok(mut at) = self.synced_at.lock() {
            *at = Instant::now();
        }
        Ok(())
    }

    /// Drop every entry a revocation reaches.
    pub fn invalidate(&self, what: &Revocation) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match what {
            Revocation::Token(h) => {
                self.tokens.with(|m| m.remove(h));
            }
            Revocation::Family(id) => self.drop_tokens(|t| t.family_id.as_ref() == Some(id)),
            Revocation::Grant(id) => self.drop_tokens(|t| t.grant_id.as_ref() == Some(id)),
            Revocation::PrivateApp(id) => {
                self.drop_tokens(|t| t.private_app_id.as_ref() == Some(id))
            }
            Revocation::Client(id) => {
                self.drop_tokens(|t| t.client_id.as_ref() == Some(id));
                self.apps.with(|m| m.remove(id));
                self.secrets.with(|m| m.remove(id));
            }
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn drop_tokens(&self, reached: impl Fn(&AccessTokenRecord) -> bool) {
        self.tokens.with(|m| m.retain(|_, t| !reached(t)));
    }

    /// Entries held now, for tests and metrics: (tokens, apps, secrets, accounts).
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.tokens.len(),
            self.apps.len(),
            self.secrets.len(),
            self.accounts.len(),
        )
    }

    /// The log's head as of a read that started no earlier than `arrived`, when the backend can
    /// read it locally. Hits that queue behind a read which started after they arrived reuse it.
    fn local_head(&self, arrived: Instant) -> Option<StoreResult<i64>> {
        let Ok(mut last) = self.head.lock() else {
            return self.inner.revocations_head_local();
        };
        if last.0 >= arrived {
            return Some(Ok(last.1));
        }
        let started = Instant::now();
        let head = self.inner.revocations_head_local()?;
        if let Ok(h) = &head {
            *last = (started, *h);
        }
        Some(head)
    }

    fn freshness(&self) -> Freshness {
        let local = if self.config.local_head {
            self.local_head(arrival())
        } else {
            None
        };
        match local {
            Some(Ok(head)) if head <= self.applied.load(Ordering::Acquire) => Freshness::Fresh,
            Some(Ok(_)) => Freshness::Behind,
            Some(Err(_)) => Freshness::Unknown,
            None => {
                let recent = self
                    .synced_at
                    .lock()
                    .map(|at| at.elapsed() <= self.config.max_stale)
                    .unwrap_or(false);
                if recent {
                    Freshness::Fresh
                } else {
                    Freshness::Unknown
                }
            }
        }
    }

    /// A cached value if one is held and the cache is current: every revocation committed before
    /// the request arrived is applied (where the backend can tell; else within `max_stale`).
    async fn hit<K: Eq + Hash, V: Clone>(&self, map: &Bounded<K, V>, key: &K) -> Option<V> {
        let cached = map.get(key)?;
        match self.freshness() {
            Freshness::Fresh => Some(cached),
            Freshness::Behind => {
                self.sync().await.ok()?;
                map.get(key)
            }
            Freshness::Unknown => None,
        }
    }

    /// Look `key` up in the store and keep a positive answer, unless an invalidation ran meanwhile.
    async fn fill<K, V, T>(
        &self,
        map: &Bounded<K, V>,
        key: K,
        load: impl std::future::Future<Output = StoreResult<Option<T>>>,
        keep: impl FnOnce(&T) -> V,
    ) -> StoreResult<Option<T>>
    where
        K: Eq + Hash,
        V: Clone,
    {
        let epoch = self.epoch.load(Ordering::Acquire);
        let found = load.await?;
        if let Some(value) = &found {
            let entry = keep(value);
            map.with(|m| {
                if self.epoch.load(Ordering::Acquire) == epoch {
                    if m.len() >= map.capacity {
                        m.clear();
                    }
                    m.insert(key, entry);
                }
            });
        }
        Ok(found)
    }
}

#[async_trait]
impl Store for CachedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        self.inner.create_user(user).await
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.user_by_email(email).await
    }
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.inner.user_by_id(id).await
    }
    async fn create_account(&self, account: &Account, owner_id: &str) -> StoreResult<()> {
        self.inner.create_account(account, owner_id).await
    }
    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let key = id.to_string();
        if let Some((account, at)) = self.accounts.get(&key) {
            if at.elapsed() <= self.config.account_ttl {
                return Ok(Some(account));
            }
        }
        let now = Instant::now();
        self.fill(&self.accounts, key, self.inner.account(id), |a| {
            (a.clone(), now)
        })
        .await
    }
    async fn add_member(
        &self,
        account_id: &str,
        user_id: &str,
        role: Role,
        now: UnixTime,
    ) -> StoreResult<()> {
        self.inner.add_member(account_id, user_id, role, now).await
    }
    async fn memberships_of(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        self.inner.memberships_of(user_id).await
    }

    async fn create_app(&self, app: &App, secret: Option<&ClientSecret>) -> StoreResult<()> {
        self.inner.create_app(app, secret).await
    }
    async fn app(&self, client_id: &str) -> StoreResult<Option<App>> {
        let key = client_id.to_string();
        if let Some(app) = self.hit(&self.apps, &key).await {
            return Ok(Some(app));
        }
        self.fill(&self.apps, key, self.inner.app(client_id), App::clone)
            .await
    }
    async fn list_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<App>> {
        self.inner.list_apps(account_id).await
    }
    async fn delete_app(&self, client_id: &str, now: UnixTime) -> StoreResult<()> {
        let result = self.inner.delete_app(client_id, now).await;
        self.invalidate(&Revocation::Client(client_id.to_string()));
        result
    }
    async fn client_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>> {
        let key = client_id.to_string();
        if let Some(secrets) = self.hit(&self.secrets, &key).await {
            return Ok(secrets);
        }
        // An app without secrets is not worth remembering: it cannot authenticate anyway.
        let load = async {
            let found = self.inner.client_secrets(client_id).await?;
            Ok((!found.is_empty()).then_some(found))
        };
        Ok(self
            .fill(&self.secrets, key, load, Vec::clone)
            .await?
            .unwrap_or_default())
    }
    async fn rotate_client_secret(
        &self,
        new: &ClientSecret,
        old_until: UnixTime,
    ) -> StoreResult<()> {
        let result = self.inner.rotate_client_secret(new, old_until).await;
        self.invalidate(&Revocation::Client(new.client_id.clone()));
        result
    }

    async fn create_private_app(
        &self,
        app: &PrivateApp,
        token: &AccessTokenRecord,
    ) -> StoreResult<()> {
        self.inner.create_private_app(app, token).await
    }
    async fn private_app(&self, id: &str) -> StoreResult<Option<PrivateApp>> {
        self.inner.private_app(id).await
    }
    async fn list_private_apps(&self, account_id: Option<&str>) -> StoreResult<Vec<PrivateApp>> {
        self.inner.list_private_apps(account_id).await
    }
    async fn rotate_private_app(
        &self,
        id: &str,
        token: &AccessTokenRecord,
        now: UnixTime,
    ) -> StoreResult<()> {
        let result = self.inner.rotate_private_app(id, token, now).await;
        self.invalidate(&Revocation::PrivateApp(id.to_string()));
        result
    }
    async fn revoke_private_app(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        let result = self.inner.revoke_private_app(id, now).await;
        self.invalidate(&Revocation::PrivateApp(id.to_string()));
        result
    }

    async fn insert_access_token(&self, token: &AccessTokenRecord) -> StoreResult<()> {
        self.inner.insert_access_token(token).await
    }
    async fn access_token(&self, hash: &TokenHash) -> StoreResult<Option<AccessTokenRecord>> {
        if let Some(record) = self.hit(&self.tokens, hash).await {
            return Ok(Some(record));
        }
        self.fill(
            &self.tokens,
            *hash,
            self.inner.access_token(hash),
            AccessTokenRecord::clone,
        )
        .await
    }
    async fn revoke_access_token(&self, hash: &TokenHash, now: UnixTime) -> StoreResult<bool> {
        let result = self.inner.revoke_access_token(hash, now).await;
        self.invalidate(&Revocation::Token(*hash));
        result
    }
    async fn list_access_tokens(
        &self,
        filter: &TokenFilter,
        now: UnixTime,
    ) -> StoreResult<Vec<AccessTokenRecord>> {
        self.inner.list_access_tokens(filter, now).await
    }
    async fn purge_expired(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        self.inner.purge_expired(before, limit).await
    }

    async fn revocations_since(&self, seq: i64) -> StoreResult<(i64, Vec<Revocation>)> {
        self.inner.revocations_since(seq).await
    }
    async fn server_key(
        &self,
        name: &str,
        make: &(dyn Fn() -> String + Sync),
        now: UnixTime,
    ) -> StoreResult<String> {
        self.inner.server_key(name, make, now).await
    }

    // Dynamic client registration: nothing here is cached.
    async fn create_registration_token(&self, token: &RegistrationToken) -> StoreResult<()> {
        self.inner.create_registration_token(token).await
    }
    async fn registration_token(&self, hash: &TokenHash) -> StoreResult<Option<RegistrationToken>> {
        self.inner.registration_token(hash).await
    }
    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>> {
        self.inner.list_registration_tokens().await
    }
    async fn revoke_registration_token(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        self.inner.revoke_registration_token(id, now).await
    }
    async fn register_app(
        &self,
        app: &App,
        secret: Option<&ClientSecret>,
        token_id: Option<&str>,
    ) -> StoreResult<()> {
        self.inner.register_app(app, secret, token_id).await
    }

    // The authorization-code flow: only its revocations touch cached bearer tokens.
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.inner.create_session(session).await
    }
    async fn session(&self, hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.inner.session(hash).await
    }
    async fn delete_session(&self, hash: &TokenHash) -> StoreResult<()> {
        self.inner.delete_session(hash).await
    }
    async fn login_throttle(&self, email: &str) -> StoreResult<Option<LoginThrottle>> {
        self.inner.login_throttle(email).await
    }
    async fn set_login_throttle(
        &self,
        email: &str,
        state: Option<&LoginThrottle>,
    ) -> StoreResult<()> {
        self.inner.set_login_throttle(email, state).await
    }
    async fn live_grant(&self, account_id: &str, client_id: &str) -> StoreResult<Option<Grant>> {
        self.inner.live_grant(account_id, client_id).await
    }
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        self.inner.grant(id).await
    }
    async fn list_grants(
        &self,
        account_id: Option<&str>,
        include_revoked: bool,
    ) -> StoreResult<Vec<Grant>> {
        self.inner.list_grants(account_id, include_revoked).await
    }
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        self.inner.save_grant(grant).await
    }
    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        let result = self.inner.revoke_grant(id, now).await;
        self.invalidate(&Revocation::Grant(id.to_string()));
        result
    }
    async fn create_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        self.inner.create_code(code).await
    }
    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCode>> {
        self.inner.code(hash).await
    }
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let redeemed = self.inner.redeem_code(hash, tokens, now).await?;
        if !redeemed {
            // A replay: the store revoked the code's family, which only the log names.
            self.sync().await?;
        }
        Ok(redeemed)
    }
    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
        self.inner.refresh_token(hash).await
    }
    async fn current_refresh_token(
        &self,
        grant_id: &str,
        family_id: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        self.inner.current_refresh_token(grant_id, family_id).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        tokens: &IssuedTokens,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.inner.rotate_refresh_token(old, tokens, now).await
    }
    async fn revoke_family(
        &self,
        grant_id: &str,
        family_id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let result = self.inner.revoke_family(grant_id, family_id, now).await;
        self.invalidate(&Revocation::Family(family_id.to_string()));
        result
    }
    async fn purge_expired_authorization(&self, before: UnixTime, limit: u32) -> StoreResult<u64> {
        self.inner.purge_expired_authorization(before, limit).await
    }

    fn revocations_head_local(&self) -> Option<StoreResult<i64>> {
        self.inner.revocations_head_local()
    }
    async fn revocation_signals(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<()>>> {
        self.inner.revocation_signals().await
    }
}

#[cfg(all(test, feature = "test-suite"))]
#[path = "cache_tests.rs"]
mod tests;
