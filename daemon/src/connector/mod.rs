//! The upstream side of the daemon: what a venue's account answers, in our own types, and the
//! [`Connector`] trait the health checker, the book aggregator and connection tests call through.
//!
//! Layout:
//! - this file: domain types (stored as snapshots, hence serde), [`FailureReason`] /
//!   [`UpstreamError`], the [`Upstream`] target descriptor, what a venue declares ([`Venue`]) and
//!   the object-safe [`Connector`] trait;
//! - [`registry`]: one connector per venue kind, chosen by the account's `connector`: the only
//!   way the rest of the daemon reaches a venue;
//! - [`transport`]: the HTTP clients every venue shares (`[upstream]` settings, TLS roots, capped
//!   body reads, transport error classification);
//! - [`bounds`]: the largest values and row counts a decoded book may have;
//! - [`scrub`]: the credential taken out of everything an upstream sends back;
//! - [`sign`] and [`clock`]: HMAC signing and the venue clock offsets the signed venues share;
//! - one module per venue, owning its requests, decoding, error classification and rate budget:
//!   [`openalgo`] (with [`decode`] and [`classify`] for its envelope, and [`http1`], the lean
//!   HTTP/1.1 client of its two health-check calls); [`alpaca`].
//!
//! The graph is one way: venue modules use `transport`, `bounds` and `scrub`; `registry` uses the
//! venue modules; nothing here knows a venue it does not own.
//!
//! Decimal values are normalised (trailing zeros stripped, `-0` → `0`) so a value that arrives
//! as `"320.60"`, `320.6` or `320.60` yields the same snapshot bytes. Missing or `null` numeric
//! fields decode as zero: OpenAlgo plugins omit fields they cannot compute and the service layer
//! never uses `null` to mean anything else. The one documented exception is funds with empty
//! `data`, which is the upstream's way of saying the broker session died
//! ([`FailureReason::SessionExpired`]). Fields only some plugins send (an order's fill price, a
//! trade's id, a holding's buy price, a position's realized/unrealized split) are `Option`s
//! instead: absent is "not sent", which a trader must not read as zero.

pub(crate) mod alpaca;
pub(crate) mod binance;
pub(crate) mod bounds;
pub(crate) mod classify;
pub(crate) mod clock;
pub(crate) mod coinbase;
pub(crate) mod decode;
/// Public for the `http1-vs-hyper` comparison (tests/src/bin), which calls it directly.
pub mod http1;
pub(crate) mod keyed_budget;
pub(crate) mod okx;
pub(crate) mod openalgo;
pub(crate) mod registry;
pub(crate) mod scrub;
pub(crate) mod sign;
pub(crate) mod transport;

#[cfg(test)]
mod tests;

use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::secret::Credential;

pub use crate::domain::{FailureReason, Mode};
pub use alpaca::Alpaca;
pub use binance::Binance;
/// What `http1::Http1Client::post` returns.
pub use classify::Answer;
pub use coinbase::Coinbase;
pub use okx::Okx;
pub use openalgo::OpenAlgo;
pub use registry::{Connectors, VENUES, venue};
pub use transport::Transport;
pub use transport::{ConfigError, ConnectorConfig};

/// A failed upstream call. `message` is human detail for operators; it never contains the API
/// key (the connector scrubs it even if an upstream echoes it back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", reason.as_str())]
pub struct UpstreamError {
    pub reason: FailureReason,
    pub message: String,
    /// The HTTP status when the upstream answered at all.
    pub http_status: Option<u16>,
}

impl UpstreamError {
    pub fn new(
        reason: FailureReason,
        message: impl Into<String>,
        http_status: Option<u16>,
    ) -> Self {
        Self {
            reason,
            message: message.into(),
            http_status,
        }
    }
}

/// `POST /api/v1/ping`: the upstream is reachable, the key is valid and a broker session is
/// stored. It does not prove the broker token still works (see [`FailureReason::SessionExpired`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingInfo {
    pub broker: String,
    pub message: String,
}

