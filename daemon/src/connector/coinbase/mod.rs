//! [`Coinbase`]: the venue `coinbase`, Coinbase Advanced Trade (v3 brokerage) with a CDP key
//! (`shared/reference/okx-coinbase-api.md`, part B). One environment, `live`
//! (`https://api.coinbase.com`). Coinbase's sandbox is not offered: it answers without
//! authentication from static, predefined data (B1), so an account there could not prove a key,
//! and its books would be the same for everyone.
//!
//! - Every private request is `GET {host}/api/v3/brokerage/...` with `Authorization: Bearer
//!   <JWT>` (marked sensitive), a token minted for that one request ([`jwt`]): ES256 over the
//!   key name and `uri` = `GET <authority><path>`, the authority being the base URL's own, so a
//!   simulator on `127.0.0.1:PORT` is signed for as `api.coinbase.com` is live. The key name and
//!   private key are never logged and are scrubbed out of every answer and error.
//! - Clock: a token is valid from `nbf` for 120 s (B3), so `nbf` is the venue's time: each host's
//!   offset is learnt from the public `GET /api/v3/brokerage/time` ([`VenueClock`]) before the
//!   first signed call and again every [`CLOCK_MAX_AGE`].
//! - A 401 (plain `Unauthorized`) says nothing of why: a wrong or revoked key and a token outside
//!   its window look the same (B3/B4), and Coinbase's SDK advises retrying a lone 401 (client
//!   stacks see sporadic ones). So a 401 resyncs the clock (unless another call resynced it
//!   after this token was minted: a fleet of refused keys shares one time request instead of
//!   hammering the endpoint) and retries once with a fresh token. A second 401 is `CLOCK_SKEW` when the venue's clock is off
//!   ours by [`SKEW_SUSPECT`] or more (the tokens were then signed with a corrected time that the
//!   venue still refused: its time endpoint and its token check disagree, or our clock is
//!   jumping; either way the clock is what the operator fixes first, and the detail says the key
//!   may be at fault too), else `AUTH_REJECTED`. A retry that succeeds is simply UP: a clock that
//!   jumped since the last sync is healed by the resync.
//! - Health: `GET /api/v3/brokerage/key_permissions`: `can_view` false is `PERMISSION_DENIED`; 401
//!   as above; 403 (`Missing required scopes`, another portfolio) `PERMISSION_DENIED`; 429 (its
//!   body may be HTML: only the status is read) `RATE_LIMITED`; 5xx `HTTP_5XX`.
//! - Budget per user ([`budget`]): at most 26 requests in any second, under Coinbase's private
//!   limit of 30.
//! - Books: balances (every wallet of the key's portfolio, summed per currency: available is
//!   free, hold is locked; zero wallets left out, since Coinbase lists one for every currency
//!   ever offered), open orders, recent fills as trades. No funds (a spot account has no single
//!   currency), no positions (spot keys have none: futures and perpetuals live under `/cfm` and
//!   `/intx`, B5.2), no holdings (the balances are the holdings).

pub(crate) mod budget;
pub(crate) mod decode;
pub(crate) mod jwt;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use rust_decimal::Decimal;
use tokio::time::Instant;

use self::budget::Budget;
use self::decode::{Page, classify_status, quote_of};
use self::jwt::{SigningKey, TokenFor};
use super::classify::Answer;
use super::clock::{VenueClock, wall_ms};
use super::scrub::{Scrub, scrub_credential, scrub_error_of};
use super::transport::{ConfigError, Transport};
use super::{
    Balance, Balances, BaseUrl, BookKind, CheckFailure, Connector, CredentialField, FailureReason,
    Mode, Order, OrderBook, OrderStatistics, Trade, TradeBook, Upstream, UpstreamError, Venue,
    VenueEnvironment, Vitals,
};

pub static VENUE: Venue = Venue {
    kind: "coinbase",
    title: "Coinbase Advanced Trade (CDP key)",
    credential_fields: &[
        CredentialField {
            name: "key_name",
            description: "the CDP API key name, organizations/{org_id}/apiKeys/{key_id} (the \
                          key file's \"name\")",
            max_len: 256,
            multiline: false,
        },
        CredentialField {
            name: "private_key",
            description: "the key's private key as downloaded: a -----BEGIN EC PRIVATE KEY----- \
                          PEM (ECDSA, the Advanced Trade key type; PKCS#8 and Ed25519 accepted)",
            max_len: 4096,
            multiline: true,
        },
    ],
    environments: &[VenueEnvironment {
        name: "live",
        default_host: Some("https://api.coinbase.com"),
    }],
    books: &[BookKind::Balances, BookKind::Orders, BookKind::Trades],
    rate_budget: "30 private requests/s per user (the key's organization); we send at most 26",
    currency: "per asset",
    health_probe: "GET /api/v3/brokerage/key_permissions",
};

