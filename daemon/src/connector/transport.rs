//! The HTTP side every venue shares: the `[upstream]` settings, one trust store, one pooled
//! `reqwest::Client`, capped body reads and the classification of transport failures. A venue
//! module builds its requests and reads its answers; how bytes move is decided here once.
//!
//! - One `reqwest::Client`: connection pooling across calls, HTTP/2 when the server offers it
//!   via ALPN, rustls, `TCP_NODELAY`, idle connections kept ~90 s, the platform's roots, no
//!   proxy, no retries, no redirects (a 307/308 would resend a credential to another place).
//! - No client-wide timeout: each venue puts one deadline over a whole call (budget wait,
//!   connect, headers, body), so a server trickling bytes cannot hold a call longer.
//! - Bodies are read chunk by chunk up to `max_response_bytes`; beyond that it is
//!   `BAD_RESPONSE` and the rest is never read.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, RequestBuilder, Response};
use rustls_platform_verifier::BuilderVerifierExt;
use serde::{Deserialize, Serialize};

use super::bounds::DEFAULT_MAX_ROWS_PER_BOOK;
use super::classify::{Answer, chain_has_tls_error, innermost_detail};
use super::{FailureReason, UpstreamError};
use crate::metrics::Metrics;

/// `[upstream]`: tunables every venue's connector shares. Durations are humantime strings in config files (`"5s"`).
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
    /// OpenAlgo: our budget per (upstream origin, endpoint); kept under OpenAlgo's default 10/s.
    pub requests_per_second_per_endpoint: u32,
    pub user_agent: String,
    /// Rows one book (positions, orders, trades, holdings) may have; decoding stops at the first
    /// row past it and the account's section is `BAD_RESPONSE` naming this key. Busy real
    /// accounts have hundreds of orders a day, not thousands.
    pub max_rows_per_book: usize,
    /// Binance's request weight per minute per egress IP (6,000 on api.binance.com), shared by
    /// every Binance account behind this daemon's address.
    pub binance_weight_per_minute: u32,
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
            binance_weight_per_minute: 6_000,
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
        if self.binance_weight_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "binance_weight_per_minute must be > 0",
            ));
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

/// Why the connectors could not be built.
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

/// The shared clients. One per daemon, held by every venue's connector.
pub struct Transport {
    client: Client,
    /// For venues with their own lean client (OpenAlgo's `http1`): the same roots, HTTP/1.1 only.
    http1_tls: Arc<rustls::ClientConfig>,
    config: ConnectorConfig,
    /// Every call is counted by endpoint and status.
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(config: ConnectorConfig, metrics: Arc<Metrics>) -> Result<Self, ConfigError> {
        config.validate()?;
        // One trust store for every client, read once: the platform verifier loads the system's
        // roots (or SSL_CERT_FILE / SSL_CERT_DIR) when it is made. Restart to pick up changes.
        let mut http1_tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(ConfigError::Tls)?
        .with_platform_verifier()
        .map_err(ConfigError::Tls)?
        .with_no_client_auth();
        let mut pooled_tls = http1_tls.clone();
        http1_tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        pooled_tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // No retries: a failed call is what a check reports, and reqwest copies every request
        // up front (headers, body) for a retry unless the retry count is zero.
        let client = Client::builder()
            .tls_backend_preconfigured(pooled_tls)
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
        Ok(Self {
            client,
            http1_tls: Arc::new(http1_tls),
            config,
            metrics,
        })
    }

    pub fn config(&self) -> &ConnectorConfig {
        &self.config
    }

    /// Counts one call under `label` by how it ended: "200", the HTTP status of a refusal, or
    /// the failure reason when there was no answer. An answer refused for what it holds (a bound,
    /// a shape) is counted as BAD_RESPONSE, not as the 200 it came with.
    pub(crate) fn record<T>(&self, label: &'static str, result: &Result<T, UpstreamError>) {
        let status = match result {
            Ok(_) => Cow::Borrowed("200"),
            Err(e) if e.reason == FailureReason::BadResponse => Cow::Borrowed(e.reason.as_str()),
            Err(e) => e.http_status.map_or(Cow::Borrowed(e.reason.as_str()), |s| {
                Cow::Owned(s.to_string())
            }),
        };
        self.metrics.record_upstream(label, status);
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn http1_tls(&self) -> Arc<rustls::ClientConfig> {
        self.http1_tls.clone()
    }

    /// Sends `request` and reads its answer whole (within `max_response_bytes`), keeping the
    /// response headers named in `keep` (lowercase). The caller bounds it with its deadline.
    pub async fn send(
        &self,
        request: RequestBuilder,
        keep: &[&'static str],
    ) -> Result<Answer, UpstreamError> {
        let resp = request
            .send()
            .await
            .map_err(|e| classify_transport(&e, None))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let headers = keep
            .iter()
            .filter_map(|name| {
                let v = resp.headers().get(*name)?.to_str().ok()?;
                // A header is a hint (a rate-limit count), never worth more than a line.
                Some((*name, v.chars().take(64).collect()))
            })
            .collect();
        let body = read_capped(resp, self.config.max_response_bytes).await?;
        Ok(Answer {
            status,
            content_type,
            body,
            headers,
        })
    }
}

/// Reads the body chunk by chunk, refusing more than `cap` bytes (checked against
/// `Content-Length` first, then as bytes arrive, for chunked or lying servers).
pub(crate) async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, UpstreamError> {
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
pub(crate) fn classify_transport(err: &reqwest::Error, http_status: Option<u16>) -> UpstreamError {
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
