//! What Alpaca answers, in our types: the account (funds, balances, health), positions, orders
//! and fill activities, and the classification of its error answers.
//!
//! Alpaca's schemas churn (fields were removed from the account on 2026-07-06; enums gain
//! values), so every field but the account's `id`, `account_number` and `status` is optional,
//! unknown fields are ignored and enums are open strings. Numbers arrive as decimal strings (a
//! few as JSON numbers) and go through the lenient decoders OpenAlgo's books use, exactly, never
//! through `f64` arithmetic. Every value is bounded where it is decoded ([`bounds`]) and named
//! by its Alpaca field in the error, and every list is decoded row by row up to
//! `max_rows_per_book` ([`Rows`]).

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeOwned, DeserializeSeed};
use serde_json::Value;

use crate::connector::bounds::{self, OutOfBounds};
use crate::connector::decode::{Obj, Rows, decimal, opt_decimal, raw_detail, string};
use crate::connector::{
    Balance, Balances, FailureReason, Funds, Mode, Order, OrderBook, OrderStatistics, Position,
    Positions, Trade, TradeBook, UpstreamError,
};

/// The account currency when the account does not say (Alpaca's accounts are in dollars).
pub const USD: &str = "USD";

/// The longest currency code accepted (ISO 4217 codes are three letters).
const MAX_CURRENCY_CHARS: usize = 16;

/// The longest account status kept in a message (the spec's longest is 17 characters).
const MAX_STATUS_CHARS: usize = 40;

/// What a value of `what` ("account", "positions", ...) could not be decoded into.
fn bad_shape(what: &str, status: u16, detail: impl fmt::Display) -> UpstreamError {
    UpstreamError::new(
        FailureReason::BadResponse,
        raw_detail(&format!(
            "alpaca {what}: unexpected response shape: {detail}"
        )),
        Some(status),
    )
}

/// `value` within the bounds every decoded amount has, else `BAD_RESPONSE` naming `field`.
fn bounded(
    what: &str,
    status: u16,
    field: impl FnOnce() -> String,
    value: Decimal,
) -> Result<Decimal, UpstreamError> {
    bounds::check(field, value).map_err(|e| bad_shape(what, status, e))?;
    Ok(value)
}

fn bounded_opt(
    what: &str,
    status: u16,
    field: impl FnOnce() -> String,
    value: Option<Decimal>,
) -> Result<Option<Decimal>, UpstreamError> {
    value.map(|v| bounded(what, status, field, v)).transpose()
}

/// A 2xx body that must be one JSON object.
fn object<T: DeserializeOwned>(what: &str, status: u16, body: &[u8]) -> Result<T, UpstreamError> {
    serde_json::from_slice::<Obj<T>>(body)
        .map(|Obj(v)| v)
        .map_err(|e| bad_shape(what, status, e))
}

/// A 2xx body that must be one JSON array of row objects, at most `max_rows` of them.
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

