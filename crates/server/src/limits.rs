//! Rate-limit counters of this node: one token bucket per key (a client at the token endpoint, an
//! account at the API). The arithmetic is `mailgrant_core::rate_limit`; this holds the buckets.
//! Counters are per node: run N nodes with `--rate-limit-nodes N` and each enforces 1/N.

use crate::{ServiceError, ServiceResult};
use mailgrant_core::rate_limit::{Bucket, Decision, RateLimit};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Beyond this many keys, buckets that have refilled completely are forgotten.
const PRUNE_AT: usize = 100_000;

/// Both limits of a server, as configured (before the per-node split).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Per client at the token endpoint.
    pub token: Option<RateLimit>,
    /// Per account at the resource API.
    pub api: Option<RateLimit>,
    /// Nodes sharing the limits; each node enforces its share.
    pub nodes: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            token: Some(RateLimit {
                burst: 1200,
                period_ms: 60_000,
            }),
            api: Some(RateLimit {
                burst: 6000,
                period_ms: 60_000,
            }),
            nodes: 1,
        }
    }
}

/// A 429: the numbers for `Retry-After` and the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub limit: u32,
    pub window_secs: u64,
    pub retry_after_secs: u64,
    pub reset_secs: u64,
}

pub struct Limiter {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<String, Bucket>>,
    epoch: Instant,
}

impl Limiter {
    pub fn new(limit: Option<RateLimit>, nodes: u32) -> Self {
        Self {
            limit: limit.map(|l| l.per_node(nodes)),
            buckets: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }

    /// Count one request for `key`; `RateLimited` when its bucket is empty.
    pub fn check(&self, key: &str) -> ServiceResult<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let now = self.epoch.elapsed().as_millis() as u64;
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(key) {
            buckets.retain(|_, b| !limit.is_full(b, now));
        }
        let decision = match buckets.get_mut(key) {
            Some(bucket) => limit.check(bucket, now),
            None => {
                let mut bucket = limit.full_bucket(now);
                let decision = limit.check(&mut bucket, now);
                buckets.insert(key.to_string(), bucket);
                decision
            }
        };
        match decision {
            Decision::Allowed { .. } => Ok(()),
            Decision::Limited {
                limit,
                window_secs,
                retry_after_secs,
                reset_secs,
            } => Err(ServiceError::RateLimited(Limited {
                limit,
                window_secs,
                retry_after_secs,
                reset_secs,
            })),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_own_buckets_and_off_means_off() {
        let limiter = Limiter::new(RateLimit::parse("2/m").unwrap(), 1);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(matches!(
            limiter.check("a"),
            Err(ServiceError::RateLimited(Limited {
                limit: 2,
                window_secs: 60,
                ..
            }))
        ));
        assert!(limiter.check("b").is_ok());
        let off = Limiter::new(None, 1);
        for _ in 0..10_000 {
            assert!(off.check("a").is_ok());
        }
    }

    #[test]
    fn each_node_enforces_its_share() {
        let limiter = Limiter::new(RateLimit::parse("4/m").unwrap(), 2);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_err());
    }
}