/// OpenAlgo's currency: every amount an OpenAlgo instance reports is in rupees.
pub const INR: &str = "INR";

/// Snapshots stored before amounts carried their currency were all OpenAlgo's.
fn inr() -> String {
    INR.to_string()
}

/// An account's funds, in one currency. OpenAlgo `POST /api/v1/funds` (`availablecash`,
/// `collateral`, `m2mrealized`, `m2munrealized`, `utiliseddebits` upstream); other venues map
/// their account figures onto these (see each venue's module).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funds {
    pub available_cash: Decimal,
    pub collateral: Decimal,
    pub m2m_realized: Decimal,
    pub m2m_unrealized: Decimal,
    pub utilised_debits: Decimal,
    pub mode: Mode,
    /// The currency of every amount here ("INR", "USD").
    #[serde(default = "inr")]
    pub currency: String,
    /// Where the venue reports them (Alpaca); `None` is "not reported", not zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buying_power: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity: Option<Decimal>,
}

/// One `positionbook` row. A positive quantity is long, negative short; a `0` row is a position
/// closed today that still carries the day's P&L, so it is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: String,
    pub exchange: String,
    pub product: String,
    pub quantity: Decimal,
    pub average_price: Decimal,
    pub ltp: Decimal,
    pub pnl: Decimal,
    /// The realized part of `pnl` (`realized_pnl`, flattrade; the sandbox's
    /// `today_realized_pnl`). `None` when the plugin does not split P&L, as most do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realized_pnl: Option<Decimal>,
    /// The unrealized part of `pnl` (`unrealized_pnl`, flattrade and the sandbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrealized_pnl: Option<Decimal>,
}

/// `POST /api/v1/positionbook`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    pub rows: Vec<Position>,
    pub mode: Mode,
    /// The currency of the prices and P&L.
    #[serde(default = "inr")]
    pub currency: String,
}

/// One `orderbook` row (`orderid`, `pricetype`, `order_status` upstream). `status` is the
/// upstream's lowercase string (`complete`, `open`, `rejected`, `cancelled`, `trigger pending`,
/// ...); `timestamp` is kept raw because its format differs per broker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub symbol: String,
    pub exchange: String,
    pub action: String,
    pub price_type: String,
    pub product: String,
    pub status: String,
    pub quantity: Decimal,
    pub price: Decimal,
    pub trigger_price: Decimal,
    pub timestamp: String,
    /// The fill price; `None` when the plugin does not send it. The fields below are optional
    /// for the same reason: the sandbox and some plugins send them, the docs' shape does not,
    /// and "not sent" must not read as "filled at 0".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filled_quantity: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_quantity: Option<Decimal>,
    /// The broker's reason for a rejection, on one line; empty when none was sent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rejection_reason: String,
}

/// The orderbook's `statistics`. Upstream sends counts as ints (current code) or floats like
/// `2.0` (docs); both decode to `u32`, a fractional or negative count is a bad response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatistics {
    pub total_buy_orders: u32,
    pub total_sell_orders: u32,
    pub total_completed_orders: u32,
    pub total_open_orders: u32,
    pub total_rejected_orders: u32,
    /// Only the current code / sandbox send this; zero when absent.
    pub total_trigger_pending_orders: u32,
}

/// `POST /api/v1/orderbook`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    pub orders: Vec<Order>,
    pub statistics: OrderStatistics,
    pub mode: Mode,
    /// The currency of the prices.
    #[serde(default = "inr")]
    pub currency: String,
}

/// One `tradebook` row (a fill; one order may have several). `trade_value` comes from
/// `trade_value`, else Angel's pass-through `tradevalue`, else zero (never computed by us).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub order_id: String,
    pub symbol: String,
    pub exchange: String,
    pub action: String,
    pub product: String,
    pub quantity: Decimal,
    pub average_price: Decimal,
    pub trade_value: Decimal,
    pub timestamp: String,
    /// The fill's own id (`tradeid`; the sandbox sends it, the docs' shape does not): what tells
    /// two partial fills of one order apart. Empty when not sent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trade_id: String,
}

