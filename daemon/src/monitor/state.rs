//! The pure parts of health monitoring: the per-account state machine, the stable offset of each
//! account inside the interval, the backoff of DOWN accounts and the per-host ration of checks
//! that carry a refused key. No I/O, no clocks: every function takes `now`, so the unit tests
//! below pin the semantics of ARCHITECTURE.md exactly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::connector::FailureReason;
use crate::store::{HealthRecord, HealthState, UnixMillis};

/// The knobs of the state machine and the schedule (from `[monitor]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub interval: Duration,
    pub failures_before_down: u32,
    pub successes_before_up: u32,
    pub funds_probe_every: u32,
    pub down_backoff_max: Duration,
    pub auth_backoff_max: Duration,
    /// Scheduled checks of refused keys per upstream host per day (see [`RefusedKeyBudget`]).
    pub refused_key_checks_per_host_per_day: u32,
}

impl Policy {
    /// The time between two scheduled checks that carry a refused key to one host; `None` when
    /// such keys are never checked on schedule (only `health check` asks).
    pub fn refused_key_spacing(&self) -> Option<Duration> {
        (self.refused_key_checks_per_host_per_day > 0)
            .then(|| DAY / self.refused_key_checks_per_host_per_day)
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok {
        broker: Option<String>,
        mode: Option<String>,
        /// Whether this check included a funds probe (that succeeded).
        probed: bool,
    },
    /// The venue answered and reads work, but it restricts the account (Alpaca's
    /// `trading_blocked`): DEGRADED for `reason` at once, without counting towards DOWN, since
    /// nothing failed; UP again on the first check without the restriction.
    Restricted {
        reason: FailureReason,
        message: String,
        broker: Option<String>,
        mode: Option<String>,
    },
    Failed {
        reason: FailureReason,
        message: String,
        /// Whether the failure came after the credential was accepted (OpenAlgo: in the funds
        /// probe, ping itself was fine).
        in_probe: bool,
        /// What the ping told before the probe failed (the broker; the mode when the failed
        /// answer shows it): still true, and kept rather than shown as unknown.
        broker: Option<String>,
        mode: Option<String>,
    },
}

/// A state change, or a new failure reason while the state stays DEGRADED or DOWN (an IP ban
/// replacing an expired session is news to the operator), for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: HealthState,
    pub to: HealthState,
}

/// Whether the next check should include a funds probe: every `funds_probe_every` checks, on
/// every check while the last probe failed (a ping-only success must not hide a dead session),
/// and on an account's first check (UNKNOWN: just added or re-enabled), so that whoever added it
/// learns at once whether its session works, and its broker and mode are stored in one write.
pub fn probe_due(h: &HealthRecord, p: &Policy) -> bool {
    h.probe_failing
        || h.state == HealthState::Unknown
        || h.checks_since_probe.saturating_add(1) >= p.funds_probe_every
}