/// The mode of an account in `environment`: Alpaca's paper and live are separate accounts on
/// separate hosts, so the environment decides (never the account number).
pub fn mode_of(environment: &str) -> Mode {
    if environment == "paper" {
        Mode::Paper
    } else {
        Mode::Live
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Alpaca's error body: `{"code": 40110000, "message": "..."}`; `code` is absent on gateway
/// rejections (`{"message": "forbidden."}`).
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
}

/// The code and message of an error answer; a body that is not such an object is kept as raw
/// text (cut, one line).
fn error_parts(body: &[u8]) -> (Option<u64>, String) {
    match serde_json::from_slice::<Obj<ErrorBody>>(body) {
        Ok(Obj(e)) => {
            let code = e.code.and_then(|c| match c {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            });
            let message = match e.message {
                Some(Value::String(s)) => s,
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (code, raw_detail(&message))
        }
        Err(_) => (None, raw_detail(&String::from_utf8_lossy(body))),
    }
}

/// The bad-key code: Alpaca's messages for it vary ("request is not authorized",
/// "unauthorized"), the code does not.
const CODE_UNAUTHORIZED: u64 = 40_110_000;

/// A non-2xx answer as a failure reason (see the table in the module of [`super::Alpaca`]).
pub fn classify_status(what: &str, status: u16, body: &[u8]) -> UpstreamError {
    let (code, message) = error_parts(body);
    let said = |m: &str| {
        if message.is_empty() {
            m.to_owned()
        } else {
            format!("{m}: {message}")
        }
    };
    let (reason, text) = match (status, code) {
        (401, Some(CODE_UNAUTHORIZED)) => (
            FailureReason::AuthRejected,
            "key id or secret refused (wrong, revoked or regenerated key, a reset paper \
             account, or a key of the other environment)"
                .to_owned(),
        ),
        (401, _) => (FailureReason::AuthRejected, said("401 unauthorized")),
        (403, None) => (
            FailureReason::AuthRejected,
            said("403 without a code: the credential headers were refused as malformed"),
        ),
        (403, Some(c)) => (
            FailureReason::PermissionDenied,
            said(&format!("403 code {c}: the key may not read this")),
        ),
        (429, _) => (FailureReason::RateLimited, said("429 too many requests")),
        (500..=599, _) => (FailureReason::Http5xx, said(&format!("HTTP {status}"))),
        _ => (
            FailureReason::BadResponse,
            said(&format!("unexpected HTTP {status}")),
        ),
    };
    UpstreamError::new(reason, format!("alpaca {what}: {text}"), Some(status))
}

// ---------------------------------------------------------------------------------------------
// The account: funds, balances, health

/// `GET /v2/account`, the fields we read.
#[derive(Debug, Deserialize)]
struct AccountWire {
    #[serde(deserialize_with = "string")]
    id: String,
    /// Required with `id` and `status`: an answer without it is not an account. Not read.
    #[serde(rename = "account_number", deserialize_with = "string")]
    _account_number: String,
    #[serde(deserialize_with = "string")]
    status: String,
    #[serde(default, deserialize_with = "string")]
    currency: String,
    #[serde(default, deserialize_with = "opt_decimal")]
    cash: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    buying_power: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    equity: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    last_equity: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    initial_margin: Option<Decimal>,
    #[serde(default)]
    trading_blocked: Option<bool>,
    #[serde(default)]
    trade_suspended_by_user: Option<bool>,
    #[serde(default)]
    account_blocked: Option<bool>,
}

/// What the account answer says about the account's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// `ACTIVE`, nothing blocked.
    Active,
    /// Reads work, trading does not (or may not, for a while): DEGRADED, not failing.
    Restricted(String),
    /// Blocked or not active: the check fails with `ACCOUNT_RESTRICTED`.
    Blocked(String),
}

/// The account, decoded and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub standing: Standing,
    pub funds: Funds,
}

impl Account {
    /// One balance: the account's cash in its currency (Alpaca has no per-asset cash).
    pub fn balances(&self) -> Balances {
        let f = &self.funds;
        Balances {
            rows: vec![Balance {
                asset: f.currency.clone(),
                free: f.available_cash,
                locked: Decimal::ZERO,
                total: f.available_cash,
            }],
            mode: f.mode,
        }
    }
}

fn standing(a: &AccountWire) -> Standing {
    let status = a.status.trim();
    let shown: String = status.chars().take(MAX_STATUS_CHARS).collect();
    if a.account_blocked == Some(true) {
        return Standing::Blocked(format!(
            "alpaca account: account_blocked (the account's activity is prohibited), status \
             {shown}"
        ));
    }
    let updating = status.eq_ignore_ascii_case("ACCOUNT_UPDATED");
    if !status.eq_ignore_ascii_case("ACTIVE") && !updating {
        return Standing::Blocked(format!("alpaca account: status {shown}, not ACTIVE"));
    }
    let mut why = Vec::new();
    if a.trading_blocked == Some(true) {
        why.push("trading_blocked (orders are refused)");
    }
    if a.trade_suspended_by_user == Some(true) {
        why.push("trade_suspended_by_user (the owner suspended trading)");
    }
    if updating {
        why.push("status ACCOUNT_UPDATED (personal details being updated; trading may pause)");
    }
    if why.is_empty() {
        Standing::Active
    } else {
        Standing::Restricted(format!(
            "alpaca account: {}; reads still work",
            why.join("; ")
        ))
    }
}

