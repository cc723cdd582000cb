//! The Alpaca connector: decoding of the reference examples, error classification, the request
//! budget, and the HTTP path against tiny raw HTTP servers on 127.0.0.1 that write canned bytes.
//! Every network test is bounded by the 500 ms request timeout of [`config`].

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::RateLimiter;
use governor::clock::FakeRelativeClock;
use rust_decimal::Decimal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::budget::{self, Budget, MAX_PAUSE, pause_until};
use super::decode::{self, Standing, classify_status, order_status};
use super::{Alpaca, VENUE};
use crate::connector::transport::Transport;
use crate::connector::{
    BookKind, Connector, ConnectorConfig, Connectors, FailureReason, Mode, Upstream, venue,
};
use crate::metrics::Metrics;
use crate::secret::{Credential, Secret};

const KEY_ID: &str = "PKTESTKEYID0123456789";
const SECRET: &str = "SeCrEtKeY0123456789abcdefghijklmnopqrstuv";
const TIMEOUT: Duration = Duration::from_millis(500);

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The reference examples (alpaca-binance-api.md 2.4)

const ACCOUNT: &str = r#"{
  "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98",
  "admin_configurations": {},
  "user_configurations": null,
  "account_number": "PA3ABCDEF12G",
  "status": "ACTIVE",
  "crypto_status": "ACTIVE",
  "currency": "USD",
  "buying_power": "184210.44",
  "regt_buying_power": "184210.44",
  "options_buying_power": "92105.22",
  "effective_buying_power": "184210.44",
  "non_marginable_buying_power": "91880.10",
  "cash": "91880.10",
  "accrued_fees": "0",
  "pending_transfer_in": "0",
  "portfolio_value": "100432.37",
  "trading_blocked": false,
  "transfers_blocked": false,
  "account_blocked": false,
  "created_at": "2024-03-11T14:02:55.109384Z",
  "trade_suspended_by_user": false,
  "multiplier": "2",
  "shorting_enabled": true,
  "equity": "100432.37",
  "last_equity": "99871.26408810113",
  "long_market_value": "8552.27",
  "short_market_value": "0",
  "position_market_value": "8552.27",
  "initial_margin": "4276.14",
  "maintenance_margin": "2565.68",
  "last_maintenance_margin": "2490.03",
  "sma": "99874.01",
  "balance_asof": "2026-11-24",
  "crypto_tier": 1,
  "options_approved_level": 2,
  "options_trading_level": 2,
  "intraday_adjustments": "0",
  "pending_reg_taf_fees": "0",
  "bod_dtbp": 0
}"#;

const POSITIONS: &str = r#"[
  {
    "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    "symbol": "AAPL", "exchange": "NASDAQ", "asset_class": "us_equity",
    "asset_marginable": true, "qty": "12", "qty_available": "12",
    "avg_entry_price": "221.40", "side": "long", "market_value": "2712.36",
    "cost_basis": "2656.80", "unrealized_pl": "55.56", "unrealized_plpc": "0.0209123757904246",
    "unrealized_intraday_pl": "-8.16", "unrealized_intraday_plpc": "-0.0030000000000000",
    "current_price": "226.03", "lastday_price": "226.71", "change_today": "-0.0029994265802126"
  },
  {
    "asset_id": "64bbff51-59d6-4b3c-9351-13ad85e3c752",
    "symbol": "BTCUSD", "exchange": "CRYPTO", "asset_class": "crypto",
    "asset_marginable": false, "qty": "0.0412337", "qty_available": "0.0412337",
    "avg_entry_price": "96110.2234118", "side": "long", "market_value": "3987.15",
    "cost_basis": "3962.97", "unrealized_pl": "24.18", "unrealized_plpc": "0.0061015",
    "current_price": "96697.0", "lastday_price": "96430.0", "change_today": "0.0027688"
  },
  {
    "symbol": "TSLA", "exchange": "NASDAQ", "asset_class": "us_equity",
    "qty": "-2478", "avg_entry_price": "250.5", "side": "short",
    "unrealized_pl": "-1200.75", "current_price": 251
  },
  {
    "symbol": "SPY250117C00600000", "exchange": "", "asset_class": "us_option",
    "qty": "3", "avg_entry_price": "4.10", "side": "short", "current_price": "3.95"
  }
]"#;

const ORDERS: &str = r#"[
  {
    "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
    "client_order_id": "roster-7f3a2c",
    "created_at": "2026-11-24T15:02:11.409223611Z",
    "updated_at": "2026-11-24T15:02:11.912754002Z",
    "submitted_at": "2026-11-24T15:02:11.401932718Z",
    "filled_at": "2026-11-24T15:02:11.905Z",
    "expired_at": null, "canceled_at": null, "failed_at": null,
    "replaced_at": null, "replaced_by": null, "replaces": null,
    "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    "symbol": "AAPL", "asset_class": "us_equity", "notional": null,
    "qty": "12", "filled_qty": "12", "filled_avg_price": "221.4",
    "order_class": "", "order_type": "limit", "type": "limit", "side": "buy",
    "position_intent": "buy_to_open", "time_in_force": "day",
    "limit_price": "221.5", "stop_price": null, "status": "filled",
    "extended_hours": false, "legs": null,
    "trail_percent": null, "trail_price": null, "hwm": null, "subtag": null, "source": null
  },
  {
    "id": "notional-1", "symbol": "MSFT", "asset_class": "us_equity",
    "notional": "500", "qty": null, "filled_qty": "0", "filled_avg_price": null,
    "type": "market", "side": "buy", "limit_price": null, "stop_price": null,
    "status": "accepted", "submitted_at": "2026-11-24T15:03:00Z"
  },
  {
    "id": "mleg-1", "symbol": "", "asset_id": "", "asset_class": "", "side": "",
    "order_class": "mleg", "type": "limit", "qty": 2, "filled_qty": 1,
    "limit_price": 1.25, "status": "partially_filled",
    "submitted_at": "2026-11-24T15:04:00Z",
    "legs": [{"id": "leg-1", "symbol": "SPY250117C00600000", "side": "buy", "type": ""}]
  },
  {
    "id": "stop-1", "symbol": "TSLA", "asset_class": "us_equity", "side": "sell",
    "type": "stop_limit", "qty": "5", "filled_qty": "0", "limit_price": "240", "stop_price": "241",
    "status": "pending_replace", "submitted_at": "2026-11-24T15:05:00Z"
  },
  {"id": "x-1", "symbol": "AMD", "side": "sell", "order_type": "market", "status": "canceled"},
  {"id": "x-2", "symbol": "AMD", "side": "sell", "type": "market", "status": "rejected"},
  {"id": "x-3", "symbol": "AMD", "side": "sell", "type": "market", "status": "Stopped"}
]"#;

