//! What OKX answers, in our types: the `{code, msg, data}` envelope and its error codes, the
//! server time, the account configuration, and the balance, positions, pending-orders and fills
//! books (`okx-coinbase-api.md` A4-A6).
//!
//! OKX's quirks, handled here once:
//! - errors come as HTTP 200 with a non-zero `code` as often as with a 4xx; authentication
//!   errors have no `data` at all (`{"msg":"Invalid Sign","code":"50113"}`), and `code` has been
//!   seen as a JSON number. The code decides, never the message, whose wording differs from the
//!   docs (A8.9);
//! - numbers are JSON strings, and `""` means "does not apply here" (not zero): optional fields
//!   decode it as `None`, required amounts as zero only where the docs say an empty value is a
//!   zero (a balance's frozen part), never a price someone would read;
//! - booleans can be strings (`"reduceOnly":"false"`), times are ms-epoch strings, kept raw.
//!
//! Every amount is bounded where it is decoded ([`bounds`]) and named by its OKX field in the
//! error; every `data` array is decoded row by row up to `max_rows_per_book` ([`Rows`]).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeOwned, DeserializeSeed};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::connector::bounds;
use crate::connector::decode::{Rows, opt_decimal, raw_detail, string};
use crate::connector::{
    Balance, Balances, FailureReason, Mode, Order, OrderBook, OrderStatistics, Position, Positions,
    Trade, TradeBook, UpstreamError,
};

/// The code OKX answers a refused timestamp with (A3): the one error a resync can cure.
pub const CODE_TIMESTAMP_EXPIRED: &str = "50102";

/// The mode of an account in `environment`: demo trading is OKX's paper money.
pub fn mode_of(environment: &str) -> Mode {
    if environment == "demo" {
        Mode::Paper
    } else {
        Mode::Live
    }
}

/// A failure of `what` ("balance", ...) to decode.
pub fn bad_shape(what: &str, status: u16, detail: impl fmt::Display) -> UpstreamError {
    UpstreamError::new(
        FailureReason::BadResponse,
        raw_detail(&format!("okx {what}: unexpected response shape: {detail}")),
        Some(status),
    )
}

// ---------------------------------------------------------------------------------------------
// The envelope and its errors

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    msg: Option<Value>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// An OKX error: its code (as text, whichever JSON type it came in) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OkxError {
    pub code: String,
    pub msg: String,
}

