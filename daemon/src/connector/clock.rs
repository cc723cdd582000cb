//! Venue clocks. A signed venue (Binance, OKX, Coinbase) refuses a request whose timestamp is
//! outside its window (Binance: more than 1 s ahead of its clock or older than `recvWindow`; OKX:
//! 30 s; a Coinbase JWT is valid for 2 minutes from `nbf`), so a host whose clock drifts would
//! see every account fail. Each venue module keeps one [`VenueClock`]: the offset of each venue
//! host's clock from ours, learned from the host's time endpoint (or a `Date`-like field of any
//! answer), and signs with `now + offset`. A `CLOCK_SKEW` answer drops the sample, so the next call
//! resyncs once before it is reported again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Above this many hosts, the map is cleared (hosts come from our own accounts table; this only
/// bounds a table full of one-off hosts).
const HOSTS_SOFT_CAP: usize = 4096;

/// Our wall clock, in milliseconds since the Unix epoch.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Venue clock minus ours, in ms.
    offset_ms: i64,
    at: Instant,
}

/// The offset of each venue host's clock from ours (see the module documentation).
#[derive(Debug, Default)]
pub struct VenueClock {
    samples: Mutex<HashMap<Arc<str>, Sample>>,
}

impl VenueClock {
    fn samples(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Sample>> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The venue host's time now, as far as we know it: our clock plus its last offset (ours
    /// alone before the first sample).
    pub fn now_ms(&self, host: &str) -> i64 {
        let offset = self.samples().get(host).map_or(0, |s| s.offset_ms);
        wall_ms().saturating_add(offset)
    }

    /// The last known offset of `host` (venue minus ours, ms), if it was sampled.
    pub fn offset_ms(&self, host: &str) -> Option<i64> {
        self.samples().get(host).map(|s| s.offset_ms)
    }

    /// Records a time answer: the host said `server_ms` between our `sent_ms` and
    /// `received_ms`; the offset is taken against the midpoint (half the round trip either way).
    pub fn observe(&self, host: &Arc<str>, server_ms: i64, sent_ms: i64, received_ms: i64) {
        let midpoint = sent_ms.saturating_add(received_ms.saturating_sub(sent_ms) / 2);
        let mut samples = self.samples();
        if samples.len() >= HOSTS_SOFT_CAP && !samples.contains_key(host) {
            samples.clear();
        }
        samples.insert(
            host.clone(),
            Sample {
                offset_ms: server_ms.saturating_sub(midpoint),
                at: Instant::now(),
            },
        );
    }

    /// Whether `host` was sampled within `max_age`.
    pub fn is_fresh(&self, host: &str, max_age: Duration) -> bool {
        self.samples()
            .get(host)
            .is_some_and(|s| s.at.elapsed() <= max_age)
    }

    /// Drops the sample of `host` (after the venue said our timestamp was outside its window).
    pub fn forget(&self, host: &str) {
        self.samples().remove(host);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_taken_against_the_round_trips_midpoint() {
        let clock = VenueClock::default();
        let host: Arc<str> = Arc::from("https://api.binance.com");
        assert_eq!(clock.offset_ms(&host), None);
        // Sent at 1000, answered at 1200: the venue said 11_100 at our 1100.
        clock.observe(&host, 11_100, 1_000, 1_200);
        assert_eq!(clock.offset_ms(&host), Some(10_000));
        let now = clock.now_ms(&host);
        assert!((now - wall_ms() - 10_000).abs() < 1_000, "{now}");
        assert!(clock.is_fresh(&host, Duration::from_secs(60)));
        clock.forget(&host);
        assert!(!clock.is_fresh(&host, Duration::from_secs(60)));
        assert!((clock.now_ms(&host) - wall_ms()).abs() < 1_000);
    }

    #[test]
    fn a_venue_behind_us_gives_a_negative_offset_and_hosts_are_apart() {
        let clock = VenueClock::default();
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        clock.observe(&a, 500, 1_000, 1_000);
        clock.observe(&b, 2_000, 1_000, 1_000);
        assert_eq!(clock.offset_ms(&a), Some(-500));
        assert_eq!(clock.offset_ms(&b), Some(1_000));
    }
}
