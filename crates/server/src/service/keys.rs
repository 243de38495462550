//! Server keys (made on first use, kept in the database, shared by every node), cached per store
//! for the life of the process: they never change once made.

use crate::state::AppState;
use crate::ServiceResult;
use mailgrant_core::{token, TokenKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

type Cache = Mutex<HashMap<(usize, &'static str), Arc<[u8]>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The key named `name` for this state's store.
pub async fn get(state: &AppState, name: &'static str) -> ServiceResult<Arc<[u8]>> {
    let slot = (Arc::as_ptr(state.store()) as *const () as usize, name);
    if let Some(k) = cache().lock().ok().and_then(|c| c.get(&slot).cloned()) {
        return Ok(k);
    }
    let make = || {
        token::generate(TokenKind::ClientSecret)
            .expose()
            .to_string()
    };
    let value: Arc<[u8]> = state
        .store()
        .server_key(name, &make, state.now())
        .await?
        .into_bytes()
        .into();
    if let Ok(mut c) = cache().lock() {
        c.insert(slot, value.clone());
    }
    Ok(value)
}
