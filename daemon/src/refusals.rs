//! Reporting refusals (a request over its rate limit, a refused handshake, a shed connection)
//! without letting the refused client choose how much the daemon writes.
//!
//! Every refusal is counted in `roster_refusals_total{kind, reason}`. The log gets the first
//! refusal of each (who, reason) at once, and after that at most one summary line per
//! `[limits] refusal_log_interval` ("refused 5,000 requests from alice: rate limited"); the audit
//! table gets the same treatment for the refusals worth auditing (a CA-signed certificate that was
//! revoked, expired or unusable). A viewer hammering past its budget therefore costs a counter
//! increment per request, not a log line or a disk write. The tables are bounded: past
//! [`MAX_TRACKED`] distinct sources, new ones are summarised under one shared name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::info;

use crate::audit::{Actor, AuditSink};
use crate::escape::escape_untrusted;
use crate::metrics::Metrics;

/// Distinct (who, reason) pairs tracked per interval; beyond it they share one entry.
pub const MAX_TRACKED: usize = 4096;
/// Who the refusals beyond [`MAX_TRACKED`] are summarised under.
const OVERFLOW: &str = "(other sources)";

/// What was refused: it names the log line and the metric's `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A TCP connection, before or after TLS (limits, shedding, idle).
    Connection,
    /// A TLS handshake (no, untrusted, expired, revoked or unusable certificate).
    Handshake,
    /// A gRPC request (rate limit, role, validity).
    Request,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Connection => "connection",
            Kind::Handshake => "handshake",
            Kind::Request => "request",
        }
    }
}

#[derive(Debug)]
struct Window {
    started: Instant,
    /// Refusals since the last line (or record) about this key.
    unreported: u64,
}

