//! Login throttling: failed passwords slow the next answer and, after a few, lock the email out
//! for a while. Counted per email, whether or not a user has it, so the answer reveals nothing.

use crate::clock::UnixTime;
use crate::records::LoginThrottle;

/// Failures in a row that lock the email.
pub const MAX_FAILURES: i64 = 5;
/// How long a lock lasts.
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// A failure this long after the previous one starts the count again.
pub const FORGET_AFTER_SECONDS: i64 = 15 * 60;
/// The longest delay before answering a failure.
pub const MAX_DELAY_MS: u64 = 1600;

/// `Err(until)` while the email is locked.
pub fn check(state: Option<&LoginThrottle>, now: UnixTime) -> Result<(), UnixTime> {
    match state.and_then(|s| s.locked_until) {
        Some(until) if now < until => Err(until),
        _ => Ok(()),
    }
}

/// The state after one more failure, and how long to wait (ms) before answering it.
pub fn after_failure(state: Option<&LoginThrottle>, now: UnixTime) -> (LoginThrottle, u64) {
    let failures = match state {
        Some(s)
            if now - s.last_failure_at < FORGET_AFTER_SECONDS && check(Some(s), now).is_ok() =>
        {
            if s.locked_until.is_some() {
                1
            } else {
                s.failures + 1
            }
        }
        _ => 1,
    };
    let locked_until = (failures >= MAX_FAILURES).then_some(now + LOCKOUT_SECONDS);
    let delay = if failures <= 1 {
        0
    } else {
        (100u64 << (failures - 2).min(8)).min(MAX_DELAY_MS)
    };
    (
        LoginThrottle {
            failures,
            last_failure_at: now,
            locked_until,
        },
        delay,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_down_then_lock_then_expire() {
        let mut state = None;
        let mut delays = Vec::new();
        for i in 0..MAX_FAILURES {
            assert_eq!(check(state.as_ref(), 1000 + i), Ok(()));
            let (next, delay) = after_failure(state.as_ref(), 1000 + i);
            delays.push(delay);
            state = Some(next);
        }
        assert_eq!(delays, vec![0, 100, 200, 400, 800]);
        let until = 1000 + MAX_FAILURES - 1 + LOCKOUT_SECONDS;
        assert_eq!(check(state.as_ref(), 1010), Err(until));
        assert_eq!(check(state.as_ref(), until), Ok(()));
        // After the lock, the count starts again.
        let (next, delay) = after_failure(state.as_ref(), until + 1);
        assert_eq!((next.failures, delay, next.locked_until), (1, 0, None));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let (s, _) = after_failure(None, 0);
        let (s, _) = after_failure(Some(&s), 10);
        assert_eq!(s.failures, 2);
        let (s, _) = after_failure(Some(&s), 10 + FORGET_AFTER_SECONDS);
        assert_eq!(s.failures, 1);
    }
}
