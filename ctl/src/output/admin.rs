//! `rosterctl status`, `backup` and `audit`.

use std::time::{Duration, SystemTime};

use roster_proto::v1::{AuditEvent, ListAuditEventsResponse, Status};

use super::format::{bytes, or_dash, span, time, to_std, to_system};
use super::table::{Table, kv, with_table};

pub fn status(s: &Status, now: SystemTime) -> String {
    let mut counts: Vec<String> = s
        .counts_by_state
        .iter()
        .map(|(k, n)| format!("{n} {}", k.to_lowercase()))
        .collect();
    counts.sort();
    let expiry = match s.server_cert_expiry.as_ref().and_then(to_system) {
        Some(t) => match t.duration_since(now) {
            // Under 30 days is a warning: renewal needs a new certificate and a reload.
            Ok(left) if left < Duration::from_secs(30 * 86_400) => format!(
                "{} (in {}) WARNING: renew soon",
                time(s.server_cert_expiry.as_ref()),
                span(left)
            ),
            Ok(left) => format!(
                "{} (in {})",
                time(s.server_cert_expiry.as_ref()),
                span(left)
            ),
            Err(_) => format!("{} (EXPIRED)", time(s.server_cert_expiry.as_ref())),
        },
        None => "-".into(),
    };
    kv(&[
        ("version", or_dash(&s.version)),
        (
            "uptime",
            s.uptime
                .as_ref()
                .and_then(to_std)
                .map(|d| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        ("started", time(s.start_time.as_ref())),
        ("accounts", s.account_count.to_string()),
        ("by state", or_dash(&counts.join(", "))),
        ("db size", bytes(s.db_size_bytes)),
        ("server cert expires", expiry),
        ("active key id", or_dash(&s.active_key_id)),
        ("key ids", or_dash(&s.key_ids.join(", "))),
        ("config generation", s.config_generation.to_string()),
        ("schema version", s.schema_version.to_string()),
        ("instance id", or_dash(&s.instance_id)),
        (
            "storage",
            if s.storage_error.is_empty() {
                "ok".to_string()
            } else {
                format!("FAILING: {}", s.storage_error)
            },
        ),
        ("checks", or_dash(&cadence(s))),
        (
            "you are",
            format!("{} ({})", or_dash(&s.principal), or_dash(&s.role)),
        ),
    ])
}

/// One entry per venue: how often its accounts are checked, and why when it is stretched.
fn cadence(s: &Status) -> String {
    let every = |d: Option<&roster_proto::pbjson_types::Duration>| {
        d.and_then(to_std)
            .map(|d| {
                humantime::format_duration(Duration::from_millis(
                    u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                ))
                .to_string()
            })
            .unwrap_or_else(|| "-".into())
    };
    s.venue_cadence
        .iter()
        .map(|c| {
            let effective = every(c.effective_interval.as_ref());
            let configured = every(c.configured_interval.as_ref());
            if effective == configured {
                format!("{} {} every {effective}", c.accounts, c.connector)
            } else {
                format!(
                    "{} {} every {effective} (stretched from {configured} to fit {} checks/min)",
                    c.accounts, c.connector, c.checks_per_minute
                )
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn audit(r: &ListAuditEventsResponse) -> String {
    let mut t = Table::new(&[
        ">SEQ",
        "TIME",
        "PRINCIPAL",
        "ROLE",
        "ACTION",
        "TARGET",
        "OUTCOME",
    ]);
    for e in &r.events {
        t.row(audit_row(e));
    }
    with_table(&t, "no audit records")
}

fn audit_row(e: &AuditEvent) -> Vec<String> {
    vec![
        e.sequence.to_string(),
        time(e.time.as_ref()),
        e.principal.clone(),
        e.role.clone(),
        e.action.clone(),
        or_dash(&e.target),
        e.outcome.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::output::ts;

    #[test]
    fn status_names_the_caller_and_an_expired_certificate() {
        let mut s = Status {
            version: "0.1.0".into(),
            account_count: 2,
            db_size_bytes: 1536,
            server_cert_expiry: Some(ts(100)),
            principal: "admin".into(),
            role: "admin".into(),
            ..Default::default()
        };
        s.counts_by_state.insert("UP".into(), 2);
        let out = status(&s, UNIX_EPOCH + Duration::from_secs(200));
        assert!(out.contains("version:"));
        assert!(out.contains("1.5 KiB"));
        assert!(out.contains("(EXPIRED)"));
        assert!(out.contains("2 up"));
        assert!(out.contains("admin (admin)"));
    }

    #[test]
    fn a_stretched_check_interval_says_why() {
        let d = |secs| {
            Some(roster_proto::pbjson_types::Duration {
                seconds: secs,
                nanos: 0,
            })
        };
        let s = Status {
            venue_cadence: vec![
                roster_proto::v1::VenueCadence {
                    connector: "binance".into(),
                    accounts: 2000,
                    configured_interval: d(10),
                    effective_interval: d(500),
                    checks_per_minute: 240,
                },
                roster_proto::v1::VenueCadence {
                    connector: "openalgo".into(),
                    accounts: 3,
                    configured_interval: d(10),
                    effective_interval: d(10),
                    checks_per_minute: 0,
                },
            ],
            ..Default::default()
        };
        let out = status(&s, UNIX_EPOCH);
        assert!(
            out.contains(
                "2000 binance every 8m 20s (stretched from 10s to fit 240 checks/min); 3 openalgo every 10s"
            ),
            "{out}"
        );
    }

    #[test]
    fn an_empty_audit_log_says_so() {
        assert_eq!(
            audit(&ListAuditEventsResponse::default()),
            "no audit records\n"
        );
    }
}
