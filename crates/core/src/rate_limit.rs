//! Rate limits: the token-bucket arithmetic, with time passed in (milliseconds on any monotonic
//! clock). A limit of `N/period` lets a burst of N through and refills at N per period.
//! Where buckets live and what they are keyed by is the server's business.

/// `burst` requests per `period_ms`, refilled continuously.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub period_ms: u64,
}

/// What a bucket holds between requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// The answer for one request; the numbers feed `RateLimit-*` and `Retry-After` (whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        remaining: u32,
        reset_secs: u64,
    },
    Limited {
        limit: u32,
        window_secs: u64,
        retry_after_secs: u64,
        reset_secs: u64,
    },
}

impl RateLimit {
    /// `600/m`, `50/s`, `10000/h`, `100/10s`; `off` (or `0`) for no limit.
    pub fn parse(spec: &str) -> Result<Option<Self>, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("off") || spec == "0" {
            return Ok(None);
        }
        let bad = || format!("`{spec}` is not a rate such as 600/m, 50/s, 10000/h or off");
        let (count, per) = spec.split_once('/').ok_or_else(bad)?;
        let burst: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let unit_at = per.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = per.split_at(unit_at);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| bad())?
        };
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        if burst == 0 || n == 0 {
            return Ok(None);
        }
        Ok(Some(Self {
            burst,
            period_ms: n * unit_ms,
        }))
    }

    /// This node's share when `nodes` nodes enforce one limit each on their own counters.
    pub fn per_node(self, nodes: u32) -> Self {
        let nodes = nodes.max(1);
        Self {
            burst: self.burst.div_ceil(nodes),
            period_ms: self.period_ms,
        }
    }

    fn per_ms(&self) -> f64 {
        f64::from(self.burst) / self.period_ms as f64
    }

    pub fn full_bucket(&self, now_ms: u64) -> Bucket {
        Bucket {
            tokens: f64::from(self.burst),
            at_ms: now_ms,
        }
    }

    /// Whether `bucket` is back to full at `now_ms` (so it may be forgotten).
    pub fn is_full(&self, bucket: &Bucket, now_ms: u64) -> bool {
        self.refilled(bucket, now_ms) >= f64::from(self.burst)
    }

    fn refilled(&self, bucket: &Bucket, now_ms: u64) -> f64 {
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64;
        (bucket.tokens + elapsed * self.per_ms()).min(f64::from(self.burst))
    }

    fn secs_until(&self, tokens: f64, wanted: f64) -> u64 {
        let ms = ((wanted - tokens).max(0.0) / self.per_ms()).ceil();
        ((ms / 1000.0).ceil() as u64).max(1)
    }

    /// Take one request out of `bucket` at `now_ms`, or say how long to wait.
    pub fn check(&self, bucket: &mut Bucket, now_ms: u64) -> Decision {
        let tokens = self.refilled(bucket, now_ms);
        bucket.at_ms = now_ms.max(bucket.at_ms);
        let burst = f64::from(self.burst);
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Decision::Allowed {
                remaining: bucket.tokens.floor() as u32,
                reset_secs: self.secs_until(bucket.tokens, burst),
            }
        } else {
            bucket.tokens = tokens;
            Decision::Limited {
                limit: self.burst,
                window_secs: self.period_ms.div_ceil(1000),
                retry_after_secs: self.secs_until(tokens, 1.0),
                reset_secs: self.secs_until(tokens, burst),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_are_refused() {
        assert_eq!(
            RateLimit::parse("600/m").unwrap(),
            Some(RateLimit {
                burst: 600,
                period_ms: 60_000
            })
        );
        assert_eq!(
            RateLimit::parse("100/10s").unwrap().unwrap().period_ms,
            10_000
        );
        assert_eq!(
            RateLimit::parse("5/h").unwrap().unwrap().period_ms,
            3_600_000
        );
        assert_eq!(RateLimit::parse("off").unwrap(), None);
        assert_eq!(RateLimit::parse("0").unwrap(), None);
        for bad in ["", "600", "x/m", "600/d", "600/", "-1/s", "1/0x"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_passes_then_the_bucket_refills_at_the_rate() {
        let limit = RateLimit::parse("3/s").unwrap().unwrap();
        let mut b = limit.full_bucket(0);
        for left in [2, 1, 0] {
            assert!(
                matches!(limit.check(&mut b, 0), Decision::Allowed { remaining, .. } if remaining == left)
            );
        }
        assert_eq!(
            limit.check(&mut b, 0),
            Decision::Limited {
                limit: 3,
                window_secs: 1,
                retry_after_secs: 1,
                reset_secs: 1
            }
        );
        // One token comes back every 333 ms.
        assert!(matches!(limit.check(&mut b, 300), Decision::Limited { .. }));
        assert!(matches!(
            limit.check(&mut b, 340),
            Decision::Allowed { remaining: 0, .. }
        ));
        assert!(matches!(limit.check(&mut b, 345), Decision::Limited { .. }));
        assert!(!limit.is_full(&b, 1000));
        assert!(limit.is_full(&b, 1400));
    }

    #[test]
    fn retry_after_and_reset_are_whole_seconds_of_the_real_wait() {
        let limit = RateLimit::parse("2/m").unwrap().unwrap();
        let mut b = limit.full_bucket(0);
        limit.check(&mut b, 0);
        limit.check(&mut b, 0);
        // One request every 30 s; empty at t=10 s: 20 s until the next, 50 s until full.
        assert_eq!(
            limit.check(&mut b, 10_000),
            Decision::Limited {
                limit: 2,
                window_secs: 60,
                retry_after_secs: 20,
                reset_secs: 50
            }
        );
    }

    #[test]
    fn the_clock_going_backwards_never_adds_tokens() {
        let limit = RateLimit::parse("1/s").unwrap().unwrap();
        let mut b = limit.full_bucket(5_000);
        assert!(matches!(
            limit.check(&mut b, 5_000),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            limit.check(&mut b, 1_000),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn a_per_node_share_rounds_up() {
        let limit = RateLimit::parse("100/m").unwrap().unwrap();
        assert_eq!(limit.per_node(3).burst, 34);
        assert_eq!(limit.per_node(0).burst, 100);
        assert_eq!(limit.per_node(3).period_ms, 60_000);
    }
}