const FILLS: &str = r#"[
  {
    "id": "20261124100211905::4b4f0a7e-5d62-4b7a-9d45-0f3f5a4e2c11",
    "activity_type": "FILL",
    "transaction_time": "2026-11-24T15:02:11.905438Z",
    "type": "fill", "price": "221.4", "qty": "12", "side": "buy", "symbol": "AAPL",
    "leaves_qty": "0", "order_id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
    "cum_qty": "12", "order_status": "filled"
  },
  {
    "id": "20261124100300000::partial", "activity_type": "FILL",
    "transaction_time": "2026-11-24T15:03:00Z", "type": "partial_fill",
    "price": 0.1, "qty": 3, "side": "sell_short", "symbol": "BTC/USD", "order_id": "o-2"
  }
]"#;

#[test]
fn the_account_example_decodes_to_exact_funds_and_one_balance() {
    let a = decode::account(200, ACCOUNT.as_bytes(), "paper").unwrap();
    assert_eq!(a.standing, Standing::Active);
    let f = &a.funds;
    assert_eq!(f.available_cash, d("91880.10"));
    assert_eq!(f.utilised_debits, d("4276.14"));
    // equity - last_equity, exactly (an f64 would not keep 99871.26408810113).
    assert_eq!(f.m2m_unrealized, d("561.10591189887"));
    assert_eq!(
        (f.collateral, f.m2m_realized),
        (Decimal::ZERO, Decimal::ZERO)
    );
    assert_eq!(f.buying_power, Some(d("184210.44")));
    assert_eq!(f.equity, Some(d("100432.37")));
    assert_eq!(f.currency, "USD");
    assert_eq!(f.mode, Mode::Paper);
    let b = a.balances();
    assert_eq!(b.rows.len(), 1);
    assert_eq!(b.rows[0].asset, "USD");
    assert_eq!(
        (b.rows[0].free, b.rows[0].locked, b.rows[0].total),
        (d("91880.10"), Decimal::ZERO, d("91880.10"))
    );
    assert_eq!(b.mode, Mode::Paper);
    // Live by environment, whatever the account number says.
    let live = decode::account(200, ACCOUNT.as_bytes(), "live").unwrap();
    assert_eq!(live.funds.mode, Mode::Live);
}