#[derive(Debug, Default)]
struct Tables {
    logged: HashMap<(Kind, String, &'static str), Window>,
    audited: HashMap<(String, String, &'static str), Window>,
}

/// The refusal reporter, shared by the acceptor, the TLS verifier and the request layer.
#[derive(Debug)]
pub struct Refusals {
    interval: Duration,
    tables: Mutex<Tables>,
    /// Where audit records go; `None`: log and count only.
    audit: Option<AuditSink>,
    metrics: Arc<Metrics>,
}

impl Refusals {
    /// A reporter that logs and counts (into `metrics`) only, with no audit writer attached.
    pub(crate) fn new(interval: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            interval: interval.max(Duration::from_millis(1)),
            tables: Mutex::default(),
            audit: None,
            metrics,
        }
    }

    /// A reporter whose audit records are queued to `audit` (never waiting: when its queue is
    /// full they are counted instead), and whose summaries are flushed every interval by a task
    /// of its own. Needs a tokio runtime.
    pub(crate) fn start(interval: Duration, audit: AuditSink, metrics: Arc<Metrics>) -> Arc<Self> {
        let me = Arc::new(Self {
            audit: Some(audit),
            ..Self::new(interval, metrics)
        });
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                me.flush(Instant::now());
            }
        });
        me
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a refusal of `who` (a principal or a peer address) and logs it if it is the first of
    /// its kind in this interval. `detail` goes only into that first line.
    pub fn refused(&self, kind: Kind, who: &str, reason: &'static str, detail: &str) {
        self.metrics.record_refusal(kind.label(), reason);
        let now = Instant::now();
        let mut tables = self.tables();
        let full = tables.logged.len() >= MAX_TRACKED;
        let key = (kind, who.to_string(), reason);
        let key = if full && !tables.logged.contains_key(&key) {
            (kind, OVERFLOW.to_string(), reason)
        } else {
            key
        };
        match tables.logged.get_mut(&key) {
            Some(w) => w.unreported += 1,
            None => {
                let who = escape_untrusted(&key.1).into_owned();
                tables.logged.insert(
                    key,
                    Window {
                        started: now,
                        unreported: 0,
                    },
                );
                drop(tables);
                let detail = escape_untrusted(detail);
                info!(kind = kind.label(), from = %who, reason, detail = %detail, "{} refused", kind.what());
            }
        }
    }

    /// Audits a refusal of the CA-signed certificate of `principal` (with `role` as its OU said)
    /// at `target`: the first per (principal, target, reason) at once, the rest as one summary
    /// record per interval.
    pub fn audit(&self, principal: &str, role: &str, target: &str, reason: &'static str) {
        let now = Instant::now();
        let mut tables = self.tables();
        let full = tables.audited.len() >= MAX_TRACKED;
        let key = (principal.to_string(), target.to_string(), reason);
        let key = if full && !tables.audited.contains_key(&key) {
            (OVERFLOW.to_string(), target.to_string(), reason)
        } else {
            key
        };
        match tables.audited.get_mut(&key) {
            Some(w) => w.unreported += 1,
            None => {
                tables.audited.insert(
                    key.clone(),
                    Window {
                        started: now,
                        unreported: 0,
                    },
                );
                drop(tables);
                self.send_audit(&key.0, role, &key.1, format!("refused: {reason}"));
            }
        }
    }

    fn send_audit(&self, principal: &str, role: &str, target: &str, outcome: String) {
        let Some(sink) = &self.audit else { return };
        let actor = Actor {
            principal: principal.to_string(),
            role: role.to_string(),
            request_id: String::new(),
            tenant: String::new(),
        };
        if !sink.offer(actor.record("auth", target, &outcome)) {
            self.metrics.record_refusal("audit", "audit queue full");
        }
    }

    /// Writes the summaries of the windows that ended, and forgets the quiet ones (so the tables
    /// hold only sources refused within the last interval).
    pub fn flush(&self, now: Instant) {
        let mut lines = Vec::new();
        let mut records = Vec::new();
        {
            let mut tables = self.tables();
            let interval = self.interval;
            tables.logged.retain(|(kind, who, reason), w| {
                if now.duration_since(w.started) < interval {
                    return true;
                }
                if w.unreported == 0 {
                    return false;
                }
                lines.push((*kind, who.clone(), *reason, w.unreported));
                w.started = now;
                w.unreported = 0;
                true
            });
            tables.audited.retain(|(principal, target, reason), w| {
                if now.duration_since(w.started) < interval {
                    return true;
                }
                if w.unreported == 0 {
                    return false;
                }
                records.push((principal.clone(), target.clone(), *reason, w.unreported));
                w.started = now;
                w.unreported = 0;
                true
            });
        }
        for (kind, who, reason, n) in lines {
            let who = escape_untrusted(&who);
            info!(kind = kind.label(), from = %who, reason, count = n, "refused {n} more {} from {who}: {reason}", kind.plural());
        }
        for (principal, target, reason, n) in records {
            self.send_audit(
                &principal,
                "unknown",
                &target,
                format!("refused {n} more times: {reason}"),
            );
        }
    }
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Connection => "connection",
            Kind::Handshake => "TLS handshake",
            Kind::Request => "request",
        }
    }
    fn plural(self) -> &'static str {
        match self {
            Kind::Connection => "connections",
            Kind::Handshake => "TLS handshakes",
            Kind::Request => "requests",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_source_and_reason_per_interval_and_quiet_sources_are_forgotten() {
        let r = Refusals::new(Duration::from_secs(60), Arc::new(Metrics::new()));
        for _ in 0..10_000 {
            r.refused(Kind::Request, "alice", "rate limited", "retry in 20 ms");
        }
        r.refused(Kind::Request, "bob", "rate limited", "");
        assert_eq!(r.tables().logged.len(), 2);
        assert_eq!(
            r.tables()
                .logged
                .get(&(Kind::Request, "alice".into(), "rate limited"))
                .map(|w| w.unreported),
            Some(9_999)
        );
        // The window ends: alice's summary is written, bob (nothing since) is forgotten.
        let later = Instant::now() + Duration::from_secs(61);
        r.flush(later);
        assert_eq!(r.tables().logged.len(), 1);
        r.flush(later + Duration::from_secs(61));
        assert!(r.tables().logged.is_empty());
    }

    #[test]
    fn the_tables_are_bounded() {
        let r = Refusals::new(Duration::from_secs(60), Arc::new(Metrics::new()));
        for i in 0..(MAX_TRACKED + 500) {
            r.refused(
                Kind::Handshake,
                &format!("10.0.{i}"),
                "no client certificate",
                "",
            );
            r.audit(
                &format!("p{i}"),
                "viewer",
                "handshake",
                "certificate revoked",
            );
        }
        let t = r.tables();
        assert_eq!(t.logged.len(), MAX_TRACKED + 1);
        assert_eq!(t.audited.len(), MAX_TRACKED + 1);
    }
}
