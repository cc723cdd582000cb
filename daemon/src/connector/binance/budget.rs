//! Binance's request weight: `[upstream] binance_weight_per_minute` (6,000 on api.binance.com)
//! per egress IP, shared by every Binance account behind this daemon (reference §3.5: "the
//! limits on the API are based on the IPs, not the API keys"). So there is ONE [`Weight`] for
//! the whole venue, whatever the account or its host: live, testnet and demo keep separate
//! counters upstream, and sharing one budget among them only errs on the safe side.
//!
//! - Minute windows, as `X-MBX-USED-WEIGHT-1M` counts them: a request takes its weight from the
//!   current minute before it is sent, and waits for the next minute (within its deadline) when
//!   the minute is full; past the deadline it fails `RATE_LIMITED` without being sent.
//! - The venue's word wins: every answer's `X-MBX-USED-WEIGHT-1M` raises the minute's count when
//!   the venue counted more than we did (other programs on the same IP, a restart mid-minute).
//! - A 429 pauses EVERY Binance call until `Retry-After`; a 418 (IP ban) likewise, and while it
//!   lasts every call fails `IP_BANNED` at once, so every Binance account reports the ban, not
//!   only the one whose call drew it. Nothing is sent during a pause: another request would only
//!   lengthen the ban (bans scale from 2 minutes to 3 days).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::connector::{FailureReason, UpstreamError};

/// The response headers the budget reads (lowercase, as `Transport::send` keeps them).
pub const USED_WEIGHT: &str = "x-mbx-used-weight-1m";
pub const RETRY_AFTER: &str = "retry-after";

/// A 429 without a usable `Retry-After` pauses this long (the window is a minute).
const DEFAULT_429_PAUSE: Duration = Duration::from_secs(60);
/// A 418 without a usable `Retry-After` is a ban of Binance's shortest length.
const DEFAULT_BAN: Duration = Duration::from_secs(120);
/// The longest pause an answer can impose: Binance's longest ban. A larger `Retry-After` is a
/// broken or hostile server and is cut to this.
pub const MAX_PAUSE: Duration = Duration::from_secs(3 * 24 * 3600);

/// The weight of one health check (`GET /api/v3/account`).
pub const CHECK_WEIGHT: u32 = 20;
/// The share of the minute's weight health checks may plan on; the rest is for books and clock
/// syncs.
const CHECK_SHARE_PERCENT: u32 = 80;

/// Why calls are not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pause {
    /// 429: rate limited until then.
    Limited(SystemTime),
    /// 418: this IP is banned until then.
    Banned(SystemTime),
}

#[derive(Debug)]
struct State {
    /// Start of the current minute, in minutes since the epoch.
    minute: u64,
    /// Weight used in `minute`: ours, or the venue's count when it said more.
    used: u32,
    pause: Option<Pause>,
}

/// The venue-wide weight budget (see the module doc).
#[derive(Debug)]
pub struct Weight {
    per_minute: u32,
    state: Mutex<State>,
}

fn minute_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 60)
}

fn start_of_minute(minute: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(minute.saturating_mul(60))
}

