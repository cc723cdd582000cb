//! [`OpenAlgo`]: the HTTP implementation of [`Connector`] against the OpenAlgo REST API.
//!
//! - The health checks' two calls (ping, funds; ~1,000 a second at 5,000 accounts) go through
//!   [`Http1Client`], a lean keep-alive HTTP/1.1 client (see its module for why); the book calls
//!   through one shared `reqwest::Client`: connection pooling across calls, HTTP/2 when the server
//!   offers it via ALPN, rustls, `TCP_NODELAY`, idle connections kept ~90 s. Both trust the
//!   platform's roots and neither uses a proxy.
//! - Every call is `POST {host_url}/api/v1/{endpoint}` with the JSON body `{"apikey": "..."}`;
//!   the key is never in a header, the URL or a log line, and is scrubbed from error messages.
//! - Request budget: a keyed GCRA limiter per (origin, endpoint), because OpenAlgo limits each
//!   endpoint per client IP (10/s by default, moving window). Calls *wait* for a slot rather than
//!   fail, but never past the call's deadline.
//! - One overall deadline per call (`request_timeout`) covers the budget wait, connect, TLS,
//!   headers and the whole body, so a server trickling bytes cannot hold a call longer.
//! - Bodies are read chunk by chunk up to `max_response_bytes`; beyond that it is
//!   `BAD_RESPONSE` and the rest is never read.
//! - Redirects are not followed: a 307/308 would resend the body (the key) to another place.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Response, Url};
use rustls_platform_verifier::BuilderVerifierExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::bounds::DEFAULT_MAX_ROWS_PER_BOOK;
use super::classify::{Answer, chain_has_tls_error, innermost_detail, interpret_within};
use super::decode::{FromEnvelope, Limits};
use super::http1::Http1Client;
use super::scrub::scrub_error;
use super::{
    BaseUrl, Connector, Endpoint, FailureReason, Funds, Holdings, OrderBook, PingInfo, Positions,
    TradeBook, Upstream, UpstreamError,
};
use crate::metrics::Metrics;

/// Above this many budget keys, stale ones (hosts no longer called) are dropped.
const BUDGET_KEYS_SOFT_CAP: usize = 4096;

/// Tunables for [`OpenAlgo`]. Durations are humantime strings in config files (`"5s"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Deadline for one whole call: budget wait + connect + TLS + headers + body.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Deadline for establishing the TCP connection (within `request_timeout`).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// A body larger than this is `BAD_RESPONSE` (the biggest real answers, orderbooks of busy
    /// accounts, are well under 1 MiB).
    pub max_response_bytes: usize,
    /// Our budget per (upstream origin, endpoint); kept under OpenAlgo's default 10/s.
    pub requests_per_second_per_endpoint: u32,
    pub user_agent: String,
    /// Rows one book (positions, orders, trades, holdings) may have; decoding stops at the first
    /// row past it and the account's section is `BAD_RESPONSE` naming this key. Busy real
    /// accounts have hundreds of orders a day, not thousands.
    pub max_rows_per_book: usize,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            max_response_bytes: 4 * 1024 * 1024,
            requests_per_second_per_endpoint: 8,
            user_agent: concat!("rosterd/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_rows_per_book: DEFAULT_MAX_ROWS_PER_BOOK,
        }
    }
}

impl ConnectorConfig {
    /// Checks what types alone cannot; `rosterd check-config` runs it as startup does. Returns
    /// the per-endpoint budget, which the connector needs as a `NonZeroU32`.
    pub fn validate(&self) -> Result<NonZeroU32, ConfigError> {
        if self.request_timeout.is_zero() {
            return Err(ConfigError::Invalid("request_timeout must be > 0"));
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::Invalid("connect_timeout must be > 0"));
        }
        if self.max_response_bytes == 0 {
            return Err(ConfigError::Invalid("max_response_bytes must be > 0"));
        }
        if self.max_rows_per_book == 0 {
            return Err(ConfigError::Invalid("max_rows_per_book must be > 0"));
        }
        // It goes into every request's head verbatim.
        if !self
            .user_agent
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(ConfigError::Invalid(
                "user_agent must be printable ASCII on one line",
            ));
        }
        NonZeroU32::new(self.requests_per_second_per_endpoint).ok_or(ConfigError::Invalid(
            "requests_per_second_per_endpoint must be > 0",
        ))
    }
}

/// Why an [`OpenAlgo`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid [upstream] configuration: {0}")]
    Invalid(&'static str),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error(
        "cannot load the CA certificates that https upstreams are verified against (install \
         ca-certificates, or point SSL_CERT_FILE at a PEM bundle): {0}"
    )]
    Tls(rustls::Error),
}

type BudgetKey = (Arc<str>, Endpoint);
/// Keyed by origins from our own accounts table, so a fast hash (not a DoS-resistant one) is safe.
type Budget = RateLimiter<
    BudgetKey,
    DefaultKeyedStateStore<BudgetKey, foldhash::fast::RandomState>,
    DefaultClock,