const BROKER: &str = "coinbase";
/// A clock sample older than this is renewed before the next signed call.
pub const CLOCK_MAX_AGE: Duration = Duration::from_secs(600);
/// A venue clock this far from ours makes a twice-refused token `CLOCK_SKEW`.
pub const SKEW_SUSPECT: Duration = Duration::from_secs(30);
/// Rows per page: Coinbase's largest `limit` for accounts and fills.
const PAGE_LIMIT: usize = 250;
/// Pages one book reads at most: wallets of one portfolio fit in a few; orders and fills stop
/// at the 1,000 most recent rather than spend the user's budget on history.
const MAX_PAGES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Time,
    Permissions,
    Accounts,
    Orders,
    Fills,
}

impl Call {
    fn path(self) -> &'static str {
        match self {
            Self::Time => "/api/v3/brokerage/time",
            Self::Permissions => "/api/v3/brokerage/key_permissions",
            Self::Accounts => "/api/v3/brokerage/accounts",
            Self::Orders => "/api/v3/brokerage/orders/historical/batch",
            Self::Fills => "/api/v3/brokerage/orders/historical/fills",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Time => "coinbase:time",
            Self::Permissions => "coinbase:key_permissions",
            Self::Accounts => "coinbase:accounts",
            Self::Orders => "coinbase:orders",
            Self::Fills => "coinbase:fills",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Time => "time",
            Self::Permissions => "key_permissions",
            Self::Accounts => "accounts",
            Self::Orders => "orders",
            Self::Fills => "fills",
        }
    }
}

/// The Coinbase connector. Cheap to share: hold it in an `Arc<dyn Connector>`.
pub struct Coinbase {
    transport: Arc<Transport>,
    budget: Budget,
    clock: VenueClock,
}

impl std::fmt::Debug for Coinbase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coinbase")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
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

impl Coinbase {
    pub(crate) fn new(transport: Arc<Transport>) -> Result<Self, ConfigError> {
        transport.config().validate()?;
        Ok(Self {
            transport,
            budget: Budget::new(),
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

    fn timeout(&self, call: Call) -> UpstreamError {
        UpstreamError::new(
            FailureReason::Timeout,
            format!(
                "coinbase {}: no complete answer within {}",
                call.what(),
                humantime::format_duration(self.request_timeout())
            ),
            None,
        )
    }

    /// Measures the host's clock: the public time endpoint, outside the user's budget (it is
    /// counted against the IP's public limit, and asked at most every few seconds per host).
    async fn sync_clock(&self, base: &BaseUrl, deadline: Instant) -> Result<(), UpstreamError> {
        let sent = wall_ms();
        let request = self
            .transport
            .client()
            .get(base.join(Call::Time.path()))
            .header(ACCEPT, "application/json");
        let answer = tokio::time::timeout_at(deadline, self.transport.send(request, &[]))
            .await
            .map_err(|_| self.timeout(Call::Time))??;
        let received = wall_ms();
        let server = if (200..300).contains(&answer.status) {
            decode::server_ms(answer.status, &answer.body)
        } else {
            Err(classify_status("time", answer.status, &answer.body))
        };
        self.transport.record(Call::Time.label(), &server);
        let server = server?;
        self.clock.observe(base.origin(), server, sent, received);
        tracing::debug!(origin = %base.origin(), offset_ms = self.clock.offset_ms(base.origin()), "coinbase clock synced");
        Ok(())
    }

    /// One signed request: a budget slot, a fresh token for the venue's time now, the exchange.
    async fn send(
        &self,
        up: &Upstream,
        call: Call,
        url: &Url,
        deadline: Instant,
    ) -> Result<Answer, UpstreamError> {
        let key_name = up.secret("key_name")?.expose();
        let key = SigningKey::parse(up.secret("private_key")?.expose())
            .map_err(|e| UpstreamError::new(FailureReason::AuthRejected, e.to_string(), None))?;
        let base = base(up)?;
        self.budget
            .take(key_name, deadline, self.request_timeout())
            .await?;
        let now_s = self.clock.now_ms(base.origin()).div_euclid(1000);
        let path = url.path();
        let token = jwt::token(
            &key,
            &TokenFor {
                key_name,
                now_s,
                method: "GET",
                authority: base.authority(),
                path,
            },
            &jwt::nonce(),
        )
        .map_err(|e| UpstreamError::new(FailureReason::AuthRejected, e.to_string(), None))?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            UpstreamError::new(
                FailureReason::AuthRejected,
                "the stored key_name cannot go into a token header",
                None,
            )
        })?;
        bearer.set_sensitive(true);
        let request = self
            .transport
            .client()
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, bearer);
        let answer = tokio::time::timeout_at(deadline, self.transport.send(request, &[]))
            .await
            .map_err(|_| self.timeout(call))??;
        self.budget.observe(key_name, answer.status);
        Ok(answer)
    }

