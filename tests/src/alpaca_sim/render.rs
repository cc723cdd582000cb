//! The JSON Alpaca answers (reference §2.4): decimal strings, RFC 3339 times, `null`s and `""`
//! enums, and the query parameters of the list endpoints (filters, `limit`/`page_size` bounds,
//! `direction`, cursor paging).

use super::spec::{AccountInfo, Activity, FillActivity, NonTradeActivity, Order, Position};
use super::time::{rfc3339_eastern, rfc3339_utc, session};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// An Alpaca error answer: `{"code": <8 digits>, "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: u32,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(422, 42_210_000, message)
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, 40_010_000, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, 40_410_000, message)
    }

    pub(crate) fn body(&self) -> Value {
        json!({"code": self.code, "message": self.message})
    }
}

/// `US/Eastern` market clock pinned by a test (the timestamp stays "now").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketClock {
    /// `is_open`.
    pub is_open: bool,
    /// `next_open`, sent as given (Alpaca: `2026-11-26T09:30:00-05:00`).
    pub next_open: String,
    /// `next_close`, sent as given.
    pub next_close: String,
}

fn dec(v: Decimal) -> Value {
    Value::String(v.to_string())
}

fn opt_dec(v: Option<Decimal>) -> Value {
    v.map_or(Value::Null, dec)
}

fn opt_time(t: Option<SystemTime>, digits: usize) -> Value {
    t.map_or(Value::Null, |t| Value::String(rfc3339_utc(t, digits)))
}

pub(crate) fn account(a: &AccountInfo) -> Value {
    let mut v = json!({
        "id": a.id,
        "admin_configurations": {},
        "user_configurations": null,
        "account_number": a.account_number,
        "status": a.status,
        "currency": a.currency,
        "buying_power": dec(a.buying_power),
        "regt_buying_power": dec(a.regt_buying_power),
        "options_buying_power": dec(a.options_buying_power),
        "effective_buying_power": dec(a.effective_buying_power),
        "non_marginable_buying_power": dec(a.non_marginable_buying_power),
        "cash": dec(a.cash),
        "accrued_fees": dec(a.accrued_fees),
        "pending_transfer_in": dec(a.pending_transfer_in),
        "portfolio_value": dec(a.portfolio_value),
        "trading_blocked": a.trading_blocked,
        "transfers_blocked": a.transfers_blocked,
        "account_blocked": a.account_blocked,
        "created_at": rfc3339_utc(a.created_at, 6),
        "trade_suspended_by_user": a.trade_suspended_by_user,
        "multiplier": dec(a.multiplier),
        "shorting_enabled": a.shorting_enabled,
        "equity": dec(a.equity),
        "last_equity": dec(a.last_equity),
        "long_market_value": dec(a.long_market_value),
        "short_market_value": dec(a.short_market_value),
        "position_market_value": dec(a.position_market_value),
        "initial_margin": dec(a.initial_margin),
        "maintenance_margin": dec(a.maintenance_margin),
        "last_maintenance_margin": dec(a.last_maintenance_margin),
        "sma": dec(a.sma),
        "balance_asof": a.balance_asof,
        "crypto_tier": a.crypto_tier,
        "options_approved_level": a.options_approved_level,
        "options_trading_level": a.options_trading_level,
        "intraday_adjustments": dec(a.intraday_adjustments),
        "pending_reg_taf_fees": dec(a.pending_reg_taf_fees),
    });
    if let Value::Object(m) = &mut v {
        if let Some(c) = &a.crypto_status {
            m.insert("crypto_status".into(), Value::String(c.clone()));
        }
        for (k, x) in &a.extra {
            m.insert(k.clone(), x.clone());
        }
    }
    v
}

pub(crate) fn position(p: &Position) -> Value {
    json!({
        "asset_id": p.asset_id,
        "symbol": p.symbol,
        "exchange": p.exchange,
        "asset_class": p.asset_class,
        "asset_marginable": p.asset_marginable,
        "qty": dec(p.qty),
        "qty_available": dec(p.qty_available),
        "avg_entry_price": dec(p.avg_entry_price),
        "side": p.side(),
        "market_value": dec(p.market_value),
        "cost_basis": dec(p.cost_basis),
        "unrealized_pl": dec(p.unrealized_pl),
        "unrealized_plpc": dec(p.unrealized_plpc),
        "unrealized_intraday_pl": dec(p.unrealized_intraday_pl),
        "unrealized_intraday_plpc": dec(p.unrealized_intraday_plpc),
        "current_price": dec(p.current_price),
        "lastday_price": dec(p.lastday_price),
        "change_today": dec(p.change_today),
    })
}

/// `GET /v2/positions/{symbol_or_asset_id}`.
pub(crate) fn one_position(positions: &[Position], key: &str) -> Result<Value, ApiError> {
    positions
        .iter()
        .find(|p| p.symbol == key || p.asset_id == key)
        .map(position)
        .ok_or_else(|| ApiError::not_found("position does not exist"))
}