>;

/// The OpenAlgo connector. Cheap to share: hold it in an `Arc<dyn Connector>`.
pub struct OpenAlgo {
    /// ping and funds.
    probes: Http1Client,
    /// The books.
    client: Client,
    budget: Arc<Budget>,
    config: ConnectorConfig,
    /// Every call is counted by endpoint and status.
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for OpenAlgo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAlgo")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenAlgo {
    pub(crate) fn new(config: ConnectorConfig, metrics: Arc<Metrics>) -> Result<Self, ConfigError> {
        let rps = config.validate()?;
        // Burst 1: OpenAlgo counts a *moving* one-second window, and a GCRA with burst b lets
        // b + rate - 1 requests into some one-second window. Burst 1 keeps that at `rate`.
        let quota = Quota::per_second(rps).allow_burst(NonZeroU32::MIN);
        // One trust store for both clients, read once: the platform verifier loads the system's
        // roots (or SSL_CERT_FILE / SSL_CERT_DIR) when it is made. Restart to pick up changes.
        let mut probe_tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(ConfigError::Tls)?
        .with_platform_verifier()
        .map_err(ConfigError::Tls)?
        .with_no_client_auth();
        let mut books_tls = probe_tls.clone();
        probe_tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        books_tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // No client-wide timeout: `call` puts one deadline over the whole exchange (budget wait,
        // connect, headers, body), and a second timer per request would only cost CPU. No
        // retries either: a failed call is what a check reports, and reqwest copies every
        // request up front (headers, body) for a retry unless the retry count is zero.
        let client = Client::builder()
            .tls_backend_preconfigured(books_tls)
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .no_proxy()
            .build()
            .map_err(|e| {
                // reqwest's own Display repeats its kind ("builder error: builder error").
                let detail = innermost_detail(&e);
                ConfigError::Client(if detail.is_empty() {
                    e.to_string()
                } else {
                    detail
                })
            })?;
        let probes = Http1Client::new(
            Arc::new(probe_tls),
            config.connect_timeout,
            config.user_agent.clone(),
            config.max_response_bytes,
        );
        Ok(Self {
            probes,
            client,
            budget: Arc::new(RateLimiter::dashmap_with_hasher(quota, Default::default())),
            config,
            metrics,
        })
    }

    /// One call to `T::ENDPOINT`, bounded by `request_timeout` from start to last body byte.
    async fn call<T: FromEnvelope>(&self, up: &Upstream) -> Result<T, UpstreamError> {
        let endpoint = T::ENDPOINT;
        let started = Instant::now();
        let deadline = started + self.config.request_timeout;
        let base = up.base().ok_or_else(|| {
            UpstreamError::new(
                FailureReason::Connect,
                "host_url is not a valid http(s) URL",
                None,
            )
        })?;
        let origin = base.origin().clone();
        tracing::debug!(account_id = %up.account_id, host = %origin, endpoint = %endpoint, "upstream call");

        let key = (origin, endpoint);
        let result = match self.take_slot(&key, deadline).await {
            Err(e) => Err(e),
            Ok(()) => match tokio::time::timeout_at(
                deadline,
                self.exchange::<T>(base, up, &key, deadline),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(UpstreamError::new(
                    FailureReason::Timeout,
                    format!(
                        "no complete answer within {}",
                        humantime::format_duration(self.config.request_timeout)
                    ),
                    None,
                )),
            },
        };
        let (origin, _) = key;
        if self.budget.len() > BUDGET_KEYS_SOFT_CAP {
            self.budget.retain_recent();
        }
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.metrics.record_upstream(
            endpoint.as_str(),
            match &result {
                Ok(_) => Cow::Borrowed("200"),
                // An answer refused for what it holds (a bound, a shape) is counted as such,
                // not as the 200 it came with.
                Err(e) if e.reason == FailureReason::BadResponse => {
                    Cow::Borrowed(e.reason.as_str())
                }
                Err(e) => e.http_status.map_or(Cow::Borrowed(e.reason.as_str()), |s| {
                    Cow::Owned(s.to_string())
                }),
            },
        );
        // Before anything of the answer is logged, stored or shown.
        match result {
            Ok(mut v) => {
                v.scrub(up.api_key.expose());
                tracing::debug!(account_id = %up.account_id, host = %origin, endpoint = %endpoint, elapsed_ms, "upstream ok");
                Ok(v)
            }
            Err(e) => {
                let e = scrub_error(e, up.api_key.expose());
                tracing::debug!(account_id = %up.account_id, host = %origin, endpoint = %endpoint, elapsed_ms, reason = e.reason.as_str(), http_status = e.http_status, "upstream failed: {}", e.message);
                Err(e)
            }
        }
    }

