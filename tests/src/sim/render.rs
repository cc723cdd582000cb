//! JSON bodies of the simulated endpoints, typed the way the real broker plugins and the sandbox
//! type them (see `openalgo-api.md` §1.2–1.6 and [`NumberStyle`]).
//!
//! Values are `serde_json::Value`s whose objects are BTreeMap-backed, so the serialized keys come
//! out sorted like Flask's `jsonify`.

use super::spec::{Funds, Holding, Mode, NumberStyle, Order, Position, Trade, dec};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use serde_json::{Map, Value, json};

/// The mutable "book" of one instance: what the endpoints serve.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub broker: String,
    pub mode: Mode,
    pub style: NumberStyle,
    pub funds: Funds,
    pub positions: Vec<Position>,
    pub orders: Vec<Order>,
    pub trades: Vec<Trade>,
    pub holdings: Vec<Holding>,
    pub session_expired: bool,
    /// Sandbox `last_reset` (IST wall clock at start-up).
    pub last_reset: String,
    /// Sandbox settlement date for holdings.
    pub settlement_date: String,
}

/// Values were validated when they entered the book, so a parse failure here cannot happen; zero
/// keeps rendering total anyway.
fn d(v: &str) -> Decimal {
    dec("", v).unwrap_or(Decimal::ZERO)
}

/// Python `round(x, 2)` as a JSON float.
fn f2(x: Decimal) -> Value {
    json!(x.round_dp(2).to_f64().unwrap_or(0.0))
}

/// Unrounded JSON float (the sandbox keeps prices as given).
fn f(x: Decimal) -> Value {
    json!(x.to_f64().unwrap_or(0.0))
}

/// JSON int (quantities).
fn int(x: Decimal) -> Value {
    json!(x.trunc().to_i64().unwrap_or(0))
}

/// `f"{x:.2f}"`.
fn s2(x: Decimal) -> Value {
    let mut r = x.round_dp(2);
    r.rescale(2);
    Value::String(r.to_string())
}

/// A broker string passed through untouched (docs/flattrade style).
fn raw(v: &str) -> Value {
    Value::String(v.trim().to_owned())
}

/// A price a live plugin passes through, typed by its style (only rendered when set).
fn price_in(style: NumberStyle, v: &str) -> Value {
    match style {
        NumberStyle::Strings => raw(v),
        NumberStyle::Mixed | NumberStyle::Floats => f(d(v)),
    }
}

/// A quantity a live plugin passes through, typed by its style (only rendered when set).
fn qty_in(style: NumberStyle, v: &str) -> Value {
    match style {
        NumberStyle::Strings => qty_str(v),
        NumberStyle::Mixed => int(d(v)),
        NumberStyle::Floats => f(d(v)),
    }
}

