//! What every request can reach: the store, the clock, the settings.

use crate::config::ServerConfig;
use mailgrant_core::{Clock, SystemClock, UnixTime};
use mailgrant_store::DynStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    pub config: ServerConfig,
}

impl AppState {
    pub fn new(store: DynStore, config: ServerConfig) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    pub fn with_clock(store: DynStore, config: ServerConfig, clock: Arc<dyn Clock>) -> Self {
        Self(Arc::new(Inner {
            store,
            clock,
            config,
        }))
    }

    pub fn store(&self) -> &DynStore {
        &self.0.store
    }
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }
    pub fn now(&self) -> UnixTime {
        self.0.clock.now()
    }
}
