//! `rosterctl health ...` and `rosterctl watch`: health rows and event lines.

use std::fmt::Write as _;
use std::time::SystemTime;

use roster_proto::pbjson_types::Timestamp;
use roster_proto::v1::{AccountHealth, Event, HealthState, ListEventsResponse, ListHealthResponse};

use super::format::{
    ago, kind_name, latency, or_dash, reason_name, since, state_name, time, to_std,
};
use super::sort::{by_key, by_name};
use super::table::{Table, kv};
use crate::cli::HealthSort;

fn health_name(h: &AccountHealth) -> String {
    if h.account_name.is_empty() {
        h.account_id.clone()
    } else {
        h.account_name.clone()
    }
}

/// Worst first: what an operator sorting by state looks for.
fn state_rank(state: i32) -> u8 {
    match HealthState::try_from(state) {
        Ok(HealthState::Down) => 0,
        Ok(HealthState::Degraded) => 1,
        Ok(HealthState::Unknown) => 2,
        Ok(HealthState::Up) => 3,
        Ok(HealthState::Disabled) => 4,
        _ => 5,
    }
}

/// `health list --sort`: by name in natural order, state (worst first), latency (fastest
/// first, unmeasured last) or last-ok (longest without a success first, never first of all);
/// ties by name. Reversed under `--desc` (unmeasured latency stays last).
pub fn sort_health(rows: &mut [AccountHealth], key: HealthSort, desc: bool) {
    let last_ok = |h: &AccountHealth| {
        Some(
            h.last_success_time
                .as_ref()
                .map_or((i64::MIN, i32::MIN), |t| (t.seconds, t.nanos)),
        )
    };
    rows.sort_by(|a, b| {
        let names = || by_name(&health_name(a), &health_name(b), desc);
        match key {
            HealthSort::Name => names(),
            HealthSort::State => {
                by_key(Some(state_rank(a.state)), Some(state_rank(b.state)), desc).then_with(names)
            }
            HealthSort::Latency => by_key(
                a.latency.as_ref().and_then(to_std),
                b.latency.as_ref().and_then(to_std),
                desc,
            )
            .then_with(names),
            HealthSort::LastOk => by_key(last_ok(a), last_ok(b), desc).then_with(names),
        }
    });
}

pub fn health_list(resp: &ListHealthResponse, now: SystemTime) -> String {
    let tenants = super::account::several_tenants(resp.accounts.iter().map(|h| h.tenant.as_str()));
    let mut headers = vec!["NAME"];
    if tenants {
        headers.push("TENANT");
    }
    headers.extend(["STATE", "REASON", ">LATENCY", "LAST OK", "FOR"]);
    let mut t = Table::new(&headers);
    for h in &resp.accounts {
        let mut row = vec![health_name(h)];
        if tenants {
            row.push(h.tenant.clone());
        }
        row.extend([
            state_name(h.state),
            reason_name(h.reason),
            latency(h.latency.as_ref()),
            ago(h.last_success_time.as_ref(), now),
            since(h.state_since.as_ref(), now),
        ]);
        t.row(row);
    }
    let mut out = if t.is_empty() {
        String::new()
    } else {
        t.render()
    };
    // Counts in a fixed, meaningful order; unknown keys after, so nothing the server sends is lost.
    let order = ["UP", "DEGRADED", "DOWN", "UNKNOWN", "DISABLED"];
    let mut parts: Vec<String> = order
        .iter()
        .filter_map(|k| {
            resp.counts
                .get(*k)
                .map(|n| format!("{n} {}", k.to_lowercase()))
        })
        .collect();
    let mut rest: Vec<_> = resp
        .counts
        .iter()
        .filter(|(k, _)| !order.contains(&k.as_str()))
        .collect();
    rest.sort();
    parts.extend(
        rest.into_iter()
            .map(|(k, n)| format!("{n} {}", k.to_lowercase())),
    );
    let n = resp.accounts.len();
    let _ = write!(out, "{n} account{}", if n == 1 { "" } else { "s" });
    if !parts.is_empty() {
        let _ = write!(out, ": {}", parts.join(", "));
    }
    out.push('\n');
    out
}

