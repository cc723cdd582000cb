//! A request budget per upstream key (an API key, a venue's user): our own GCRA limiter keyed by
//! it, and the pauses the venue itself asked for. A venue's budget module decides what the key
//! is, the quota, when an answer pauses a key and what a refusal says; this holds the state.
//!
//! Both maps hold one entry per key of the accounts in use; stale entries are dropped past the
//! soft cap, so keys that come and go cannot grow them without limit. Keys are never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

type Key = Arc<str>;
/// Keyed by values from our own accounts table, so a fast hash is safe.
type Limiter =
    RateLimiter<Key, DefaultKeyedStateStore<Key, foldhash::fast::RandomState>, DefaultClock>;

pub struct KeyedBudget {
    limiter: Limiter,
    /// Key -> until when the venue asked us to stop.
    pauses: Mutex<HashMap<Key, SystemTime, foldhash::fast::RandomState>>,
    soft_cap: usize,
}

/// No slot came free before the caller's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSlot;

impl std::fmt::Debug for KeyedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedBudget")
            .field("keys", &self.limiter.len())
            .finish_non_exhaustive()
    }
}

impl KeyedBudget {
    pub fn new(quota: Quota, soft_cap: usize) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_hasher(quota, Default::default()),
            pauses: Mutex::new(HashMap::default()),
            soft_cap,
        }
    }

    fn pauses(&self) -> MutexGuard<'_, HashMap<Key, SystemTime, foldhash::fast::RandomState>> {
        // Nothing panics while holding it; a poisoned map is still a valid map.
        self.pauses.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Until when the venue paused `key`, if that is still ahead of `now`.
    pub fn paused_until(&self, key: &str, now: SystemTime) -> Option<SystemTime> {
        self.pauses().get(key).copied().filter(|until| *until > now)
    }

    /// Pauses `key` until `until` (a later pause already in force wins).
    pub fn pause(&self, key: &str, until: SystemTime, now: SystemTime) {
        let mut pauses = self.pauses();
        if pauses.len() > self.soft_cap {
            pauses.retain(|_, t| *t > now);
        }
        let slot = pauses.entry(key.into()).or_insert(until);
        *slot = (*slot).max(until);
    }

    /// One request's slot for `key`, waited for until `deadline` at most (pauses are the
    /// caller's to check first: it knows what to say about them).
    pub async fn slot(&self, key: &str, deadline: Instant) -> Result<(), NoSlot> {
        let key: Key = key.into();
        if self.limiter.len() > self.soft_cap {
            self.limiter.retain_recent();
        }
        // Almost always a slot is free: take it without arming a timer.
        if self.limiter.check_key(&key).is_ok() {
            return Ok(());
        }
        tokio::time::timeout_at(deadline, self.limiter.until_key_ready(&key))
            .await
            .map_err(|_| NoSlot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use std::time::Duration;

    #[tokio::test]
    async fn each_key_has_its_own_slots_and_pauses() {
        let b = KeyedBudget::new(Quota::per_minute(NonZeroU32::MIN), 4);
        let now = Instant::now();
        assert_eq!(b.slot("a", now).await, Ok(()));
        assert_eq!(b.slot("a", now).await, Err(NoSlot));
        assert_eq!(b.slot("b", now).await, Ok(()));

        let t = SystemTime::now();
        b.pause("a", t + Duration::from_secs(5), t);
        b.pause("a", t + Duration::from_secs(2), t);
        assert_eq!(b.paused_until("a", t), Some(t + Duration::from_secs(5)));
        assert_eq!(b.paused_until("a", t + Duration::from_secs(6)), None);
        assert_eq!(b.paused_until("b", t), None);
    }

    #[test]
    fn ended_pauses_are_dropped_past_the_soft_cap() {
        let b = KeyedBudget::new(Quota::per_minute(NonZeroU32::MIN), 4);
        let t = SystemTime::now();
        for i in 0..100 {
            b.pause(&format!("k{i}"), t + Duration::from_secs(1), t);
        }
        // Each insertion after the cap first drops what ended (nothing yet): the map grows...
        assert_eq!(b.pauses().len(), 100);
        // ...until the pauses are over, when the next insertion sweeps them.
        b.pause(
            "late",
            t + Duration::from_secs(10),
            t + Duration::from_secs(2),
        );
        assert_eq!(b.pauses().len(), 1);
    }
}