/// `GET /v2/account` (200) as funds and standing. Funds: available cash = `cash`, utilised
/// debits = `initial_margin` (margin held by open positions), unrealised M2M = `equity -
/// last_equity` (the day's change), no collateral or realised M2M (Alpaca reports neither).
pub fn account(status: u16, body: &[u8], environment: &str) -> Result<Account, UpstreamError> {
    const WHAT: &str = "account";
    let a: AccountWire = object(WHAT, status, body)?;
    if a.id.trim().is_empty() || a.status.trim().is_empty() {
        return Err(bad_shape(WHAT, status, "id or status is empty"));
    }
    let currency = match a.currency.trim() {
        "" => USD.to_owned(),
        c if c.chars().count() > MAX_CURRENCY_CHARS => {
            return Err(bad_shape(
                WHAT,
                status,
                OutOfBounds::Text {
                    field: "currency",
                    max: MAX_CURRENCY_CHARS,
                },
            ));
        }
        c => c.to_owned(),
    };
    let field = |name: &'static str| move || name.to_owned();
    let cash = bounded_opt(WHAT, status, field("cash"), a.cash)?;
    let buying_power = bounded_opt(WHAT, status, field("buying_power"), a.buying_power)?;
    let equity = bounded_opt(WHAT, status, field("equity"), a.equity)?;
    let last_equity = bounded_opt(WHAT, status, field("last_equity"), a.last_equity)?;
    let initial_margin = bounded_opt(WHAT, status, field("initial_margin"), a.initial_margin)?;
    let day_change = match (equity, last_equity) {
        (Some(e), Some(l)) => e
            .checked_sub(l)
            .ok_or_else(|| bad_shape(WHAT, status, "equity - last_equity is out of range"))?,
        _ => Decimal::ZERO,
    };
    let day_change = bounded(
        WHAT,
        status,
        field("equity - last_equity"),
        day_change.normalize(),
    )?;
    Ok(Account {
        standing: standing(&a),
        funds: Funds {
            available_cash: cash.unwrap_or_default(),
            collateral: Decimal::ZERO,
            m2m_realized: Decimal::ZERO,
            m2m_unrealized: day_change,
            utilised_debits: initial_margin.unwrap_or_default(),
            mode: mode_of(environment),
            currency,
            buying_power,
            equity,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Positions

#[derive(Deserialize)]
struct PositionWire {
    #[serde(default, deserialize_with = "string")]
    symbol: String,
    #[serde(default, deserialize_with = "string")]
    exchange: String,
    #[serde(default, deserialize_with = "string")]
    asset_class: String,
    #[serde(default, deserialize_with = "decimal")]
    qty: Decimal,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(default, deserialize_with = "decimal")]
    avg_entry_price: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    current_price: Decimal,
    #[serde(default, deserialize_with = "opt_decimal")]
    unrealized_pl: Option<Decimal>,
}

/// `GET /v2/positions` (200). Positions are Alpaca's holdings too (it has no other book of
/// them). The quantity is signed by `side`: Alpaca has been seen sending a short's `qty` both
/// negative and as a magnitude, so it is `|qty|`, negated for a short.
pub fn positions(
    status: u16,
    body: &[u8],
    max_rows: usize,
    mode: Mode,
    currency: &str,
) -> Result<Positions, UpstreamError> {
    const WHAT: &str = "positions";
    let wire: Vec<PositionWire> = rows(WHAT, status, body, max_rows)?;
    let mut out = Vec::with_capacity(wire.len());
    for (i, p) in wire.into_iter().enumerate() {
        let name = |f: &'static str| move || format!("[{i}].{f}");
        let qty = bounded(WHAT, status, name("qty"), p.qty)?.abs();
        let quantity = if p.side.trim().eq_ignore_ascii_case("short") {
            -qty
        } else {
            qty
        };
        let unrealized = bounded_opt(WHAT, status, name("unrealized_pl"), p.unrealized_pl)?;
        out.push(Position {
            symbol: p.symbol,
            exchange: p.exchange,
            product: p.asset_class,
            quantity,
            average_price: bounded(WHAT, status, name("avg_entry_price"), p.avg_entry_price)?,
            ltp: bounded(WHAT, status, name("current_price"), p.current_price)?,
            pnl: unrealized.unwrap_or_default(),
            // Alpaca's positions carry no realised P&L (closed positions leave the list).
            realized_pnl: None,
            unrealized_pnl: unrealized,
        });
    }
    Ok(Positions {
        rows: out,
        mode,
        currency: currency.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Orders

#[derive(Deserialize)]
struct OrderWire {
    #[serde(default, deserialize_with = "string")]
    id: String,
    #[serde(default, deserialize_with = "string")]
    symbol: String,
    #[serde(default, deserialize_with = "string")]
    asset_class: String,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(default, rename = "type", deserialize_with = "string")]
    kind: String,
    /// The newer spelling of `type`; read when `type` is absent or empty.
    #[serde(default, deserialize_with = "string")]
    order_type: String,
    #[serde(default, deserialize_with = "string")]
    status: String,
    #[serde(default, deserialize_with = "opt_decimal")]
    qty: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    filled_qty: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    filled_avg_price: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    limit_price: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    stop_price: Option<Decimal>,
    #[serde(default, deserialize_with = "string")]
    submitted_at: String,
}

/// An Alpaca order status in OpenAlgo's vocabulary, which the portfolio's `--status` filter and
/// order statistics speak: working orders are "open", filled ones "complete", ended ones
/// "cancelled"; anything else is kept, lowercased, as sent (`stopped`, `suspended`,
/// `calculated`, and values Alpaca adds later).
pub fn order_status(status: &str) -> String {
    let s = status.trim().to_ascii_lowercase();
    match s.as_str() {
        "new" | "accepted" | "pending_new" | "partially_filled" | "accepted_for_bidding" => {
            "open".to_owned()
        }
        p if p.starts_with("pending_") => "open".to_owned(),
        "filled" => "complete".to_owned(),
        "canceled" | "cancelled" | "expired" | "done_for_day" | "replaced" => {
            "cancelled".to_owned()
        }
        "rejected" => "rejected".to_owned(),
        _ => s,
    }
}

/// `GET /v2/orders?status=all&limit=500...` (200). A notional order has no `qty` (its quantity
/// is 0 here and its pending quantity unknown); a multi-leg parent has `""` for its symbol, side
/// and class, kept as empty text.
pub fn orders(
    status: u16,
    body: &[u8],
    max_rows: usize,
    mode: Mode,
    currency: &str,
) -> Result<OrderBook, UpstreamError> {
    const WHAT: &str = "orders";
    let wire: Vec<OrderWire> = rows(WHAT, status, body, max_rows)?;
    let mut out = Vec::with_capacity(wire.len());
    for (i, o) in wire.into_iter().enumerate() {
        let name = |f: &'static str| move || format!("[{i}].{f}");
        let qty = bounded_opt(WHAT, status, name("qty"), o.qty)?;
        let filled = bounded_opt(WHAT, status, name("filled_qty"), o.filled_qty)?;
        let pending = match (qty, filled) {
            (Some(q), Some(f)) => Some(bounded(
                WHAT,
                status,
                name("qty - filled_qty"),
                q.checked_sub(f)
                    .ok_or_else(|| bad_shape(WHAT, status, "qty - filled_qty is out of range"))?
                    .normalize(),
            )?),
            _ => None,
        };
        let kind = if o.kind.trim().is_empty() {
            o.order_type
        } else {
            o.kind
        };
        out.push(Order {
            order_id: o.id,
            symbol: o.symbol,
            exchange: String::new(),
            action: o.side.trim().to_ascii_uppercase(),
            price_type: kind,
            product: o.asset_class,
            status: order_status(&o.status),
            quantity: qty.unwrap_or_default(),
            price: bounded_opt(WHAT, status, name("limit_price"), o.limit_price)?
                .unwrap_or_default(),
            trigger_price: bounded_opt(WHAT, status, name("stop_price"), o.stop_price)?
                .unwrap_or_default(),
            timestamp: o.submitted_at,
            average_price: bounded_opt(WHAT, status, name("filled_avg_price"), o.filled_avg_price)?,
            filled_quantity: filled,
            pending_quantity: pending,
            rejection_reason: String::new(),
        });
    }
    Ok(OrderBook {
        orders: out,
        // Alpaca sends no statistics; the portfolio counts them from the rows (as it does for
        // every venue, see `portfolio::consolidate::order_statistics`).
        statistics: OrderStatistics::default(),
        mode,
        currency: currency.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Trades (fill activities)

#[derive(Deserialize)]
struct FillWire {
    #[serde(default, deserialize_with = "string")]
    id: String,
    #[serde(default, deserialize_with = "string")]
    order_id: String,
    #[serde(default, deserialize_with = "string")]
    symbol: String,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(default, deserialize_with = "decimal")]
    qty: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    price: Decimal,
    #[serde(default, deserialize_with = "string")]
    transaction_time: String,
}

/// One page of `GET /v2/account/activities?activity_types=FILL` (200), at most `max_rows` fills;
/// the last fill's `id` is the next page's `page_token`.
pub fn fills(status: u16, body: &[u8], max_rows: usize) -> Result<Vec<Trade>, UpstreamError> {
    const WHAT: &str = "activities";
    let wire: Vec<FillWire> = rows(WHAT, status, body, max_rows)?;
    let mut out = Vec::with_capacity(wire.len());
    for (i, f) in wire.into_iter().enumerate() {
        let name = |n: &'static str| move || format!("[{i}].{n}");
        let qty = bounded(WHAT, status, name("qty"), f.qty)?;
        let price = bounded(WHAT, status, name("price"), f.price)?;
        let value = price
            .checked_mul(qty)
            .ok_or_else(|| bad_shape(WHAT, status, format!("[{i}].price * qty is out of range")))?;
        let mut action = f.side.trim().to_ascii_uppercase();
        // A short sale is a sell to the trade totals (OpenAlgo's vocabulary has BUY and SELL).
        if action == "SELL_SHORT" {
            action = "SELL".to_owned();
        }
        out.push(Trade {
            order_id: f.order_id,
            symbol: f.symbol,
            exchange: String::new(),
            action,
            product: String::new(),
            quantity: qty,
            average_price: price,
            trade_value: bounded(WHAT, status, name("price * qty"), value.normalize())?,
            timestamp: f.transaction_time,
            trade_id: f.id,
        });
    }
    Ok(out)
}

/// The fills of every page as one book.
pub fn trade_book(trades: Vec<Trade>, mode: Mode, currency: &str) -> TradeBook {
    TradeBook {
        trades,
        mode,
        currency: currency.to_owned(),
    }
}