pub(crate) fn order(o: &Order, nested: bool) -> Value {
    let legs = if nested && !o.legs.is_empty() {
        Value::Array(o.legs.iter().map(|l| order(l, false)).collect())
    } else {
        Value::Null
    };
    json!({
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": rfc3339_utc(o.created_at, 9),
        "updated_at": rfc3339_utc(o.updated_at, 9),
        "submitted_at": rfc3339_utc(o.submitted_at, 9),
        // The reference's example has 3 digits here and 9 elsewhere.
        "filled_at": opt_time(o.filled_at, 3),
        "expired_at": opt_time(o.expired_at, 9),
        "canceled_at": opt_time(o.canceled_at, 9),
        "failed_at": opt_time(o.failed_at, 9),
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": o.asset_id,
        "symbol": o.symbol,
        "asset_class": o.asset_class,
        "notional": opt_dec(o.notional),
        "qty": opt_dec(o.qty),
        "filled_qty": dec(o.filled_qty),
        "filled_avg_price": opt_dec(o.filled_avg_price),
        "order_class": o.order_class,
        "order_type": o.order_type,
        "type": o.order_type,
        "side": o.side,
        "position_intent": o.position_intent,
        "time_in_force": o.time_in_force,
        "limit_price": opt_dec(o.limit_price),
        "stop_price": opt_dec(o.stop_price),
        "status": o.status,
        "extended_hours": o.extended_hours,
        "legs": legs,
        "trail_percent": null,
        "trail_price": null,
        "hwm": null,
        "subtag": null,
        "source": null,
    })
}

/// Query parameters, percent-decoded (`+` is a space, as in forms); later duplicates win.
pub(crate) struct Query(Vec<(String, String)>);

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| char::from(*h).to_digit(16));
        match c {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(c),
            },
            b'+' => out.push(b' '),
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Query {
    pub(crate) fn parse(q: Option<&str>) -> Query {
        Query(
            q.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `asc` or `desc` (the default); anything else is a 422.
    fn ascending(&self) -> Result<bool, ApiError> {
        match self.get("direction") {
            None | Some("desc") => Ok(false),
            Some("asc") => Ok(true),
            Some(other) => Err(ApiError::unprocessable(format!(
                "invalid direction {other:?}: asc or desc"
            ))),
        }
    }

    /// A bounded count. Out of range is a 422: the reference gives the bounds, not what happens
    /// past them, and refusing catches a client that relies on a silent clamp.
    fn count(&self, key: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        let n: usize = v
            .parse()
            .map_err(|_| ApiError::bad_request(format!("failed to parse {key}")))?;
        if !(1..=max).contains(&n) {
            return Err(ApiError::unprocessable(format!(
                "{key} must be between 1 and {max}"
            )));
        }
        Ok(n)
    }

    fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::bad_request(format!("failed to parse {key}"))),
        }
    }

    fn time(&self, key: &str) -> Result<Option<SystemTime>, ApiError> {
        self.get(key)
            .map(|v| {
                humantime::parse_rfc3339_weak(v)
                    .map_err(|_| ApiError::bad_request(format!("failed to parse {key}")))
            })
            .transpose()
    }

    fn list(&self, key: &str) -> Option<Vec<&str>> {
        self.get(key).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
    }
}

/// `GET /v2/orders`: `status` (open default, closed, all), `limit` (default 50, max 500),
/// `direction` (desc default) by `submitted_at`, `after`/`until` (exclusive), `after_order_id`
/// or `before_order_id` (orders submitted after/before that order, either direction),
/// `symbols`, `side`, and `nested` (legs rolled up under their parent; otherwise listed as
/// orders of their own).
pub(crate) fn orders(all: &[Order], q: &Query) -> Result<Value, ApiError> {
    let status = q.get("status").unwrap_or("open");
    let wanted: fn(&Order) -> bool = match status {
        "open" => Order::is_open,
        "closed" => |o| !o.is_open(),
        "all" => |_| true,
        other => {
            return Err(ApiError::unprocessable(format!(
                "invalid status {other:?}: open, closed or all"
            )));
        }
    };
    let limit = q.count("limit", 50, 500)?;
    let asc = q.ascending()?;
    let nested = q.flag("nested")?;
    let after = q.time("after")?;
    let until = q.time("until")?;
    let after_id = q.get("after_order_id");
    let before_id = q.get("before_order_id");
    if after_id.is_some() && before_id.is_some() {
        return Err(ApiError::unprocessable(
            "after_order_id and before_order_id are mutually exclusive",
        ));
    }
    if (after_id.is_some() || before_id.is_some()) && (after.is_some() || until.is_some()) {
        return Err(ApiError::unprocessable(
            "order id cursors cannot be combined with after or until",
        ));
    }
    let mut rows: Vec<&Order> = Vec::new();
    for o in all {
        rows.push(o);
        if !nested {
            rows.extend(o.legs.iter());
        }
    }
    let cursor = |id: &str| {
        rows.iter()
            .find(|o| o.id == id)
            .map(|o| o.submitted_at)
            .ok_or_else(|| ApiError::not_found("order not found"))
    };
    let after = match after_id {
        Some(id) => Some(cursor(id)?),
        None => after,
    };
    let until = match before_id {
        Some(id) => Some(cursor(id)?),
        None => until,
    };
    let symbols = q.list("symbols");
    let side = q.get("side");
    rows.retain(|o| {
        wanted(o)
            && after.is_none_or(|t| o.submitted_at > t)
            && until.is_none_or(|t| o.submitted_at < t)
            && symbols
                .as_ref()
                .is_none_or(|s| s.contains(&o.symbol.as_str()))
            && side.is_none_or(|s| o.side == s)
    });
    rows.sort_by(|a, b| (a.submitted_at, &a.id).cmp(&(b.submitted_at, &b.id)));
    if !asc {
        rows.reverse();
    }
    Ok(Value::Array(
        rows.into_iter()
            .take(limit)
            .map(|o| order(o, nested))
            .collect(),
    ))
}