/// `POST /api/v1/tradebook`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeBook {
    pub trades: Vec<Trade>,
    pub mode: Mode,
    /// The currency of the prices and values.
    #[serde(default = "inr")]
    pub currency: String,
}

/// One `holdings` row (`pnlpercent` upstream).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub symbol: String,
    pub exchange: String,
    pub product: String,
    pub quantity: Decimal,
    pub pnl: Decimal,
    pub pnl_percent: Decimal,
    /// The buy price (zerodha and 12 other plugins, and the sandbox, send it); `None` when not
    /// sent. `ltp` and `current_value` only come from the sandbox today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ltp: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_value: Option<Decimal>,
}

/// The holdings' `statistics` (`totalholdingvalue`, `totalinvvalue`, `totalprofitandloss`,
/// `totalpnlpercentage` upstream).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingStatistics {
    pub total_holding_value: Decimal,
    pub total_investment_value: Decimal,
    pub total_profit_and_loss: Decimal,
    pub total_pnl_percentage: Decimal,
}

/// `POST /api/v1/holdings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holdings {
    pub rows: Vec<Holding>,
    pub statistics: HoldingStatistics,
    pub mode: Mode,
    /// The currency of the prices, values and P&L.
    #[serde(default = "inr")]
    pub currency: String,
}

/// One currency or asset an account holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// A currency ("INR", "USD") or an asset ("BTC").
    pub asset: String,
    /// Free to use.
    pub free: Decimal,
    /// Held by open orders or used as margin.
    pub locked: Decimal,
    /// `free + locked`.
    pub total: Decimal,
}

/// Every currency or asset an account holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    pub rows: Vec<Balance>,
    pub mode: Mode,
}

/// The books a venue may have. A venue declares which it has ([`Venue::books`]); asking an
/// account for another is answered "unsupported", which is not a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookKind {
    Funds,
    Balances,
    Positions,
    Orders,
    Trades,
    Holdings,
}

impl BookKind {
    pub const ALL: [BookKind; 6] = [
        Self::Funds,
        Self::Balances,
        Self::Positions,
        Self::Orders,
        Self::Trades,
        Self::Holdings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Funds => "funds",
            Self::Balances => "balances",
            Self::Positions => "positions",
            Self::Orders => "orders",
            Self::Trades => "trades",
            Self::Holdings => "holdings",
        }
    }
}

/// What a venue kind is, needs and has: the account model's per-venue facts (`rosterctl venues`
/// shows them). Each venue module has one as a `static`.
#[derive(Debug)]
pub struct Venue {
    /// `Account.connector`.
    pub kind: &'static str,
    pub title: &'static str,
    /// The credential: every field is required and no other is accepted.
    pub credential_fields: &'static [CredentialField],
    /// The environments the venue has. An account that names none is in "live" when the venue
    /// has it (INTERFACE.md), else in the first listed.
    pub environments: &'static [VenueEnvironment],
    pub books: &'static [BookKind],
    pub rate_budget: &'static str,
    pub currency: &'static str,
    pub health_probe: &'static str,
}

#[derive(Debug)]
pub struct CredentialField {
    pub name: &'static str,
    pub description: &'static str,
    /// Longest accepted value, in bytes (a PEM private key is longer than an API key).
    pub max_len: usize,
    /// May hold spaces and line breaks (a PEM private key); other fields are one visible token.
    pub multiline: bool,
}

#[derive(Debug)]
pub struct VenueEnvironment {
    pub name: &'static str,
    /// `None` when the venue has no host of its own (an OpenAlgo instance is the user's server):
    /// `host_url` is then required.
    pub default_host: Option<&'static str>,
}

