//! What every request can reach: the store, the clock, the settings.

use crate::config::ServerConfig;
use crate::limits::Limiter;
use mailgrant_core::{Clock, SystemClock, UnixTime};
use mailgrant_store::DynStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    pub config: ServerConfig,
    pub limits: Limits,
}

/// This node's rate-limit counters.
pub struct Limits {
    /// Per client at the token endpoint.
    pub token: Limiter,
    /// Per account at the resource API.
    pub api: Limiter,
}

impl AppState {
    pub fn new(store: DynStore, config: ServerConfig) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    pub fn with_clock(store: DynStore, config: ServerConfig, clock: Arc<dyn Clock>) -> Self {
        let r = config.rate_limits;
        let limits = Limits {
            token: Limiter::new(r.token, r.nodes),
            api: Limiter::new(r.api, r.nodes),
        };
        Self(Arc::new(Inner {
            store,
            clock,
            config,
            limits,
        }))
    }

    pub fn store(&self) -> &DynStore {
        &self.0.store
    }
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }
    pub fn now(&self) -> UnixTime {
        self.0.clock.now()
    }
}
