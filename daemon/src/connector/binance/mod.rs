//! [`Binance`]: the venue `binance`, Binance spot over its REST API
//! (`shared/reference/alpaca-binance-api.md` §3, §5.2). Live, testnet and demo are separate
//! hosts with separate keys; the account's environment picks the host and says the mode.
//!
//! - Signing ([`signed_query`]): every account call is `GET {host}{path}?{params}&recvWindow=
//!   5000&timestamp={venue ms}&signature={hex HMAC-SHA256 of everything before it, keyed by the
//!   secret}`, with the API key in `X-MBX-APIKEY` (marked sensitive). Neither the key, the secret
//!   nor the signed text is ever logged, and every credential field is scrubbed out of every
//!   answer and error before it leaves here.
//! - Clock: Binance refuses a timestamp 1 s ahead of its clock or older than `recvWindow`, so
//!   each host's offset is learnt from `GET /api/v3/time` ([`VenueClock`]) and resampled every
//!   [`CLOCK_MAX_AGE`]; a `-1021` answer drops the sample, resyncs once and retries once, and
//!   only a second `-1021` is reported (`CLOCK_SKEW`).
//! - Budget ([`budget`]): one request-weight budget for every Binance account (it is per egress
//!   IP upstream), fed by `X-MBX-USED-WEIGHT-1M`; a 429 pauses every Binance call until
//!   `Retry-After`, a 418 likewise and reports `IP_BANNED` on every account while it lasts.
//!   [`Connector::checks_per_minute`] tells the monitor how many checks fit.
//! - Health: one signed `GET /api/v3/account?omitZeroBalances=true` (weight 20), which proves
//!   the key, the secret, the IP allow list and the clock. `canTrade: false` is up but restricted
//!   (DEGRADED: reads still work).
//! - Errors ([`decode::classify_status`]): -2015 / -2014 / -1022 `AUTH_REJECTED` (Binance's
//!   -2015 covers a revoked key, an IP off the allow list and a key without the permission
//!   alike, so a key without read permission is `AUTH_REJECTED` with Binance's message), -1021
//!   `CLOCK_SKEW`, -1002 `PERMISSION_DENIED`, 418 and 451 (geo-blocked) `IP_BANNED`, 429 and the
//!   firewall's 403 `RATE_LIMITED`, 5xx `HTTP_5XX`; the code and message stay in the detail.
//! - Books: balances per asset (free, locked) from the account; open orders of every symbol
//!   (`GET /api/v3/openOrders`, weight 80); fills from `myTrades`, which needs a symbol (see
//!   [`Binance::trade_symbols`]). Spot has no positions. No funds book either: funds are one
//!   currency's cash and a spot account holds many assets side by side; folding them into one
//!   currency would need prices, and the balances book already says exactly what is held.

pub(crate) mod budget;
pub(crate) mod decode;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue};
use tokio::time::Instant;

use self::budget::{RETRY_AFTER, USED_WEIGHT, Weight};
use self::decode::{Account, CODE_BAD_SYMBOL, QUOTES, classify_status, mode_of};
use super::classify::Answer;
use super::clock::{VenueClock, wall_ms};
use super::scrub::{Scrub, scrub_credential, scrub_error_of};
use super::sign::{hmac_sha256, to_hex};
use super::transport::{ConfigError, Transport};
use super::{
    Balances, BaseUrl, BookKind, CheckFailure, Connector, CredentialField, FailureReason,
    OrderBook, TradeBook, Upstream, UpstreamError, Venue, VenueEnvironment, Vitals,
};

/// What the venue is, needs and has.
pub static VENUE: Venue = Venue {
    kind: "binance",
    title: "Binance spot (REST API v3)",
    credential_fields: &[
        CredentialField {
            name: "api_key",
            description: "the API key (X-MBX-APIKEY); live, testnet and demo keys differ",
            max_len: 256,
            multiline: false,
        },
        CredentialField {
            name: "secret_key",
            description: "the HMAC secret key, shown once when the key is created",
            max_len: 256,
            multiline: false,
        },
    ],
    environments: &[
        VenueEnvironment {
            name: "live",
            default_host: Some("https://api.binance.com"),
        },
        VenueEnvironment {
            name: "testnet",
            default_host: Some("https://testnet.binance.vision"),
        },
        VenueEnvironment {
            name: "demo",
            default_host: Some("https://demo-api.binance.com"),
        },
    ],
    books: &[BookKind::Balances, BookKind::Orders, BookKind::Trades],
    rate_budget: "request weight per egress IP ([upstream] binance_weight_per_minute, 6000), \
                  shared by every Binance account; X-MBX-USED-WEIGHT-1M, 429 and 418 honoured",
    currency: "per asset",
    health_probe: "GET /api/v3/account?omitZeroBalances=true (signed, weight 20)",
};

