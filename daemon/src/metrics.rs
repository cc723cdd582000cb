//! Prometheus metrics: the daemon's instruments, their exposition text, and the `/metrics`
//! listener (`[metrics] listen`, loopback by default, off when unset).
//!
//! A leaf: it knows no other module of the daemon. `runtime` makes one [`Metrics`] per daemon and
//! hands it to whatever records (the connector, the scheduler, the portfolio, the auth layer,
//! refusals, the connection table), so nothing is process-global and two daemons in one process
//! count apart. A gauge that summarises state owned elsewhere (accounts by health state) is a
//! callback its owner's wiring registers with the [`Exposition`]: it is read at scrape time, so it
//! can never drift. The exposition (and so the callback) belongs to the listener, not to the
//! instruments, so the recorders' handles never keep the state's owner alive.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::{info, warn};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    /// "ok" or "failure".
    result: &'static str,
    /// The failure reason ("" for ok).
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: String,
    /// The numeric gRPC status code.
    code: &'static str,
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
struct UpstreamLabels {
    endpoint: &'static str,
    /// HTTP status, or the failure reason when there was no HTTP answer. Borrowed in the
    /// common cases ("200", a reason), so counting a request allocates nothing.
    status: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    /// "connection", "handshake", "request" (see `refusals::Kind`), or "audit".
    kind: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VenueLabels {
    /// The venue kind ("binance").
    connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BookLabels {
    book: &'static str,
}

/// Every instrument one daemon records. Cheap to record into from many tasks at once.
#[derive(Debug)]
pub(crate) struct Metrics {
    checks: Family<CheckLabels, Counter>,
    check_seconds: Histogram,
    scheduler_lag_seconds: Histogram,
    rpcs: Family<RpcLabels, Counter>,
    upstream_requests: Family<UpstreamLabels, Counter>,
    snapshot_age_seconds: Family<BookLabels, Histogram>,
    refusals: Family<RefusalLabels, Counter>,
    /// Client connections holding a slot (handshaking or established).
    connections_open: Gauge,
    /// Each venue's effective check interval (stretched to fit a shared budget).
    check_interval_seconds: Family<VenueLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self {
            checks: Family::default(),
            check_seconds: Histogram::new(latency_buckets()),
            scheduler_lag_seconds: Histogram::new(latency_buckets()),
            rpcs: Family::default(),
            upstream_requests: Family::default(),
            snapshot_age_seconds: Family::new_with_constructor(|| {
                Histogram::new([0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0])
            }),
            refusals: Family::default(),
            connections_open: Gauge::default(),
            check_interval_seconds: Family::default(),
        }
    }

    /// The interval a venue's accounts are now checked at.
    pub(crate) fn set_check_interval(&self, connector: &str, interval: Duration) {
        self.check_interval_seconds
            .get_or_create(&VenueLabels {
                connector: connector.to_string(),
            })
            .set(interval.as_secs_f64());
    }

    /// One health check: its failure reason (`None` when it passed) and how long it took.
    pub(crate) fn record_check(&self, reason: Option<&'static str>, took: Duration) {
        self.checks
            .get_or_create(&CheckLabels {
                result: if reason.is_some() { "failure" } else { "ok" },
                reason: reason.unwrap_or(""),
            })
            .inc();
        self.check_seconds.observe(took.as_secs_f64());
    }

    /// How late a scheduled check started after its slot.
    pub(crate) fn record_scheduler_lag(&self, lag: Duration) {
        self.scheduler_lag_seconds.observe(lag.as_secs_f64());
    }

    pub(crate) fn record_rpc(&self, method: &str, code: i32) {
        self.rpcs
            .get_or_create(&RpcLabels {
                method: method_label(method, code).to_string(),
                code: code_label(code),
            })
            .inc();
    }

    pub(crate) fn record_refusal(&self, kind: &'static str, reason: &'static str) {
        self.refusals
            .get_or_create(&RefusalLabels { kind, reason })
            .inc();
    }

    pub(crate) fn record_upstream(&self, endpoint: &'static str, status: Cow<'static, str>) {
        self.upstream_requests
            .get_or_create(&UpstreamLabels { endpoint, status })
            .inc();
    }

    /// The age of a `book` snapshot served without asking its upstream.
    pub(crate) fn record_snapshot_age(&self, book: &'static str, age: Duration) {
        self.snapshot_age_seconds
            .get_or_create(&BookLabels { book })
            .observe(age.as_secs_f64());
    }

    pub(crate) fn set_connections_open(&self, open: usize) {
        self.connections_open
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// What a scrape shows: these instruments, and `accounts_by_state` (every state with its
    /// number of accounts) asked for at each scrape.
    pub(crate) fn exposition(
        &self,
        accounts_by_state: impl Fn() -> Vec<(&'static str, u32)> + Send + Sync + 'static,
    ) -> Exposition {
        // The registry holds clones of the instruments, which share their values.
        let mut r = Registry::with_prefix("roster");
        r.register(
            "checks",
            "Health checks by result and failure reason",
            self.checks.clone(),
        );
        r.register(
            "check_duration_seconds",
            "Duration of one health check (ping, and funds when probed)",
            self.check_seconds.clone(),
        );
        r.register(
            "scheduler_lag_seconds",
            "How late a scheduled check started after its slot",
            self.scheduler_lag_seconds.clone(),
        );
        r.register(
            "rpcs",
            "gRPC requests by method and status code",
            self.rpcs.clone(),
        );
        r.register(
            "upstream_requests",
            "Requests to upstreams by endpoint and HTTP status (or failure reason)",
            self.upstream_requests.clone(),
        );
        r.register(
            "snapshot_age_seconds",
            "Age of portfolio snapshots when served",
            self.snapshot_age_seconds.clone(),
        );
        r.register(
            "accounts",
            "Accounts by health state",
            AtScrape(accounts_by_state),
        );
        r.register(
            "refusals",
            "Refused connections, TLS handshakes and requests by kind and reason",
            self.refusals.clone(),
        );
        r.register(
            "connections_open",
            "Client connections holding a slot (handshaking or established)",
            self.connections_open.clone(),
        );
        r.register(
            "check_interval_seconds",
            "Each venue's effective health check interval: the configured one, stretched to fit \
             a budget its accounts share",
            self.check_interval_seconds.clone(),
        );
        Exposition { registry: r }
    }
}

/// A gauge labelled by state whose values its owner computes when scraped.
struct AtScrape<F>(F);

impl<F> std::fmt::Debug for AtScrape<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtScrape")
    }
}

impl<F: Fn() -> Vec<(&'static str, u32)>> EncodeMetric for AtScrape<F> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (state, n) in (self.0)() {
            encoder
                .encode_family(&StateLabels { state })?
                .encode_gauge(&i64::from(n))?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// The instruments of one daemon as a scrape shows them.
pub(crate) struct Exposition {
    registry: Registry,
}

impl Exposition {
    /// The current exposition text (OpenMetrics).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            warn!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// Binds `addr` and returns the bound address and the server, which answers GET /metrics with
/// `exposition` until `shutdown` resolves (the caller runs it as a task). Plain HTTP: keep it on
/// loopback or a management network (the default is loopback).
pub(crate) async fn listen(
    addr: SocketAddr,
    exposition: Exposition,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, impl Future<Output = ()> + Send + 'static)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    info!(addr = %local, "metrics listener ready");
    let exposition = Arc::new(exposition);
    let serve = async move {
        tokio::pin!(shutdown);
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
                () = &mut shutdown => return,
            };
            let exposition = exposition.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let exposition = exposition.clone();
                    async move {
                        if req.uri().path() == "/metrics" {
                            hyper::Response::builder()
                                .header(
                                    "content-type",
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )
                                .body(Full::new(Bytes::from(exposition.render())))
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
    };
    Ok((local, serve))
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

    #[test]
    fn each_daemons_metrics_are_its_own_and_the_state_gauge_is_read_at_scrape() {
        use std::sync::atomic::{AtomicU32, Ordering};

        let (one, other) = (Metrics::new(), Metrics::new());
        let up = Arc::new(AtomicU32::new(1));
        let read = up.clone();
        let one_scrape =
            one.exposition(move || vec![("UP", read.load(Ordering::Relaxed)), ("DOWN", 0)]);
        let other_scrape = other.exposition(|| vec![("UP", 0), ("DOWN", 0)]);

        one.record_check(Some("TIMEOUT"), Duration::from_millis(5));
        one.record_rpc("roster.v1.AccountService/GetAccount", 0);
        let text = one_scrape.render();
        assert!(
            text.contains("roster_checks_total{result=\"failure\",reason=\"TIMEOUT\"} 1"),
            "{text}"
        );
        assert!(text.contains("roster_accounts{state=\"UP\"} 1"), "{text}");
        let text = other_scrape.render();
        assert!(!text.contains("roster_checks_total"), "{text}");
        assert!(!text.contains("roster_rpcs_total"), "{text}");
        assert!(
            text.contains("roster_check_duration_seconds_count 0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");

        up.store(7, Ordering::Relaxed);
        let text = one_scrape.render();
        assert!(text.contains("roster_accounts{state=\"UP\"} 7"), "{text}");
        assert!(text.contains("roster_accounts{state=\"DOWN\"} 0"), "{text}");
    }
}