    /// A signed request with the clock handling of the module doc: a stale clock is synced
    /// first; a 401 resyncs and retries once, and a second 401 is `CLOCK_SKEW` or
    /// `AUTH_REJECTED`.
    async fn exchange(
        &self,
        up: &Upstream,
        call: Call,
        url: &Url,
        deadline: Instant,
    ) -> Result<Answer, UpstreamError> {
        let base = base(up)?;
        if !self.clock.is_fresh(base.origin(), CLOCK_MAX_AGE) {
            // Without the venue's time we sign with ours: a good clock still works, and a bad
            // one shows as a 401 below.
            if let Err(e) = self.sync_clock(base, deadline).await {
                tracing::debug!(account_id = %up.account_id, reason = e.reason.as_str(), "coinbase clock sync failed: {}", e.message);
            }
        }
        let minted = std::time::Instant::now();
        let answer = self.send(up, call, url, deadline).await?;
        if answer.status != 401 {
            return Ok(answer);
        }
        if !self.clock.is_fresh(base.origin(), minted.elapsed())
            && let Err(e) = self.sync_clock(base, deadline).await
        {
            tracing::debug!(account_id = %up.account_id, reason = e.reason.as_str(), "coinbase clock resync failed: {}", e.message);
        }
        let retry = self.send(up, call, url, deadline).await?;
        if retry.status != 401 {
            return Ok(retry);
        }
        let offset_ms = self.clock.offset_ms(base.origin()).unwrap_or(0);
        let suspect_ms = i64::try_from(SKEW_SUSPECT.as_millis()).unwrap_or(i64::MAX);
        if offset_ms.saturating_abs() >= suspect_ms {
            return Err(UpstreamError::new(
                FailureReason::ClockSkew,
                format!(
                    "coinbase {}: 401 twice with tokens dated by Coinbase's clock, which reads \
                     {:.1} s {} ours: fix this host's clock (NTP); if it is right, the key may \
                     be refused instead",
                    call.what(),
                    offset_ms.saturating_abs() as f64 / 1000.0,
                    if offset_ms > 0 { "ahead of" } else { "behind" },
                ),
                Some(401),
            ));
        }
        Ok(retry)
    }

