//! Values as table cells: times, spans, latencies, byte counts, enum names, labels, and `-` for
//! what is unset. None of them can panic on a malformed value from the server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use roster_proto::pbjson_types::{Duration as PbDuration, Timestamp};
use roster_proto::v1::{EventKind, HealthReason, HealthState};

/// Latest instant a table prints (9999-12-31T23:59:59Z).
const MAX_PRINTABLE_SECS: i64 = 253_402_300_799;

/// A timestamp as `SystemTime`, or `None` when it is malformed or outside 1970..=9999: the
/// formatter cannot print those, and a bogus server value must not crash the CLI.
pub fn to_system(ts: &Timestamp) -> Option<SystemTime> {
    let nanos = u32::try_from(ts.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    if !(0..=MAX_PRINTABLE_SECS).contains(&ts.seconds) {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::new(u64::try_from(ts.seconds).ok()?, nanos))
}

pub fn to_std(d: &PbDuration) -> Option<Duration> {
    let secs = u64::try_from(d.seconds).ok()?;
    let nanos = u32::try_from(d.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    Some(Duration::new(secs, nanos))
}

/// An absolute time in the operator's zone ([`super::zone`]), to the second, with the zone's
/// offset; `-` when unset or outside what [`to_system`] accepts.
pub fn time(ts: Option<&Timestamp>) -> String {
    ts.filter(|t| to_system(t).is_some())
        .and_then(|t| super::zone::rfc3339(t.seconds, t.nanos, super::zone::current()))
        .unwrap_or_else(|| "-".into())
}

/// A local instant (a certificate's expiry) as [`time`] shows it; `-` outside 1970..=9999.
pub fn system_time(t: SystemTime) -> String {
    let ts = t.duration_since(UNIX_EPOCH).ok().and_then(|d| {
        Some(Timestamp {
            seconds: i64::try_from(d.as_secs()).ok()?,
            nanos: i32::try_from(d.subsec_nanos()).ok()?,
        })
    });
    time(ts.as_ref())
}

/// A compact span: `850ms`, `12s`, `5m`, `3h`, `2d` (one unit is enough to scan a column).
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        format!("{}ms", d.as_millis())
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// How long ago `ts` was, relative to `now`: `12s ago`; `-` when unset.
pub fn ago(ts: Option<&Timestamp>, now: SystemTime) -> String {
    match ts.and_then(to_system) {
        Some(t) => match now.duration_since(t) {
            Ok(d) => format!("{} ago", span(d)),
            // The daemon's clock is ahead of ours; do not print a negative age.
            Err(_) => "just now".into(),
        },
        None => "-".into(),
    }
}

/// Time since `ts` without the "ago" (for "in this state FOR").
pub fn since(ts: Option<&Timestamp>, now: SystemTime) -> String {
    ts.and_then(to_system)
        .map(|t| span(now.duration_since(t).unwrap_or_default()))
        .unwrap_or_else(|| "-".into())
}

/// Latency: `42ms` under a second, `1.25s` above.
pub fn latency(d: Option<&PbDuration>) -> String {
    match d.and_then(to_std) {
        Some(d) if d.as_secs() == 0 => format!("{}ms", d.as_millis()),
        Some(d) => format!("{:.2}s", d.as_secs_f64()),
        None => "-".into(),
    }
}

pub fn state_name(v: i32) -> String {
    match HealthState::try_from(v) {
        Ok(HealthState::Unspecified) => "-".into(),
        Ok(s) => s
            .as_str_name()
            .trim_start_matches("HEALTH_STATE_")
            .to_owned(),
        Err(_) => format!("state({v})"),
    }
}

pub fn reason_name(v: i32) -> String {
    match HealthReason::try_from(v) {
        Ok(HealthReason::Unspecified) => "-".into(),
        Ok(r) => r
            .as_str_name()
            .trim_start_matches("HEALTH_REASON_")
            .to_owned(),
        Err(_) => format!("reason({v})"),
    }
}

pub fn kind_name(v: i32) -> String {
    match EventKind::try_from(v) {
        Ok(EventKind::Unspecified) => "-".into(),
        Ok(k) => k.as_str_name().trim_start_matches("EVENT_KIND_").to_owned(),
        Err(_) => format!("kind({v})"),
    }
}

pub fn labels(l: &std::collections::HashMap<String, String>) -> String {
    let mut v: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.sort();
    v.join(",")
}

pub fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}

pub fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

/// Bytes in binary units: `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::ts;

    #[test]
    fn spans_and_ages() {
        assert_eq!(span(Duration::from_millis(850)), "850ms");
        assert_eq!(span(Duration::from_secs(12)), "12s");
        assert_eq!(span(Duration::from_secs(300)), "5m");
        assert_eq!(span(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(span(Duration::from_secs(2 * 86_400)), "2d");
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(ago(Some(&ts(988)), now), "12s ago");
        assert_eq!(ago(Some(&ts(2000)), now), "just now");
        assert_eq!(ago(None, now), "-");
        assert_eq!(
            ago(
                Some(&Timestamp {
                    seconds: 1,
                    nanos: -5
                }),
                now
            ),
            "-"
        );
        assert_eq!(
            latency(Some(&PbDuration {
                seconds: 0,
                nanos: 42_000_000
            })),
            "42ms"
        );
        assert_eq!(
            latency(Some(&PbDuration {
                seconds: 1,
                nanos: 250_000_000
            })),
            "1.25s"
        );
        assert_eq!(
            latency(Some(&PbDuration {
                seconds: -1,
                nanos: 0
            })),
            "-"
        );
        assert_eq!(time(Some(&ts(0))), "1970-01-01T00:00:00Z");
        assert_eq!(
            system_time(UNIX_EPOCH + Duration::from_secs(86_400)),
            "1970-01-02T00:00:00Z"
        );
        assert_eq!(time(Some(&ts(i64::MAX))), "-");
        assert_eq!(time(Some(&ts(-1))), "-");
        assert_eq!(time(Some(&ts(MAX_PRINTABLE_SECS + 1))), "-");
        assert_eq!(since(Some(&ts(i64::MIN)), now), "-");
    }

    #[test]
    fn enum_names_survive_unknown_values() {
        assert_eq!(state_name(HealthState::Up as i32), "UP");
        assert_eq!(state_name(0), "-");
        assert_eq!(state_name(99), "state(99)");
        assert_eq!(
            reason_name(HealthReason::AuthRejected as i32),
            "AUTH_REJECTED"
        );
        assert_eq!(kind_name(EventKind::HealthChanged as i32), "HEALTH_CHANGED");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
