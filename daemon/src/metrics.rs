//! Prometheus metrics, served in the text exposition format on a separate listener
//! (`[metrics] listen`, loopback by default, off when unset).
//!
//! The instruments are process-wide so that the modules that observe something (the scheduler,
//! the connector, the auth layer) record it where it happens without threading a handle through
//! every constructor. Gauges that summarise state (accounts by health state) are computed at
//! scrape time from their owner, so they can never drift.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::monitor::MonitorHandle;
use crate::supervisor::Supervisor;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// "ok" or "failure".
    pub result: &'static str,
    /// The failure reason ("" for ok).
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: String,
    /// The numeric gRPC status code.
    pub code: &'static str,
}

/// The label of a numeric gRPC status code, without formatting one for every request.
fn code_label(code: i32) -> &'static str {
    const CODES: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| CODES.get(i))
        .copied()
        .unwrap_or("other")
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub endpoint: &'static str,
    /// HTTP status, or the failure reason when there was no HTTP answer. Borrowed in the
    /// common cases ("200", a reason), so counting a request allocates nothing.
    pub status: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// "connection", "handshake", "request" (see `refusals::Kind`).
    pub kind: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BookLabels {
    pub book: &'static str,
}

/// Every instrument the daemon records.
pub struct Metrics {
    pub checks: Family<CheckLabels, Counter>,
    pub check_seconds: Histogram,
    pub scheduler_lag_seconds: Histogram,
    pub rpcs: Family<RpcLabels, Counter>,
    pub upstream_requests: Family<UpstreamLabels, Counter>,
    pub snapshot_age_seconds: Family<BookLabels, Histogram>,
    accounts: Family<StateLabels, Gauge>,
    pub refusals: Family<RefusalLabels, Counter>,
    /// Client connections holding a slot (handshaking or established).
    pub connections_open: Gauge,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    checks: Family::default(),
    check_seconds: Histogram::new(latency_buckets()),
    scheduler_lag_seconds: Histogram::new(latency_buckets()),
    rpcs: Family::default(),
    upstream_requests: Family::default(),
    snapshot_age_seconds: Family::new_with_constructor(|| {
        Histogram::new([0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0])
    }),
    accounts: Family::default(),
    refusals: Family::default(),
    connections_open: Gauge::default(),
});

pub fn get() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    pub fn record_check(&self, reason: Option<&'static str>, took: Duration) {
        self.checks
            .get_or_create(&CheckLabels {
                result: if reason.is_some() { "failure" } else { "ok" },
                reason: reason.unwrap_or(""),
            })
            .inc();
        self.check_seconds.observe(took.as_secs_f64());
    }

    pub fn record_rpc(&self, method: &str, code: i32) {
        self.rpcs
            .get_or_create(&RpcLabels {
                method: method_label(method, code).to_string(),
                code: code_label(code),
            })
            .inc();
    }

    pub fn record_refusal(&self, kind: &'static str, reason: &'static str) {
        self.refusals
            .get_or_create(&RefusalLabels { kind, reason })
            .inc();
    }

    pub fn record_upstream(&self, endpoint: &'static str, status: Cow<'static, str>) {
        self.upstream_requests
            .get_or_create(&UpstreamLabels { endpoint, status })
            .inc();
    }
}

fn registry() -> Registry {
    let m = get();
    let mut r = Registry::with_prefix("roster");
    r.register(
        "checks",
        "Health checks by result and failure reason",
        m.checks.clone(),
    );
    r.register(
        "check_duration_seconds",
        "Duration of one health check (ping, and funds when probed)",
        m.check_seconds.clone(),
    );
    r.register(
        "scheduler_lag_seconds",
        "How late a scheduled check started after its slot",
        m.scheduler_lag_seconds.clone(),
    );
    r.register(
        "rpcs",
        "gRPC requests by method and status code",
        m.rpcs.clone(),
    );
    r.register(
        "upstream_requests",
        "Requests to upstreams by endpoint and HTTP status (or failure reason)",
        m.upstream_requests.clone(),
    );
    r.register(
        "snapshot_age_seconds",
        "Age of portfolio snapshots when served",
        m.snapshot_age_seconds.clone(),
    );
    r.register("accounts", "Accounts by health state", m.accounts.clone());
    r.register(
        "refusals",
        "Refused connections, TLS handshakes and requests by kind and reason",
        m.refusals.clone(),
    );
    r.register(
        "connections_open",
        "Client connections holding a slot (handshaking or established)",
        m.connections_open.clone(),
    );
    r
}

/// The current exposition text, with the accounts gauge refreshed from the monitor.
pub fn render(monitor: &MonitorHandle) -> String {
    let m = get();
    let counts = monitor.counts();
    for state in ["UNKNOWN", "UP", "DEGRADED", "DOWN", "DISABLED"] {
        let n = counts.get(state).copied().unwrap_or(0);
        m.accounts
            .get_or_create(&StateLabels { state })
            .set(i64::from(n));
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry()) {
        warn!(error = %e, "cannot encode metrics");
    }
    out
}

/// Serves GET /metrics on `addr` until shutdown. Plain HTTP: keep it on loopback or a
/// management network (the default is loopback).
pub async fn serve(
    addr: SocketAddr,
    monitor: MonitorHandle,
    supervisor: &Supervisor,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    info!(addr = %local, "metrics listener ready");
    let monitor = Arc::new(monitor);
    let mut stop = supervisor.signal();
    supervisor.spawn("metrics", async move {
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        warn!(error = %e, "metrics accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = stop.requested() => return,
            };
            let monitor = monitor.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let monitor = monitor.clone();
                    async move {
                        if req.uri().path() == "/metrics" {
                            hyper::Response::builder()
                                .header(
                                    "content-type",
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )
                                .body(Full::new(Bytes::from(render(&monitor))))
                        } else {
                            hyper::Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::from_static(b"see /metrics\n")))
                        }
                    }
                });
                let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let io = TokioIo::new(tcp);
                let served =
                    tokio::time::timeout(Duration::from_secs(30), conn.serve_connection(io, svc));
                let _ = served.await;
            });
        }
    });
    Ok(local)
}

/// The `method` label. A path that no service serves answers UNIMPLEMENTED and is counted as
/// "unknown": the path is the client's choice, and a label per made-up path would let any
/// certificate holder grow the registry (and every scrape) without bound.
fn method_label(method: &str, code: i32) -> &str {
    if code == tonic::Code::Unimplemented as i32 {
        "unknown"
    } else {
        method
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let unimplemented = tonic::Code::Unimplemented as i32;
        assert_eq!(method_label("/x.Y/AnythingAtAll", unimplemented), "unknown");
        assert_eq!(method_label("GetAccount", 0), "GetAccount");
        assert_eq!(
            method_label("GetAccount", tonic::Code::NotFound as i32),
            "GetAccount"
        );
    }
}