/// What the health check reports as the broker behind the account.
const BROKER: &str = "binance";

/// `recvWindow` of every signed request, in ms (Binance's default).
pub const RECV_WINDOW_MS: i64 = 5_000;
/// Signed timestamps are this far behind the venue's clock as we know it: Binance refuses a
/// timestamp 1 s ahead of its clock whatever the window, one 5 s behind only past it.
const TIMESTAMP_MARGIN_MS: i64 = 250;
/// A host's clock offset is resampled when older than this.
pub const CLOCK_MAX_AGE: Duration = Duration::from_secs(600);
/// Symbols one trades call reads fills of at most: each `myTrades` costs 20 of the IP's weight,
/// shared by every Binance account, so a trades call reads the symbols of the open orders first,
/// then the non-zero balances against USDT, then against BTC, and stops at this many.
pub const MAX_TRADE_SYMBOLS: usize = 5;
/// Fills per symbol: the most recent ones.
const FILLS_PER_SYMBOL: &str = "100";

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Time,
    Account,
    OpenOrders,
    MyTrades,
}

impl Call {
    fn path(self) -> &'static str {
        match self {
            Self::Time => "/api/v3/time",
            Self::Account => "/api/v3/account",
            Self::OpenOrders => "/api/v3/openOrders",
            Self::MyTrades => "/api/v3/myTrades",
        }
    }

    /// The request weight (reference §3.3, §3.4; openOrders without a symbol is 80).
    fn weight(self) -> u32 {
        match self {
            Self::Time => 1,
            Self::Account => budget::CHECK_WEIGHT,
            Self::OpenOrders => 80,
            Self::MyTrades => 20,
        }
    }

    /// The `endpoint` label of `rosterd_upstream_requests_total`.
    fn label(self) -> &'static str {
        match self {
            Self::Time => "binance:time",
            Self::Account => "binance:account",
            Self::OpenOrders => "binance:openOrders",
            Self::MyTrades => "binance:myTrades",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Time => "time",
            Self::Account => "account",
            Self::OpenOrders => "openOrders",
            Self::MyTrades => "myTrades",
        }
    }
}

/// `params` then `recvWindow` and `timestamp`, form-encoded, and the hex HMAC-SHA256 of exactly
/// that text under `secret`, appended as `signature` (reference §3.2).
pub fn signed_query(params: &[(&str, &str)], timestamp_ms: i64, secret: &[u8]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    query
        .append_pair("recvWindow", &RECV_WINDOW_MS.to_string())
        .append_pair("timestamp", &timestamp_ms.to_string());
    let mut query = query.finish();
    let signature = to_hex(&hmac_sha256(secret, query.as_bytes()));
    query.push_str("&signature=");
    query.push_str(&signature);
    query
}

/// The Binance connector. Cheap to share: hold it in an `Arc<dyn Connector>`.
pub struct Binance {
    transport: Arc<Transport>,
    weight: Weight,
    clock: VenueClock,
}

impl std::fmt::Debug for Binance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binance")
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}

