//! One check of one account through its venue's connector (OpenAlgo: ping, plus a funds probe
//! when due), and the connection test that AccountService.TestConnection answers with. Both are
//! bounded by the monitor's timeout.

use std::time::Duration;

use tokio::time::Instant;

use super::state::Outcome;
use crate::connector::{Connector, FailureReason, Upstream};

/// Runs one check within `timeout`. Returns the outcome and how long it took.
pub async fn run(
    connector: &dyn Connector,
    up: &Upstream,
    probe: bool,
    timeout: Duration,
) -> (Outcome, Duration) {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(timeout, connector.check(up, probe)).await {
        Ok(Ok(v)) => match v.restricted {
            Some(r) => Outcome::Restricted {
                reason: r.reason,
                message: r.to_string(),
                broker: v.broker,
                mode: v.mode.map(|m| m.as_str().to_string()),
            },
            None => Outcome::Ok {
                broker: v.broker,
                mode: v.mode.map(|m| m.as_str().to_string()),
                probed: v.probed,
            },
        },
        Ok(Err(f)) => Outcome::Failed {
            reason: f.error.reason,
            message: f.error.to_string(),
            in_probe: f.key_accepted,
            broker: f.broker,
            mode: f.mode.map(|m| m.as_str().to_string()),
        },
        Err(_) => Outcome::Failed {
            reason: FailureReason::Timeout,
            message: format!("no answer within {}", humantime::format_duration(timeout)),
            in_probe: false,
            broker: None,
            mode: None,
        },
    };
    (outcome, started.elapsed())
}

/// What a connection test found (AccountService.TestConnection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    /// The upstream answered HTTP at all.
    pub reachable: bool,
    /// Ping succeeded: the key is valid and a broker session is stored.
    pub key_accepted: bool,
    /// Funds answered with data: the broker session works.
    pub session_alive: bool,
    pub broker: String,
    pub mode: String,
    /// Of the ping.
    pub latency: Option<Duration>,
    pub reason: Option<FailureReason>,
    pub message: String,
}

/// The venue's deep check, reported step by step so the operator sees how far it got.
pub async fn test(connector: &dyn Connector, up: &Upstream, timeout: Duration) -> TestReport {
    let mut r = TestReport::default();
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, connector.check(up, true)).await;
    r.latency = Some(started.elapsed());
    match result {
        Ok(Ok(v)) => {
            r.reachable = true;
            r.key_accepted = true;
            r.session_alive = true;
            r.broker = v.broker.unwrap_or_default();
            r.mode = v.mode.map(|m| m.as_str().to_string()).unwrap_or_default();
            if let Some(restricted) = v.restricted {
                r.reason = Some(restricted.reason);
                r.message = format!("key accepted, reads work, but {restricted}");
            }
        }
        Ok(Err(f)) => {
            r.reachable = !matches!(
                f.error.reason,
                FailureReason::Timeout | FailureReason::Connect | FailureReason::Tls
            );
            r.key_accepted = f.key_accepted;
            r.broker = f.broker.unwrap_or_default();
            r.mode = f.mode.map(|m| m.as_str().to_string()).unwrap_or_default();
            r.reason = Some(f.error.reason);
            r.message = if f.key_accepted && f.error.reason == FailureReason::SessionExpired {
                format!("key accepted, but the broker session expired ({})", f.error)
            } else if f.key_accepted {
                format!("key accepted, but {}", f.error)
            } else {
                f.error.to_string()
            };
        }
        Err(_) => {
            r.reason = Some(FailureReason::Timeout);
            r.message = format!(
                "no complete answer within {}",
                humantime::format_duration(timeout)
            );
        }
    }
    r
}