    /// One request and its decoding, counted in the metrics and logged; the error scrubbed of
    /// every credential field.
    async fn page<T>(
        &self,
        up: &Upstream,
        call: Call,
        url: Url,
        deadline: Instant,
        decode: impl FnOnce(&Answer) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let started = Instant::now();
        let result = match self.exchange(up, call, &url, deadline).await {
            Ok(a) if (200..300).contains(&a.status) => decode(&a),
            Ok(a) => Err(classify_status(call.what(), a.status, &a.body)),
            Err(e) => Err(e),
        };
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

    fn scrubbed<T: Scrub>(mut value: T, up: &Upstream) -> T {
        scrub_credential(&mut value, &up.credential);
        value
    }

    /// Every page of a cursor-paged list, at most [`MAX_PAGES`] and `max_rows_per_book` rows.
    async fn pages<T>(
        &self,
        up: &Upstream,
        call: Call,
        query: &[(&str, &str)],
        decode: DecodePage<T>,
    ) -> Result<Vec<T>, UpstreamError> {
        let deadline = self.deadline();
        let max_rows = self.max_rows();
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = base(up)?.join(call.path());
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in query {
                    q.append_pair(k, v);
                }
                q.append_pair("limit", &PAGE_LIMIT.to_string());
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
            }
            let page = self
                .page(up, call, url, deadline, |a| {
                    decode(a.status, &a.body, max_rows)
                })
                .await?;
            if out.len().saturating_add(page.rows.len()) > max_rows {
                return Err(scrub_error_of(
                    UpstreamError::new(
                        FailureReason::BadResponse,
                        format!(
                            "coinbase {}: {}",
                            call.what(),
                            super::bounds::OutOfBounds::Rows { max: max_rows }
                        ),
                        Some(200),
                    ),
                    &up.credential,
                ));
            }
            out.extend(page.rows);
            // A server repeating its cursor would only repeat itself.
            match page.next {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn probe(&self, up: &Upstream) -> Result<Vitals, CheckFailure> {
        let url = base(up)?.join(Call::Permissions.path());
        let p = self
            .page(up, Call::Permissions, url, self.deadline(), |a| {
                decode::permissions(a.status, &a.body)
            })
            .await?;
        if !p.can_view {
            return Err(CheckFailure {
                error: UpstreamError::new(
                    FailureReason::PermissionDenied,
                    "coinbase key_permissions: can_view is false (the key has no view scope, \
                     so no book can be read; create a key with View)",
                    Some(200),
                ),
                key_accepted: true,
                broker: Some(BROKER.to_owned()),
                mode: Some(Mode::Live),
            });
        }
        tracing::debug!(account_id = %up.account_id, can_trade = p.can_trade, can_transfer = p.can_transfer, portfolio_type = %p.portfolio_type.chars().take(32).collect::<String>(), "coinbase key permissions");
        Ok(Vitals {
            broker: Some(BROKER.to_owned()),
            mode: Some(Mode::Live),
            probed: true,
            restricted: None,
        })
    }

    async fn balances(&self, up: &Upstream) -> Result<Balances, UpstreamError> {
        let wallets = self
            .pages(up, Call::Accounts, &[], decode::accounts_page)
            .await?;
        let mut by_asset: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
        for w in wallets {
            let slot = by_asset.entry(w.currency).or_default();
            slot.0 = slot.0.checked_add(w.available).unwrap_or(slot.0);
            slot.1 = slot.1.checked_add(w.hold).unwrap_or(slot.1);
        }
        let mut rows = Vec::with_capacity(by_asset.len());
        for (asset, (free, locked)) in by_asset {
            let total = free.checked_add(locked).unwrap_or_default().normalize();
            if total.is_zero() && free.is_zero() {
                continue;
            }
            if super::bounds::check(|| format!("{asset} total"), total).is_err() {
                return Err(UpstreamError::new(
                    FailureReason::BadResponse,
                    "coinbase accounts: a currency's summed balance is out of range (> 10^15)",
                    Some(200),
                ));
            }
            rows.push(Balance {
                asset,
                free: free.normalize(),
                locked: locked.normalize(),
                total,
            });
        }
        Ok(Self::scrubbed(
            Balances {
                rows,
                mode: Mode::Live,
            },
            up,
        ))
    }

    async fn orders(&self, up: &Upstream) -> Result<OrderBook, UpstreamError> {
        let orders: Vec<Order> = self
            .pages(
                up,
                Call::Orders,
                &[("order_status", "OPEN")],
                decode::orders_page,
            )
            .await?;
        let currency = common_quote(orders.iter().map(|o| o.symbol.as_str()));
        Ok(Self::scrubbed(
            OrderBook {
                orders,
                statistics: OrderStatistics::default(),
                mode: Mode::Live,
                currency,
            },
            up,
        ))
    }

    async fn trades(&self, up: &Upstream) -> Result<TradeBook, UpstreamError> {
        let trades: Vec<Trade> = self.pages(up, Call::Fills, &[], decode::fills_page).await?;
        let currency = common_quote(trades.iter().map(|t| t.symbol.as_str()));
        Ok(Self::scrubbed(
            TradeBook {
                trades,
                mode: Mode::Live,
                currency,
            },
            up,
        ))
    }
}

/// A page decoder: status, body, max rows.
type DecodePage<T> = fn(u16, &[u8], usize) -> Result<Page<T>, UpstreamError>;

/// The currency of a book's prices: the quote currency its products share (`BTC-USD`,
/// `ETH-USD` -> `USD`); `USD` for an empty book; the products' quotes joined with `/` when they
/// differ, so no total is ever made across two of them.
pub fn common_quote<'a>(products: impl Iterator<Item = &'a str>) -> String {
    let mut quotes: Vec<&str> = products.filter_map(quote_of).collect();
    quotes.sort_unstable();
    quotes.dedup();
    match quotes.as_slice() {
        [] => "USD".to_owned(),
        [one] => (*one).to_owned(),
        many => many.join("/"),
    }
}

impl Connector for Coinbase {
    fn venue(&self) -> &'static Venue {
        &VENUE
    }
    /// Always `key_permissions`: the cheapest authenticated call, and it says whether the key
    /// may read.
    fn check<'a>(
        &'a self,
        up: &'a Upstream,
        _deep: bool,
    ) -> BoxFuture<'a, Result<Vitals, CheckFailure>> {
        Box::pin(self.probe(up))
    }
    fn balances<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Balances, UpstreamError>> {
        Box::pin(Coinbase::balances(self, up))
    }
    fn orders<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<OrderBook, UpstreamError>> {
        Box::pin(Coinbase::orders(self, up))
    }
    fn trades<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<TradeBook, UpstreamError>> {
        Box::pin(Coinbase::trades(self, up))
    }
}