pub fn health(h: &AccountHealth, now: SystemTime) -> String {
    kv(&[
        ("account", health_name(h)),
        ("id", h.account_id.clone()),
        ("state", state_name(h.state)),
        ("reason", reason_name(h.reason)),
        ("message", or_dash(&h.message)),
        ("in state for", since(h.state_since.as_ref(), now)),
        ("latency", latency(h.latency.as_ref())),
        ("last check", ago_at(h.last_check_time.as_ref(), now)),
        ("last ok", ago_at(h.last_success_time.as_ref(), now)),
        ("failures in a row", h.consecutive_failures.to_string()),
        ("successes in a row", h.consecutive_successes.to_string()),
        ("broker", or_dash(&h.broker)),
        ("mode", or_dash(&h.mode)),
        ("next check", time(h.next_check_time.as_ref())),
    ])
}

/// `12s ago (2026-12-06T09:15:00+05:30)`: how long ago, and when on the operator's clock.
fn ago_at(ts: Option<&Timestamp>, now: SystemTime) -> String {
    match (ago(ts, now), time(ts)) {
        (ago, at) if at == "-" => ago,
        (ago, at) => format!("{ago} ({at})"),
    }
}

/// One line per event: `TIME #SEQ KIND account: PREV -> STATE (REASON) message`.
pub fn event_line(e: &Event) -> String {
    let who = if e.account_name.is_empty() {
        or_dash(&e.account_id)
    } else {
        e.account_name.clone()
    };
    let mut s = format!(
        "{} #{} {} {who}",
        time(e.time.as_ref()),
        e.sequence,
        kind_name(e.kind)
    );
    if e.state != 0 {
        if e.previous_state != 0 {
            let _ = write!(
                s,
                ": {} -> {}",
                state_name(e.previous_state),
                state_name(e.state)
            );
        } else {
            let _ = write!(s, ": {}", state_name(e.state));
        }
        if e.reason != 0 {
            let _ = write!(s, " ({})", reason_name(e.reason));
        }
    }
    if !e.message.is_empty() {
        let _ = write!(s, " {}", e.message.replace(['\n', '\r'], " "));
    }
    s.push('\n');
    s
}

