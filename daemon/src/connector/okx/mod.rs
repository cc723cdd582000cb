//! [`Okx`]: the venue `okx`, OKX's REST API v5 (`shared/reference/okx-coinbase-api.md`, part
//! A), read-only.
//!
//! - Environments: `live` and `demo` are the same host; demo requests carry
//!   `x-simulated-trading: 1`, and a key of the other environment is refused with 50101.
//! - Signing (A2): every private request carries `OK-ACCESS-KEY`, `OK-ACCESS-PASSPHRASE`,
//!   `OK-ACCESS-TIMESTAMP` (ISO-8601 UTC with milliseconds and `Z`) and `OK-ACCESS-SIGN`, the
//!   base64 HMAC-SHA256 under the secret's UTF-8 bytes of timestamp + `GET` + the request path
//!   with its query, exactly as sent. Every credential header is marked sensitive.
//! - Clock (A3): the timestamp is our clock plus the host's offset, learned from
//!   `GET /api/v5/public/time` ([`VenueClock`]) and refreshed every [`CLOCK_MAX_AGE`]. A `50102`
//!   (timestamp expired) drops the sample, resyncs once and retries the call; a second one is
//!   `CLOCK_SKEW`.
//! - Health (A4): `GET /api/v5/account/config`, then `GET /api/v5/account/balance`. The config
//!   call (5 per 2 s, the tightest budget) is made on a deep check (the monitor's periodic probe
//!   and every CheckNow) when its budget has a slot free at once, and whenever the account's user
//!   id is not known yet; an ordinary check is the balance call alone, which proves the same
//!   key, passphrase, signature, clock and read permission. A deep check never waits for a
//!   config slot: the tightest budget must not turn back-to-back checks into timeouts. The
//!   config's `uid` keys the account's budget.
//! - Errors ([`decode::reason_of`]): by OKX's `code`, whether it came with HTTP 200 or 401, as a
//!   string or a number, with or without `data`; the code and OKX's message are kept, scrubbed,
//!   in the detail.
//! - Budget ([`budget`]): per user id and endpoint, under the limits of A7.
//! - Books: balances (trading account), positions, pending orders and fills (last 3 days);
//!   each paged book reads at most [`MAX_PAGES`] pages of 100 and `max_rows_per_book` rows.

pub(crate) mod budget;
pub(crate) mod decode;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue};
use serde_json::value::RawValue;
use tokio::time::Instant;

use self::budget::{Limiter, PublicLimiter};
use self::decode::{CODE_TIMESTAMP_EXPIRED, Config, OkxError, envelope_data, mode_of};
use super::clock::{VenueClock, wall_ms};
use super::scrub::{Scrub, scrub_credential, scrub_error_of};
use super::sign::{hmac_sha256, to_base64};
use super::transport::{ConfigError, Transport};
use super::{
    Balances, BookKind, CheckFailure, Connector, CredentialField, FailureReason, OrderBook,
    Positions, TradeBook, Upstream, UpstreamError, Venue, VenueEnvironment, Vitals,
};

/// What the venue is, needs and has.
pub static VENUE: Venue = Venue {
    kind: "okx",
    title: "OKX API v5",
    credential_fields: &[
        CredentialField {
            name: "api_key",
            description: "the API key (OK-ACCESS-KEY; demo and live keys differ)",
            max_len: 256,
            multiline: false,
        },
        CredentialField {
            name: "secret_key",
            description: "the secret key, shown once when the API key is created",
            max_len: 256,
            multiline: false,
        },
        CredentialField {
            name: "passphrase",
            description: "the passphrase chosen when the API key was created",
            max_len: 256,
            multiline: false,
        },
    ],
    environments: &[
        VenueEnvironment {
            name: "live",
            default_host: Some("https://www.okx.com"),
        },
        VenueEnvironment {
            name: "demo",
            default_host: Some("https://www.okx.com"),
        },
    ],
    books: &[
        BookKind::Balances,
        BookKind::Positions,
        BookKind::Orders,
        BookKind::Trades,
    ],
    rate_budget: "per user id and endpoint: balance 10/2 s, config 5/2 s, positions 10/2 s, \
                  orders-pending and fills 60/2 s",
    currency: "per asset",
    health_probe: "GET /api/v5/account/config (deep checks) then GET /api/v5/account/balance",
};

/// What the health check reports as the broker behind the account.
const BROKER: &str = "okx";

/// How long a clock sample is trusted before the next call resyncs.
pub const CLOCK_MAX_AGE: Duration = Duration::from_secs(300);

