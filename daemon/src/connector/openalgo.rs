//! [`OpenAlgo`]: the venue `openalgo`, the HTTP implementation of [`Connector`] against the
//! OpenAlgo REST API. Its money is in rupees; its credential is one `api_key`; it has every book
//! (balances are its funds seen as one INR balance).
//!
//! - The health checks' two calls (ping, funds; ~1,000 a second at 5,000 accounts) go through
//!   [`Http1Client`], a lean keep-alive HTTP/1.1 client (see its module for why); the book calls
//!   through the shared pooled client of [`Transport`].
//! - Every call is `POST {host_url}/api/v1/{endpoint}` with the JSON body `{"apikey": "..."}`;
//!   the key is never in a header, the URL or a log line, and is scrubbed from error messages.
//! - Request budget: a keyed GCRA limiter per (origin, endpoint), because OpenAlgo limits each
//!   endpoint per client IP (10/s by default, moving window). Calls *wait* for a slot rather than
//!   fail, but never past the call's deadline.
//! - One overall deadline per call (`request_timeout`) covers the budget wait, connect, TLS,
//!   headers and the whole body, so a server trickling bytes cannot hold a call longer.

use std::num::NonZeroU32;
use std::sync::Arc;

use futures::future::BoxFuture;
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Serialize;
use tokio::time::Instant;

use super::classify::{Answer, interpret_within};
use super::decode::{FromEnvelope, Limits};
use super::http1::Http1Client;
use super::scrub::{scrub_credential, scrub_error_of};
use super::transport::{ConfigError, Transport};
use super::{
    Balance, Balances, BaseUrl, BookKind, CheckFailure, Connector, CredentialField, Endpoint,
    FailureReason, Funds, Holdings, Mode, OrderBook, PingInfo, Positions, TradeBook, Upstream,
    UpstreamError, Venue, VenueEnvironment, Vitals,
};

/// What the venue is, needs and has.
pub static VENUE: Venue = Venue {
    kind: "openalgo",
    title: "OpenAlgo (one self-hosted instance per Indian broker account)",
    credential_fields: &[CredentialField {
        name: "api_key",
        description: "the instance's API key (OpenAlgo: API Keys page)",
        max_len: 256,
        multiline: false,
    }],
    environments: &[VenueEnvironment {
        name: "live",
        default_host: None,
    }],
    books: &[
        BookKind::Funds,
        BookKind::Balances,
        BookKind::Positions,
        BookKind::Orders,
        BookKind::Trades,
        BookKind::Holdings,
    ],
    rate_budget: "requests_per_second_per_endpoint ([upstream], default 8/s) per host and endpoint",
    currency: "INR",
    health_probe: "POST /api/v1/ping, and /api/v1/funds every funds_probe_every checks",
};

/// Above this many budget keys, stale ones (hosts no longer called) are dropped.
const BUDGET_KEYS_SOFT_CAP: usize = 4096;

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
    /// The books, and the settings.
    transport: Arc<Transport>,
    budget: Arc<Budget>,
    rps: NonZeroU32,
}