#[test]
fn an_account_with_only_its_required_fields_and_numbers_as_json_numbers() {
    let minimal = r#"{"id":"a","account_number":"PA1","status":"ACTIVE"}"#;
    let a = decode::account(200, minimal.as_bytes(), "live").unwrap();
    assert_eq!(a.standing, Standing::Active);
    assert_eq!(a.funds.available_cash, Decimal::ZERO);
    assert_eq!(a.funds.buying_power, None, "not sent is not zero");
    assert_eq!(a.funds.equity, None);
    assert_eq!(a.funds.m2m_unrealized, Decimal::ZERO);
    assert_eq!(a.funds.currency, "USD", "no currency is USD");

    let numbers = r#"{"id":"a","account_number":"PA1","status":"ACTIVE","currency":"EUR",
        "cash":1000.5,"equity":2000,"last_equity":"1999.75","initial_margin":null,
        "buying_power":"  ","trading_blocked":null}"#;
    let a = decode::account(200, numbers.as_bytes(), "live").unwrap();
    assert_eq!(a.funds.available_cash, d("1000.5"));
    assert_eq!(a.funds.m2m_unrealized, d("0.25"));
    assert_eq!(a.funds.utilised_debits, Decimal::ZERO);
    assert_eq!(a.funds.buying_power, None);
    assert_eq!(a.funds.currency, "EUR");

    for (body, why) in [
        (r#"{"account_number":"PA1","status":"ACTIVE"}"#, "id"),
        (r#"{"id":"a","status":"ACTIVE"}"#, "account_number"),
        (r#"{"id":"a","account_number":"PA1"}"#, "status"),
        (
            r#"{"id":"a","account_number":"PA1","status":"ACTIVE","cash":"N/A"}"#,
            "N/A",
        ),
        (
            r#"[{"id":"a","account_number":"PA1","status":"ACTIVE"}]"#,
            "JSON object",
        ),
        ("<html>maintenance</html>", "expected"),
        (
            r#"{"id":"a","account_number":"PA1","status":"ACTIVE","currency":"USDUSDUSDUSDUSDUSD"}"#,
            "currency",
        ),
    ] {
        let e = decode::account(200, body.as_bytes(), "live").unwrap_err();
        assert_eq!(e.reason, FailureReason::BadResponse, "{body}");
        assert!(e.message.contains(why), "{why}: {}", e.message);
        assert_eq!(e.http_status, Some(200));
    }
}

#[test]
fn account_states_active_restricted_and_blocked() {
    let with = |extra: &str| {
        let body = format!(r#"{{"id":"a","account_number":"PA1",{extra}}}"#);
        decode::account(200, body.as_bytes(), "live")
            .unwrap()
            .standing
    };
    assert_eq!(with(r#""status":"ACTIVE""#), Standing::Active);
    for (extra, says) in [
        (
            r#""status":"ACTIVE","trading_blocked":true"#,
            "trading_blocked",
        ),
        (
            r#""status":"ACTIVE","trade_suspended_by_user":true"#,
            "trade_suspended_by_user",
        ),
        (r#""status":"ACCOUNT_UPDATED""#, "ACCOUNT_UPDATED"),
    ] {
        let Standing::Restricted(m) = with(extra) else {
            panic!("{extra} is restricted")
        };
        assert!(m.contains(says) && m.contains("reads still work"), "{m}");
    }
    for (extra, says) in [
        (
            r#""status":"ACTIVE","account_blocked":true"#,
            "account_blocked",
        ),
        (r#""status":"ONBOARDING""#, "ONBOARDING"),
        (r#""status":"SOMETHING_NEW_2027""#, "SOMETHING_NEW_2027"),
        (r#""status":"REJECTED","trading_blocked":true"#, "REJECTED"),
    ] {
        let Standing::Blocked(m) = with(extra) else {
            panic!("{extra} is blocked")
        };
        assert!(m.contains(says), "{m}");
    }
    // A status is shown short, whatever its length.
    let Standing::Blocked(m) = with(&format!(r#""status":"{}""#, "X".repeat(5000))) else {
        panic!()
    };
    assert!(m.len() < 200, "{m}");
}

#[test]
fn positions_long_short_and_crypto() {
    let p = decode::positions(200, POSITIONS.as_bytes(), 100, Mode::Live, "USD").unwrap();
    assert_eq!(p.currency, "USD");
    assert_eq!(p.mode, Mode::Live);
    let rows: Vec<_> = p
        .rows
        .iter()
        .map(|r| {
            (
                r.symbol.as_str(),
                r.exchange.as_str(),
                r.product.as_str(),
                r.quantity,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("AAPL", "NASDAQ", "us_equity", d("12")),
            ("BTCUSD", "CRYPTO", "crypto", d("0.0412337")),
            // A short's qty arrives negative or as a magnitude; both are negative here.
            ("TSLA", "NASDAQ", "us_equity", d("-2478")),
            ("SPY250117C00600000", "", "us_option", d("-3")),
        ]
    );
    let aapl = &p.rows[0];
    assert_eq!(
        (aapl.average_price, aapl.ltp, aapl.pnl),
        (d("221.40"), d("226.03"), d("55.56"))
    );
    assert_eq!(aapl.unrealized_pnl, Some(d("55.56")));
    assert_eq!(aapl.realized_pnl, None);
    assert_eq!(p.rows[1].average_price, d("96110.2234118"));
    assert_eq!(p.rows[2].ltp, d("251"), "a JSON number");
    // No unrealized_pl: pnl 0, the split unknown.
    assert_eq!(
        (p.rows[3].pnl, p.rows[3].unrealized_pnl),
        (Decimal::ZERO, None)
    );
    let empty = decode::positions(200, b"[]", 100, Mode::Live, "USD").unwrap();
    assert!(empty.rows.is_empty());
}

#[test]
fn orders_map_to_the_portfolio_vocabulary() {
    let b = decode::orders(200, ORDERS.as_bytes(), 100, Mode::Paper, "USD").unwrap();
    assert_eq!(b.orders.len(), 7);
    let o = &b.orders[0];
    assert_eq!(o.order_id, "61e69015-8549-4bfd-b9c3-01e75843f47d");
    assert_eq!(
        (o.symbol.as_str(), o.action.as_str(), o.price_type.as_str()),
        ("AAPL", "BUY", "limit")
    );
    assert_eq!(
        (o.product.as_str(), o.status.as_str()),
        ("us_equity", "complete")
    );
    assert_eq!(
        (o.quantity, o.price, o.trigger_price),
        (d("12"), d("221.5"), Decimal::ZERO)
    );
    assert_eq!(o.average_price, Some(d("221.4")));
    assert_eq!(o.filled_quantity, Some(d("12")));
    assert_eq!(o.pending_quantity, Some(Decimal::ZERO));
    assert_eq!(o.timestamp, "2026-11-24T15:02:11.401932718Z");
    // The timestamp is read as UTC by the portfolio.
    assert_eq!(
        crate::portfolio::consolidate::parse_timestamp(&o.timestamp, 0),
        Some(1_795_532_531_000)
    );
    // Notional: no qty, so quantity 0 and the pending quantity unknown.
    let n = &b.orders[1];
    assert_eq!(
        (n.quantity, n.pending_quantity, n.average_price),
        (Decimal::ZERO, None, None)
    );
    assert_eq!(n.status, "open");
    // Multi-leg parent: empty symbol and side kept empty; numbers as JSON numbers.
    let m = &b.orders[2];
    assert_eq!(
        (m.symbol.as_str(), m.action.as_str(), m.product.as_str()),
        ("", "", "")
    );
    assert_eq!((m.quantity, m.pending_quantity), (d("2"), Some(d("1"))));
    assert_eq!((m.price, m.status.as_str()), (d("1.25"), "open"));
    let s = &b.orders[3];
    assert_eq!(
        (s.price, s.trigger_price, s.status.as_str()),
        (d("240"), d("241"), "open")
    );
    // `order_type` when `type` is absent.
    assert_eq!(b.orders[4].price_type, "market");
    let statuses: Vec<_> = b.orders[4..].iter().map(|o| o.status.as_str()).collect();
    assert_eq!(statuses, ["cancelled", "rejected", "stopped"]);
    assert_eq!(b.mode, Mode::Paper);
}

#[test]
fn every_alpaca_order_status_has_its_portfolio_name() {
    for (alpaca, ours) in [
        ("new", "open"),
        ("accepted", "open"),
        ("pending_new", "open"),
        ("partially_filled", "open"),
        ("accepted_for_bidding", "open"),
        ("pending_cancel", "open"),
        ("pending_replace", "open"),
        ("pending_review", "open"),
        ("filled", "complete"),
        ("canceled", "cancelled"),
        ("expired", "cancelled"),
        ("done_for_day", "cancelled"),
        ("replaced", "cancelled"),
        ("rejected", "rejected"),
        ("stopped", "stopped"),
        ("suspended", "suspended"),
        ("calculated", "calculated"),
        (" NEW ", "open"),
        ("Held", "held"),
    ] {
        assert_eq!(order_status(alpaca), ours, "{alpaca}");
    }
}

#[test]
fn fills_become_trades_with_their_value() {
    let t = decode::fills(200, FILLS.as_bytes(), 100).unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(
        t[0].trade_id,
        "20261124100211905::4b4f0a7e-5d62-4b7a-9d45-0f3f5a4e2c11"
    );
    assert_eq!(t[0].order_id, "61e69015-8549-4bfd-b9c3-01e75843f47d");
    assert_eq!(
        (t[0].symbol.as_str(), t[0].action.as_str()),
        ("AAPL", "BUY")
    );
    assert_eq!(
        (t[0].quantity, t[0].average_price, t[0].trade_value),
        (d("12"), d("221.4"), d("2656.8"))
    );
    assert_eq!(t[0].timestamp, "2026-11-24T15:02:11.905438Z");
    // JSON numbers, exactly: 0.1 * 3 is 0.3, not 0.30000000000000004. A short sale sells.
    assert_eq!((t[1].trade_value, t[1].action.as_str()), (d("0.3"), "SELL"));
    let book = decode::trade_book(t, Mode::Live, "USD");
    assert_eq!(book.currency, "USD");
}

#[test]
fn values_out_of_bounds_and_too_many_rows_are_bad_responses_naming_the_field() {
    let big = "1000000000000001";
    let e = decode::positions(
        200,
        format!(
            r#"[{{"symbol":"A","qty":"1"}},{{"symbol":"B","qty":"1","current_price":"{big}"}}]"#
        )
        .as_bytes(),
        100,
        Mode::Live,
        "USD",
    )
    .unwrap_err();
    assert_eq!(e.reason, FailureReason::BadResponse);
    assert!(e.message.contains("[1].current_price"), "{}", e.message);
    let body = format!(r#"{{"id":"a","account_number":"P","status":"ACTIVE","cash":"-{big}"}}"#);
    let e = decode::account(200, body.as_bytes(), "live").unwrap_err();
    assert!(e.message.contains("cash"), "{}", e.message);
    // Each within bounds, their difference not.
    let body = r#"{"id":"a","account_number":"P","status":"ACTIVE",
        "equity":"900000000000000","last_equity":"-900000000000000"}"#;
    let e = decode::account(200, body.as_bytes(), "live").unwrap_err();
    assert!(e.message.contains("equity - last_equity"), "{}", e.message);
    // price * qty past the bound (each within it).
    let e = decode::fills(
        200,
        br#"[{"id":"1","price":"100000000","qty":"100000000"}]"#,
        10,
    )
    .unwrap_err();
    assert!(e.message.contains("[0].price * qty"), "{}", e.message);
    let e = decode::orders(
        200,
        br#"[{"id":"1","qty":"900000000000000","filled_qty":"-900000000000000"}]"#,
        10,
        Mode::Live,
        "USD",
    )
    .unwrap_err();
    assert!(e.message.contains("qty - filled_qty"), "{}", e.message);
    // Rows: the third of a two-row limit.
    let e = decode::orders(
        200,
        br#"[{"id":"1"},{"id":"2"},{"id":"3"}]"#,
        2,
        Mode::Live,
        "USD",
    )
    .unwrap_err();
    assert!(e.message.contains("max_rows_per_book = 2"), "{}", e.message);
    for body in [&b"{}"[..], b"[1]", b"[{}]", b"[] []", b"null"] {
        let e = decode::orders(200, body, 10, Mode::Live, "USD").unwrap_err();
        assert_eq!(e.reason, FailureReason::BadResponse);
    }
}

// ---------------------------------------------------------------------------------------------
// Error classification

#[test]
fn error_answers_are_classified_by_status_and_code() {
    let c = |status: u16, body: &str| classify_status("account", status, body.as_bytes());
    // 401 by its code, whatever the text.
    for text in ["request is not authorized", "unauthorized", ""] {
        let e = c(401, &format!(r#"{{"code":40110000,"message":"{text}"}}"#));
        assert_eq!(e.reason, FailureReason::AuthRejected);
        assert!(
            e.message.contains("key id or secret refused"),
            "{}",
            e.message
        );
        assert!(e.message.contains("other environment"), "{}", e.message);
        assert_eq!(e.http_status, Some(401));
    }
    let e = c(401, r#"{"code":"40110000","message":"x"}"#);
    assert!(
        e.message.contains("key id or secret refused"),
        "a code as a string"
    );
    let e = c(401, "Unauthorized");
    assert_eq!(e.reason, FailureReason::AuthRejected);
    assert!(e.message.contains("Unauthorized"), "{}", e.message);
    // 403: without a code, the gateway refused the headers; with one, a permission.
    let e = c(403, r#"{"message": "forbidden."}"#);
    assert_eq!(e.reason, FailureReason::AuthRejected);
    assert!(
        e.message.contains("forbidden.") && e.message.contains("malformed"),
        "{}",
        e.message
    );
    let e = c(403, r#"{"code":40310000,"message":"forbidden"}"#);
    assert_eq!(e.reason, FailureReason::PermissionDenied);
    assert!(e.message.contains("40310000"), "{}", e.message);
    assert_eq!(
        c(429, "rate limit exceeded").reason,
        FailureReason::RateLimited
    );
    assert_eq!(c(429, "").reason, FailureReason::RateLimited);
    for status in [500, 502, 503, 504] {
        let e = c(
            status,
            r#"{"code":50010000,"message":"internal server error"}"#,
        );
        assert_eq!(e.reason, FailureReason::Http5xx);
        assert!(e.message.contains("internal server error"));
    }
    for (status, body) in [
        (404, r#"{"code":40410000,"message":"not found"}"#),
        (
            400,
            r#"{"code":40010000,"message":"failed to parse after"}"#,
        ),
        (422, "x"),
        (301, ""),
        (307, ""),
        (418, "\u{0}\u{1}binary"),
    ] {
        assert_eq!(
            c(status, body).reason,
            FailureReason::BadResponse,
            "{status}"
        );
    }
    // A huge error body is cut to a line.
    let e = c(500, &"x".repeat(100_000));
    assert!(e.message.len() < 1000);
}

// ---------------------------------------------------------------------------------------------
// The budget

#[test]
fn the_keyed_limiter_never_admits_more_than_200_in_any_60_seconds() {
    let clock = FakeRelativeClock::default();
    let limiter = RateLimiter::dashmap_with_clock(budget::quota(), clock.clone());
    let mut admitted: Vec<Duration> = Vec::new();
    let mut now = Duration::ZERO;
    let step = Duration::from_millis(50);
    // Five simulated minutes of a caller trying 20 requests every 50 ms (24,000 a minute).
    while now < Duration::from_secs(300) {
        for _ in 0..20 {
            if limiter.check_key(&"PKA").is_ok() {
                admitted.push(now);
            }
        }
        clock.advance(step);
        now += step;
    }
    let most = admitted
        .iter()
        .map(|start| {
            admitted
                .iter()
                .filter(|t| **t >= *start && **t < *start + Duration::from_secs(60))
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= 200, "{most} requests in one minute");
    // And the budget is used, not starved: close to the configured 180/min + burst.
    assert!(most >= 180, "only {most} a minute");
    // Another key has its own budget, whole, while the first is spent.
    let mut other = 0;
    for _ in 0..20 {
        other += usize::from(limiter.check_key(&"PKB").is_ok());
    }
    assert_eq!(other, budget::BURST.get() as usize);
}

#[tokio::test]
async fn a_spent_budget_fails_rate_limited_at_the_deadline_without_waiting_longer() {
    let b = Budget::new();
    let far = tokio::time::Instant::now() + Duration::from_secs(5);
    for _ in 0..budget::BURST.get() {
        b.take(KEY_ID, far, TIMEOUT).await.unwrap();
    }
    // The next slot is 333 ms away; the deadline is 30 ms away.
    let soon = tokio::time::Instant::now() + Duration::from_millis(30);
    let e = b.take(KEY_ID, soon, TIMEOUT).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::RateLimited);
    assert!(e.message.contains("180/min"), "{}", e.message);
    assert!(!e.message.contains(KEY_ID));
    // Another key is not held up by it.
    b.take("PKOTHER", soon, TIMEOUT).await.unwrap();
}

#[test]
fn remaining_zero_and_429_pause_until_the_reset_at_most_a_minute() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let secs = |s: u64| (1_800_000_000 + s).to_string();
    let at = |s: u64| UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s);
    // Budget left: nothing.
    assert_eq!(pause_until(200, Some("5"), Some(&secs(20)), now), None);
    assert_eq!(pause_until(200, None, None, now), None);
    // Used up: until the reset plus a second.
    assert_eq!(
        pause_until(200, Some("0"), Some(&secs(20)), now),
        Some(at(21))
    );
    assert_eq!(pause_until(429, None, Some(&secs(20)), now), Some(at(21)));
    // A reset far ahead (or none) is capped at a minute.
    assert_eq!(
        pause_until(200, Some("0"), Some(&secs(86_400)), now),
        Some(now + MAX_PAUSE)
    );
    assert_eq!(pause_until(429, None, None, now), Some(now + MAX_PAUSE));
    assert_eq!(
        pause_until(429, Some("0"), Some("soon"), now),
        Some(now + MAX_PAUSE)
    );
    // A reset already past: Remaining 0 waits for nothing, a 429 still a second.
    assert_eq!(pause_until(200, Some("0"), Some("5"), now), None);
    assert_eq!(
        pause_until(429, None, Some("5"), now),
        Some(now + Duration::from_secs(1))
    );
    assert_eq!(
        pause_until(429, None, Some(&u64::MAX.to_string()), now),
        Some(now + MAX_PAUSE)
    );

    let b = Budget::new();
    b.observe(KEY_ID, 200, Some("0"), Some(&secs(20)), now);
    let e = b
        .check_pause(KEY_ID, now + Duration::from_secs(10))
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::RateLimited);
    assert!(
        e.message.contains("until 2027-01-15T08:00:21Z"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(KEY_ID));
    assert!(b.check_pause("PKOTHER", now).is_ok(), "per key");
    assert!(b.check_pause(KEY_ID, at(21)).is_ok(), "over at the reset");
    // A shorter pause does not cut a longer one short.
    b.observe(KEY_ID, 429, None, Some(&secs(2)), now);
    assert!(b.check_pause(KEY_ID, at(15)).is_err());
}

// ---------------------------------------------------------------------------------------------
// The venue and the registry

#[test]
fn the_venue_declares_its_keys_environments_and_books() {
    assert!(std::ptr::eq(venue("alpaca").unwrap(), &VENUE));
    assert_eq!(VENUE.field_names(), ["key_id", "secret_key"]);
    assert!(
        VENUE
            .credential_fields
            .iter()
            .all(|f| f.max_len == 256 && !f.multiline)
    );
    assert_eq!(
        VENUE.environment("live").unwrap().default_host,
        Some("https://api.alpaca.markets")
    );
    assert_eq!(
        VENUE.environment("paper").unwrap().default_host,
        Some("https://paper-api.alpaca.markets")
    );
    assert_eq!(VENUE.default_environment(), "live");
    assert!(!VENUE.has(BookKind::Holdings), "positions are the holdings");
    for book in [
        BookKind::Funds,
        BookKind::Balances,
        BookKind::Positions,
        BookKind::Orders,
        BookKind::Trades,
    ] {
        assert!(VENUE.has(book), "{book:?}");
    }
    let all = Connectors::new(config(), Arc::new(Metrics::new())).unwrap();
    assert!(std::ptr::eq(all.get("alpaca").unwrap().venue(), &VENUE));
}

// ---------------------------------------------------------------------------------------------
// HTTP against raw servers

fn config() -> ConnectorConfig {
    ConnectorConfig {
        request_timeout: TIMEOUT,
        connect_timeout: Duration::from_millis(200),
        max_response_bytes: 64 * 1024,
        requests_per_second_per_endpoint: 1000,
        user_agent: "rosterd-test".into(),
        max_rows_per_book: 1000,
        ..Default::default()
    }
}

fn alpaca(config: ConnectorConfig) -> Alpaca {
    alpaca_counted(config).0
}

/// The connector and the metrics it counts its requests in.
fn alpaca_counted(config: ConnectorConfig) -> (Alpaca, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let transport = Transport::new(config, metrics.clone()).unwrap();
    (Alpaca::new(Arc::new(transport)).unwrap(), metrics)
}

fn upstream(url: &str, environment: &str) -> Upstream {
    let credential = Credential::new([
        ("key_id".to_string(), Secret::new(KEY_ID)),
        ("secret_key".to_string(), Secret::new(SECRET)),
    ]);
    Upstream::new("acct-1", url, credential).in_environment(environment)
}

/// One answer: status line, extra header lines, body.
struct Reply {
    status: &'static str,
    headers: String,
    body: String,
}

fn reply(status: &'static str, body: impl Into<String>) -> Reply {
    Reply {
        status,
        headers: String::new(),
        body: body.into(),
    }
}

/// Reads one request head, bounded in time.
async fn read_head(stream: &mut TcpStream) -> String {
    let read = async {
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
            let n = stream.read(&mut tmp).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        String::from_utf8_lossy(&buf).into_owned()
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .unwrap_or_default()
}

/// A server on 127.0.0.1 answering each request (one per connection) with `answer(head)`;
/// `None` holds the connection open without answering. Returns its URL and the request heads.
async fn serve(
    answer: impl Fn(&str) -> Option<Reply> + Send + Sync + 'static,
) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let head = read_head(&mut stream).await;
                let r = answer(&head);
                let _ = tx.send(head);
                match r {
                    Some(r) => {
                        let bytes = format!(
                            "HTTP/1.1 {}\r\nContent-Type: application/json; charset=UTF-8\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                            r.status,
                            r.headers,
                            r.body.len(),
                            r.body
                        );
                        let _ = stream.write_all(bytes.as_bytes()).await;
                        let _ = stream.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(3)).await,
                }
            });
        }
    });
    (format!("http://{addr}"), rx)
}

fn heads(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(h) = rx.try_recv() {
        out.push(h);
    }
    out
}

#[tokio::test]
async fn a_check_sends_both_key_headers_and_reads_the_account() {
    let (url, mut rx) = serve(|_| Some(reply("200 OK", ACCOUNT))).await;
    let c = alpaca(config());
    // A path prefix (a proxy in front) is kept.
    let up = upstream(&format!("{url}/prefix/"), "paper");
    let v = c.check(&up, false).await.unwrap();
    assert_eq!(v.broker.as_deref(), Some("alpaca"));
    assert_eq!(v.mode, Some(Mode::Paper));
    assert!(v.probed);
    assert_eq!(v.restricted, None);
    let head = heads(&mut rx).remove(0);
    let lower = head.to_ascii_lowercase();
    assert!(
        head.starts_with("GET /prefix/v2/account HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(lower.contains(&format!(
        "apca-api-key-id: {}\r\n",
        KEY_ID.to_ascii_lowercase()
    )));
    assert!(lower.contains(&format!(
        "apca-api-secret-key: {}\r\n",
        SECRET.to_ascii_lowercase()
    )));
    assert!(lower.contains("accept: application/json\r\n"), "{head}");
    // The books from the same answer; positions learn the account's currency.
    let f = c.funds(&up).await.unwrap();
    assert_eq!((f.available_cash, f.mode), (d("91880.10"), Mode::Paper));
    let b = c.balances(&up).await.unwrap();
    assert_eq!(b.rows[0].asset, "USD");
}

#[tokio::test]
async fn the_books_use_their_paths_and_the_accounts_currency() {
    let (url, mut rx) = serve(|head| {
        let path = head.split(' ').nth(1).unwrap_or("");
        Some(if path.starts_with("/v2/account/activities") {
            reply("200 OK", FILLS)
        } else if path.starts_with("/v2/account") {
            reply(
                "200 OK",
                r#"{"id":"a","account_number":"P","status":"ACTIVE","currency":"EUR","cash":"5"}"#,
            )
        } else if path.starts_with("/v2/positions") {
            reply("200 OK", POSITIONS)
        } else if path.starts_with("/v2/orders") {
            reply("200 OK", ORDERS)
        } else {
            reply(
                "404 Not Found",
                r#"{"code":40410000,"message":"not found"}"#,
            )
        })
    })
    .await;
    let (c, metrics) = alpaca_counted(config());
    let up = upstream(&url, "live");
    // Before any account answer, USD.
    assert_eq!(c.positions(&up).await.unwrap().currency, "USD");
    c.funds(&up).await.unwrap();
    let p = c.positions(&up).await.unwrap();
    assert_eq!(
        (p.rows.len(), p.currency.as_str(), p.mode),
        (4, "EUR", Mode::Live)
    );
    let o = c.orders(&up).await.unwrap();
    assert_eq!((o.orders.len(), o.currency.as_str()), (7, "EUR"));
    let t = c.trades(&up).await.unwrap();
    assert_eq!((t.trades.len(), t.currency.as_str()), (2, "EUR"));
    let paths: Vec<String> = heads(&mut rx)
        .iter()
        .map(|h| h.split(' ').nth(1).unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/v2/positions",
            "/v2/account",
            "/v2/positions",
            "/v2/orders?status=all&limit=500&direction=desc&nested=false",
            "/v2/account/activities?activity_types=FILL&direction=desc&page_size=100",
        ]
    );
    // Holdings are not Alpaca's: answered unsupported, nothing sent.
    let e = c.holdings(&up).await.unwrap_err();
    assert!(e.message.contains("no holdings book"), "{}", e.message);
    assert!(heads(&mut rx).is_empty());
    // Every request is counted under its call.
    let text = metrics.exposition(Vec::new).render();
    for call in ["account", "positions", "orders", "activities"] {
        let line = format!(r#"endpoint="alpaca:{call}",status="200""#);
        assert!(text.contains(&line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn trades_follow_full_pages_by_the_last_id_at_most_five() {
    fn page(from: usize, n: usize) -> String {
        let rows: Vec<String> = (from..from + n)
            .map(|i| format!(r#"{{"id":"2026::{i:05}","price":"1","qty":"1","side":"buy"}}"#))
            .collect();
        format!("[{}]", rows.join(","))
    }
    // Two full pages, then a short one.
    let (url, mut rx) = serve(|head| {
        let token = head
            .split(' ')
            .nth(1)
            .and_then(|p| p.split("page_token=").nth(1))
            .map(|t| t.to_owned());
        Some(reply(
            "200 OK",
            match token.as_deref() {
                None => page(0, 100),
                Some("2026%3A%3A00099") => page(100, 100),
                Some("2026%3A%3A00199") => page(200, 7),
                Some(other) => panic!("unexpected token {other}"),
            },
        ))
    })
    .await;
    let c = alpaca(config());
    let up = upstream(&url, "live");
    let t = c.trades(&up).await.unwrap();
    assert_eq!(t.trades.len(), 207);
    assert_eq!(t.trades[206].trade_id, "2026::00206");
    assert_eq!(heads(&mut rx).len(), 3);

    // A server whose every page is full (distinct ids): five pages, then stop.
    let served = Arc::new(AtomicUsize::new(0));
    let n = served.clone();
    let (url, _rx) = serve(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Some(reply("200 OK", page(i * 100, 100)))
    })
    .await;
    let t = c.trades(&upstream(&url, "live")).await.unwrap();
    assert_eq!((t.trades.len(), served.load(Ordering::SeqCst)), (500, 5));

    // A server ignoring the token (the same full page again) is asked once more, not five times.
    let (url, mut rx) = serve(|_| Some(reply("200 OK", page(0, 100)))).await;
    let t = c.trades(&upstream(&url, "live")).await.unwrap();
    assert_eq!((t.trades.len(), heads(&mut rx).len()), (200, 2));

    // More fills than max_rows_per_book across pages: a bad response.
    let small = alpaca(ConnectorConfig {
        max_rows_per_book: 150,
        ..config()
    });
    let served = Arc::new(AtomicUsize::new(0));
    let n = served.clone();
    let (url, _rx) = serve(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Some(reply("200 OK", page(i * 100, 100)))
    })
    .await;
    let e = small.trades(&upstream(&url, "live")).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::BadResponse);
    assert!(
        e.message.contains("max_rows_per_book = 150"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn account_states_reach_the_health_check() {
    let body = |extra: &str| format!(r#"{{"id":"a","account_number":"P",{extra}}}"#);
    let restricted = body(r#""status":"ACTIVE","trading_blocked":true"#);
    let (url, _rx) = serve(move |_| Some(reply("200 OK", restricted.clone()))).await;
    let c = alpaca(config());
    let v = c.check(&upstream(&url, "live"), true).await.unwrap();
    let r = v.restricted.unwrap();
    assert_eq!(r.reason, FailureReason::AccountRestricted);
    assert!(r.message.contains("trading_blocked") && r.message.contains("reads still work"));
    assert_eq!((v.mode, v.probed), (Some(Mode::Live), true));

    let blocked = body(r#""status":"ACTIVE","account_blocked":true"#);
    let (url, _rx) = serve(move |_| Some(reply("200 OK", blocked.clone()))).await;
    let f = c.check(&upstream(&url, "paper"), false).await.unwrap_err();
    assert_eq!(f.error.reason, FailureReason::AccountRestricted);
    assert!(
        f.error.message.contains("account_blocked"),
        "{}",
        f.error.message
    );
    assert!(f.key_accepted);
    assert_eq!(
        (f.broker.as_deref(), f.mode),
        (Some("alpaca"), Some(Mode::Paper))
    );

    // A status echoing the key: scrubbed.
    let echo = body(&format!(r#""status":"{KEY_ID}""#));
    let (url, _rx) = serve(move |_| Some(reply("200 OK", echo.clone()))).await;
    let f = c.check(&upstream(&url, "live"), false).await.unwrap_err();
    assert!(!f.error.message.contains(KEY_ID), "{}", f.error.message);
    assert!(
        f.error.message.contains("[redacted]"),
        "{}",
        f.error.message
    );
}

#[tokio::test]
async fn no_credential_in_any_error_or_book_even_when_the_server_echoes_it() {
    let echo = format!("{KEY_ID} {SECRET}");
    for (status, body) in [
        (
            "401 Unauthorized",
            format!(r#"{{"code":40110000,"message":"{echo}"}}"#),
        ),
        ("401 Unauthorized", format!(r#"{{"message":"{echo}"}}"#)),
        ("403 Forbidden", format!(r#"{{"message":"{echo}"}}"#)),
        (
            "403 Forbidden",
            format!(r#"{{"code":40310000,"message":"{echo}"}}"#),
        ),
        ("429 Too Many Requests", echo.clone()),
        (
            "500 Internal Server Error",
            format!("{}{echo}", "x".repeat(190)),
        ),
        ("404 Not Found", echo.clone()),
        ("200 OK", format!("not json {echo}")),
        (
            "200 OK",
            format!(r#"{{"id":"a","account_number":"P","status":"ACTIVE","cash":"{SECRET}"}}"#),
        ),
    ] {
        let b = body.clone();
        let (url, _rx) = serve(move |_| Some(reply(status, b.clone()))).await;
        let c = alpaca(config());
        let f = c.check(&upstream(&url, "live"), false).await.unwrap_err();
        let shown = format!("{} {:?}", f.error, f.error);
        assert!(
            !shown.contains(KEY_ID) && !shown.contains(&SECRET[..16]),
            "{status}: {shown}"
        );
        let e = c.funds(&upstream(&url, "live")).await.unwrap_err();
        assert!(
            !e.message.contains(KEY_ID) && !e.message.contains(&SECRET[..16]),
            "{e}"
        );
    }
    // A book's text fields echoing the secret: scrubbed before they are returned.
    let rows = format!(r#"[{{"symbol":"{SECRET}","exchange":"{KEY_ID}","qty":"1"}}]"#);
    let (url, _rx) = serve(move |_| Some(reply("200 OK", rows.clone()))).await;
    let p = alpaca(config())
        .positions(&upstream(&url, "live"))
        .await
        .unwrap();
    assert_eq!(
        (p.rows[0].symbol.as_str(), p.rows[0].exchange.as_str()),
        ("[redacted]", "[redacted]")
    );
}

#[tokio::test]
async fn remaining_zero_pauses_the_key_and_nothing_more_is_sent() {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30;
    let (url, mut rx) = serve(move |_| {
        Some(Reply {
            status: "200 OK",
            headers: format!("X-RateLimit-Limit: 200\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: {reset}\r\n"),
            body: ACCOUNT.into(),
        })
    })
    .await;
    let c = alpaca(config());
    let up = upstream(&url, "live");
    // The answer that says "0 left" is still a good answer.
    c.check(&up, false).await.unwrap();
    let e = c.positions(&up).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::RateLimited);
    assert!(e.message.contains("until "), "{}", e.message);
    assert_eq!(heads(&mut rx).len(), 1, "the paused call was not sent");
    // Another key on the same connector is not paused.
    let mut other = upstream(&url, "live");
    other.credential = Credential::new([
        ("key_id".to_string(), Secret::new("PKOTHERKEY")),
        ("secret_key".to_string(), Secret::new("othersecret")),
    ]);
    c.check(&other, false).await.unwrap();
}

#[tokio::test]
async fn a_429_is_rate_limited_and_pauses_the_key() {
    let (url, mut rx) =
        serve(|_| Some(reply("429 Too Many Requests", "rate limit exceeded"))).await;
    let c = alpaca(config());
    let up = upstream(&url, "live");
    let f = c.check(&up, false).await.unwrap_err();
    assert_eq!(
        (f.error.reason, f.error.http_status),
        (FailureReason::RateLimited, Some(429))
    );
    assert!(!f.key_accepted);
    let e = c.orders(&up).await.unwrap_err();
    assert_eq!(
        (e.reason, e.http_status),
        (FailureReason::RateLimited, None)
    );
    assert!(e.message.contains("until "), "{}", e.message);
    assert_eq!(heads(&mut rx).len(), 1);
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_deadline_and_bad_urls_connect_fail() {
    let (url, _rx) = serve(|_| None).await;
    let c = alpaca(config());
    let e = c.funds(&upstream(&url, "live")).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::Timeout);
    assert!(e.message.contains("500ms"), "{}", e.message);
    let e = c.funds(&upstream("not a url", "live")).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::Connect);
    // A credential without its secret field: refused before anything is sent.
    let mut up = upstream(&url, "live");
    up.credential = Credential::new([("key_id".to_string(), Secret::new(KEY_ID))]);
    let e = c.funds(&up).await.unwrap_err();
    assert!(e.message.contains("secret_key"), "{}", e.message);
    // A key that cannot be a header value: named, not shown.
    up.credential = Credential::new([
        ("key_id".to_string(), Secret::new("PK\r\nX-Evil: 1")),
        ("secret_key".to_string(), Secret::new(SECRET)),
    ]);
    let e = c.funds(&up).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::AuthRejected);
    assert!(
        e.message.contains("key_id") && !e.message.contains("Evil"),
        "{}",
        e.message
    );
}
