//! OKX's request budgets (`okx-coinbase-api.md` A7): private REST is limited per user id and
//! endpoint (balance 10 per 2 s, config 5 per 2 s, ...), the public time endpoint per IP (10 per
//! 2 s). OKX sends no rate-limit headers, so our own limiters are the only guard: one GCRA
//! limiter per endpoint, keyed by user id.
//!
//! A GCRA with replenish period p and burst b admits at most b + T/p (+1 at the window's edge)
//! requests into any window T. For a venue limit of N per 2 s we replenish N/2 per 2 s with a
//! burst of N - 2 - N/2 (at least 1): at most N - 1 leave in any 2 s, so a request delayed on its
//! way while the next leaves on time still does not make OKX count N + 1 (`50011`), however
//! many calls (checks, books, pages) share the user id.
//!
//! The key is the account's `uid` once `account/config` told it (sub-accounts have their own),
//! the API key before: two keys of one user then share the user's budget as soon as both are
//! known. A call waits for a slot until its deadline, then fails `RATE_LIMITED` without sending.
//! Keys are never logged or put in a message.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::connector::{FailureReason, UpstreamError};

/// Above this many keys, stale limiter entries are dropped.
const KEYS_SOFT_CAP: usize = 4096;

/// The window OKX counts its limits in.
const WINDOW: Duration = Duration::from_secs(2);

/// Our quota for a venue limit of `per_window` requests per 2 s (see the module doc).
pub fn quota(per_window: u32) -> Quota {
    let share = (per_window / 2).max(1);
    let burst = per_window.saturating_sub(2).saturating_sub(share).max(1);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let period = WINDOW / share;
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

type Key = Arc<str>;
type Keyed =
    RateLimiter<Key, DefaultKeyedStateStore<Key, foldhash::fast::RandomState>, DefaultClock>;

/// One endpoint's limiter.
pub struct Limiter {
    name: &'static str,
    per_window: u32,
    keyed: Keyed,
}

impl Limiter {
    pub fn new(name: &'static str, per_window: u32) -> Self {
        Self {
            name,
            per_window,
            keyed: RateLimiter::dashmap_with_hasher(quota(per_window), Default::default()),
        }
    }

    /// One request's slot for user `key`, waited for until `deadline` at most.
    pub async fn take(&self, key: &str, deadline: Instant) -> Result<(), UpstreamError> {
        let key: Key = key.into();
        if self.keyed.len() > KEYS_SOFT_CAP {
            self.keyed.retain_recent();
        }
        if self.keyed.check_key(&key).is_ok() {
            return Ok(());
        }
        tokio::time::timeout_at(deadline, self.keyed.until_key_ready(&key))
            .await
            .map_err(|_| self.exhausted())
    }

    /// A slot for user `key` if one is free now; never waits.
    pub fn try_take(&self, key: &str) -> bool {
        let key: Key = key.into();
        self.keyed.check_key(&key).is_ok()
    }

    fn exhausted(&self) -> UpstreamError {
        UpstreamError::new(
            FailureReason::RateLimited,
            format!(
                "okx {}: the local request budget (under OKX's {} per 2 s per user id) had no \
                 slot before the deadline",
                self.name, self.per_window
            ),
            None,
        )
    }
}

/// The public time endpoint's limiter: 10 per 2 s per IP, one for the whole daemon.
pub struct PublicLimiter {
    direct: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
}

impl PublicLimiter {
    pub fn new() -> Self {
        Self {
            direct: RateLimiter::direct(quota(10)),
        }
    }

    pub async fn take(&self, deadline: Instant) -> Result<(), UpstreamError> {
        if self.direct.check().is_ok() {
            return Ok(());
        }
        tokio::time::timeout_at(deadline, self.direct.until_ready())
            .await
            .map_err(|_| {
                UpstreamError::new(
                    FailureReason::RateLimited,
                    "okx public time: the local budget (under OKX's 10 per 2 s per IP) had no \
                     slot before the deadline",
                    None,
                )
            })
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("name", &self.name)
            .field("keys", &self.keyed.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PublicLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicLimiter").finish_non_exhaustive()
    }
}