    /// One slot of the request budget for `key`, waiting for it until `deadline` at most. Every
    /// request that leaves takes one, a retry included: the budget is what keeps us under the
    /// upstream's own limit.
    async fn take_slot(&self, key: &BudgetKey, deadline: Instant) -> Result<(), UpstreamError> {
        // Almost always a slot is free: take it without arming a timer.
        if self.budget.check_key(key).is_ok() {
            return Ok(());
        }
        tokio::time::timeout_at(deadline, self.budget.until_key_ready(key))
            .await
            .map_err(|_| {
                UpstreamError::new(
                    FailureReason::RateLimited,
                    format!(
                        "local request budget ({}/s for {} on this host) had no slot within {}",
                        self.config.requests_per_second_per_endpoint,
                        key.1,
                        humantime::format_duration(self.config.request_timeout)
                    ),
                    None,
                )
            })
    }

    /// The HTTP exchange itself; the caller bounds it with the deadline and has taken a budget
    /// slot for the first request (`key`, `deadline`: for a retry's).
    async fn exchange<T: FromEnvelope>(
        &self,
        base: &BaseUrl,
        up: &Upstream,
        key: &BudgetKey,
        deadline: Instant,
    ) -> Result<T, UpstreamError> {
        #[derive(Serialize)]
        struct KeyBody<'a> {
            apikey: &'a str,
        }
        let body = serde_json::to_vec(&KeyBody {
            apikey: up.api_key.expose(),
        })
        .map_err(|_| {
            UpstreamError::new(
                FailureReason::BadResponse,
                "cannot encode the request body",
                None,
            )
        })?;
        let path = T::ENDPOINT.path();
        let answer = match T::ENDPOINT {
            Endpoint::Ping | Endpoint::Funds => {
                self.probes
                    .post(base, path, &body, self.take_slot(key, deadline))
                    .await?
            }
            _ => self.post_books(base.join(path), body).await?,
        };
        let limits = Limits {
            max_rows: self.config.max_rows_per_book,
        };
        interpret_within::<T>(
            answer.status,
            answer.content_type.as_deref(),
            &answer.body,
            limits,
        )
    }

    async fn post_books(&self, url: Url, body: Vec<u8>) -> Result<Answer, UpstreamError> {
        let resp = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| classify_transport(&e, None))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_capped(resp, self.config.max_response_bytes).await?;
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }
}

/// Reads the body chunk by chunk, refusing more than `cap` bytes (checked against
/// `Content-Length` first, then as bytes arrive, for chunked or lying servers).
async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, UpstreamError> {
    let status = Some(resp.status().as_u16());
    let too_big = || {
        UpstreamError::new(
            FailureReason::BadResponse,
            format!("upstream body exceeds the {cap}-byte limit"),
            status,
        )
    };
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_big());
    }
    let initial = declared
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(64 * 1024);
    let mut buf = Vec::with_capacity(initial);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| classify_transport(&e, status))?
    {
        if buf.len().saturating_add(chunk.len()) > cap {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Maps a reqwest failure to a reason. TLS is told apart from plain connect failures by finding a
/// `rustls::Error` in the error chain (see [`chain_has_tls_error`]).
fn classify_transport(err: &reqwest::Error, http_status: Option<u16>) -> UpstreamError {
    let detail = innermost_detail(err);
    let (reason, what) = if err.is_timeout() {
        (FailureReason::Timeout, "upstream timed out")
    } else if chain_has_tls_error(err) {
        (FailureReason::Tls, "handshake with upstream failed")
    } else if http_status.is_some() || err.is_body() || err.is_decode() {
        // Headers arrived, the body did not: a truncated or broken answer.
        (
            FailureReason::BadResponse,
            "reading the upstream body failed",
        )
    } else if err.is_connect() {
        (FailureReason::Connect, "cannot connect to upstream")
    } else {
        (FailureReason::Connect, "upstream connection failed")
    };
    let message = if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {detail}")
    };
    UpstreamError::new(reason, message, http_status)
}

impl Connector for OpenAlgo {
    fn ping<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<PingInfo, UpstreamError>> {
        Box::pin(self.call::<PingInfo>(up))
    }
    fn funds<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Funds, UpstreamError>> {
        Box::pin(self.call::<Funds>(up))
    }
    fn positions<'a>(
        &'a self,
        up: &'a Upstream,
    ) -> BoxFuture<'a, Result<Positions, UpstreamError>> {
        Box::pin(self.call::<Positions>(up))
    }
    fn orders<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<OrderBook, UpstreamError>> {
        Box::pin(self.call::<OrderBook>(up))
    }
    fn trades<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<TradeBook, UpstreamError>> {
        Box::pin(self.call::<TradeBook>(up))
    }
    fn holdings<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Holdings, UpstreamError>> {
        Box::pin(self.call::<Holdings>(up))
    }
}
