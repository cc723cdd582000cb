//! One check of one upstream (ping, plus a funds probe when due), and the connection test that
//! AccountService.TestConnection answers with. Both are bounded by the monitor's timeout.

use std::time::Duration;

use tokio::time::Instant;

use super::state::Outcome;
use crate::connector::{Connector, FailureReason, Mode, Upstream, UpstreamError};

pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Live => "live",
        Mode::Analyze => "analyze",
    }
}

/// Runs one check within `timeout`. Returns the outcome and how long it took.
pub async fn run(
    connector: &dyn Connector,
    up: &Upstream,
    probe: bool,
    timeout: Duration,
) -> (Outcome, Duration) {
    let started = Instant::now();
    let work = async {
        let ping = match connector.ping(up).await {
            Ok(p) => p,
            Err(e) => return failed(e, None),
        };
        if !probe {
            return Outcome::Ok {
                broker: Some(ping.broker),
                mode: None,
                probed: false,
            };
        }
        match connector.funds(up).await {
            Ok(f) => Outcome::Ok {
                broker: Some(ping.broker),
                mode: Some(mode_name(f.mode).to_string()),
                probed: true,
            },
            Err(e) => failed(e, Some(ping.broker)),
        }
    };
    let outcome = match tokio::time::timeout(timeout, work).await {
        Ok(o) => o,
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

/// A failed ping (`pinged` is None) or a failed funds probe after a ping that named the broker.
fn failed(e: UpstreamError, pinged: Option<String>) -> Outcome {
    let in_probe = pinged.is_some();
    // An expired session answers 200 without `"mode":"analyze"`, and OpenAlgo marks every
    // analyzer answer with it: that account is live (the analyzer has no broker session to lose).
    let mode = (in_probe && e.reason == FailureReason::SessionExpired)
        .then(|| mode_name(Mode::Live).to_string());
    let message = if in_probe && e.reason == FailureReason::SessionExpired {
        format!("ping ok but funds answered empty data: broker session expired ({e})")
    } else if in_probe {
        format!("ping ok but funds failed: {e}")
    } else {
        e.to_string()
    };
    Outcome::Failed {
        reason: e.reason,
        message,
        in_probe,
        broker: pinged,
        mode,
    }
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

/// Ping, then funds; each step is reported separately so the operator sees how far it got.
pub async fn test(connector: &dyn Connector, up: &Upstream, timeout: Duration) -> TestReport {
    let mut r = TestReport::default();
    let work = async {
        let started = Instant::now();
        let ping = connector.ping(up).await;
        r.latency = Some(started.elapsed());
        match ping {
            Ok(p) => {
                r.reachable = true;
                r.key_accepted = true;
                r.broker = p.broker;
            }
            Err(e) => {
                r.reachable = !matches!(
                    e.reason,
                    FailureReason::Timeout | FailureReason::Connect | FailureReason::Tls
                );
                r.reason = Some(e.reason);
                r.message = e.to_string();
                return;
            }
        }
        match connector.funds(up).await {
            Ok(f) => {
                r.session_alive = true;
                r.mode = mode_name(f.mode).to_string();
            }
            Err(e) => {
                r.reason = Some(e.reason);
                r.message = if e.reason == FailureReason::SessionExpired {
                    format!("key accepted, but the broker session expired ({e})")
                } else {
                    format!("key accepted, but funds failed: {e}")
                };
            }
        }
    };
    if tokio::time::timeout(timeout, work).await.is_err() {
        r.reason = Some(FailureReason::Timeout);
        r.message = format!(
            "no complete answer within {}",
            humantime::format_duration(timeout)
        );
    }
    r
}
