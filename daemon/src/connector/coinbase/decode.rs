//! What Coinbase Advanced Trade answers, in our types (`okx-coinbase-api.md` B4-B6): the server
//! time, the key's permissions, pages of accounts, orders and fills, and the classification of
//! error answers.
//!
//! There is no envelope: a 2xx is the resource object, errors are 4xx/5xx with a JSON body of one
//! of several shapes, plain text (`Unauthorized`) or HTML (some 429s), so errors are classified
//! by status first and the body is only detail. Amounts are decimal strings (some `""`), money is
//! `{value, currency}`, list pages carry `has_next` and `cursor`. Every list is decoded row by
//! row up to `max_rows_per_book` ([`Rows`]) and every amount is bounded where it is decoded,
//! named by its Coinbase field.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeOwned, DeserializeSeed};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::connector::bounds;
use crate::connector::decode::{Obj, Rows, opt_decimal, raw_detail, string};
use crate::connector::{FailureReason, Order, Trade, UpstreamError};

/// What a value of `what` could not be decoded into.
pub fn bad_shape(what: &str, status: u16, detail: impl fmt::Display) -> UpstreamError {
    UpstreamError::new(
        FailureReason::BadResponse,
        raw_detail(&format!(
            "coinbase {what}: unexpected response shape: {detail}"
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
    Ok(value.normalize())
}

fn object<T: DeserializeOwned>(what: &str, status: u16, body: &[u8]) -> Result<T, UpstreamError> {
    serde_json::from_slice::<Obj<T>>(body)
        .map(|Obj(v)| v)
        .map_err(|e| bad_shape(what, status, e))
}

/// The rows of a page's list field, at most `max_rows`; a missing or `null` list is empty.
fn rows<T: DeserializeOwned>(
    what: &str,
    status: u16,
    raw: Option<&RawValue>,
    max_rows: usize,
) -> Result<Vec<T>, UpstreamError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    if raw.get() == "null" {
        return Ok(Vec::new());
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Rows::new(max_rows)
        .deserialize(&mut de)
        .map_err(|e| bad_shape(what, status, e))
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    error_details: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    /// The v2 shape `{"errors":[{"id","message"}]}`.
    #[serde(default)]
    errors: Option<Vec<Value>>,
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The venue's words in an error body: `error: details` of the JSON shapes, the text of a plain
/// answer, nothing of an HTML page (a 429 may be one; its markup says nothing).
pub fn error_text(body: &[u8]) -> String {
    if let Ok(Obj(e)) = serde_json::from_slice::<Obj<ErrorBody>>(body) {
        let first = e.errors.as_ref().and_then(|v| v.first());
        let code = match text_of(e.error.as_ref()) {
            c if c.is_empty() => text_of(first.and_then(|f| f.get("id"))),
            c => c,
        };
        let mut detail = text_of(e.error_details.as_ref());
        if detail.is_empty() {
            detail = text_of(e.message.as_ref());
        }
        if detail.is_empty() {
            detail = text_of(first.and_then(|f| f.get("message")));
        }
        let joined = match (code.is_empty(), detail.is_empty()) {
            (false, false) => format!("{code}: {detail}"),
            (false, true) => code,
            _ => detail,
        };
        return raw_detail(&joined);
    }
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        return "(an HTML page)".to_owned();
    }
    raw_detail(trimmed)
}

/// A non-2xx answer as a failure reason. A 401 is `AUTH_REJECTED` here; the caller decides
/// whether the clock is to blame (see the module of [`super::Coinbase`]).
pub fn classify_status(what: &str, status: u16, body: &[u8]) -> UpstreamError {
    let said = error_text(body);
    let with = |m: &str| {
        if said.is_empty() {
            m.to_owned()
        } else {
            format!("{m}: {said}")
        }
    };
    let (reason, text) = match status {
        401 => (
            FailureReason::AuthRejected,
            with(
                "401 (key name or private key refused, key revoked or deleted, IP not allowed, \
                 or a token outside its 2-minute window)",
            ),
        ),
        403 => (
            FailureReason::PermissionDenied,
            with("403 (the key lacks a scope this needs, such as view, or another portfolio)"),
        ),
        429 => (FailureReason::RateLimited, with("429 too many requests")),
        500..=599 => (FailureReason::Http5xx, with(&format!("HTTP {status}"))),
        _ => (
            FailureReason::BadResponse,
            with(&format!("unexpected HTTP {status}")),
        ),
    };
    UpstreamError::new(reason, format!("coinbase {what}: {text}"), Some(status))
}

// ---------------------------------------------------------------------------------------------
// Time and key permissions

#[derive(Deserialize)]
struct TimeWire {
    #[serde(default, rename = "epochMillis", deserialize_with = "string")]
    epoch_millis: String,
    #[serde(default, rename = "epochSeconds", deserialize_with = "string")]
    epoch_seconds: String,
}

/// `GET /api/v3/brokerage/time` (200): the venue's clock in ms. Epochs are strings; `epochMillis`
/// is preferred, `epochSeconds` is enough.
pub fn server_ms(status: u16, body: &[u8]) -> Result<i64, UpstreamError> {
    const WHAT: &str = "time";
    let t: TimeWire = object(WHAT, status, body)?;
    let ms = t.epoch_millis.trim().parse::<i64>().ok().or_else(|| {
        t.epoch_seconds
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
    });
    // Before 2001 or after 2286 is not a clock, it is a broken answer.
    match ms {
        Some(ms) if (1_000_000_000_000..10_000_000_000_000).contains(&ms) => Ok(ms),
        _ => Err(bad_shape(
            WHAT,
            status,
            "no usable epochMillis or epochSeconds",
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct Permissions {
    pub can_view: bool,
    #[serde(default)]
    pub can_trade: Option<bool>,
    #[serde(default)]
    pub can_transfer: Option<bool>,
    #[serde(default, deserialize_with = "string")]
    pub portfolio_type: String,
}

/// `GET /api/v3/brokerage/key_permissions` (200). `can_view` is required: without it the answer
/// proves nothing about reading.
pub fn permissions(status: u16, body: &[u8]) -> Result<Permissions, UpstreamError> {
    object("key_permissions", status, body)
}

// ---------------------------------------------------------------------------------------------
// Pages

/// One page of a list: its rows and the cursor of the next page, `None` on the last.
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct PageWire<'a> {
    #[serde(borrow, default)]
    accounts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    orders: Option<&'a RawValue>,
    #[serde(borrow, default)]
    fills: Option<&'a RawValue>,
    /// Absent on fills pages, which end with an empty cursor.
    #[serde(default)]
    has_next: Option<bool>,
    #[serde(default, deserialize_with = "string")]
    cursor: String,
}

/// The longest cursor accepted (they are short opaque tokens; it goes into the next URL).
const MAX_CURSOR_CHARS: usize = 512;

fn page_wire<'a>(what: &str, status: u16, body: &'a [u8]) -> Result<PageWire<'a>, UpstreamError> {
    let p: PageWire<'a> = serde_json::from_slice(body).map_err(|e| bad_shape(what, status, e))?;
    if p.cursor.chars().count() > MAX_CURSOR_CHARS {
        return Err(bad_shape(
            what,
            status,
            bounds::OutOfBounds::Text {
                field: "cursor",
                max: MAX_CURSOR_CHARS,
            },
        ));
    }
    Ok(p)
}

fn next_of(has_next: Option<bool>, cursor: String) -> Option<String> {
    let cursor = cursor.trim().to_owned();
    (has_next != Some(false) && !cursor.is_empty()).then_some(cursor)
}

/// Money: `{"value": "...", "currency": "..."}`.
#[derive(Debug, Default, Deserialize)]
struct Amount {
    #[serde(default, deserialize_with = "opt_decimal")]
    value: Option<Decimal>,
    #[serde(default, deserialize_with = "string")]
    currency: String,
}

#[derive(Deserialize)]
struct AccountWire {
    #[serde(default, deserialize_with = "string")]
    currency: String,
    #[serde(default)]
    available_balance: Option<Amount>,
    #[serde(default)]
    hold: Option<Amount>,
    #[serde(default, rename = "type", deserialize_with = "string")]
    kind: String,
}

/// One wallet of a page: its currency, available and held amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub currency: String,
    pub available: Decimal,
    pub hold: Decimal,
}

/// The longest asset code accepted.
const MAX_ASSET_CHARS: usize = 32;

/// One page of `GET /api/v3/brokerage/accounts` (200). Only crypto and fiat wallets (or ones
/// with no type) hold spendable money; vaults and derivatives wallets are left out, as CCXT
/// does. A wallet's currency is its own, else its balance's.
pub fn accounts_page(
    status: u16,
    body: &[u8],
    max_rows: usize,
) -> Result<Page<Wallet>, UpstreamError> {
    const WHAT: &str = "accounts";
    let p = page_wire(WHAT, status, body)?;
    let wire: Vec<AccountWire> = rows(WHAT, status, p.accounts, max_rows)?;
    let mut out = Vec::with_capacity(wire.len());
    for (i, a) in wire.into_iter().enumerate() {
        let kind = a.kind.trim();
        if !matches!(kind, "" | "ACCOUNT_TYPE_CRYPTO" | "ACCOUNT_TYPE_FIAT") {
            continue;
        }
        let available = a.available_balance.unwrap_or_default();
        let hold = a.hold.unwrap_or_default();
        let mut currency = a.currency.trim().to_owned();
        if currency.is_empty() {
            currency = available.currency.trim().to_owned();
        }
        if currency.is_empty() || currency.chars().count() > MAX_ASSET_CHARS {
            return Err(bad_shape(
                WHAT,
                status,
                format!("accounts[{i}].currency is empty or longer than {MAX_ASSET_CHARS}"),
            ));
        }
        let name = |f: &'static str| move || format!("accounts[{i}].{f}");
        out.push(Wallet {
            currency,
            available: bounded(
                WHAT,
                status,
                name("available_balance.value"),
                available.value.unwrap_or_default(),
            )?,
            hold: bounded(
                WHAT,
                status,
                name("hold.value"),
                hold.value.unwrap_or_default(),
            )?,
        });
    }
    Ok(Page {
        rows: out,
        next: next_of(p.has_next, p.cursor),
    })
}

#[derive(Deserialize)]
struct OrderWire {
    #[serde(default, deserialize_with = "string")]
    order_id: String,
    #[serde(default, deserialize_with = "string")]
    product_id: String,
    #[serde(default, deserialize_with = "string")]
    product_type: String,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(default, deserialize_with = "string")]
    order_type: String,
    #[serde(default, deserialize_with = "string")]
    status: String,
    #[serde(default, deserialize_with = "string")]
    created_time: String,
    #[serde(default)]
    order_configuration: Option<serde_json::Map<String, Value>>,
    #[serde(default, deserialize_with = "opt_decimal")]
    filled_size: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    average_filled_price: Option<Decimal>,
    #[serde(default, deserialize_with = "string")]
    reject_message: String,
}

/// A decimal in an order configuration's variant (`"0.5"`; `""` and absent are none).
fn config_decimal(config: Option<&Value>, field: &str) -> Option<Decimal> {
    match config?.get(field)? {
        Value::String(s) => crate::connector::decode::parse_decimal_str(s),
        Value::Number(n) => crate::connector::decode::parse_decimal_str(&n.to_string()),
        _ => None,
    }
}

/// A Coinbase order status in the vocabulary the portfolio speaks (see Alpaca's).
pub fn order_status(status: &str) -> String {
    match status.trim().to_ascii_uppercase().as_str() {
        "OPEN" | "PENDING" | "QUEUED" => "open".to_owned(),
        "FILLED" => "complete".to_owned(),
        "CANCELLED" | "EXPIRED" | "CANCEL_QUEUED" => "cancelled".to_owned(),
        "FAILED" => "rejected".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// One page of `GET /orders/historical/batch?order_status=OPEN` (200). Size and prices live in
/// the one variant of `order_configuration` (`limit_limit_gtc`, `market_market_ioc`, ...):
/// `base_size` (else `quote_size`, in the quote currency), `limit_price`, `stop_price`.
pub fn orders_page(
    status: u16,
    body: &[u8],
    max_rows: usize,
) -> Result<Page<Order>, UpstreamError> {
    const WHAT: &str = "orders";
    let p = page_wire(WHAT, status, body)?;
    let wire: Vec<OrderWire> = rows(WHAT, status, p.orders, max_rows)?;
    let mut out = Vec::with_capacity(wire.len());
    for (i, o) in wire.into_iter().enumerate() {
        let name = |f: &'static str| move || format!("orders[{i}].{f}");
        let config = o
            .order_configuration
            .as_ref()
            .and_then(|m| m.values().next());
        let size =
            config_decimal(config, "base_size").or_else(|| config_decimal(config, "quote_size"));
        let opt = |v: Option<Decimal>, f: &'static str| -> Result<Option<Decimal>, UpstreamError> {
            v.map(|v| bounded(WHAT, status, name(f), v)).transpose()
        };
        let quantity = opt(size, "order_configuration.base_size")?.unwrap_or_default();
        let filled = opt(o.filled_size, "filled_size")?;
        let pending = match filled {
            Some(f) if size.is_some() => Some(bounded(
                WHAT,
                status,
                name("base_size - filled_size"),
                quantity.checked_sub(f).unwrap_or_default(),
            )?),
            _ => None,
        };
        out.push(Order {
            order_id: o.order_id,
            symbol: o.product_id,
            exchange: String::new(),
            action: o.side.trim().to_ascii_uppercase(),
            price_type: o.order_type,
            product: o.product_type,
            status: order_status(&o.status),
            quantity,
            price: opt(config_decimal(config, "limit_price"), "limit_price")?.unwrap_or_default(),
            trigger_price: opt(config_decimal(config, "stop_price"), "stop_price")?
                .unwrap_or_default(),
            timestamp: o.created_time,
            average_price: opt(o.average_filled_price, "average_filled_price")?,
            filled_quantity: filled,
            pending_quantity: pending,
            rejection_reason: raw_detail(&o.reject_message),
        });
    }
    Ok(Page {
        rows: out,
        next: next_of(p.has_next, p.cursor),
    })
}

#[derive(Deserialize)]
struct FillWire {
    #[serde(default, deserialize_with = "string")]
    trade_id: String,
    #[serde(default, deserialize_with = "string")]
    order_id: String,
    #[serde(default, deserialize_with = "string")]
    product_id: String,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(default, deserialize_with = "opt_decimal")]
    price: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    size: Option<Decimal>,
    #[serde(default)]
    size_in_quote: Option<bool>,
    #[serde(default, deserialize_with = "string")]
    trade_time: String,
}

/// One page of `GET /orders/historical/fills` (200). A fill with `size_in_quote` has its size
/// in the quote currency: the base quantity is `size / price` and the value is `size`; otherwise
/// the value is `price * size`.
pub fn fills_page(status: u16, body: &[u8], max_rows: usize) -> Result<Page<Trade>, UpstreamError> {
    const WHAT: &str = "fills";
    let p = page_wire(WHAT, status, body)?;
    let wire: Vec<FillWire> = rows(WHAT, status, p.fills, max_rows)?;
    let mut out = Vec::with_capacity(wire.len());
    for (i, f) in wire.into_iter().enumerate() {
        let name = |n: &'static str| move || format!("fills[{i}].{n}");
        let price = bounded(WHAT, status, name("price"), f.price.unwrap_or_default())?;
        let size = bounded(WHAT, status, name("size"), f.size.unwrap_or_default())?;
        let (quantity, value) = if f.size_in_quote == Some(true) {
            let base = if price.is_zero() {
                Decimal::ZERO
            } else {
                size.checked_div(price).unwrap_or_default().round_dp(16)
            };
            (base, size)
        } else {
            let value = price.checked_mul(size).ok_or_else(|| {
                bad_shape(
                    WHAT,
                    status,
                    format!("fills[{i}].price * size is out of range"),
                )
            })?;
            (size, value)
        };
        out.push(Trade {
            order_id: f.order_id,
            symbol: f.product_id,
            exchange: String::new(),
            action: f.side.trim().to_ascii_uppercase(),
            product: String::new(),
            quantity: bounded(WHAT, status, name("size / price"), quantity)?,
            average_price: price,
            trade_value: bounded(WHAT, status, name("price * size"), value)?,
            timestamp: f.trade_time,
            trade_id: f.trade_id,
        });
    }
    Ok(Page {
        rows: out,
        next: next_of(p.has_next, p.cursor),
    })
}

/// The quote currency of a product id (`BTC-USD` -> `USD`).
pub fn quote_of(product_id: &str) -> Option<&str> {
    product_id
        .rsplit_once('-')
        .map(|(_, q)| q)
        .filter(|q| !q.is_empty())
}