/// `code` as text: `"50113"` and `50113` are the same code.
fn code_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What an OKX code means for the account, and the words an operator needs (A4's table).
pub fn reason_of(code: &str) -> Option<(FailureReason, &'static str)> {
    use FailureReason::*;
    Some(match code {
        "50105" => (AuthRejected, "wrong passphrase for this API key"),
        "50111" => (AuthRejected, "invalid API key"),
        "50113" => (AuthRejected, "invalid signature: wrong secret key"),
        "50119" => (
            AuthRejected,
            "API key doesn't exist (deleted, expired, or a key of another region's host)",
        ),
        "50101" => (
            AuthRejected,
            "the key belongs to the other environment (a demo key on live or the reverse)",
        ),
        "50103" | "50104" | "50106" | "50107" => {
            (AuthRejected, "a credential header was refused as empty")
        }
        "50102" => (
            ClockSkew,
            "request timestamp outside OKX's window: the clocks disagree",
        ),
        "50112" => (ClockSkew, "OK-ACCESS-TIMESTAMP refused as malformed"),
        "50110" => (
            IpBanned,
            "this host's IP is not in the API key's IP whitelist",
        ),
        "50120" | "50030" => (PermissionDenied, "the API key lacks the Read permission"),
        "50035" => (PermissionDenied, "this endpoint needs an IP-bound API key"),
        "50011" | "50013" | "50061" => (RateLimited, "rate limit reached"),
        "50100" => (
            AccountRestricted,
            "API frozen: contact OKX customer service",
        ),
        "50007" => (AccountRestricted, "the account is blocked"),
        "50009" => (
            AccountRestricted,
            "the account is in stop-out (liquidation)",
        ),
        "50012" => (AccountRestricted, "the account status is invalid"),
        "50027" => (AccountRestricted, "the account is restricted from trading"),
        "50029" => (AccountRestricted, "the account is under risk control"),
        "50051" | "50052" | "50059" | "50060" | "4088" => (
            AccountRestricted,
            "the account needs a compliance or KYC action",
        ),
        "50001" | "50004" | "50026" => (Http5xx, "OKX service unavailable"),
        _ => return None,
    })
}

/// The `data` of a successful answer, or the failure the answer is. `what` names the call in
/// messages.
pub fn envelope_data<'a>(
    what: &str,
    status: u16,
    body: &'a [u8],
) -> Result<&'a RawValue, (UpstreamError, Option<OkxError>)> {
    let starts_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    let envelope = starts_object
        .then(|| serde_json::from_slice::<Envelope<'_>>(body).ok())
        .flatten();
    let Some(envelope) = envelope else {
        return Err((status_failure(what, status, body), None));
    };
    let code = envelope.code.as_ref().and_then(code_text);
    match code.as_deref() {
        Some("0") if (200..300).contains(&status) => envelope
            .data
            .ok_or_else(|| (bad_shape(what, status, "code 0 without data"), None)),
        Some("0") | None => Err((status_failure(what, status, body), None)),
        Some(code) => {
            let msg = match &envelope.msg {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let (reason, meaning) = reason_of(code).unwrap_or(match status {
                429 => (FailureReason::RateLimited, "rate limit reached"),
                500..=599 => (FailureReason::Http5xx, "OKX server error"),
                _ => (FailureReason::BadResponse, "unexpected error code"),
            });
            let error = UpstreamError::new(
                reason,
                raw_detail(&format!("okx {what}: {meaning} (OKX code {code}: {msg})")),
                Some(status),
            );
            Err((
                error,
                Some(OkxError {
                    code: code.to_owned(),
                    msg,
                }),
            ))
        }
    }
}

/// An answer without a usable envelope, by its HTTP status.
fn status_failure(what: &str, status: u16, body: &[u8]) -> UpstreamError {
    let text = String::from_utf8_lossy(body);
    let (reason, meaning) = match status {
        429 => (FailureReason::RateLimited, "Too Many Requests"),
        500..=599 => (FailureReason::Http5xx, "OKX server error"),
        401 => (FailureReason::AuthRejected, "credential refused"),
        _ => (FailureReason::BadResponse, "unexpected answer"),
    };
    UpstreamError::new(
        reason,
        raw_detail(&format!("okx {what}: {meaning} (HTTP {status}): {text}")),
        Some(status),
    )
}

/// `data` as rows of `T`, at most `max_rows`.
fn rows<T: DeserializeOwned>(
    what: &str,
    status: u16,
    data: &RawValue,
    max_rows: usize,
) -> Result<Vec<T>, UpstreamError> {
    let mut de = serde_json::Deserializer::from_str(data.get());
    Rows::new(max_rows)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| bad_shape(what, status, e))
}

/// `value` within the bounds every decoded amount has, else `BAD_RESPONSE` naming `field`.
fn bounded(what: &str, status: u16, field: &str, value: Decimal) -> Result<Decimal, UpstreamError> {
    bounds::check(|| field.to_owned(), value).map_err(|e| bad_shape(what, status, e))?;
    Ok(value)
}

fn bounded_opt(
    what: &str,
    status: u16,
    field: &str,
    value: Option<Decimal>,
) -> Result<Option<Decimal>, UpstreamError> {
    value.map(|v| bounded(what, status, field, v)).transpose()
}

// ---------------------------------------------------------------------------------------------
// Time and configuration

#[derive(Deserialize)]
struct TimeRow {
    #[serde(default, deserialize_with = "string")]
    ts: String,
}

/// `GET /api/v5/public/time`: the server's ms-epoch.
pub fn server_time(status: u16, data: &RawValue) -> Result<i64, UpstreamError> {
    let rows: Vec<TimeRow> = rows("public time", status, data, 1)?;
    let ts = rows.first().map(|r| r.ts.trim()).unwrap_or_default();
    ts.parse::<i64>()
        .ok()
        .filter(|ms| (0..=i64::from(u32::MAX) * 1000).contains(ms))
        .ok_or_else(|| {
            bad_shape(
                "public time",
                status,
                format_args!("ts {ts:?} is not a ms time"),
            )
        })
}

/// What the health check reads from `GET /api/v5/account/config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Config {
    /// The user id the key belongs to: OKX's private rate limits are per user id (A7).
    #[serde(default, deserialize_with = "string")]
    pub uid: String,
    #[serde(default, deserialize_with = "string", rename = "mainUid")]
    pub main_uid: String,
    /// `read_only`, `trade`, `withdraw`, comma separated.
    #[serde(default, deserialize_with = "string")]
    pub perm: String,
    #[serde(default, deserialize_with = "string", rename = "acctLv")]
    pub acct_lv: String,
}

/// The longest uid kept (OKX's are 16-18 digits).
const MAX_UID_CHARS: usize = 32;

