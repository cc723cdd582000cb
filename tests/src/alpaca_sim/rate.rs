//! Alpaca's per-account budget: a rolling window (60 s unless a test shortens it) of admitted
//! requests (reference §2.5: 200 per minute per account, `X-RateLimit-Limit/Remaining/Reset`,
//! Reset in epoch seconds, "when the remaining quota changes"; whether Alpaca's window rolls or is
//! fixed is not documented, a rolling one is the stricter), and the record of the most requests
//! an account sent in any 60 seconds, admitted or not, which is what a test asserts a client's
//! pacing with.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Alpaca's budget window, and always the window of the busiest-minute record.
pub(crate) const MINUTE: Duration = Duration::from_secs(60);

/// The request times kept for the busiest-minute record; a client sending more than this in a
/// minute is already far past any budget, and the count saturates here instead of growing.
const SEEN_CAP: usize = 10_000;

/// What the `X-RateLimit-*` headers of one answer say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Epoch seconds when the oldest admitted request leaves the window.
    pub(crate) reset: u64,
    pub(crate) admitted: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Admitted requests in the window; never longer than the limit.
    admitted: VecDeque<Instant>,
    /// Every request of the account in the last 60 s (up to [`SEEN_CAP`]).
    seen: VecDeque<Instant>,
    max_seen: u64,
}

fn trim(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

impl Budget {
    /// Records one request of the account (any outcome).
    pub(crate) fn note(&mut self, now: Instant) {
        trim(&mut self.seen, now, MINUTE);
        if self.seen.len() >= SEEN_CAP {
            self.seen.pop_front();
        }
        self.seen.push_back(now);
        self.max_seen = self.max_seen.max(self.seen.len() as u64);
    }

    /// The most requests seen in any 60 s window so far.
    pub(crate) fn max_per_minute(&self) -> u64 {
        self.max_seen
    }

    /// Admits one request against `limit` (> 0) per `window`; a rejected request does not use
    /// the budget.
    pub(crate) fn admit(&mut self, limit: u32, window: Duration, now: Instant) -> Quota {
        self.quota(limit, window, now, true)
    }

    /// The budget as it stands, spending nothing.
    pub(crate) fn peek(&mut self, limit: u32, window: Duration, now: Instant) -> Quota {
        self.quota(limit, window, now, false)
    }

    fn quota(&mut self, limit: u32, window: Duration, now: Instant, spend: bool) -> Quota {
        trim(&mut self.admitted, now, window);
        let limit_n = limit as usize;
        while self.admitted.len() > limit_n {
            // The limit was lowered at run time.
            self.admitted.pop_front();
        }
        let admitted = self.admitted.len() < limit_n;
        if admitted && spend {
            self.admitted.push_back(now);
        }
        let oldest = self.admitted.front().copied().unwrap_or(now);
        let left = oldest
            .checked_add(window)
            .map_or(window, |end| end.saturating_duration_since(now));
        let reset = SystemTime::now()
            .checked_add(left)
            .unwrap_or_else(SystemTime::now)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
            .unwrap_or(0);
        Quota {
            limit,
            remaining: u32::try_from(limit_n.saturating_sub(self.admitted.len())).unwrap_or(0),
            reset,
            admitted,
        }
    }

    /// Forgets admitted requests (a new limit starts with a full budget).
    pub(crate) fn clear_window(&mut self) {
        self.admitted.clear();
    }

    /// Forgets the request record.
    pub(crate) fn clear_record(&mut self) {
        self.seen.clear();
        self.max_seen = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_then_refuses_and_frees_after_a_minute() {
        let mut b = Budget::default();
        let t0 = Instant::now();
        let q: Vec<Quota> = (0..4).map(|_| b.admit(3, MINUTE, t0)).collect();
        assert_eq!(
            q.iter().map(|q| q.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert_eq!(
            q.iter().map(|q| q.admitted).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        let later = t0 + MINUTE;
        let q = b.admit(3, MINUTE, later);
        assert!(q.admitted);
        assert_eq!(q.remaining, 2);
    }

    #[test]
    fn the_record_is_the_busiest_minute() {
        let mut b = Budget::default();
        let t0 = Instant::now();
        for i in 0..5 {
            b.note(t0 + Duration::from_secs(i * 20));
        }
        // Windows of 60 s hold at most 3 of requests 20 s apart.
        assert_eq!(b.max_per_minute(), 3);
    }
}