impl Venue {
    pub fn has(&self, book: BookKind) -> bool {
        self.books.contains(&book)
    }

    pub fn environment(&self, name: &str) -> Option<&'static VenueEnvironment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The environment of an account that names none.
    pub fn default_environment(&self) -> &'static str {
        self.environment("live")
            .or(self.environments.first())
            .map_or("live", |e| e.name)
    }

    pub fn field_names(&self) -> Vec<&'static str> {
        self.credential_fields.iter().map(|f| f.name).collect()
    }
}

/// What one health check learned (see [`Connector::check`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vitals {
    /// The broker behind the account, where the venue says (OpenAlgo's ping).
    pub broker: Option<String>,
    pub mode: Option<Mode>,
    /// The check went as deep as the venue goes (OpenAlgo: a funds probe after the ping).
    pub probed: bool,
    /// The venue restricts the account although reads work (Alpaca's `trading_blocked`): the
    /// account is DEGRADED for this reason without counting towards DOWN.
    pub restricted: Option<UpstreamError>,
}

/// A failed health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub error: UpstreamError,
    /// The credential was accepted before the check failed (OpenAlgo's ping answered and the
    /// funds probe did not; Alpaca answered with a blocked account).
    pub key_accepted: bool,
    /// What the venue told before the failure, still true.
    pub broker: Option<String>,
    pub mode: Option<Mode>,
}

impl From<UpstreamError> for CheckFailure {
    fn from(error: UpstreamError) -> Self {
        Self {
            error,
            key_accepted: false,
            broker: None,
            mode: None,
        }
    }
}

/// Which OpenAlgo endpoint a call goes to; also half of the request-budget key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Ping,
    Funds,
    PositionBook,
    OrderBook,
    TradeBook,
    Holdings,
}

impl Endpoint {
    /// The request path below the instance's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::Ping => "/api/v1/ping",
            Self::Funds => "/api/v1/funds",
            Self::PositionBook => "/api/v1/positionbook",
            Self::OrderBook => "/api/v1/orderbook",
            Self::TradeBook => "/api/v1/tradebook",
            Self::Holdings => "/api/v1/holdings",
        }
    }

    /// The path segment after `/api/v1/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::Funds => "funds",
            Self::PositionBook => "positionbook",
            Self::OrderBook => "orderbook",
            Self::TradeBook => "tradebook",
            Self::Holdings => "holdings",
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and as whom to call: one account. `host_url` is its endpoint's base URL (e.g.
/// `http://127.0.0.1:5000`, or `https://algo.example.com/prefix` behind a reverse proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub account_id: String,
    pub credential: Credential,
    /// The venue's environment ("live", "paper", ...).
    pub environment: String,
    /// Private, with `base` derived from it, so the two cannot disagree.
    host_url: String,
    /// `host_url` parsed once, here rather than per call: an account is checked every few
    /// seconds for as long as it lives, and parsing was a measurable part of each check.
    base: Option<BaseUrl>,
}

impl Upstream {
    pub fn new(
        account_id: impl Into<String>,
        host_url: impl Into<String>,
        credential: Credential,
    ) -> Self {
        let host_url = host_url.into();
        Self {
            account_id: account_id.into(),
            base: BaseUrl::parse(&host_url),
            host_url,
            credential,
            environment: "live".into(),
        }
    }

    /// The same, in the venue environment `environment`.
    pub fn in_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// The credential field `name`, or an error naming it (a credential the daemon sealed always
    /// has its venue's fields; one restored from elsewhere might not).
    pub fn secret(&self, name: &str) -> Result<&crate::secret::Secret, UpstreamError> {
        self.credential.get(name).ok_or_else(|| {
            UpstreamError::new(
                FailureReason::AuthRejected,
                format!("the stored credential has no {name:?} field"),
                None,
            )
        })
    }

    /// The instance's base URL as configured.
    pub fn host_url(&self) -> &str {
        &self.host_url
    }