pub fn config(status: u16, data: &RawValue) -> Result<Config, UpstreamError> {
    let rows: Vec<Config> = rows("account config", status, data, 1)?;
    let config = rows
        .into_iter()
        .next()
        .ok_or_else(|| bad_shape("account config", status, "empty data"))?;
    if config.uid.is_empty() || config.uid.chars().count() > MAX_UID_CHARS {
        return Err(bad_shape(
            "account config",
            status,
            "uid missing or too long",
        ));
    }
    Ok(config)
}

// ---------------------------------------------------------------------------------------------
// Balances

#[derive(Deserialize)]
struct BalanceRow {
    #[serde(default)]
    details: Option<Value>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(default, deserialize_with = "string")]
    ccy: String,
    #[serde(default, deserialize_with = "opt_decimal", rename = "availBal")]
    avail_bal: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal", rename = "frozenBal")]
    frozen_bal: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal", rename = "cashBal")]
    cash_bal: Option<Decimal>,
}

/// The longest asset code accepted.
const MAX_ASSET_CHARS: usize = 32;

/// `GET /api/v5/account/balance`: one row per currency of the trading account. `free` is
/// `availBal`, `locked` is `frozenBal` (held by open orders and margin), `total` their sum, which
/// is the currency's cash balance `cashBal`. Not `eq`: equity adds the unrealized P&L of the
/// currency's derivatives positions, which the positions book already reports, so a portfolio
/// total over both would count it twice. When `availBal` does not apply (`""`), `free` is
/// `cashBal - frozenBal`. A currency OKX leaves out holds nothing (A5.1).
pub fn balances(
    status: u16,
    data: &RawValue,
    max_rows: usize,
    mode: Mode,
) -> Result<Balances, UpstreamError> {
    const WHAT: &str = "balance";
    let accounts: Vec<BalanceRow> = rows(WHAT, status, data, 1)?;
    let details = match accounts.into_iter().next().and_then(|a| a.details) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => {
            let raw =
                serde_json::value::to_raw_value(&v).map_err(|e| bad_shape(WHAT, status, e))?;
            rows::<Detail>(WHAT, status, &raw, max_rows)?
        }
    };
    // One row per asset, in a stable order, whatever order (or repetition) OKX sends.
    let mut by_asset: BTreeMap<String, Balance> = BTreeMap::new();
    for d in details {
        let asset = d.ccy.trim().to_owned();
        if asset.is_empty() || asset.chars().count() > MAX_ASSET_CHARS {
            return Err(bad_shape(
                WHAT,
                status,
                "a detail's ccy is missing or too long",
            ));
        }
        let locked = bounded(WHAT, status, "frozenBal", d.frozen_bal.unwrap_or_default())?;
        let cash = bounded_opt(WHAT, status, "cashBal", d.cash_bal)?;
        let free = match bounded_opt(WHAT, status, "availBal", d.avail_bal)? {
            Some(a) => a,
            None => cash.map_or(Decimal::ZERO, |c| c - locked),
        };
        let total = bounded(WHAT, status, "availBal + frozenBal", free + locked)?;
        let row = by_asset.entry(asset.clone()).or_insert_with(|| Balance {
            asset,
            ..Balance::default()
        });
        row.free = bounded(WHAT, status, "availBal", row.free + free)?.normalize();
        row.locked = bounded(WHAT, status, "frozenBal", row.locked + locked)?.normalize();
        row.total = bounded(WHAT, status, "cashBal", row.total + total)?.normalize();
    }
    Ok(Balances {
        rows: by_asset.into_values().collect(),
        mode,
    })
}

// ---------------------------------------------------------------------------------------------
// Positions

#[derive(Deserialize)]
struct PositionRow {
    #[serde(default, deserialize_with = "string", rename = "instType")]
    inst_type: String,
    #[serde(default, deserialize_with = "string", rename = "instId")]
    inst_id: String,
    #[serde(default, deserialize_with = "string", rename = "mgnMode")]
    mgn_mode: String,
    #[serde(default, deserialize_with = "string", rename = "posSide")]
    pos_side: String,
    #[serde(default, deserialize_with = "opt_decimal")]
    pos: Option<Decimal>,
    #[serde(default, deserialize_with = "string", rename = "posCcy")]
    pos_ccy: String,
    #[serde(default, deserialize_with = "opt_decimal", rename = "avgPx")]
    avg_px: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal", rename = "markPx")]
    mark_px: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    last: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    upl: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal", rename = "realizedPnl")]
    realized_pnl: Option<Decimal>,
    #[serde(default, deserialize_with = "string")]
    ccy: String,
}

/// Positions' currency when the rows do not agree on one (a USDT-margined swap next to a
/// coin-margined one): each row's P&L is then in its own margin currency.
pub const MIXED: &str = "per position";