impl Weight {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            state: Mutex::new(State {
                minute: 0,
                used: 0,
                pause: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned state is still a valid state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The health checks a minute that fit the budget: [`CHECK_SHARE_PERCENT`] of the weight,
    /// [`CHECK_WEIGHT`] each (6,000 → 240).
    pub fn checks_per_minute(&self) -> u32 {
        (u64::from(self.per_minute) * u64::from(CHECK_SHARE_PERCENT)
            / 100
            / u64::from(CHECK_WEIGHT))
        .try_into()
        .unwrap_or(u32::MAX)
        .max(1)
    }

    /// The error of a pause in force at `now`, if any.
    fn paused(state: &mut State, now: SystemTime) -> Option<UpstreamError> {
        match state.pause {
            Some(Pause::Banned(until)) if until > now => Some(UpstreamError::new(
                FailureReason::IpBanned,
                format!(
                    "binance: this IP is banned (HTTP 418, too much request weight); no Binance \
                     call is sent until {}",
                    humantime::format_rfc3339_seconds(until)
                ),
                Some(418),
            )),
            Some(Pause::Limited(until)) if until > now => Some(UpstreamError::new(
                FailureReason::RateLimited,
                format!(
                    "binance: the IP's request weight is used up (HTTP 429); no Binance call is \
                     sent until {}",
                    humantime::format_rfc3339_seconds(until)
                ),
                Some(429),
            )),
            Some(_) => {
                state.pause = None;
                None
            }
            None => None,
        }
    }

    /// Takes `weight` from the current minute at `now`: `Ok(None)` when taken, `Ok(Some(wait))`
    /// when the minute is full and the next starts in `wait`, `Err` in a pause.
    pub fn try_take(
        &self,
        weight: u32,
        now: SystemTime,
    ) -> Result<Option<Duration>, UpstreamError> {
        let mut state = self.state();
        if let Some(e) = Self::paused(&mut state, now) {
            return Err(e);
        }
        let minute = minute_of(now);
        if state.minute != minute {
            state.minute = minute;
            state.used = 0;
        }
        // A request heavier than a whole minute is still sent, alone, at a minute's start.
        if state.used == 0 || state.used.saturating_add(weight) <= self.per_minute {
            state.used = state.used.saturating_add(weight);
            return Ok(None);
        }
        let next = start_of_minute(minute.saturating_add(1));
        Ok(Some(
            next.duration_since(now).unwrap_or(Duration::ZERO) + Duration::from_millis(5),
        ))
    }

    /// [`Weight::try_take`], waiting for the next minute until `deadline` at most.
    pub async fn take(&self, weight: u32, deadline: Instant) -> Result<(), UpstreamError> {
        loop {
            let Some(wait) = self.try_take(weight, SystemTime::now())? else {
                return Ok(());
            };
            if Instant::now() + wait > deadline {
                return Err(UpstreamError::new(
                    FailureReason::RateLimited,
                    format!(
                        "binance: the shared request weight ({}/min, [upstream] \
                         binance_weight_per_minute) has no room for this call before its deadline",
                        self.per_minute
                    ),
                    None,
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Reads an answer received at `now`: its `X-MBX-USED-WEIGHT-1M` and, on 429 / 418, its
    /// `Retry-After` (seconds).
    pub fn observe(
        &self,
        status: u16,
        used_weight: Option<&str>,
        retry_after: Option<&str>,
        now: SystemTime,
    ) {
        let mut state = self.state();
        let minute = minute_of(now);
        if state.minute != minute {
            state.minute = minute;
            state.used = 0;
        }
        if let Some(used) = used_weight.and_then(|u| u.trim().parse::<u32>().ok()) {
            state.used = state.used.max(used);
        }
        let retry = retry_after
            .and_then(|r| r.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_PAUSE));
        let pause = match status {
            429 => Pause::Limited(
                now + retry
                    .unwrap_or(DEFAULT_429_PAUSE)
                    .max(Duration::from_secs(1)),
            ),
            418 => Pause::Banned(now + retry.unwrap_or(DEFAULT_BAN).max(Duration::from_secs(1))),
            _ => return,
        };
        // A ban outranks a 429 pause; of two pauses of one kind the later end wins.
        state.pause = Some(match (state.pause, pause) {
            (Some(Pause::Banned(a)), Pause::Banned(b)) => Pause::Banned(a.max(b)),
            (Some(Pause::Banned(a)), Pause::Limited(_)) if a > now => Pause::Banned(a),
            (Some(Pause::Limited(a)), Pause::Limited(b)) => Pause::Limited(a.max(b)),
            (_, p) => p,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_full_minute_waits_for_the_next_and_a_new_minute_starts_empty() {
        let w = Weight::new(100);
        let t = at(60_000 * 60 + 10);
        for _ in 0..5 {
            assert_eq!(w.try_take(20, t).unwrap(), None);
        }
        let wait = w.try_take(20, t).unwrap().expect("the minute is full");
        assert!(
            wait >= Duration::from_secs(50) && wait <= Duration::from_secs(51),
            "{wait:?}"
        );
        assert_eq!(w.try_take(20, t + Duration::from_secs(50)).unwrap(), None);
    }

    #[test]
    fn the_venues_count_wins_when_it_is_higher() {
        let w = Weight::new(100);
        let t = at(3_600);
        w.try_take(20, t).unwrap();
        w.observe(200, Some("95"), None, t);
        assert!(w.try_take(20, t).unwrap().is_some());
        // A lower count than ours changes nothing.
        let w = Weight::new(100);
        w.try_take(60, t).unwrap();
        w.observe(200, Some("1"), None, t);
        assert!(w.try_take(60, t).unwrap().is_some());
    }

    #[test]
    fn a_429_pauses_every_call_until_retry_after_and_a_418_reports_the_ban() {
        let w = Weight::new(6_000);
        let t = at(7_200);
        w.observe(429, Some("6001"), Some("7"), t);
        let e = w.try_take(1, t + Duration::from_secs(6)).unwrap_err();
        assert_eq!(e.reason, FailureReason::RateLimited);
        assert_eq!(w.try_take(1, t + Duration::from_secs(61)).unwrap(), None);

        w.observe(418, None, Some("120"), t + Duration::from_secs(61));
        let e = w.try_take(1, t + Duration::from_secs(100)).unwrap_err();
        assert_eq!(e.reason, FailureReason::IpBanned, "{e}");
        // A later 429 does not shorten or soften the ban.
        w.observe(429, None, Some("1"), t + Duration::from_secs(100));
        let e = w.try_take(1, t + Duration::from_secs(150)).unwrap_err();
        assert_eq!(e.reason, FailureReason::IpBanned);
        assert_eq!(w.try_take(1, t + Duration::from_secs(182)).unwrap(), None);
    }

    #[test]
    fn a_huge_retry_after_is_cut_to_the_longest_ban() {
        let w = Weight::new(6_000);
        let t = at(7_200);
        w.observe(418, None, Some("999999999999"), t);
        assert!(
            w.try_take(1, t + MAX_PAUSE - Duration::from_secs(1))
                .is_err()
        );
        assert!(
            w.try_take(1, t + MAX_PAUSE + Duration::from_secs(1))
                .is_ok()
        );
    }

    #[test]
    fn checks_per_minute_leaves_a_fifth_for_books() {
        assert_eq!(Weight::new(6_000).checks_per_minute(), 240);
        assert_eq!(Weight::new(120_000).checks_per_minute(), 4_800);
        assert_eq!(Weight::new(1).checks_per_minute(), 1);
    }
}