    /// The parsed `host_url`; `None` when it is not an absolute http(s) URL with a host.
    pub fn base(&self) -> Option<&BaseUrl> {
        self.base.as_ref()
    }
}

/// An upstream's base URL with its path prefix (no trailing slash); any query or fragment in
/// `host_url` is dropped, since nothing but the prefix is ours to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: reqwest::Url,
    /// `scheme://host:port`: the identity of the server, for request budgets and logs.
    origin: std::sync::Arc<str>,
    /// The host to connect to (an IPv6 address without its brackets).
    host: String,
    port: u16,
    /// `host[:port]` as written in the URL: the `Host` header.
    authority: String,
}

impl BaseUrl {
    fn parse(host_url: &str) -> Option<Self> {
        let mut url = reqwest::Url::parse(host_url.trim()).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(d) => d.to_owned(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str()?),
            None => url.host_str()?.to_owned(),
        };
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&prefix);
        url.set_query(None);
        url.set_fragment(None);
        let origin = url.origin().ascii_serialization().into();
        Some(Self {
            url,
            origin,
            host,
            port,
            authority,
        })
    }

    /// `{base}{suffix}`, where `suffix` starts with `/`.
    pub fn join(&self, suffix: &str) -> reqwest::Url {
        let mut url = self.url.clone();
        let path = format!("{}{suffix}", self.path_prefix());
        url.set_path(&path);
        url
    }

    pub fn origin(&self) -> &std::sync::Arc<str> {
        &self.origin
    }

    /// The path before `/api/v1/...`, percent-encoded, without a trailing slash (`""` at root).
    pub fn path_prefix(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }
}

/// One venue, as the daemon sees it. Object safe so the daemon can hold `Arc<dyn Connector>` and
/// tests can substitute a fake.
///
/// Only books the venue declares ([`Venue::books`]) are asked for; the default methods answer
/// the others with an error that says so, should anyone ask anyway.
pub trait Connector: Send + Sync + 'static {
    fn venue(&self) -> &'static Venue;

    /// One health check, as cheap as the venue allows; `deep` asks for the venue's deeper probe
    /// where it has one (OpenAlgo: funds after ping, which proves the broker session).
    fn check<'a>(
        &'a self,
        up: &'a Upstream,
        deep: bool,
    ) -> BoxFuture<'a, Result<Vitals, CheckFailure>>;

    /// How many health checks a minute this venue's accounts may take together, when they share
    /// one budget (Binance's request weight per egress IP); `None` when each account's budget is
    /// its own. The monitor stretches the venue's check interval to fit (see `monitor`).
    fn checks_per_minute(&self) -> Option<u32> {
        None
    }

    fn funds<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Funds, UpstreamError>> {
        unsupported(self.venue(), up, BookKind::Funds)
    }
    fn balances<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Balances, UpstreamError>> {
        unsupported(self.venue(), up, BookKind::Balances)
    }
    fn positions<'a>(
        &'a self,
        up: &'a Upstream,
    ) -> BoxFuture<'a, Result<Positions, UpstreamError>> {
        unsupported(self.venue(), up, BookKind::Positions)
    }
    fn orders<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<OrderBook, UpstreamError>> {
        unsupported(self.venue(), up, BookKind::Orders)
    }
    fn trades<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<TradeBook, UpstreamError>> {
        unsupported(self.venue(), up, BookKind::Trades)
    }
    fn holdings<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Holdings, UpstreamError>> {
        unsupported(self.venue(), up, BookKind::Holdings)
    }
}

fn unsupported<'a, T: Send + 'a>(
    venue: &'static Venue,
    _: &'a Upstream,
    book: BookKind,
) -> BoxFuture<'a, Result<T, UpstreamError>> {
    Box::pin(std::future::ready(Err(UpstreamError::new(
        FailureReason::BadResponse,
        format!("{} has no {} book", venue.kind, book.as_str()),
        None,
    ))))
}