/// Prices' currency when the instruments do not share a quote currency.
pub const PER_INSTRUMENT: &str = "per instrument";

/// The quote currency of instruments `BASE-QUOTE[-...]` when they all share one, else
/// [`PER_INSTRUMENT`]; empty for no rows.
fn quote_currency<'a>(inst_ids: impl Iterator<Item = &'a str>) -> String {
    let mut quote: Option<&str> = None;
    for id in inst_ids {
        let q = id.split('-').nth(1).unwrap_or_default();
        match quote {
            None => quote = Some(q),
            Some(seen) if seen == q => {}
            Some(_) => return PER_INSTRUMENT.to_owned(),
        }
    }
    match quote {
        Some(q) if !q.is_empty() => q.to_owned(),
        Some(_) => PER_INSTRUMENT.to_owned(),
        None => String::new(),
    }
}

/// `GET /api/v5/account/positions`: derivatives and margin positions (spot holdings are
/// balances, A5.3). A short is a negative quantity: net mode says so by the sign of `pos`,
/// long/short mode by `posSide: short`, and MARGIN (always positive) by `posCcy` being the quote
/// currency of `instId` (`BTC-USDT` with `posCcy: USDT`).
pub fn positions(
    status: u16,
    data: &RawValue,
    max_rows: usize,
    mode: Mode,
) -> Result<Positions, UpstreamError> {
    const WHAT: &str = "positions";
    let raw: Vec<PositionRow> = rows(WHAT, status, data, max_rows)?;
    let mut currencies: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(raw.len());
    for p in raw {
        let pos = bounded(WHAT, status, "pos", p.pos.unwrap_or_default())?;
        let quote = p.inst_id.split('-').nth(1).unwrap_or_default();
        let short = p.pos_side.eq_ignore_ascii_case("short")
            || (p.inst_type.eq_ignore_ascii_case("MARGIN")
                && !p.pos_ccy.is_empty()
                && p.pos_ccy.eq_ignore_ascii_case(quote));
        let quantity = if short { -pos.abs() } else { pos };
        let upl = bounded_opt(WHAT, status, "upl", p.upl)?;
        let realized = bounded_opt(WHAT, status, "realizedPnl", p.realized_pnl)?;
        let ltp = bounded_opt(WHAT, status, "markPx", p.mark_px.or(p.last))?;
        let pnl = upl.unwrap_or_default() + realized.unwrap_or_default();
        if !currencies.contains(&p.ccy) && currencies.len() < 2 {
            currencies.push(p.ccy.clone());
        }
        out.push(Position {
            symbol: p.inst_id,
            exchange: "OKX".to_owned(),
            product: if p.mgn_mode.is_empty() {
                p.inst_type
            } else {
                format!("{} {}", p.inst_type, p.mgn_mode)
            },
            quantity: quantity.normalize(),
            average_price: bounded(WHAT, status, "avgPx", p.avg_px.unwrap_or_default())?
                .normalize(),
            ltp: ltp.unwrap_or_default().normalize(),
            pnl: bounded(WHAT, status, "upl + realizedPnl", pnl)?.normalize(),
            realized_pnl: realized.map(|d| d.normalize()),
            unrealized_pnl: upl.map(|d| d.normalize()),
        });
    }
    let currency = match currencies.as_slice() {
        [one] if !one.is_empty() => one.clone(),
        [] => String::new(),
        _ => MIXED.to_owned(),
    };
    Ok(Positions {
        rows: out,
        mode,
        currency,
    })
}

// ---------------------------------------------------------------------------------------------
// Orders and fills

#[derive(Deserialize)]
pub struct OrderRow {
    #[serde(default, deserialize_with = "string", rename = "instType")]
    inst_type: String,
    #[serde(default, deserialize_with = "string", rename = "instId")]
    inst_id: String,
    #[serde(default, deserialize_with = "string", rename = "ordId")]
    pub ord_id: String,
    #[serde(default, deserialize_with = "opt_decimal")]
    px: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    sz: Option<Decimal>,
    #[serde(default, deserialize_with = "string", rename = "ordType")]
    ord_type: String,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(default, deserialize_with = "string", rename = "tdMode")]
    td_mode: String,
    #[serde(default, deserialize_with = "opt_decimal", rename = "accFillSz")]
    acc_fill_sz: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal", rename = "avgPx")]
    avg_px: Option<Decimal>,
    #[serde(default, deserialize_with = "string")]
    state: String,
    #[serde(default, deserialize_with = "string", rename = "cTime")]
    c_time: String,
}

