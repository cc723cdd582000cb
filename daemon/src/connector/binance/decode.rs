//! What Binance spot answers, in our types: the account (health and balances), open orders,
//! fills (`myTrades`), the server time, and the classification of its error answers
//! (reference §3.3, §3.4, §3.6, §3.7).
//!
//! Numbers arrive as decimal strings of varying scale (`"0.00150000"`, `"1.0"`) and go through
//! the lenient decoders OpenAlgo's books use, exactly, never through `f64`; ids and times are
//! integers (`orderId` exceeds 2^31). Unknown fields are ignored and enums are open strings.
//! Every value is bounded where it is decoded and named by its Binance field in the error; every
//! list is decoded row by row up to `max_rows_per_book`.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeOwned, DeserializeSeed};
use serde_json::Value;

use crate::connector::bounds::{self, OutOfBounds};
use crate::connector::decode::{Obj, Rows, decimal, raw_detail, string};
use crate::connector::{
    Balance, Balances, FailureReason, Mode, Order, OrderBook, OrderStatistics, Trade, TradeBook,
    UpstreamError,
};

/// The quote assets trades are looked up against, in order (see `Binance::trade_symbols`).
pub const QUOTES: [&str; 2] = ["USDT", "BTC"];

/// The longest symbol or asset kept (Binance's are a dozen characters or so).
const MAX_SYMBOL_CHARS: usize = 32;

fn bad_shape(what: &str, status: u16, detail: impl fmt::Display) -> UpstreamError {
    UpstreamError::new(
        FailureReason::BadResponse,
        raw_detail(&format!(
            "binance {what}: unexpected response shape: {detail}"
        )),
        Some(status),
    )
}

fn bounded(
    what: &str,
    status: u16,
    field: impl FnOnce() -> String,
    value: Decimal,
) -> Result<Decimal, UpstreamError> {
    bounds::check(field, value).map_err(|e| bad_shape(what, status, e))?;
    Ok(value)
}

fn symbol(
    what: &str,
    status: u16,
    field: &'static str,
    s: String,
) -> Result<String, UpstreamError> {
    if s.chars().count() > MAX_SYMBOL_CHARS {
        return Err(bad_shape(
            what,
            status,
            OutOfBounds::Text {
                field,
                max: MAX_SYMBOL_CHARS,
            },
        ));
    }
    Ok(s)
}

fn object<T: DeserializeOwned>(what: &str, status: u16, body: &[u8]) -> Result<T, UpstreamError> {
    serde_json::from_slice::<Obj<T>>(body)
        .map(|Obj(v)| v)
        .map_err(|e| bad_shape(what, status, e))
}

fn rows<T: DeserializeOwned>(
    what: &str,
    status: u16,
    body: &[u8],
    max_rows: usize,
) -> Result<Vec<T>, UpstreamError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Rows::new(max_rows)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| bad_shape(what, status, e))
}