/// `pairs` plus `(key, render(value))` for each value that is set: what a plugin that sends a
/// field only sometimes looks like.
fn with_set<'a>(
    mut pairs: Vec<(&'a str, Value)>,
    optional: &[(&'a str, &str)],
    render: impl Fn(&'a str, &str) -> Value,
) -> Vec<(&'a str, Value)> {
    for &(key, value) in optional {
        if !value.trim().is_empty() {
            pairs.push((key, render(key, value)));
        }
    }
    pairs
}

/// Integer-valued quantity as the string a broker would send (`"-104"`, not `"-104.0"`).
fn qty_str(v: &str) -> Value {
    let x = d(v);
    if x.fract().is_zero() {
        Value::String(x.trunc().to_string())
    } else {
        Value::String(x.normalize().to_string())
    }
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

/// Wraps `data` in `{"data":..,"status":"success"}` plus `"mode":"analyze"` in the sandbox.
fn success(book: &Book, data: Value, extra: Vec<(&str, Value)>) -> Value {
    let mut pairs = vec![("data", data), ("status", json!("success"))];
    if book.mode == Mode::Analyze {
        pairs.push(("mode", json!("analyze")));
    }
    pairs.extend(extra);
    obj(pairs)
}

pub(crate) fn ping(book: &Book) -> Value {
    json!({"data": {"broker": book.broker, "message": "pong"}, "status": "success"})
}

pub(crate) fn funds(book: &Book) -> Value {
    let fu = &book.funds;
    let (cash, coll, real, unreal, debits) = (
        d(&fu.available_cash),
        d(&fu.collateral),
        d(&fu.m2m_realized),
        d(&fu.m2m_unrealized),
        d(&fu.utilised_debits),
    );
    match book.mode {
        Mode::Live => {
            // Most plugins return `{}` when the broker rejects the token; the service passes it on.
            if book.session_expired {
                return json!({"data": {}, "status": "success"});
            }
            let data = obj(vec![
                ("availablecash", s2(cash)),
                ("collateral", s2(coll)),
                ("m2mrealized", s2(real)),
                ("m2munrealized", s2(unreal)),
                ("utiliseddebits", s2(debits)),
            ]);
            success(book, data, vec![])
        }
        Mode::Analyze => {
            let data = obj(vec![
                ("availablecash", f2(cash)),
                ("collateral", f2(coll)),
                ("grossexposure", f2(debits)),
                ("last_reset", json!(book.last_reset)),
                ("m2mrealized", f2(real)),
                ("m2munrealized", f2(unreal)),
                ("reset_count", json!(0)),
                ("today_realized_pnl", f2(real)),
                ("total_realized_pnl", f2(real)),
                ("totalpnl", f2(real + unreal)),
                ("utiliseddebits", f2(debits)),
            ]);
            success(book, data, vec![])
        }
    }
}

pub(crate) fn positionbook(book: &Book) -> Value {
    match book.mode {
        Mode::Live => {
            let rows = book
                .positions
                .iter()
                .map(|p| {
                    let (q, avg, ltp, pnl) =
                        (d(&p.quantity), d(&p.average_price), d(&p.ltp), d(&p.pnl));
                    let (q, avg, ltp, pnl) = match book.style {
                        NumberStyle::Strings => (
                            qty_str(&p.quantity),
                            raw(&p.average_price),
                            raw(&p.ltp),
                            s2(pnl),
                        ),
                        NumberStyle::Mixed => (int(q), s2(avg), f2(ltp), f2(pnl)),
                        NumberStyle::Floats => (f2(q), f2(avg), f2(ltp), f2(pnl)),
                    };
                    let pairs = vec![
                        ("average_price", avg),
                        ("exchange", json!(p.exchange)),
                        ("ltp", ltp),
                        ("pnl", pnl),
                        ("product", json!(p.product)),
                        ("quantity", q),
                        ("symbol", json!(p.symbol)),
                    ];
                    // flattrade passes the broker's split through as strings.
                    obj(with_set(
                        pairs,
                        &[
                            ("realized_pnl", &p.realized_pnl),
                            ("unrealized_pnl", &p.unrealized_pnl),
                        ],
                        |_, v| price_in(book.style, v),
                    ))
                })
                .collect();
            success(book, Value::Array(rows), vec![])
        }
        Mode::Analyze => {
            let (mut tot, mut tot_real, mut tot_unreal) =
                (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
            let rows = book
                .positions
                .iter()
                .map(|p| {
                    let (q, avg, ltp, pnl) =
                        (d(&p.quantity), d(&p.average_price), d(&p.ltp), d(&p.pnl));
                    let unreal = if !p.unrealized_pnl.trim().is_empty() {
                        d(&p.unrealized_pnl)
                    } else if q.is_zero() {
                        Decimal::ZERO
                    } else {
                        (ltp - avg) * q
                    };
                    let realized = if p.realized_pnl.trim().is_empty() {
                        pnl - unreal
                    } else {
                        d(&p.realized_pnl)
                    };
                    let basis = (avg * q).abs();
                    let pct = if basis.is_zero() {
                        Decimal::ZERO
                    } else {
                        pnl / basis * Decimal::ONE_HUNDRED
                    };
                    tot += pnl;
                    tot_real += realized;
                    tot_unreal += unreal;
                    obj(vec![
                        ("average_price", f2(avg)),
                        ("exchange", json!(p.exchange)),
                        ("lot_size", json!(1)),
                        ("ltp", f2(ltp)),
                        ("pnl", f2(pnl)),
                        ("pnlpercent", f2(pct)),
                        ("product", json!(p.product)),
                        ("quantity", int(q)),
                        ("symbol", json!(p.symbol)),
                        ("today_realized_pnl", f2(realized)),
                        ("total_pnl_today", f2(pnl)),
                        ("unrealized_pnl", f2(unreal)),
                    ])
                })
                .collect();
            success(
                book,
                Value::Array(rows),
                vec![
                    ("total_pnl", f2(tot)),
                    ("total_pnl_today", f2(tot)),
                    ("total_today_realized_pnl", f2(tot_real)),
                    ("total_unrealized_pnl", f2(tot_unreal)),
                ],
            )
        }
    }
}

fn count(orders: &[Order], pred: impl Fn(&Order) -> bool) -> u64 {
    orders.iter().filter(|o| pred(o)).count() as u64
}

pub(crate) fn orderbook(book: &Book) -> Value {
    let os = &book.orders;
    let buys = count(os, |o| o.action.eq_ignore_ascii_case("BUY"));
    let sells = count(os, |o| o.action.eq_ignore_ascii_case("SELL"));
    let done = count(os, |o| o.order_status == "complete");
    let open = count(os, |o| o.order_status == "open");
    let rejected = count(os, |o| o.order_status == "rejected");
    let trig = count(os, |o| o.order_status == "trigger pending");
    match book.mode {
        Mode::Live => {
            let rows: Vec<Value> = os
                .iter()
                .map(|o| {
                    let market = o.pricetype.eq_ignore_ascii_case("MARKET");
                    let (q, price) = match book.style {
                        // The docs show the broker's price even for MARKET orders.
                        NumberStyle::Strings => (qty_str(&o.quantity), f(d(&o.price))),
                        // `format_statistics`-era service code forces MARKET prices to 0.0.
                        NumberStyle::Mixed | NumberStyle::Floats => {
                            let q = if book.style == NumberStyle::Mixed {
                                int(d(&o.quantity))
                            } else {
                                f(d(&o.quantity))
                            };
                            (q, if market { json!(0.0) } else { f(d(&o.price)) })
                        }
                    };
                    let pairs = vec![
                        ("action", json!(o.action)),
                        ("exchange", json!(o.exchange)),
                        ("order_status", json!(o.order_status)),
                        ("orderid", json!(o.orderid)),
                        ("price", price),
                        ("pricetype", json!(o.pricetype)),
                        ("product", json!(o.product)),
                        ("quantity", q),
                        ("symbol", json!(o.symbol)),
                        ("timestamp", json!(o.timestamp)),
                        ("trigger_price", f(d(&o.trigger_price))),
                    ];
                    obj(with_set(
                        pairs,
                        &[
                            ("average_price", &o.average_price),
                            ("filled_quantity", &o.filled_quantity),
                            ("pending_quantity", &o.pending_quantity),
                            ("rejection_reason", &o.rejection_reason),
                        ],
                        |key, v| match key {
                            "average_price" => price_in(book.style, v),
                            "rejection_reason" => json!(v),
                            _ => qty_in(book.style, v),
                        },
                    ))
                })
                .collect();
            let n = |x: u64| -> Value {
                if book.style == NumberStyle::Strings {
                    json!(x as f64)
                } else {
                    json!(x)
                }
            };
            let stats = obj(vec![
                ("total_buy_orders", n(buys)),
                ("total_completed_orders", n(done)),
                ("total_open_orders", n(open)),
                ("total_rejected_orders", n(rejected)),
                ("total_sell_orders", n(sells)),
            ]);
            success(book, json!({"orders": rows, "statistics": stats}), vec![])
        }
        Mode::Analyze => {
            let rows: Vec<Value> = os
                .iter()
                .map(|o| {
                    let q = d(&o.quantity);
                    let filled = o.order_status == "complete";
                    let pending = o.order_status == "open" || o.order_status == "trigger pending";
                    // The sandbox always sends these; set values win over the derived ones.
                    let or = |set: &str, derived: Value, render: fn(Decimal) -> Value| {
                        if set.trim().is_empty() {
                            derived
                        } else {
                            render(d(set))
                        }
                    };
                    obj(vec![
                        ("action", json!(o.action)),
                        (
                            "average_price",
                            or(
                                &o.average_price,
                                if filled { f(d(&o.price)) } else { json!(0.0) },
                                f,
                            ),
                        ),
                        ("exchange", json!(o.exchange)),
                        (
                            "filled_quantity",
                            or(
                                &o.filled_quantity,
                                if filled { int(q) } else { json!(0) },
                                int,
                            ),
                        ),
                        ("order_status", json!(o.order_status)),
                        ("orderid", json!(o.orderid)),
                        (
                            "pending_quantity",
                            or(
                                &o.pending_quantity,
                                if pending { int(q) } else { json!(0) },
                                int,
                            ),
                        ),
                        ("price", f(d(&o.price))),
                        ("pricetype", json!(o.pricetype)),
                        ("product", json!(o.product)),
                        ("quantity", int(q)),
                        ("rejection_reason", json!(o.rejection_reason)),
                        ("strategy", json!("Test")),
                        ("symbol", json!(o.symbol)),
                        ("timestamp", json!(o.timestamp)),
                        ("trigger_price", f(d(&o.trigger_price))),
                    ])
                })
                .collect();
            let stats = json!({
                "total_buy_orders": buys,
                "total_completed_orders": done,
                "total_open_orders": open,
                "total_rejected_orders": rejected,
                "total_sell_orders": sells,
                "total_trigger_pending_orders": trig,
            });
            success(book, json!({"orders": rows, "statistics": stats}), vec![])
        }
    }
}

pub(crate) fn tradebook(book: &Book) -> Value {
    let rows = book
        .trades
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (q, avg) = (d(&t.quantity), d(&t.average_price));
            let value = f2(q * avg);
            let mut pairs = vec![
                ("action", json!(t.action)),
                ("average_price", f2(avg)),
                ("exchange", json!(t.exchange)),
                ("orderid", json!(t.orderid)),
                ("product", json!(t.product)),
                ("symbol", json!(t.symbol)),
                ("timestamp", json!(t.timestamp)),
                ("trade_value", value),
            ];
            match book.mode {
                Mode::Live => {
                    pairs.push((
                        "quantity",
                        match book.style {
                            NumberStyle::Strings => qty_str(&t.quantity),
                            NumberStyle::Mixed => int(q),
                            NumberStyle::Floats => f2(q),
                        },
                    ));
                    if !t.tradeid.trim().is_empty() {
                        pairs.push(("tradeid", json!(t.tradeid)));
                    }
                }
                Mode::Analyze => pairs.extend([
                    ("quantity", int(q)),
                    ("price", f2(avg)),
                    ("strategy", json!("Test")),
                    (
                        "tradeid",
                        if t.tradeid.trim().is_empty() {
                            json!(format!("T{}{:03}", t.orderid, i + 1))
                        } else {
                            json!(t.tradeid)
                        },
                    ),
                ]),
            }
            obj(pairs)
        })
        .collect();
    success(book, Value::Array(rows), vec![])
}

pub(crate) fn holdings(book: &Book) -> Value {
    let (mut value, mut inv) = (Decimal::ZERO, Decimal::ZERO);
    let rows = book
        .holdings
        .iter()
        .map(|h| {
            let (q, avg, ltp) = (d(&h.quantity), d(&h.average_price), d(&h.ltp));
            let cost = avg * q;
            let cur = ltp * q;
            value += cur;
            inv += cost;
            let pnl = cur - cost;
            let pct = if cost.is_zero() {
                Decimal::ZERO
            } else {
                pnl / cost * Decimal::ONE_HUNDRED
            };
            let mut pairs = vec![
                ("exchange", json!(h.exchange)),
                ("pnl", f2(pnl)),
                ("pnlpercent", f2(pct)),
                ("product", json!(h.product)),
                ("quantity", int(q)),
                ("symbol", json!(h.symbol)),
            ];
            match book.mode {
                Mode::Live if book.style == NumberStyle::Mixed => {
                    pairs.push(("average_price", f2(avg)));
                }
                Mode::Live => {}
                Mode::Analyze => pairs.extend([
                    ("average_price", f2(avg)),
                    ("current_value", f2(cur)),
                    ("ltp", f2(ltp)),
                    ("settlement_date", json!(book.settlement_date)),
                ]),
            }
            obj(pairs)
        })
        .collect::<Vec<_>>();
    let pnl = value - inv;
    let pct = if inv.is_zero() {
        Decimal::ZERO
    } else {
        pnl / inv * Decimal::ONE_HUNDRED
    };
    let stats = obj(vec![
        ("totalholdingvalue", f2(value)),
        ("totalinvvalue", f2(inv)),
        ("totalpnlpercentage", f2(pct)),
        ("totalprofitandloss", f2(pnl)),
    ]);
    success(book, json!({"holdings": rows, "statistics": stats}), vec![])
}

pub(crate) fn analyzer_status(book: &Book, total_logs: u64) -> Value {
    json!({"data": {
        "analyze_mode": book.mode == Mode::Analyze,
        "mode": book.mode.as_str(),
        "total_logs": total_logs,
    }, "status": "success"})
}

pub(crate) fn analyzer_toggle(book: &Book, total_logs: u64) -> Value {
    json!({"data": {
        "analyze_mode": book.mode == Mode::Analyze,
        "message": format!("Analyzer mode switched to {}", book.mode.as_str()),
        "mode": book.mode.as_str(),
        "total_logs": total_logs,
    }, "status": "success"})
}

/// IST (UTC+05:30) wall clock as `(YYYY-MM-DD HH:MM:SS, YYYY-MM-DD of the next day)`, the formats
/// the sandbox uses; computed by hand to avoid a date crate for two strings.
pub(crate) fn ist_now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + 5 * 3600
        + 1800;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, dd) = civil_from_days(days);
    let (y2, m2, d2) = civil_from_days(days + 1);
    (
        format!(
            "{y:04}-{m:02}-{dd:02} {:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ),
        format!("{y2:04}-{m2:02}-{d2:02}"),
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