/// Rows per page of orders and fills (OKX's largest `limit`).
const PAGE_SIZE: usize = 100;
/// Pages one orders or trades call reads at most.
pub const MAX_PAGES: usize = 5;

/// API keys whose user id is remembered; past it the map starts over (a user id is learnt
/// again from the next deep check).
const UIDS_CAP: usize = 65_536;

/// Hosts with a clock-sync gate; past it the map starts over.
const HOSTS_CAP: usize = 4096;

/// One kind of request: its path, its metrics label, its name in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Time,
    Config,
    Balance,
    Positions,
    OrdersPending,
    Fills,
}

impl Call {
    fn path(self) -> &'static str {
        match self {
            Self::Time => "/api/v5/public/time",
            Self::Config => "/api/v5/account/config",
            Self::Balance => "/api/v5/account/balance",
            Self::Positions => "/api/v5/account/positions",
            Self::OrdersPending => "/api/v5/trade/orders-pending",
            Self::Fills => "/api/v5/trade/fills",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Time => "okx:time",
            Self::Config => "okx:config",
            Self::Balance => "okx:balance",
            Self::Positions => "okx:positions",
            Self::OrdersPending => "okx:orders-pending",
            Self::Fills => "okx:fills",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Time => "public time",
            Self::Config => "account config",
            Self::Balance => "balance",
            Self::Positions => "positions",
            Self::OrdersPending => "orders-pending",
            Self::Fills => "fills",
        }
    }
}

/// The per-endpoint limiters (A7).
struct Limiters {
    config: Limiter,
    balance: Limiter,
    positions: Limiter,
    orders: Limiter,
    fills: Limiter,
    public: PublicLimiter,
}

impl Limiters {
    fn new() -> Self {
        Self {
            config: Limiter::new("account config", 5),
            balance: Limiter::new("balance", 10),
            positions: Limiter::new("positions", 10),
            orders: Limiter::new("orders-pending", 60),
            fills: Limiter::new("fills", 60),
            public: PublicLimiter::new(),
        }
    }

    fn of(&self, call: Call) -> Option<&Limiter> {
        match call {
            Call::Time => None,
            Call::Config => Some(&self.config),
            Call::Balance => Some(&self.balance),
            Call::Positions => Some(&self.positions),
            Call::OrdersPending => Some(&self.orders),
            Call::Fills => Some(&self.fills),
        }
    }
}

/// The OKX connector. Cheap to share: hold it in an `Arc<dyn Connector>`.
pub struct Okx {
    transport: Arc<Transport>,
    limiters: Limiters,
    clock: VenueClock,
    /// One clock sync at a time per host, so many accounts due together sync it once, and a
    /// hanging host holds up no other host's sync.
    syncing: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
    /// API key -> the user id its config named (the budget key).
    uids: Mutex<HashMap<Arc<str>, Arc<str>>>,
}