impl std::fmt::Debug for OpenAlgo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAlgo")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl OpenAlgo {
    pub(crate) fn new(transport: Arc<Transport>) -> Result<Self, ConfigError> {
        let config = transport.config();
        let rps = config.validate()?;
        // Burst 1: OpenAlgo counts a *moving* one-second window, and a GCRA with burst b lets
        // b + rate - 1 requests into some one-second window. Burst 1 keeps that at `rate`.
        let quota = Quota::per_second(rps).allow_burst(NonZeroU32::MIN);
        let probes = Http1Client::new(
            transport.http1_tls(),
            config.connect_timeout,
            config.user_agent.clone(),
            config.max_response_bytes,
        );
        Ok(Self {
            probes,
            budget: Arc::new(RateLimiter::dashmap_with_hasher(quota, Default::default())),
            rps,
            transport,
        })
    }

    fn request_timeout(&self) -> std::time::Duration {
        self.transport.config().request_timeout
    }

    /// One call to `T::ENDPOINT`, bounded by `request_timeout` from start to last body byte.
    async fn call<T: FromEnvelope>(&self, up: &Upstream) -> Result<T, UpstreamError> {
        let endpoint = T::ENDPOINT;
        let started = Instant::now();
        let deadline = started + self.request_timeout();
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
                        humantime::format_duration(self.request_timeout())
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
        self.transport.record(endpoint.as_str(), &result);
        // Before anything of the answer is logged, stored or shown.
        match result {
            Ok(mut v) => {
                scrub_credential(&mut v, &up.credential);
                tracing::debug!(account_id = %up.account_id, host = %origin, endpoint = %endpoint, elapsed_ms, "upstream ok");
                Ok(v)
            }
            Err(e) => {
                let e = scrub_error_of(e, &up.credential);
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
                        self.rps,
                        key.1,
                        humantime::format_duration(self.request_timeout())
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
            apikey: up.secret("api_key")?.expose(),
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
            max_rows: self.transport.config().max_rows_per_book,
        };
        interpret_within::<T>(
            answer.status,
            answer.content_type.as_deref(),
            &answer.body,
            limits,
        )
    }

    async fn post_books(&self, url: Url, body: Vec<u8>) -> Result<Answer, UpstreamError> {
        let request = self
            .transport
            .client()
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body);
        self.transport.send(request, &[]).await
    }

    /// `POST /api/v1/ping`: the key is valid and a broker session is stored.
    pub(crate) async fn ping(&self, up: &Upstream) -> Result<PingInfo, UpstreamError> {
        self.call::<PingInfo>(up).await
    }

    /// Ping, then (when `deep`) funds: the key is valid and a broker session is stored, then the
    /// session works.
    async fn ping_then_funds(&self, up: &Upstream, deep: bool) -> Result<Vitals, CheckFailure> {
        let ping = self.ping(up).await?;
        if !deep {
            return Ok(Vitals {
                broker: Some(ping.broker),
                ..Vitals::default()
            });
        }
        match self.call::<Funds>(up).await {
            Ok(f) => Ok(Vitals {
                broker: Some(ping.broker),
                mode: Some(f.mode),
                probed: true,
                restricted: None,
            }),
            Err(e) => {
                let expired = e.reason == FailureReason::SessionExpired;
                let message = if expired {
                    format!("ping ok but funds answered empty data: broker session expired ({e})")
                } else {
                    format!("ping ok but funds failed: {e}")
                };
                Err(CheckFailure {
                    error: UpstreamError { message, ..e },
                    key_accepted: true,
                    broker: Some(ping.broker),
                    // An expired session answers 200 without `"mode":"analyze"`, and OpenAlgo
                    // marks every analyzer answer with it: that account is live (the analyzer
                    // has no broker session to lose).
                    mode: expired.then_some(Mode::Live),
                })
            }
        }
    }
}

/// Funds seen as the one balance an OpenAlgo account holds: rupees, free = `availablecash`,
/// locked = `utiliseddebits` (margin in use).
fn balances_of(f: Funds) -> Result<Balances, UpstreamError> {
    let total = f
        .available_cash
        .checked_add(f.utilised_debits)
        .ok_or_else(|| {
            UpstreamError::new(
                FailureReason::BadResponse,
                "availablecash + utiliseddebits is out of range",
                Some(200),
            )
        })?;
    Ok(Balances {
        rows: vec![Balance {
            asset: f.currency,
            free: f.available_cash,
            locked: f.utilised_debits,
            total,
        }],
        mode: f.mode,
    })
}

impl Connector for OpenAlgo {
    fn venue(&self) -> &'static Venue {
        &VENUE
    }
    fn check<'a>(
        &'a self,
        up: &'a Upstream,
        deep: bool,
    ) -> BoxFuture<'a, Result<Vitals, CheckFailure>> {
        Box::pin(self.ping_then_funds(up, deep))
    }
    fn funds<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Funds, UpstreamError>> {
        Box::pin(self.call::<Funds>(up))
    }
    fn balances<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Balances, UpstreamError>> {
        Box::pin(async move { balances_of(self.call::<Funds>(up).await?) })
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