/// `rosterctl health history`: one row per event, newest first.
pub fn history(r: &ListEventsResponse) -> String {
    let mut t = Table::new(&[">SEQ", "TIME", "KIND", "STATE", "REASON", "MESSAGE"]);
    for e in &r.events {
        let state = match (e.previous_state, e.state) {
            (_, 0) => "-".to_string(),
            (0, now) => state_name(now),
            (was, now) => format!("{} -> {}", state_name(was), state_name(now)),
        };
        t.row(vec![
            e.sequence.to_string(),
            time(e.time.as_ref()),
            kind_name(e.kind),
            state,
            reason_name(e.reason),
            or_dash(&e.message.replace(['\n', '\r'], " ")),
        ]);
    }
    if t.is_empty() {
        return "no events retained for this account\n".into();
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use roster_proto::pbjson_types::Duration as PbDuration;
    use roster_proto::v1::{EventKind, HealthReason, HealthState};

    use super::*;
    use crate::output::ts;

    #[test]
    fn one_accounts_health_gives_absolute_times_in_the_zone() {
        let h = AccountHealth {
            account_name: "acc1".into(),
            last_success_time: Some(ts(988)),
            next_check_time: Some(ts(1030)),
            ..Default::default()
        };
        let out = health(&h, UNIX_EPOCH + Duration::from_secs(1000));
        let line = |key: &str| {
            out.lines()
                .find(|l| l.starts_with(key))
                .map(|l| l.split_once(':').map_or("", |(_, v)| v).trim().to_owned())
                .unwrap_or_default()
        };
        // Unit tests never choose a zone: UTC.
        assert_eq!(line("last ok"), "12s ago (1970-01-01T00:16:28Z)", "{out}");
        assert_eq!(line("last check"), "-", "{out}");
        assert_eq!(line("next check"), "1970-01-01T00:17:10Z", "{out}");
    }

    #[test]
    fn health_sorts_by_name_state_latency_and_last_ok() {
        let h = |name: &str, state: HealthState, ms: Option<i32>, ok: Option<i64>| AccountHealth {
            account_name: name.into(),
            state: state as i32,
            latency: ms.map(|ms| PbDuration {
                seconds: 0,
                nanos: ms * 1_000_000,
            }),
            last_success_time: ok.map(ts),
            ..Default::default()
        };
        let rows = vec![
            h("demo-10", HealthState::Up, Some(40), Some(100)),
            h("demo-2", HealthState::Down, None, None),
            h("demo-1", HealthState::Degraded, Some(900), Some(50)),
            h("demo-3", HealthState::Up, Some(10), Some(200)),
        ];
        let order = |key: HealthSort, desc: bool| {
            let mut r = rows.clone();
            sort_health(&mut r, key, desc);
            r.into_iter().map(|h| h.account_name).collect::<Vec<_>>()
        };
        assert_eq!(
            order(HealthSort::Name, false),
            ["demo-1", "demo-2", "demo-3", "demo-10"]
        );
        assert_eq!(
            order(HealthSort::Name, true),
            ["demo-10", "demo-3", "demo-2", "demo-1"]
        );
        assert_eq!(
            order(HealthSort::State, false),
            ["demo-2", "demo-1", "demo-3", "demo-10"]
        );
        assert_eq!(
            order(HealthSort::Latency, false),
            ["demo-3", "demo-10", "demo-1", "demo-2"]
        );
        // Unmeasured latency stays last when reversed too.
        assert_eq!(
            order(HealthSort::Latency, true),
            ["demo-1", "demo-10", "demo-3", "demo-2"]
        );
        assert_eq!(
            order(HealthSort::LastOk, false),
            ["demo-2", "demo-1", "demo-10", "demo-3"]
        );
    }

    #[test]
    fn health_list_rows_and_counts() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let h = AccountHealth {
            account_name: "acc1".into(),
            state: HealthState::Down as i32,
            reason: HealthReason::Timeout as i32,
            latency: Some(PbDuration {
                seconds: 0,
                nanos: 5_000_000,
            }),
            last_success_time: Some(ts(9_988)),
            state_since: Some(ts(9_700)),
            ..Default::default()
        };
        let mut resp = ListHealthResponse {
            accounts: vec![h],
            ..Default::default()
        };
        resp.counts.insert("DOWN".into(), 1);
        resp.counts.insert("UP".into(), 0);
        let out = health_list(&resp, now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "NAME  STATE  REASON   LATENCY  LAST OK  FOR");
        assert_eq!(lines[1], "acc1  DOWN   TIMEOUT      5ms  12s ago  5m");
        assert_eq!(lines[2], "1 account: 0 up, 1 down");
    }

    #[test]
    fn events_are_one_line_each() {
        let e = Event {
            sequence: 7,
            time: Some(ts(0)),
            kind: EventKind::HealthChanged as i32,
            account_name: "acc1".into(),
            previous_state: HealthState::Up as i32,
            state: HealthState::Degraded as i32,
            reason: HealthReason::Timeout as i32,
            message: "no answer in 5s".into(),
            ..Default::default()
        };
        assert_eq!(
            event_line(&e),
            "1970-01-01T00:00:00Z #7 HEALTH_CHANGED acc1: UP -> DEGRADED (TIMEOUT) no answer in 5s\n"
        );
    }

    #[test]
    fn history_rows_show_each_transition_newest_first() {
        let e = |sequence, kind: EventKind, was: HealthState, now: HealthState| Event {
            sequence,
            time: Some(crate::output::ts(1_700_000_000)),
            kind: kind as i32,
            previous_state: was as i32,
            state: now as i32,
            reason: if now == HealthState::Down {
                HealthReason::Connect as i32
            } else {
                0
            },
            message: if now == HealthState::Down {
                "connection refused\nagain".into()
            } else {
                String::new()
            },
            ..Event::default()
        };
        let out = history(&ListEventsResponse {
            events: vec![
                e(
                    9,
                    EventKind::HealthChanged,
                    HealthState::Down,
                    HealthState::Up,
                ),
                e(
                    7,
                    EventKind::HealthChanged,
                    HealthState::Up,
                    HealthState::Down,
                ),
                e(
                    2,
                    EventKind::AccountCreated,
                    HealthState::Unspecified,
                    HealthState::Unspecified,
                ),
            ],
            next_before_sequence: 0,
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[1].contains("HEALTH_CHANGED") && lines[1].contains("DOWN -> UP"));
        assert!(
            lines[2].contains("UP -> DOWN")
                && lines[2].contains("CONNECT")
                && lines[2].ends_with("connection refused again"),
            "{out}"
        );
        assert!(lines[3].contains("ACCOUNT_CREATED"), "{out}");
        assert_eq!(
            history(&ListEventsResponse::default()),
            "no events retained for this account\n"
        );
    }
}
