//! Alpaca's request budget: 200 requests per minute per account, that is per API key (live and
//! paper accounts have separate keys), for every endpoint together. Two parts:
//!
//! - our own GCRA limiter keyed by key id, 180 a minute with a burst of 10: a GCRA with rate r
//!   and burst b admits at most b + r requests into any window of one period, so 190 in any 60
//!   seconds, never the 200 that Alpaca refuses past, however many calls (checks, books, pages)
//!   share the key. A call waits for a slot until its deadline, then fails `RATE_LIMITED`
//!   without sending;
//! - Alpaca's own word: an answer with `X-RateLimit-Remaining: 0`, or a 429, pauses the key until
//!   `X-RateLimit-Reset` (epoch seconds) plus a second, at most [`MAX_PAUSE`] ahead (the window
//!   is a minute: a later reset is a wrong clock or a hostile server). Calls in the pause fail
//!   at once with `RATE_LIMITED` saying until when: waiting would only hold the caller past its
//!   deadline, and another request would only be refused.
//!
//! The state is a [`KeyedBudget`] keyed by key id. Key ids are never logged or put in a message.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::Quota;
use tokio::time::Instant;

use crate::connector::keyed_budget::KeyedBudget;
use crate::connector::{FailureReason, UpstreamError};

/// Our rate per key id, under Alpaca's 200 a minute.
pub const PER_MINUTE: NonZeroU32 = NonZeroU32::MIN.saturating_add(179);
/// Requests a key may send at once after being idle.
pub const BURST: NonZeroU32 = NonZeroU32::MIN.saturating_add(9);
/// The longest pause an answer's headers can impose.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);
/// Added to `X-RateLimit-Reset`, which has a one-second resolution (Alpaca's own advice).
const RESET_MARGIN: Duration = Duration::from_secs(1);
/// A 429 pauses at least this long, even with a reset already past.
const MIN_429_PAUSE: Duration = Duration::from_secs(1);
/// Above this many keys, stale entries are dropped.
const KEYS_SOFT_CAP: usize = 4096;

/// The response headers the budget reads (lowercase, as `Transport::send` keeps them).
pub const REMAINING: &str = "x-ratelimit-remaining";
pub const RESET: &str = "x-ratelimit-reset";

/// The limiter's quota (see the module doc).
pub fn quota() -> Quota {
    Quota::per_minute(PER_MINUTE).allow_burst(BURST)
}

#[derive(Debug)]
pub struct Budget(KeyedBudget);

impl Budget {
    pub fn new() -> Self {
        Self(KeyedBudget::new(quota(), KEYS_SOFT_CAP))
    }

    /// `RATE_LIMITED` when Alpaca paused `key_id` and the pause has not ended at `now`.
    pub fn check_pause(&self, key_id: &str, now: SystemTime) -> Result<(), UpstreamError> {
        match self.0.paused_until(key_id, now) {
            Some(until) => Err(UpstreamError::new(
                FailureReason::RateLimited,
                format!(
                    "alpaca: this key's request budget is used up (X-RateLimit-Remaining 0 or \
                     429); calls are not sent until {}",
                    humantime::format_rfc3339_seconds(until)
                ),
                None,
            )),
            None => Ok(()),
        }
    }

    /// One request's slot for `key_id`: refused at once in a pause, else waited for until
    /// `deadline` at most. Every request that leaves takes one, each page of a book included.
    pub async fn take(
        &self,
        key_id: &str,
        deadline: Instant,
        request_timeout: Duration,
    ) -> Result<(), UpstreamError> {
        self.check_pause(key_id, SystemTime::now())?;
        self.0.slot(key_id, deadline).await.map_err(|_| {
            UpstreamError::new(
                FailureReason::RateLimited,
                format!(
                    "alpaca: the local request budget ({PER_MINUTE}/min per key, under \
                     Alpaca's 200) had no slot within {}",
                    humantime::format_duration(request_timeout)
                ),
                None,
            )
        })
    }

    /// Reads an answer's status and rate-limit headers: pauses `key_id` when they say its
    /// budget is used up.
    pub fn observe(
        &self,
        key_id: &str,
        status: u16,
        remaining: Option<&str>,
        reset: Option<&str>,
        now: SystemTime,
    ) {
        if let Some(until) = pause_until(status, remaining, reset, now) {
            self.0.pause(key_id, until, now);
        }
    }
}

/// Until when an answer (`status`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`) received at
/// `now` pauses its key; `None` when it does not.
pub fn pause_until(
    status: u16,
    remaining: Option<&str>,
    reset: Option<&str>,
    now: SystemTime,
) -> Option<SystemTime> {
    let limited = status == 429;
    let used_up = remaining.is_some_and(|r| r.trim() == "0");
    if !limited && !used_up {
        return None;
    }
    let latest = now + MAX_PAUSE;
    let until = reset
        .and_then(|r| r.trim().parse::<u64>().ok())
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
        .and_then(|t| t.checked_add(RESET_MARGIN))
        // No usable reset: the window is a minute, so a minute is always enough.
        .map_or(latest, |t| t.min(latest));
    if limited {
        Some(until.max(now + MIN_429_PAUSE))
    } else {
        (until > now).then_some(until)
    }
}