/// Applies one check result to `h`. Returns the transition, if the state changed.
///
/// - success: failures reset; UNKNOWN/UP -> UP at once; DEGRADED/DOWN -> UP after
///   `successes_before_up` consecutive successes (until then the state and reason stay);
/// - failure: successes reset; `failures_before_down` consecutive failures -> DOWN, fewer ->
///   DEGRADED; a DOWN account stays DOWN on any failure (even after a partial recovery).
pub fn apply(
    h: &mut HealthRecord,
    outcome: Outcome,
    p: &Policy,
    now: UnixMillis,
    latency: Duration,
) -> Option<Transition> {
    let from = h.state;
    let reason_before = h.reason;
    h.last_check = now;
    h.latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    let to = match outcome {
        Outcome::Ok {
            broker,
            mode,
            probed,
        } => {
            learn(h, broker, mode);
            if probed {
                h.checks_since_probe = 0;
                h.probe_failing = false;
            } else {
                h.checks_since_probe = h.checks_since_probe.saturating_add(1);
            }
            // DEGRADED with no failure counted is a restriction (see `Outcome::Restricted`):
            // nothing failed, so nothing has to be proven again once it is lifted.
            let restricted = from == HealthState::Degraded && h.consecutive_failures == 0;
            h.consecutive_failures = 0;
            h.consecutive_successes = h.consecutive_successes.saturating_add(1);
            h.last_success = now;
            match from {
                HealthState::Unknown | HealthState::Up => HealthState::Up,
                _ if restricted => HealthState::Up,
                _ if h.consecutive_successes >= p.successes_before_up => HealthState::Up,
                other => other,
            }
        }
        Outcome::Restricted {
            reason,
            message,
            broker,
            mode,
        } => {
            learn(h, broker, mode);
            h.checks_since_probe = 0;
            h.probe_failing = false;
            h.consecutive_failures = 0;
            h.consecutive_successes = 0;
            h.last_success = now;
            h.reason = Some(reason);
            h.message = message;
            HealthState::Degraded
        }
        Outcome::Failed {
            reason,
            message,
            in_probe,
            broker,
            mode,
        } => {
            learn(h, broker, mode);
            if in_probe {
                h.checks_since_probe = 0;
                h.probe_failing = true;
            } else {
                h.checks_since_probe = h.checks_since_probe.saturating_add(1);
            }
            h.consecutive_successes = 0;
            h.consecutive_failures = h.consecutive_failures.saturating_add(1);
            h.reason = Some(reason);
            h.message = message;
            if from == HealthState::Down || h.consecutive_failures >= p.failures_before_down {
                HealthState::Down
            } else {
                HealthState::Degraded
            }
        }
    };
    if to == HealthState::Up {
        h.reason = None;
        h.message.clear();
    }
    if to == from {
        let failing = matches!(to, HealthState::Degraded | HealthState::Down);
        return (failing && h.reason != reason_before).then_some(Transition { from, to });
    }
    h.state = to;
    h.state_since = now;
    Some(Transition { from, to })
}

/// Keeps the broker and mode an upstream told, when it told them.
fn learn(h: &mut HealthRecord, broker: Option<String>, mode: Option<String>) {
    if let Some(b) = broker.filter(|b| *b != h.broker) {
        h.broker = b;
    }
    if let Some(m) = mode.filter(|m| *m != h.mode) {
        h.mode = m;
    }
}

/// Whether the upstream refused this account's key (AUTH_REJECTED) at its last check: its books
/// are then not fetched (every request with that key counts towards OpenAlgo's IP ban).
pub fn key_refused(h: &HealthRecord) -> bool {
    h.reason == Some(FailureReason::AuthRejected)
        && h.consecutive_failures > 0
        && matches!(h.state, HealthState::Degraded | HealthState::Down)
}

/// Whether this account's scheduled checks are rationed by its host's [`RefusedKeyBudget`]: its
/// key was refused `failures_before_down` times in a row (DOWN), so the refusal is no blip.
pub fn rationed(h: &HealthRecord) -> bool {
    key_refused(h) && h.state == HealthState::Down
}

/// Above this many hosts, those whose ration has run out are forgotten.
const BUDGET_HOSTS_SOFT_CAP: usize = 4096;

/// The ration of requests that carry a refused key, per upstream host.
///
/// OpenAlgo can ban a client IP after `security_api_threshold` (default 100) invalid-key requests
/// in 24 hours, and the ban cuts every account behind that instance, good keys included. Each
/// account's own backoff is not enough: ten dead keys on one host backing off to 30 minutes make
/// 480 requests a day. So the scheduled checks of rationed accounts ([`rationed`]) share one
/// budget per host: at most one per `day / max_refused_key_checks_per_host_per_day`, and every
/// other refused request to that host (a key's first refusals, a forced check, a connection
/// test) pushes the next one a whole spacing later. With the default of 24 a host sees one
/// refused key an hour however many dead keys it has; `rosterctl health check NAME` checks at
/// once after the key is fixed or the session re-established.
///
/// Hosts, not origins: two instances on one machine behind one address count together, which is
/// the safe side of an IP ban.
#[derive(Debug, Default)]
pub struct RefusedKeyBudget {
    /// Host -> when its next rationed check may go.
    next_free: HashMap<Arc<str>, UnixMillis>,
}