/// `GET /v2/orders/{order_id}`.
pub(crate) fn one_order(all: &[Order], id: &str, q: &Query) -> Result<Value, ApiError> {
    let nested = q.flag("nested")?;
    all.iter()
        .flat_map(|o| std::iter::once(o).chain(o.legs.iter()))
        .find(|o| o.id == id)
        .map(|o| order(o, nested))
        .ok_or_else(|| ApiError::not_found("order not found"))
}

fn fill(f: &FillActivity) -> Value {
    json!({
        "id": f.id,
        "activity_type": "FILL",
        "transaction_time": rfc3339_utc(f.transaction_time, 6),
        "type": f.fill_type,
        "price": dec(f.price),
        "qty": dec(f.qty),
        "side": f.side,
        "symbol": f.symbol,
        "leaves_qty": dec(f.leaves_qty),
        "order_id": f.order_id,
        "cum_qty": dec(f.cum_qty),
        "order_status": f.order_status,
    })
}

fn non_trade(n: &NonTradeActivity) -> Value {
    let mut m = Map::new();
    m.insert("activity_type".into(), json!(n.activity_type));
    if let Some(s) = &n.activity_sub_type {
        m.insert("activity_sub_type".into(), json!(s));
    }
    m.insert("id".into(), json!(n.id));
    m.insert("date".into(), json!(n.date));
    m.insert("net_amount".into(), dec(n.net_amount));
    if let Some(s) = &n.symbol {
        m.insert("symbol".into(), json!(s));
    }
    if let Some(q) = n.qty {
        m.insert("qty".into(), dec(q));
    }
    if let Some(p) = n.per_share_amount {
        m.insert("per_share_amount".into(), dec(p));
    }
    m.insert("status".into(), json!(n.status));
    m.insert("created_at".into(), json!(rfc3339_utc(n.created_at, 6)));
    Value::Object(m)
}

/// `GET /v2/account/activities[/{type}]`: a bare array filtered by `activity_types` (comma list)
/// or `category` (`trade_activity` = FILL, `non_trade_activity` = the rest; not both), sorted by
/// id (`direction`, desc default), `page_size` (1-100, default 100) from just past `page_token`
/// (the id of the previous page's last activity).
pub(crate) fn activities(
    all: &[Activity],
    typed: Option<&str>,
    q: &Query,
) -> Result<Value, ApiError> {
    let types = match (typed, q.list("activity_types"), q.get("category")) {
        (Some(t), _, _) => Some(vec![t.to_owned()]),
        (None, Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "category cannot be combined with activity_types",
            ));
        }
        (None, Some(list), None) => Some(list.into_iter().map(str::to_owned).collect()),
        (None, None, _) => None,
    };
    let category = match q.get("category") {
        None => None,
        Some(c @ ("trade_activity" | "non_trade_activity")) => Some(c == "trade_activity"),
        Some(other) => {
            return Err(ApiError::unprocessable(format!(
                "invalid category {other:?}"
            )));
        }
    };
    let page_size = q.count("page_size", 100, 100)?;
    let asc = q.ascending()?;
    let token = q.get("page_token");
    let mut rows: Vec<&Activity> = all
        .iter()
        .filter(|a| {
            types
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| t == a.activity_type()))
                && category.is_none_or(|trade| trade == matches!(a, Activity::Fill(_)))
                && token.is_none_or(|t| if asc { a.id() > t } else { a.id() < t })
        })
        .collect();
    rows.sort_by(|a, b| a.id().cmp(b.id()));
    if !asc {
        rows.reverse();
    }
    Ok(Value::Array(
        rows.into_iter()
            .take(page_size)
            .map(|a| match a {
                Activity::Fill(f) => fill(f),
                Activity::NonTrade(n) => non_trade(n),
            })
            .collect(),
    ))
}

/// `GET /v2/clock`: now in US/Eastern with 9 digits, the session from a weekday schedule
/// unless pinned.
pub(crate) fn clock(pinned: Option<&MarketClock>) -> Value {
    let now = SystemTime::now();
    let (is_open, next_open, next_close) = match pinned {
        Some(c) => (c.is_open, c.next_open.clone(), c.next_close.clone()),
        None => session(now),
    };
    json!({
        "timestamp": rfc3339_eastern(now, 9),
        "is_open": is_open,
        "next_open": next_open,
        "next_close": next_close,
    })
}