impl Binance {
    pub(crate) fn new(transport: Arc<Transport>) -> Result<Self, ConfigError> {
        transport.config().validate()?;
        Ok(Self {
            weight: Weight::new(transport.config().binance_weight_per_minute),
            transport,
            clock: VenueClock::default(),
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

    fn base(up: &Upstream) -> Result<&BaseUrl, UpstreamError> {
        up.base().ok_or_else(|| {
            UpstreamError::new(
                FailureReason::Connect,
                "host_url is not a valid http(s) URL",
                None,
            )
        })
    }

    /// One request: its weight from the shared budget, then the exchange, both before
    /// `deadline`; the answer's weight headers go back to the budget.
    async fn send(
        &self,
        call: Call,
        url: Url,
        api_key: Option<HeaderValue>,
        deadline: Instant,
    ) -> Result<Answer, UpstreamError> {
        self.weight.take(call.weight(), deadline).await?;
        let mut request = self
            .transport
            .client()
            .get(url)
            .header(ACCEPT, "application/json");
        if let Some(key) = api_key {
            request = request.header("X-MBX-APIKEY", key);
        }
        let answer = tokio::time::timeout_at(
            deadline,
            self.transport.send(request, &[USED_WEIGHT, RETRY_AFTER]),
        )
        .await
        .map_err(|_| {
            UpstreamError::new(
                FailureReason::Timeout,
                format!(
                    "binance {}: no complete answer within {}",
                    call.what(),
                    humantime::format_duration(self.request_timeout())
                ),
                None,
            )
        })??;
        self.weight.observe(
            answer.status,
            answer.header(USED_WEIGHT),
            answer.header(RETRY_AFTER),
            SystemTime::now(),
        );
        Ok(answer)
    }

    /// Counts a finished call in the metrics and logs it; the error is scrubbed of every
    /// credential field first.
    fn finish<T>(
        &self,
        up: &Upstream,
        call: Call,
        started: Instant,
        result: Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        self.transport.record(call.label(), &result);
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(v) => {
                tracing::debug!(account_id = %up.account_id, call = call.label(), elapsed_ms, "upstream ok");
                Ok(v)
            }
            Err(e) => {
                let e = scrub_error_of(e, &up.credential);
                tracing::debug!(account_id = %up.account_id, call = call.label(), elapsed_ms, reason = e.reason.as_str(), http_status = e.http_status, "upstream failed: {}", e.message);
                Err(e)
            }
        }
    }

    /// Samples the host's clock from `GET /api/v3/time` unless a fresh sample exists.
    async fn sync_clock(
        &self,
        up: &Upstream,
        base: &BaseUrl,
        deadline: Instant,
    ) -> Result<(), UpstreamError> {
        if self.clock.is_fresh(base.origin(), CLOCK_MAX_AGE) {
            return Ok(());
        }
        let started = Instant::now();
        let sent_ms = wall_ms();
        let result = match self
            .send(Call::Time, base.join(Call::Time.path()), None, deadline)
            .await
        {
            Ok(a) if (200..300).contains(&a.status) => decode::server_time(a.status, &a.body),
            Ok(a) => Err(classify_status("time", a.status, &a.body)),
            Err(e) => Err(e),
        };
        let server_ms = self.finish(up, Call::Time, started, result)?;
        self.clock
            .observe(base.origin(), server_ms, sent_ms, wall_ms());
        Ok(())
    }

    /// One signed request and its decoding (`decode` reads a 2xx answer; any other status is
    /// classified). A `-1021` answer resyncs the clock and retries once.
    async fn signed<T>(
        &self,
        up: &Upstream,
        call: Call,
        params: &[(&str, &str)],
        deadline: Instant,
        decode: impl Fn(&Answer) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let base = Self::base(up)?;
        let mut api_key = HeaderValue::from_str(up.secret("api_key")?.expose()).map_err(|_| {
            UpstreamError::new(
                FailureReason::AuthRejected,
                "the stored api_key is not a valid HTTP header value",
                None,
            )
        })?;
        api_key.set_sensitive(true);
        let secret = up.secret("secret_key")?;
        for attempt in 0..2 {
            self.sync_clock(up, base, deadline).await?;
            let timestamp = self
                .clock
                .now_ms(base.origin())
                .saturating_sub(TIMESTAMP_MARGIN_MS);
            let mut url = base.join(call.path());
            url.set_query(Some(&signed_query(
                params,
                timestamp,
                secret.expose().as_bytes(),
            )));
            let started = Instant::now();
            tracing::debug!(account_id = %up.account_id, call = call.label(), "upstream call");
            let result = match self.send(call, url, Some(api_key.clone()), deadline).await {
                Ok(a) if (200..300).contains(&a.status) => decode(&a),
                Ok(a) => Err(classify_status(call.what(), a.status, &a.body)),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.reason == FailureReason::ClockSkew && attempt == 0 => {
                    // Drop the sample so the loop resyncs before the one retry.
                    self.finish(up, call, started, Err::<T, _>(e)).ok();
                    self.clock.forget(base.origin());
                }
                result => return self.finish(up, call, started, result),
            }
        }
        Err(scrub_error_of(
            UpstreamError::new(
                FailureReason::ClockSkew,
                format!("binance {}: timestamp refused twice", call.what()),
                Some(400),
            ),
            &up.credential,
        ))
    }

    fn scrubbed<T: Scrub>(mut value: T, up: &Upstream) -> T {
        scrub_credential(&mut value, &up.credential);
        value
    }

    /// `GET /api/v3/account?omitZeroBalances=true`.
    async fn account(&self, up: &Upstream, deadline: Instant) -> Result<Account, UpstreamError> {
        let max_rows = self.max_rows();
        let mut account = self
            .signed(
                up,
                Call::Account,
                &[("omitZeroBalances", "true")],
                deadline,
                |a| decode::account(a.status, &a.body, max_rows),
            )
            .await?;
        // The permissions and account type only reach a message, which is scrubbed itself.
        let mut balances = Self::scrubbed(account.balances(mode_of(&up.environment)), up);
        account.balances = std::mem::take(&mut balances.rows);
        Ok(account)
    }

    /// The health check: one account request (see the module doc).
    async fn probe(&self, up: &Upstream) -> Result<Vitals, CheckFailure> {
        let account = self.account(up, self.deadline()).await?;
        let mode = Some(mode_of(&up.environment));
        let restricted = (!account.can_trade).then(|| {
            scrub_error_of(
                UpstreamError::new(
                    FailureReason::AccountRestricted,
                    format!(
                        "binance account: canTrade is false (trading is blocked on the account; \
                         reads work); accountType {:?}, permissions [{}]",
                        account.account_type,
                        account.permissions.join(", ")
                    ),
                    Some(200),
                ),
                &up.credential,
            )
        });
        Ok(Vitals {
            broker: Some(BROKER.to_owned()),
            mode,
            probed: true,
            restricted,
        })
    }

    async fn balances(&self, up: &Upstream) -> Result<Balances, UpstreamError> {
        let account = self.account(up, self.deadline()).await?;
        Ok(account.balances(mode_of(&up.environment)))
    }

    async fn open_orders(
        &self,
        up: &Upstream,
        deadline: Instant,
    ) -> Result<OrderBook, UpstreamError> {
        let (mode, max_rows) = (mode_of(&up.environment), self.max_rows());
        let book = self
            .signed(up, Call::OpenOrders, &[], deadline, |a| {
                decode::open_orders(a.status, &a.body, max_rows, mode)
            })
            .await?;
        Ok(Self::scrubbed(book, up))
    }

    async fn orders(&self, up: &Upstream) -> Result<OrderBook, UpstreamError> {
        self.open_orders(up, self.deadline()).await
    }

    /// The symbols whose fills a trades call reads, at most [`MAX_TRADE_SYMBOLS`]: those of the
    /// open orders (surely listed), then each non-zero balance against USDT, then against BTC
    /// (a quote asset is paired only with the quotes after it: BTCUSDT, never USDTBTC).
    pub fn trade_symbols(open_orders: &[String], account: &Account) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: String| {
            if out.len() < MAX_TRADE_SYMBOLS && !out.contains(&s) {
                out.push(s);
            }
        };
        for s in open_orders {
            push(s.clone());
        }
        for (qi, quote) in QUOTES.iter().enumerate() {
            for b in &account.balances {
                let asset = b.asset.as_str();
                let earlier_quote = QUOTES.iter().position(|q| *q == asset);
                if asset == *quote || earlier_quote.is_some_and(|ai| ai < qi) {
                    continue;
                }
                push(format!("{asset}{quote}"));
            }
        }
        out
    }

    /// Fills of [`Binance::trade_symbols`], newest first, all within one deadline. A derived
    /// symbol Binance does not list (`-1121`) is skipped.
    async fn trades(&self, up: &Upstream) -> Result<TradeBook, UpstreamError> {
        let (mode, max_rows) = (mode_of(&up.environment), self.max_rows());
        let deadline = self.deadline();
        let account = self.account(up, deadline).await?;
        let open = self.open_orders(up, deadline).await?;
        let symbols = Self::trade_symbols(&decode::symbols_of(&open), &account);
        let mut trades = Vec::new();
        for symbol in &symbols {
            let result = self
                .signed(
                    up,
                    Call::MyTrades,
                    &[("symbol", symbol), ("limit", FILLS_PER_SYMBOL)],
                    deadline,
                    |a| decode::my_trades(a.status, &a.body, max_rows),
                )
                .await;
            let page = match result {
                Ok(page) => page,
                // classify_status keeps Binance's code in the message: "HTTP 400 code -1121".
                Err(e) if e.message.contains(&format!("code {CODE_BAD_SYMBOL}:")) => continue,
                Err(e) => return Err(e),
            };
            if trades.len().saturating_add(page.len()) > max_rows {
                return Err(scrub_error_of(
                    UpstreamError::new(
                        FailureReason::BadResponse,
                        format!(
                            "binance myTrades: {}",
                            super::bounds::OutOfBounds::Rows { max: max_rows }
                        ),
                        Some(200),
                    ),
                    &up.credential,
                ));
            }
            trades.extend(page);
        }
        trades.sort_by_key(|t| std::cmp::Reverse(t.timestamp.parse::<i64>().unwrap_or(0)));
        Ok(Self::scrubbed(decode::trade_book(trades, mode), up))
    }
}

impl Connector for Binance {
    fn venue(&self) -> &'static Venue {
        &VENUE
    }
    /// Always the account request, `deep` or not: it is the one call that proves the key, the
    /// secret, the IP and the clock together.
    fn check<'a>(
        &'a self,
        up: &'a Upstream,
        _deep: bool,
    ) -> BoxFuture<'a, Result<Vitals, CheckFailure>> {
        Box::pin(self.probe(up))
    }
    fn checks_per_minute(&self) -> Option<u32> {
        Some(self.weight.checks_per_minute())
    }
    fn balances<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Balances, UpstreamError>> {
        Box::pin(Binance::balances(self, up))
    }
    fn orders<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<OrderBook, UpstreamError>> {
        Box::pin(Binance::orders(self, up))
    }
    fn trades<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<TradeBook, UpstreamError>> {
        Box::pin(Binance::trades(self, up))
    }
}