impl RefusedKeyBudget {
    /// Takes the host's slot for one rationed check at `now`, or says when the next slot is free
    /// (`None`: never, the budget is 0).
    pub fn take(
        &mut self,
        host: &Arc<str>,
        now: UnixMillis,
        spacing: Option<Duration>,
    ) -> Result<(), Option<UnixMillis>> {
        let spacing = spacing.ok_or(None)?;
        if let Some(&free) = self.next_free.get(host)
            && now < free
        {
            return Err(Some(free));
        }
        self.next_free
            .insert(host.clone(), now.saturating_add(millis(spacing)));
        self.forget_spent(now);
        Ok(())
    }

    /// A request with a refused key reached `host` at `now`: the next rationed check there waits
    /// a whole spacing from it.
    pub fn note(&mut self, host: &Arc<str>, now: UnixMillis, spacing: Option<Duration>) {
        let Some(spacing) = spacing else {
            return;
        };
        let at = now.saturating_add(millis(spacing));
        let free = self.next_free.entry(host.clone()).or_insert(at);
        *free = (*free).max(at);
        self.forget_spent(now);
    }

    fn forget_spent(&mut self, now: UnixMillis) {
        if self.next_free.len() > BUDGET_HOSTS_SOFT_CAP {
            self.next_free.retain(|_, free| *free > now);
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Moves `h` to `to` outside a check (enable/disable). Returns the transition if it is one.
pub fn force(h: &mut HealthRecord, to: HealthState, now: UnixMillis) -> Option<Transition> {
    let from = h.state;
    if from == to {
        return None;
    }
    h.state = to;
    h.state_since = now;
    h.consecutive_failures = 0;
    h.consecutive_successes = 0;
    h.reason = None;
    h.message.clear();
    h.next_check = 0;
    Some(Transition { from, to })
}

/// A stable 64-bit hash of the account id (FNV-1a: fixed across Rust versions and restarts,
/// unlike `DefaultHasher`), so an account keeps its slot inside the interval.
pub fn stable_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Offsets sit on a grid of at most this many slots per interval (and never finer than 1 ms).
const SLOTS_PER_INTERVAL: i64 = 100;

/// The account's offset inside the interval, in milliseconds: spreads checks evenly over
/// [`SLOTS_PER_INTERVAL`] slots. Checks that share a slot start on the same timer tick, so the
/// runtime wakes once for a batch of checks and their answers instead of once per check: at
/// 5,000 accounts, thread wake-ups were the largest single cost of a check (BENCHMARKS.md).
pub fn offset_ms(id: &str, interval: Duration) -> i64 {
    let interval_ms = interval_ms(interval);
    let slot_ms = (interval_ms / SLOTS_PER_INTERVAL).max(1);
    let slots = (interval_ms / slot_ms).max(1);
    let slot = stable_hash(id) % u64::try_from(slots).unwrap_or(1);
    i64::try_from(slot).unwrap_or(0) * slot_ms
}

fn interval_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// The first slot strictly after `after`: the smallest `t > after` with `t ≡ offset (mod
/// interval)`, on the wall clock so the phase is the same after a restart.
pub fn next_slot(after: UnixMillis, interval: Duration, offset: i64) -> UnixMillis {
    let iv = interval_ms(interval);
    let k = (after - offset).div_euclid(iv);
    let t = k.saturating_mul(iv).saturating_add(offset);
    if t > after { t } else { t.saturating_add(iv) }
}

/// The interval a venue's accounts are checked at: the configured one, stretched evenly when
/// `accounts` checks per interval would not fit the venue's shared budget of `checks_per_minute`
/// (Binance's request weight per egress IP). Stretching, not skipping: every account is still
/// checked once per (effective) interval, at its stable offset inside it.
pub fn effective_interval(
    configured: Duration,
    accounts: usize,
    checks_per_minute: Option<u32>,
) -> Duration {
    let Some(per_minute) = checks_per_minute.filter(|n| *n > 0) else {
        return configured;
    };
    let accounts = u64::try_from(accounts).unwrap_or(u64::MAX);
    // Whole milliseconds, rounded up, so the budget is never exceeded by rounding.
    let needed_ms = accounts
        .saturating_mul(60_000)
        .div_ceil(u64::from(per_minute));
    configured.max(Duration::from_millis(needed_ms))
}

/// How long to wait after a check before the next one, given the health it left behind.
/// Not DOWN: one interval. DOWN: interval x 2^excess (capped at `down_backoff_max`), or for a
/// refused key / IP ban interval x 4^(excess+1) (capped at `auth_backoff_max`), where `excess`
/// is the number of consecutive failures beyond `failures_before_down`.
pub fn delay_after(h: &HealthRecord, p: &Policy) -> Duration {
    if h.state != HealthState::Down || h.consecutive_failures == 0 {
        return p.interval;
    }
    let excess = h
        .consecutive_failures
        .saturating_sub(p.failures_before_down);
    let hard = matches!(
        h.reason,
        Some(FailureReason::AuthRejected | FailureReason::IpBanned)
    );
    let (exp, cap) = if hard {
        (
            excess.saturating_add(1).saturating_mul(2),
            p.auth_backoff_max,
        )
    } else {
        (excess, p.down_backoff_max)
    };
    // 2^20 intervals is beyond any sane cap; stopping there keeps the multiply from overflowing.
    let factor = 1u32 << exp.min(20);
    p.interval.saturating_mul(factor).min(cap).max(p.interval)
}

/// When the next check is due after a check at `now`: the account's slot that follows
/// `now + delay - interval`, so backed-off checks stay on the account's phase.
pub fn next_due(h: &HealthRecord, p: &Policy, now: UnixMillis, offset: i64) -> UnixMillis {
    let delay = i64::try_from(delay_after(h, p).as_millis()).unwrap_or(i64::MAX);
    next_slot(
        now.saturating_add(delay)
            .saturating_sub(interval_ms(p.interval)),
        p.interval,
        offset,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            interval: Duration::from_secs(10),
            failures_before_down: 3,
            successes_before_up: 2,
            funds_probe_every: 3,
            down_backoff_max: Duration::from_secs(300),
            auth_backoff_max: Duration::from_secs(1800),
            refused_key_checks_per_host_per_day: 24,
        }
    }

    fn ok() -> Outcome {
        Outcome::Ok {
            broker: Some("zerodha".into()),
            mode: None,
            probed: false,
        }
    }

    fn fail(reason: FailureReason) -> Outcome {
        Outcome::Failed {
            reason,
            message: "boom".into(),
            in_probe: false,
            broker: None,
            mode: None,
        }
    }

    fn step(h: &mut HealthRecord, o: Outcome) -> Option<(HealthState, HealthState)> {
        apply(h, o, &policy(), 1000, Duration::from_millis(3)).map(|t| (t.from, t.to))
    }

    #[test]
    fn unknown_goes_up_on_first_success_and_learns_the_broker() {
        let mut h = HealthRecord::new("a", HealthState::Unknown, 0);
        assert_eq!(
            step(&mut h, ok()),
            Some((HealthState::Unknown, HealthState::Up))
        );
        assert_eq!(h.broker, "zerodha");
        assert_eq!(h.latency_us, 3000);
        assert_eq!(h.last_success, 1000);
        assert_eq!(h.state_since, 1000);
        assert_eq!(step(&mut h, ok()), None);
    }

    #[test]
    fn failures_degrade_then_down_then_need_successes_to_come_back() {
        let mut h = HealthRecord::new("a", HealthState::Up, 0);
        assert_eq!(
            step(&mut h, fail(FailureReason::Http5xx)),
            Some((HealthState::Up, HealthState::Degraded))
        );
        // A new reason while DEGRADED is reported (same state on both sides).
        assert_eq!(
            step(&mut h, fail(FailureReason::Timeout)),
            Some((HealthState::Degraded, HealthState::Degraded))
        );
        assert_eq!(h.reason, Some(FailureReason::Timeout));
        assert_eq!(
            step(&mut h, fail(FailureReason::Connect)),
            Some((HealthState::Degraded, HealthState::Down))
        );
        assert_eq!(h.consecutive_failures, 3);
        // One success is not enough with successes_before_up = 2; the reason stays.
        assert_eq!(step(&mut h, ok()), None);
        assert_eq!(h.state, HealthState::Down);
        assert_eq!(h.reason, Some(FailureReason::Connect));
        // A failure after a partial recovery keeps it DOWN (not DEGRADED).
        assert_eq!(step(&mut h, fail(FailureReason::Connect)), None);
        assert_eq!(h.state, HealthState::Down);
        assert_eq!(step(&mut h, ok()), None);
        assert_eq!(
            step(&mut h, ok()),
            Some((HealthState::Down, HealthState::Up))
        );
        assert_eq!(h.reason, None);
        assert!(h.message.is_empty());
        assert_eq!(h.consecutive_failures, 0);
    }

    #[test]
    fn degraded_recovers_after_the_success_threshold() {
        let mut h = HealthRecord::new("a", HealthState::Unknown, 0);
        assert_eq!(
            step(&mut h, fail(FailureReason::RateLimited)),
            Some((HealthState::Unknown, HealthState::Degraded))
        );
        assert_eq!(step(&mut h, ok()), None);
        assert_eq!(
            step(&mut h, ok()),
            Some((HealthState::Degraded, HealthState::Up))
        );
    }

    #[test]
    fn a_shared_budget_stretches_the_interval_evenly_and_only_when_needed() {
        let ten = Duration::from_secs(10);
        // No shared budget, or one that fits: the configured interval.
        assert_eq!(effective_interval(ten, 5_000, None), ten);
        assert_eq!(effective_interval(ten, 40, Some(240)), ten);
        // 2,000 accounts, 240 checks a minute: 500 s.
        assert_eq!(
            effective_interval(ten, 2_000, Some(240)),
            Duration::from_secs(500)
        );
        // Rounded up, never down: 7 accounts at 6 a minute is 70 s, not less.
        assert_eq!(effective_interval(ten, 7, Some(6)), Duration::from_secs(70));
        assert_eq!(effective_interval(ten, 1, Some(0)), ten);
    }

    #[test]
    fn a_restriction_degrades_without_failing_and_lifts_at_once() {
        let restricted = || Outcome::Restricted {
            reason: FailureReason::AccountRestricted,
            message: "trading blocked; reads still work".into(),
            broker: Some("alpaca".into()),
            mode: Some("paper".into()),
        };
        let mut h = HealthRecord::new("a", HealthState::Up, 0);
        assert_eq!(
            step(&mut h, restricted()),
            Some((HealthState::Up, HealthState::Degraded))
        );
        // However long it lasts, it is not a failure: never DOWN, and reads count as success.
        for _ in 0..5 {
            assert_eq!(step(&mut h, restricted()), None);
        }
        assert_eq!(h.state, HealthState::Degraded);
        assert_eq!(h.consecutive_failures, 0);
        assert_eq!(h.reason, Some(FailureReason::AccountRestricted));
        assert_eq!(
            step(&mut h, ok()),
            Some((HealthState::Degraded, HealthState::Up))
        );
        // A real failure while restricted counts from one.
        step(&mut h, restricted());
        step(&mut h, fail(FailureReason::Connect));
        assert_eq!(
            (h.state, h.consecutive_failures),
            (HealthState::Degraded, 1)
        );
    }

    #[test]
    fn threshold_of_one_goes_down_at_once() {
        let p = Policy {
            failures_before_down: 1,
            successes_before_up: 1,
            ..policy()
        };
        let mut h = HealthRecord::new("a", HealthState::Up, 0);
        let t = apply(&mut h, fail(FailureReason::IpBanned), &p, 5, Duration::ZERO);
        assert_eq!(t.map(|t| t.to), Some(HealthState::Down));
        let t = apply(&mut h, ok(), &p, 6, Duration::ZERO);
        assert_eq!(t.map(|t| t.to), Some(HealthState::Up));
    }

    #[test]
    fn funds_probe_cadence_and_sticky_probe_failure() {
        let p = policy(); // every 3rd check
        // The first check of an account probes, whatever the cadence; later ones do not.
        assert!(probe_due(
            &HealthRecord::new("new", HealthState::Unknown, 0),
            &p
        ));
        assert!(!probe_due(&HealthRecord::new("up", HealthState::Up, 0), &p));
        let mut h = HealthRecord::new("a", HealthState::Up, 0);
        h.checks_since_probe = 2;
        assert!(probe_due(&h, &p));
        apply(
            &mut h,
            Outcome::Ok {
                broker: None,
                mode: Some("analyze".into()),
                probed: true,
            },
            &p,
            1,
            Duration::ZERO,
        );
        assert_eq!(h.mode, "analyze");
        assert!(!probe_due(&h, &p));
        apply(&mut h, ok(), &p, 2, Duration::ZERO);
        assert!(!probe_due(&h, &p));
        apply(&mut h, ok(), &p, 3, Duration::ZERO);
        assert!(probe_due(&h, &p));
        apply(
            &mut h,
            Outcome::Failed {
                reason: FailureReason::SessionExpired,
                message: "empty funds".into(),
                in_probe: true,
                broker: Some("zerodha".into()),
                mode: Some("live".into()),
            },
            &p,
            4,
            Duration::ZERO,
        );
        assert_eq!(h.state, HealthState::Degraded);
        // What the ping told survives the failed probe (it was "analyze", the dead session says live).
        assert_eq!((h.broker.as_str(), h.mode.as_str()), ("zerodha", "live"));
        // While the probe fails, every check probes.
        assert!(probe_due(&h, &p));
        let every = Policy {
            funds_probe_every: 1,
            ..p
        };
        assert!(probe_due(
            &HealthRecord::new("b", HealthState::Up, 0),
            &every
        ));
    }

    #[test]
    fn a_new_reason_while_failing_is_news_but_the_same_one_is_not() {
        let p = Policy {
            failures_before_down: 4,
            ..policy()
        };
        let mut h = HealthRecord::new("a", HealthState::Up, 0);
        let t = apply(
            &mut h,
            fail(FailureReason::SessionExpired),
            &p,
            1,
            Duration::ZERO,
        );
        assert_eq!(t.map(|t| t.to), Some(HealthState::Degraded));
        // Same reason, same state: nothing to report.
        assert_eq!(
            apply(
                &mut h,
                fail(FailureReason::SessionExpired),
                &p,
                2,
                Duration::ZERO
            ),
            None
        );
        // Another reason, still DEGRADED: reported, and the state's age is not reset.
        let t = apply(&mut h, fail(FailureReason::IpBanned), &p, 3, Duration::ZERO);
        assert_eq!(
            t,
            Some(Transition {
                from: HealthState::Degraded,
                to: HealthState::Degraded
            })
        );
        assert_eq!(
            (h.state_since, h.reason),
            (1, Some(FailureReason::IpBanned))
        );
        let t = apply(&mut h, fail(FailureReason::IpBanned), &p, 4, Duration::ZERO);
        assert_eq!(t.map(|t| t.to), Some(HealthState::Down));
        // And back, while DOWN.
        let t = apply(
            &mut h,
            fail(FailureReason::SessionExpired),
            &p,
            5,
            Duration::ZERO,
        );
        assert_eq!(
            t.map(|t| (t.from, t.to)),
            Some((HealthState::Down, HealthState::Down))
        );
        assert_eq!(
            apply(
                &mut h,
                fail(FailureReason::SessionExpired),
                &p,
                6,
                Duration::ZERO
            ),
            None
        );
    }

    #[test]
    fn force_disable_and_enable() {
        let mut h = HealthRecord::new("a", HealthState::Down, 0);
        h.reason = Some(FailureReason::Connect);
        h.consecutive_failures = 7;
        let t = force(&mut h, HealthState::Disabled, 9).unwrap();
        assert_eq!((t.from, t.to), (HealthState::Down, HealthState::Disabled));
        assert_eq!((h.reason, h.consecutive_failures), (None, 0));
        assert!(force(&mut h, HealthState::Disabled, 10).is_none());
        assert_eq!(h.state_since, 9);
    }

    #[test]
    fn offsets_are_stable_and_inside_the_interval() {
        let iv = Duration::from_secs(30);
        for id in ["a", "0190-uuid", "", "zzzzzzzzzzzz"] {
            let o = offset_ms(id, iv);
            assert!((0..30_000).contains(&o), "{id}: {o}");
            assert_eq!(o, offset_ms(id, iv));
        }
        // FNV-1a reference values.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        // 1000 ids spread over 10 buckets of the interval: none is empty or holds half.
        let mut buckets = [0u32; 10];
        for i in 0..1000 {
            let o = offset_ms(&format!("acct-{i}"), iv);
            buckets[usize::try_from(o / 3000).unwrap()] += 1;
        }
        assert!(buckets.iter().all(|&n| n > 40 && n < 200), "{buckets:?}");
        // On the slot grid: 30 s / 100 slots = 300 ms; a 50 ms interval keeps 1 ms slots.
        assert!((0..1000).all(|i| offset_ms(&format!("acct-{i}"), iv) % 300 == 0));
        let short = Duration::from_millis(50);
        assert!((0..100).all(|i| (0..50).contains(&offset_ms(&format!("acct-{i}"), short))));
    }

    #[test]
    fn next_slot_is_strictly_after_and_on_phase() {
        let iv = Duration::from_millis(1000);
        assert_eq!(next_slot(0, iv, 250), 250);
        assert_eq!(next_slot(250, iv, 250), 1250);
        assert_eq!(next_slot(251, iv, 250), 1250);
        assert_eq!(next_slot(1249, iv, 250), 1250);
        assert_eq!(next_slot(-5, iv, 0), 0);
        for now in [0, 17, 999, 1_700_000_000_123] {
            let t = next_slot(now, iv, 480);
            assert!(t > now && t - now <= 1000 && t.rem_euclid(1000) == 480);
        }
    }

    #[test]
    fn backoff_doubles_and_caps_and_is_harder_for_403() {
        let p = policy();
        let mut h = HealthRecord::new("a", HealthState::Degraded, 0);
        h.consecutive_failures = 2;
        assert_eq!(delay_after(&h, &p), p.interval);
        h.state = HealthState::Down;
        h.reason = Some(FailureReason::Timeout);
        let secs_for = |h: &HealthRecord, n: u32| {
            let mut h = h.clone();
            h.consecutive_failures = n;
            delay_after(&h, &p).as_secs()
        };
        let secs = |n| secs_for(&h, n);
        assert_eq!([secs(3), secs(4), secs(5), secs(6)], [10, 20, 40, 80]);
        assert_eq!(secs(9), 300, "capped at down_backoff_max");
        assert_eq!(secs(u32::MAX), 300, "no overflow");
        h.reason = Some(FailureReason::AuthRejected);
        let secs = |n| secs_for(&h, n);
        assert_eq!([secs(3), secs(4), secs(5)], [40, 160, 640]);
        assert_eq!(secs(6), 1800, "capped at auth_backoff_max");
        h.reason = Some(FailureReason::IpBanned);
        assert_eq!(secs_for(&h, 3), 40);
        // The due time stays on the account's phase.
        h.consecutive_failures = 4;
        h.reason = Some(FailureReason::Http5xx);
        let due = next_due(&h, &p, 100_000, 1234);
        assert_eq!(due.rem_euclid(10_000), 1234);
        assert!(due > 100_000 + 10_000 && due <= 100_000 + 20_000, "{due}");
    }

    #[test]
    fn a_refused_key_is_rationed_once_down_and_until_a_success() {
        let p = policy();
        let mut h = HealthRecord::new("a", HealthState::Up, 0);
        step(&mut h, fail(FailureReason::AuthRejected));
        // DEGRADED: its books are not fetched, but its checks are not rationed yet.
        assert!(key_refused(&h) && !rationed(&h));
        step(&mut h, fail(FailureReason::AuthRejected));
        step(&mut h, fail(FailureReason::AuthRejected));
        assert_eq!(h.state, HealthState::Down);
        assert!(key_refused(&h) && rationed(&h));
        // Another reason while DOWN is not a refused key.
        step(&mut h, fail(FailureReason::Timeout));
        assert!(!key_refused(&h) && !rationed(&h));
        step(&mut h, fail(FailureReason::AuthRejected));
        assert!(rationed(&h));
        // A success (still DOWN, successes_before_up = 2) means the key works again.
        step(&mut h, ok());
        assert_eq!(
            (h.state, h.reason),
            (HealthState::Down, Some(FailureReason::AuthRejected))
        );
        assert!(!key_refused(&h) && !rationed(&h));
        assert_eq!(p.refused_key_spacing(), Some(Duration::from_secs(3600)));
        let never = Policy {
            refused_key_checks_per_host_per_day: 0,
            ..p
        };
        assert_eq!(never.refused_key_spacing(), None);
    }

    #[test]
    fn refused_key_checks_per_host_stay_within_the_daily_budget() {
        let spacing = policy().refused_key_spacing();
        let mut budget = RefusedKeyBudget::default();
        let (h1, h2): (Arc<str>, Arc<str>) = ("10.0.0.1".into(), "10.0.0.2".into());
        // Ten dead keys on h1 asking every minute for two days, one on h2.
        let day = 86_400_000;
        let mut sent: Vec<(bool, UnixMillis)> = Vec::new();
        for minute in 0..(2 * 24 * 60) {
            let now = minute * 60_000;
            for _ in 0..10 {
                if budget.take(&h1, now, spacing).is_ok() {
                    sent.push((true, now));
                }
            }
            if budget.take(&h2, now, spacing).is_ok() {
                sent.push((false, now));
            }
        }
        for host in [true, false] {
            let times: Vec<_> = sent.iter().filter(|s| s.0 == host).map(|s| s.1).collect();
            for &t in &times {
                let in_day = times.iter().filter(|&&x| x >= t && x < t + day).count();
                assert!(in_day <= 24, "{in_day} rationed checks within a day of {t}");
            }
            assert_eq!(times.len(), 48, "one an hour, not fewer");
        }
        // A refusal outside the ration (a first refusal, a forced check) pushes the next slot.
        let mut budget = RefusedKeyBudget::default();
        assert_eq!(budget.take(&h1, 0, spacing), Ok(()));
        budget.note(&h1, 1_800_000, spacing);
        assert_eq!(budget.take(&h1, 3_600_000, spacing), Err(Some(5_400_000)));
        assert_eq!(budget.take(&h1, 5_400_000, spacing), Ok(()));
        // A budget of 0: never on schedule.
        assert_eq!(budget.take(&h2, 0, None), Err(None));
    }
}