impl std::fmt::Debug for Okx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Okx")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// `ms` since the epoch as OKX's timestamp: `2020-12-08T09:08:57.715Z` (exactly three
/// millisecond digits; other forms are 50112 or 50113).
pub fn iso_timestamp(ms: i64) -> String {
    let nanos = i128::from(ms.max(0)) * 1_000_000;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `OK-ACCESS-SIGN` of a request (A2): base64 HMAC-SHA256 over timestamp + method + path (with
/// its query) + body.
pub fn signature(secret: &str, timestamp: &str, method: &str, path: &str, body: &str) -> String {
    let prehash = format!("{timestamp}{method}{path}{body}");
    to_base64(&hmac_sha256(secret.as_bytes(), prehash.as_bytes()))
}

/// A value as a sensitive header, or an error naming the field (never showing it).
fn sensitive(value: &str, field: &str) -> Result<HeaderValue, UpstreamError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        UpstreamError::new(
            FailureReason::AuthRejected,
            format!("the stored {field} is not a valid HTTP header value"),
            None,
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// The path and query of `url` as OKX signs them.
fn request_path(url: &Url) -> String {
    match url.query() {
        Some(q) if !q.is_empty() => format!("{}?{q}", url.path()),
        _ => url.path().to_owned(),
    }
}

/// The answer of one call: its status and body.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Okx {
    pub(crate) fn new(transport: Arc<Transport>) -> Result<Self, ConfigError> {
        transport.config().validate()?;
        Ok(Self {
            transport,
            limiters: Limiters::new(),
            clock: VenueClock::default(),
            syncing: Mutex::new(HashMap::new()),
            uids: Mutex::new(HashMap::new()),
        })
    }

    fn request_timeout(&self) -> Duration {
        self.transport.config().request_timeout
    }

    fn max_rows(&self) -> usize {
        self.transport.config().max_rows_per_book
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.request_timeout()
    }

    fn uids(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<str>>> {
        // Nothing panics while holding it; a poisoned map is still a valid map.
        self.uids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The budget key of `api_key`: its user id when known, else the key itself.
    fn budget_key(&self, api_key: &str) -> Arc<str> {
        self.uids()
            .get(api_key)
            .cloned()
            .unwrap_or_else(|| Arc::from(format!("key:{api_key}")))
    }

    fn knows_uid(&self, api_key: &str) -> bool {
        self.uids().contains_key(api_key)
    }

    fn remember_uid(&self, api_key: &str, uid: &str) {
        let key = format!("uid:{uid}");
        let mut map = self.uids();
        if map.get(api_key).is_some_and(|u| **u == *key) {
            return;
        }
        if map.len() >= UIDS_CAP {
            map.clear();
        }
        map.insert(Arc::from(api_key), Arc::from(key));
    }

    fn url(up: &Upstream, call: Call) -> Result<Url, UpstreamError> {
        let base = up.base().ok_or_else(|| {
            UpstreamError::new(
                FailureReason::Connect,
                "host_url is not a valid http(s) URL",
                None,
            )
        })?;
        Ok(base.join(call.path()))
    }

    fn timeout_error(&self, call: Call) -> UpstreamError {
        UpstreamError::new(
            FailureReason::Timeout,
            format!(
                "okx {}: no complete answer within {}",
                call.what(),
                humantime::format_duration(self.request_timeout())
            ),
            None,
        )
    }

    /// Learns the offset of `up`'s host unless a fresh sample exists.
    async fn sync_clock(&self, up: &Upstream, deadline: Instant) -> Result<(), UpstreamError> {
        let base = up.base().ok_or_else(|| {
            UpstreamError::new(
                FailureReason::Connect,
                "host_url is not a valid http(s) URL",
                None,
            )
        })?;
        let host = base.origin().clone();
        if self.clock.is_fresh(&host, CLOCK_MAX_AGE) {
            return Ok(());
        }
        let gate = {
            let mut gates = self
                .syncing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Hosts come from our own accounts table; this only bounds one full of one-off hosts.
            if gates.len() >= HOSTS_CAP && !gates.contains_key(&host) {
                gates.clear();
            }
            gates.entry(host.clone()).or_default().clone()
        };
        let _one = tokio::time::timeout_at(deadline, gate.lock())
            .await
            .map_err(|_| self.timeout_error(Call::Time))?;
        if self.clock.is_fresh(&host, CLOCK_MAX_AGE) {
            return Ok(());
        }
        self.limiters.public.take(deadline).await?;
        let url = Self::url(up, Call::Time)?;
        let request = self
            .transport
            .client()
            .get(url)
            .header(ACCEPT, "application/json");
        let sent = wall_ms();
        let answer = tokio::time::timeout_at(deadline, self.transport.send(request, &[]))
            .await
            .map_err(|_| self.timeout_error(Call::Time))?;
        let received = wall_ms();
        let result = answer.and_then(|a| {
            envelope_data(Call::Time.what(), a.status, &a.body)
                .map_err(|(e, _)| e)
                .and_then(|data| decode::server_time(a.status, data))
        });
        self.record(Call::Time, &result);
        let server = result?;
        self.clock.observe(&host, server, sent, received);
        Ok(())
    }

    fn record<T>(&self, call: Call, result: &Result<T, UpstreamError>) {
        self.transport.record(call.label(), result);
    }

    /// One signed GET: a budget slot, the clock, the headers, the exchange.
    async fn send_signed(
        &self,
        up: &Upstream,
        call: Call,
        url: &Url,
        deadline: Instant,
        slot_taken: bool,
    ) -> Result<Reply, UpstreamError> {
        let api_key = up.secret("api_key")?.expose();
        let secret = up.secret("secret_key")?.expose();
        let passphrase = up.secret("passphrase")?.expose();
        if let Some(limiter) = self.limiters.of(call).filter(|_| !slot_taken) {
            limiter.take(&self.budget_key(api_key), deadline).await?;
        }
        self.sync_clock(up, deadline).await?;
        let host = up.base().map(|b| b.origin().clone()).unwrap_or_default();
        let timestamp = iso_timestamp(self.clock.now_ms(&host));
        let sign = signature(secret, &timestamp, "GET", &request_path(url), "");
        let mut request = self
            .transport
            .client()
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .header("OK-ACCESS-KEY", sensitive(api_key, "api_key")?)
            .header("OK-ACCESS-SIGN", sensitive(&sign, "signature")?)
            .header("OK-ACCESS-TIMESTAMP", timestamp)
            .header("OK-ACCESS-PASSPHRASE", sensitive(passphrase, "passphrase")?);
        if up.environment == "demo" {
            request = request.header("x-simulated-trading", "1");
        }
        let answer = tokio::time::timeout_at(deadline, self.transport.send(request, &[]))
            .await
            .map_err(|_| self.timeout_error(call))??;
        Ok(Reply {
            status: answer.status,
            body: answer.body,
        })
    }

    /// One call and its decoding, with one resync and retry on 50102; counted, logged and
    /// scrubbed of every credential field.
    async fn call<T>(
        &self,
        up: &Upstream,
        call: Call,
        url: Url,
        deadline: Instant,
        decode: impl Fn(u16, &RawValue) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        self.call_with_slot(up, call, url, deadline, false, decode)
            .await
    }

    /// [`Self::call`], where `slot_taken` says the first request's budget slot is already taken
    /// (a retry always takes its own).
    async fn call_with_slot<T>(
        &self,
        up: &Upstream,
        call: Call,
        url: Url,
        deadline: Instant,
        slot_taken: bool,
        decode: impl Fn(u16, &RawValue) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        tracing::debug!(account_id = %up.account_id, call = call.label(), "upstream call");
        let mut resynced = false;
        let result = loop {
            let taken = slot_taken && !resynced;
            let reply = match self.send_signed(up, call, &url, deadline, taken).await {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            match envelope_data(call.what(), reply.status, &reply.body) {
                Ok(data) => break decode(reply.status, data),
                Err((_, Some(OkxError { code, .. })))
                    if code == CODE_TIMESTAMP_EXPIRED && !resynced =>
                {
                    // Our offset is stale (or the host's clock jumped): forget it, learn it
                    // again, sign again.
                    resynced = true;
                    if let Some(b) = up.base() {
                        self.clock.forget(b.origin());
                    }
                }
                Err((mut e, okx)) => {
                    if okx.is_some_and(|o| o.code == CODE_TIMESTAMP_EXPIRED) {
                        let offset = up
                            .base()
                            .and_then(|b| self.clock.offset_ms(b.origin()))
                            .map_or_else(|| "unknown".to_owned(), |o| format!("{o} ms"));
                        e.message = format!(
                            "{} (after one clock resync; OKX's clock minus ours: {offset})",
                            e.message
                        );
                    }
                    break Err(e);
                }
            }
        };
        self.record(call, &result);
        result.map_err(|e| {
            let e = scrub_error_of(e, &up.credential);
            tracing::debug!(account_id = %up.account_id, call = call.label(), reason = e.reason.as_str(), http_status = e.http_status, "upstream failed: {}", e.message);
            e
        })
    }

    fn scrubbed<T: Scrub>(mut value: T, up: &Upstream) -> T {
        scrub_credential(&mut value, &up.credential);
        value
    }

    async fn config(
        &self,
        up: &Upstream,
        deadline: Instant,
        slot_taken: bool,
    ) -> Result<Config, UpstreamError> {
        let url = Self::url(up, Call::Config)?;
        let config = self
            .call_with_slot(up, Call::Config, url, deadline, slot_taken, decode::config)
            .await?;
        self.remember_uid(up.secret("api_key")?.expose(), &config.uid);
        Ok(config)
    }

    async fn fetch_balances(
        &self,
        up: &Upstream,
        deadline: Instant,
    ) -> Result<Balances, UpstreamError> {
        let (max_rows, mode) = (self.max_rows(), mode_of(&up.environment));
        let url = Self::url(up, Call::Balance)?;
        let book = self
            .call(up, Call::Balance, url, deadline, |s, d| {
                decode::balances(s, d, max_rows, mode)
            })
            .await?;
        Ok(Self::scrubbed(book, up))
    }

    /// The health check (see the module doc).
    async fn probe(&self, up: &Upstream, deep: bool) -> Result<Vitals, CheckFailure> {
        let deadline = self.deadline();
        let mode = Some(mode_of(&up.environment));
        let api_key = up.secret("api_key")?.expose();
        let mut key_accepted = false;
        // Some(slot already taken) when the config is read this time.
        let config = if !self.knows_uid(api_key) {
            Some(false)
        } else if deep && self.limiters.config.try_take(&self.budget_key(api_key)) {
            Some(true)
        } else {
            None
        };
        if let Some(slot_taken) = config {
            self.config(up, deadline, slot_taken)
                .await
                .map_err(|e| failure(e, false))?;
            key_accepted = true;
        }
        self.fetch_balances(up, deadline)
            .await
            .map_err(|e| failure(e, key_accepted))?;
        Ok(Vitals {
            broker: Some(BROKER.to_owned()),
            mode,
            probed: true,
            restricted: None,
        })
    }

    async fn positions(&self, up: &Upstream) -> Result<Positions, UpstreamError> {
        let (max_rows, mode) = (self.max_rows(), mode_of(&up.environment));
        let url = Self::url(up, Call::Positions)?;
        let book = self
            .call(up, Call::Positions, url, self.deadline(), |s, d| {
                decode::positions(s, d, max_rows, mode)
            })
            .await?;
        Ok(Self::scrubbed(book, up))
    }

    /// Pages of `call` (newest first; `after` = the last row's id), at most [`MAX_PAGES`] and
    /// `max_rows_per_book` rows, within one deadline.
    async fn pages<R>(
        &self,
        up: &Upstream,
        call: Call,
        decode_page: impl Fn(u16, &RawValue, usize) -> Result<Vec<R>, UpstreamError>,
        id_of: impl Fn(&R) -> &str,
    ) -> Result<Vec<R>, UpstreamError> {
        let deadline = self.deadline();
        let max_rows = self.max_rows();
        let mut all: Vec<R> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = Self::url(up, call)?;
            {
                let mut q = url.query_pairs_mut();
                if let Some(a) = &after {
                    q.append_pair("after", a);
                }
                q.append_pair("limit", &PAGE_SIZE.to_string());
            }
            let page = self
                .call(up, call, url, deadline, |s, d| decode_page(s, d, PAGE_SIZE))
                .await?;
            if all.len().saturating_add(page.len()) > max_rows {
                return Err(scrub_error_of(
                    UpstreamError::new(
                        FailureReason::BadResponse,
                        format!(
                            "okx {}: {}",
                            call.what(),
                            super::bounds::OutOfBounds::Rows { max: max_rows }
                        ),
                        Some(200),
                    ),
                    &up.credential,
                ));
            }
            let full = page.len() >= PAGE_SIZE;
            let next = page.last().map(|r| id_of(r).to_owned());
            all.extend(page);
            match next {
                Some(id) if full && !id.is_empty() && after.as_deref() != Some(id.as_str()) => {
                    after = Some(id);
                }
                _ => break,
            }
        }
        Ok(all)
    }

    async fn orders(&self, up: &Upstream) -> Result<OrderBook, UpstreamError> {
        let rows = self
            .pages(up, Call::OrdersPending, decode::order_page, |o| {
                o.ord_id.as_str()
            })
            .await?;
        let book = decode::order_book(200, rows, mode_of(&up.environment))
            .map_err(|e| scrub_error_of(e, &up.credential))?;
        Ok(Self::scrubbed(book, up))
    }

    async fn trades(&self, up: &Upstream) -> Result<TradeBook, UpstreamError> {
        let rows = self
            .pages(up, Call::Fills, decode::fill_page, |f| f.bill_id.as_str())
            .await?;
        let book = decode::trade_book(200, rows, mode_of(&up.environment))
            .map_err(|e| scrub_error_of(e, &up.credential))?;
        Ok(Self::scrubbed(book, up))
    }
}

/// A failed check: the venue accepted the key when a call before succeeded, or when its answer
/// is about the account rather than the key (no read permission, a frozen account).
fn failure(error: UpstreamError, before_accepted: bool) -> CheckFailure {
    let about_account = matches!(
        error.reason,
        FailureReason::PermissionDenied | FailureReason::AccountRestricted
    );
    CheckFailure {
        key_accepted: before_accepted || about_account,
        broker: Some(BROKER.to_owned()),
        mode: None,
        error,
    }
}

impl Connector for Okx {
    fn venue(&self) -> &'static Venue {
        &VENUE
    }
    fn check<'a>(
        &'a self,
        up: &'a Upstream,
        deep: bool,
    ) -> BoxFuture<'a, Result<Vitals, CheckFailure>> {
        Box::pin(self.probe(up, deep))
    }
    fn balances<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Balances, UpstreamError>> {
        Box::pin(async move { self.fetch_balances(up, self.deadline()).await })
    }
    fn positions<'a>(
        &'a self,
        up: &'a Upstream,
    ) -> BoxFuture<'a, Result<Positions, UpstreamError>> {
        Box::pin(Okx::positions(self, up))
    }
    fn orders<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<OrderBook, UpstreamError>> {
        Box::pin(Okx::orders(self, up))
    }
    fn trades<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<TradeBook, UpstreamError>> {
        Box::pin(Okx::trades(self, up))
    }
}