/// The mode of an account in `environment`: testnet and demo hold virtual funds.
pub fn mode_of(environment: &str) -> Mode {
    match environment {
        "testnet" | "demo" => Mode::Paper,
        _ => Mode::Live,
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Binance's error codes the connector acts on.
pub const CODE_UNAUTHORIZED: i64 = -1002;
pub const CODE_INVALID_TIMESTAMP: i64 = -1021;
pub const CODE_INVALID_SIGNATURE: i64 = -1022;
pub const CODE_BAD_SYMBOL: i64 = -1121;
pub const CODE_BAD_API_KEY_FMT: i64 = -2014;
pub const CODE_REJECTED_MBX_KEY: i64 = -2015;

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    msg: Option<Value>,
}

/// The `code` and `msg` of an error answer (`{"code": -2015, "msg": "..."}`); a body that is not
/// such an object (a WAF page) is kept as raw text, cut, on one line.
pub fn error_parts(body: &[u8]) -> (Option<i64>, String) {
    match serde_json::from_slice::<Obj<ErrorBody>>(body) {
        Ok(Obj(e)) => {
            let code = e.code.and_then(|c| match c {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            });
            let msg = match e.msg {
                Some(Value::String(s)) => s,
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (code, raw_detail(&msg))
        }
        Err(_) => (None, raw_detail(&String::from_utf8_lossy(body))),
    }
}

/// A non-2xx answer as a failure reason; the venue's code and message stay in the detail.
pub fn classify_status(what: &str, status: u16, body: &[u8]) -> UpstreamError {
    let (code, msg) = error_parts(body);
    let said = match code {
        Some(c) => format!("HTTP {status} code {c}: {msg}"),
        None if msg.is_empty() => format!("HTTP {status}"),
        None => format!("HTTP {status}: {msg}"),
    };
    let (reason, why) = match (status, code) {
        (418, _) => (
            FailureReason::IpBanned,
            "this IP is banned for too much request weight",
        ),
        (429, _) => (FailureReason::RateLimited, "request weight used up"),
        (451, _) => (
            FailureReason::IpBanned,
            "Binance refuses requests from this daemon's location (geo-blocked; Binance.US is \
             another exchange with other keys)",
        ),
        (_, Some(CODE_REJECTED_MBX_KEY)) => (
            FailureReason::AuthRejected,
            "key refused: invalid or revoked key, this IP not on the key's allow list, or the \
             key lacks the permission (Binance does not say which)",
        ),
        (_, Some(CODE_BAD_API_KEY_FMT)) => (FailureReason::AuthRejected, "malformed API key"),
        (_, Some(CODE_INVALID_SIGNATURE)) => (
            FailureReason::AuthRejected,
            "signature refused: the secret key is wrong",
        ),
        (_, Some(CODE_INVALID_TIMESTAMP)) => (
            FailureReason::ClockSkew,
            "the request's timestamp is outside Binance's window, after one clock resync",
        ),
        (_, Some(CODE_UNAUTHORIZED)) => (
            FailureReason::PermissionDenied,
            "the key may not make this request",
        ),
        (403, _) => (
            FailureReason::RateLimited,
            "Binance's firewall refused the request (a rate limit or a security block)",
        ),
        (500..=599, _) => (FailureReason::Http5xx, "server error"),
        _ => (FailureReason::BadResponse, "unexpected answer"),
    };
    UpstreamError::new(
        reason,
        format!("binance {what}: {why} ({said})"),
        Some(status),
    )
}

// ---------------------------------------------------------------------------------------------
// The server time

#[derive(Deserialize)]
struct TimeWire {
    #[serde(rename = "serverTime")]
    server_time: i64,
}

/// `GET /api/v3/time`: `{"serverTime": 1764067267112}`, in ms.
pub fn server_time(status: u16, body: &[u8]) -> Result<i64, UpstreamError> {
    object::<TimeWire>("time", status, body).map(|t| t.server_time)
}

// ---------------------------------------------------------------------------------------------
// The account

#[derive(Deserialize)]
struct BalanceWire {
    #[serde(deserialize_with = "string")]
    asset: String,
    #[serde(default, deserialize_with = "decimal")]
    free: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    locked: Decimal,
}

#[derive(Deserialize)]
struct AccountWire {
    #[serde(rename = "canTrade")]
    can_trade: bool,
    #[serde(default)]
    permissions: Option<Vec<Value>>,
    #[serde(rename = "accountType", default, deserialize_with = "string")]
    account_type: String,
    balances: Value,
}

/// What the account answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub can_trade: bool,
    /// `permissions` (`SPOT`, `MARGIN`, `TRD_GRP_002`, ...), kept open.
    pub permissions: Vec<String>,
    pub account_type: String,
    /// Every listed asset, zeros dropped.
    pub balances: Vec<Balance>,
}

/// `GET /api/v3/account`.
pub fn account(status: u16, body: &[u8], max_rows: usize) -> Result<Account, UpstreamError> {
    const WHAT: &str = "account";
    let wire: AccountWire = object(WHAT, status, body)?;
    let raw = serde_json::to_vec(&wire.balances).map_err(|e| bad_shape(WHAT, status, e))?;
    let rows: Vec<BalanceWire> = rows(WHAT, status, &raw, max_rows)?;
    let mut balances = Vec::with_capacity(rows.len());
    for (i, b) in rows.into_iter().enumerate() {
        let free = bounded(WHAT, status, || format!("balances[{i}].free"), b.free)?;
        let locked = bounded(WHAT, status, || format!("balances[{i}].locked"), b.locked)?;
        let total = bounded(
            WHAT,
            status,
            || format!("balances[{i}].total"),
            free + locked,
        )?;
        if total.is_zero() && free.is_zero() {
            continue;
        }
        balances.push(Balance {
            asset: symbol(WHAT, status, "balances.asset", b.asset)?,
            free,
            locked,
            total,
        });
    }
    let permissions = wire
        .permissions
        .unwrap_or_default()
        .into_iter()
        .take(64)
        .map(|p| match p {
            Value::String(s) => raw_detail(&s),
            other => raw_detail(&other.to_string()),
        })
        .collect();
    Ok(Account {
        can_trade: wire.can_trade,
        permissions,
        account_type: raw_detail(&wire.account_type),
        balances,
    })
}

impl Account {
    pub fn balances(&self, mode: Mode) -> Balances {
        Balances {
            rows: self.balances.clone(),
            mode,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Open orders

#[derive(Deserialize)]
struct OrderWire {
    #[serde(deserialize_with = "string")]
    symbol: String,
    #[serde(rename = "orderId", deserialize_with = "string")]
    order_id: String,
    #[serde(default, deserialize_with = "decimal")]
    price: Decimal,
    #[serde(rename = "origQty", default, deserialize_with = "decimal")]
    orig_qty: Decimal,
    #[serde(rename = "executedQty", default, deserialize_with = "decimal")]
    executed_qty: Decimal,
    #[serde(rename = "cummulativeQuoteQty", default, deserialize_with = "decimal")]
    cumulative_quote_qty: Decimal,
    #[serde(default, deserialize_with = "string")]
    status: String,
    #[serde(rename = "type", default, deserialize_with = "string")]
    order_type: String,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(rename = "stopPrice", default, deserialize_with = "decimal")]
    stop_price: Decimal,
    #[serde(default, deserialize_with = "string")]
    time: String,
}

/// The quote asset of `symbol` among [`QUOTES`] and the common stablecoins, when it ends in one.
pub fn quote_of(symbol: &str) -> Option<&'static str> {
    ["USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB", "EUR", "TRY"]
        .into_iter()
        .find(|q| symbol.len() > q.len() && symbol.ends_with(q))
}

/// The currency of a book's prices: the one quote asset of its symbols, `"MIXED"` when they have
/// several, USDT when the book is empty.
pub fn book_currency<'a>(symbols: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Option<&str> = None;
    for s in symbols {
        let q = quote_of(s).unwrap_or("MIXED");
        match seen {
            None => seen = Some(q),
            Some(p) if p == q => {}
            Some(_) => return "MIXED".to_owned(),
        }
    }
    seen.unwrap_or(QUOTES[0]).to_owned()
}

/// `GET /api/v3/openOrders` (every symbol).
pub fn open_orders(
    status: u16,
    body: &[u8],
    max_rows: usize,
    mode: Mode,
) -> Result<OrderBook, UpstreamError> {
    const WHAT: &str = "openOrders";
    let wire: Vec<OrderWire> = rows(WHAT, status, body, max_rows)?;
    let mut orders = Vec::with_capacity(wire.len());
    let mut statistics = OrderStatistics::default();
    for (i, o) in wire.into_iter().enumerate() {
        let quantity = bounded(WHAT, status, || format!("[{i}].origQty"), o.orig_qty)?;
        let filled = bounded(
            WHAT,
            status,
            || format!("[{i}].executedQty"),
            o.executed_qty,
        )?;
        let quote = bounded(
            WHAT,
            status,
            || format!("[{i}].cummulativeQuoteQty"),
            o.cumulative_quote_qty,
        )?;
        // A negative cumulative quote quantity is Binance's "not available".
        let average_price = (filled > Decimal::ZERO && quote >= Decimal::ZERO)
            .then(|| (quote / filled).round_dp(8).normalize());
        let action = o.side.to_ascii_lowercase();
        match action.as_str() {
            "buy" => statistics.total_buy_orders += 1,
            "sell" => statistics.total_sell_orders += 1,
            _ => {}
        }
        statistics.total_open_orders += 1;
        orders.push(Order {
            order_id: o.order_id,
            symbol: symbol(WHAT, status, "symbol", o.symbol)?,
            exchange: "BINANCE".to_owned(),
            action,
            price_type: o.order_type.to_ascii_lowercase(),
            product: "spot".to_owned(),
            status: o.status.to_ascii_lowercase(),
            quantity,
            price: bounded(WHAT, status, || format!("[{i}].price"), o.price)?,
            trigger_price: bounded(WHAT, status, || format!("[{i}].stopPrice"), o.stop_price)?,
            timestamp: o.time,
            average_price,
            filled_quantity: Some(filled),
            pending_quantity: Some(quantity - filled),
            rejection_reason: String::new(),
        });
    }
    let currency = book_currency(orders.iter().map(|o| o.symbol.as_str()));
    Ok(OrderBook {
        orders,
        statistics,
        mode,
        currency,
    })
}

/// The symbols of the open orders, in order of first appearance.
pub fn symbols_of(book: &OrderBook) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for o in &book.orders {
        if !out.contains(&o.symbol) {
            out.push(o.symbol.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Fills

#[derive(Deserialize)]
struct TradeWire {
    #[serde(deserialize_with = "string")]
    symbol: String,
    #[serde(deserialize_with = "string")]
    id: String,
    #[serde(rename = "orderId", deserialize_with = "string")]
    order_id: String,
    #[serde(default, deserialize_with = "decimal")]
    price: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    qty: Decimal,
    #[serde(rename = "quoteQty", default, deserialize_with = "decimal")]
    quote_qty: Decimal,
    #[serde(default, deserialize_with = "string")]
    time: String,
    #[serde(rename = "isBuyer", default)]
    is_buyer: bool,
}

/// `GET /api/v3/myTrades?symbol=...`.
pub fn my_trades(status: u16, body: &[u8], max_rows: usize) -> Result<Vec<Trade>, UpstreamError> {
    const WHAT: &str = "myTrades";
    let wire: Vec<TradeWire> = rows(WHAT, status, body, max_rows)?;
    wire.into_iter()
        .enumerate()
        .map(|(i, t)| {
            Ok(Trade {
                order_id: t.order_id,
                symbol: symbol(WHAT, status, "symbol", t.symbol)?,
                exchange: "BINANCE".to_owned(),
                action: if t.is_buyer { "buy" } else { "sell" }.to_owned(),
                product: "spot".to_owned(),
                quantity: bounded(WHAT, status, || format!("[{i}].qty"), t.qty)?,
                average_price: bounded(WHAT, status, || format!("[{i}].price"), t.price)?,
                trade_value: bounded(WHAT, status, || format!("[{i}].quoteQty"), t.quote_qty)?,
                timestamp: t.time,
                trade_id: t.id,
            })
        })
        .collect()
}

/// The fills of every symbol as one book.
pub fn trade_book(trades: Vec<Trade>, mode: Mode) -> TradeBook {
    let currency = book_currency(trades.iter().map(|t| t.symbol.as_str()));
    TradeBook {
        trades,
        mode,
        currency,
    }
}