/// One page of `GET /api/v5/trade/orders-pending`.
pub fn order_page(
    status: u16,
    data: &RawValue,
    max_rows: usize,
) -> Result<Vec<OrderRow>, UpstreamError> {
    rows("orders-pending", status, data, max_rows)
}

/// The orders book from the pending orders' rows: all are working (`live`,
/// `partially_filled`), so `status` is "open" as every venue's statistics count it; OKX's own
/// state is not lost, since a partial fill shows in `filled_quantity`.
pub fn order_book(status: u16, raw: Vec<OrderRow>, mode: Mode) -> Result<OrderBook, UpstreamError> {
    const WHAT: &str = "orders-pending";
    let mut orders = Vec::with_capacity(raw.len());
    for o in raw {
        let quantity = bounded(WHAT, status, "sz", o.sz.unwrap_or_default())?;
        let filled = bounded_opt(WHAT, status, "accFillSz", o.acc_fill_sz)?;
        orders.push(Order {
            order_id: o.ord_id,
            symbol: o.inst_id,
            exchange: "OKX".to_owned(),
            action: o.side.trim().to_ascii_uppercase(),
            price_type: o.ord_type,
            product: if o.td_mode.is_empty() {
                o.inst_type
            } else {
                format!("{} {}", o.inst_type, o.td_mode)
            },
            status: if o.state.is_empty() {
                String::new()
            } else {
                "open".to_owned()
            },
            quantity: quantity.normalize(),
            // A market order has no price (`""`): zero, as every venue's market orders.
            price: bounded(WHAT, status, "px", o.px.unwrap_or_default())?.normalize(),
            trigger_price: Decimal::ZERO,
            timestamp: o.c_time,
            average_price: bounded_opt(WHAT, status, "avgPx", o.avg_px)?.map(|d| d.normalize()),
            filled_quantity: filled.map(|d| d.normalize()),
            pending_quantity: filled.map(|f| (quantity - f).max(Decimal::ZERO).normalize()),
            rejection_reason: String::new(),
        });
    }
    let currency = quote_currency(orders.iter().map(|o| o.symbol.as_str()));
    Ok(OrderBook {
        orders,
        statistics: OrderStatistics::default(),
        mode,
        currency,
    })
}

#[derive(Deserialize)]
pub struct FillRow {
    #[serde(default, deserialize_with = "string", rename = "instType")]
    inst_type: String,
    #[serde(default, deserialize_with = "string", rename = "instId")]
    inst_id: String,
    #[serde(default, deserialize_with = "string", rename = "tradeId")]
    trade_id: String,
    #[serde(default, deserialize_with = "string", rename = "ordId")]
    ord_id: String,
    #[serde(default, deserialize_with = "string", rename = "billId")]
    pub bill_id: String,
    #[serde(default, deserialize_with = "string")]
    side: String,
    #[serde(default, deserialize_with = "opt_decimal", rename = "fillPx")]
    fill_px: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal", rename = "fillSz")]
    fill_sz: Option<Decimal>,
    #[serde(default, deserialize_with = "string", rename = "fillTime")]
    fill_time: String,
    #[serde(default, deserialize_with = "string")]
    ts: String,
}

/// One page of `GET /api/v5/trade/fills`.
pub fn fill_page(
    status: u16,
    data: &RawValue,
    max_rows: usize,
) -> Result<Vec<FillRow>, UpstreamError> {
    rows("fills", status, data, max_rows)
}

/// The trades book from fills (the last 3 days, A5.5): value is price times size, exactly.
pub fn trade_book(status: u16, raw: Vec<FillRow>, mode: Mode) -> Result<TradeBook, UpstreamError> {
    const WHAT: &str = "fills";
    let mut trades = Vec::with_capacity(raw.len());
    for f in raw {
        let price = bounded(WHAT, status, "fillPx", f.fill_px.unwrap_or_default())?;
        let size = bounded(WHAT, status, "fillSz", f.fill_sz.unwrap_or_default())?;
        let value = bounded(WHAT, status, "fillPx * fillSz", price * size)?;
        trades.push(Trade {
            order_id: f.ord_id,
            symbol: f.inst_id,
            exchange: "OKX".to_owned(),
            action: f.side.trim().to_ascii_uppercase(),
            product: f.inst_type,
            quantity: size.normalize(),
            average_price: price.normalize(),
            trade_value: value.normalize(),
            timestamp: if f.fill_time.is_empty() {
                f.ts
            } else {
                f.fill_time
            },
            trade_id: f.trade_id,
        });
    }
    let currency = quote_currency(trades.iter().map(|t| t.symbol.as_str()));
    Ok(TradeBook {
        trades,
        mode,
        currency,
    })
}
