//! Self-tests of the Alpaca simulator against the facts of the reference
//! (`alpaca-binance-api.md` §2): auth answers, the per-account budget and its headers, the JSON
//! shapes and paging of each endpoint, every fault, scale and the `alpaca-sim` binary. Loopback
//! only; every client has a timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use roster_tests::alpaca_sim::{
    Activity, AlpacaAccountSpec, AlpacaFault, AlpacaSim, DEFAULT_RATE_LIMIT_PER_MINUTE,
    Environment, FillActivity, MarketClock, Order, demo_keys,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "PKTEST00000000000001";
const SECRET: &str = "s3cr3t-of-the-first-paper-account-000001";
const OTHER_KEY: &str = "PKTEST00000000000002";
const OTHER_SECRET: &str = "s3cr3t-of-the-second-paper-account-00002";

/// The fields of the reference's `GET /v2/account` example (§2.4.1).
const ACCOUNT_FIELDS: [&str; 38] = [
    "id",
    "admin_configurations",
    "user_configurations",
    "account_number",
    "status",
    "crypto_status",
    "currency",
    "buying_power",
    "regt_buying_power",
    "options_buying_power",
    "effective_buying_power",
    "non_marginable_buying_power",
    "cash",
    "accrued_fees",
    "pending_transfer_in",
    "portfolio_value",
    "trading_blocked",
    "transfers_blocked",
    "account_blocked",
    "created_at",
    "trade_suspended_by_user",
    "multiplier",
    "shorting_enabled",
    "equity",
    "last_equity",
    "long_market_value",
    "short_market_value",
    "position_market_value",
    "initial_margin",
    "maintenance_margin",
    "last_maintenance_margin",
    "sma",
    "balance_asof",
    "crypto_tier",
    "options_approved_level",
    "options_trading_level",
    "intraday_adjustments",
    "pending_reg_taf_fees",
];

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn header_u64(&self, name: &str) -> u64 {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .parse()
            .unwrap()
    }

    fn rows(&self) -> Vec<Value> {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.json().as_array().cloned().expect("a bare array")
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let r = req.send().await.unwrap();
    Answer {
        status: r.status(),
        headers: r.headers().clone(),
        text: r.text().await.unwrap(),
    }
}

/// GET `path` (with its query) as `key`/`secret`.
async fn get(sim: &AlpacaSim, path: &str, key: &str, secret: &str) -> Answer {
    send(
        client()
            .get(format!("{}{path}", sim.url()))
            .header("APCA-API-KEY-ID", key)
            .header("APCA-API-SECRET-KEY", secret),
    )
    .await
}

async fn paper(specs: Vec<AlpacaAccountSpec>) -> AlpacaSim {
    AlpacaSim::start(Environment::Paper, specs).await.unwrap()
}

async fn demo_paper() -> AlpacaSim {
    paper(vec![
        AlpacaAccountSpec::demo(KEY, SECRET),
        AlpacaAccountSpec::demo(OTHER_KEY, OTHER_SECRET),
    ])
    .await
}

fn assert_json_content_type_and_request_id(a: &Answer) {
    assert_eq!(
        a.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let id = a.header("x-request-id").expect("x-request-id");
    assert!(
        id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
}

fn assert_error(a: &Answer, status: StatusCode, code: u64) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.json()["code"], json!(code), "{}", a.text);
    assert!(a.json()["message"].is_string(), "{}", a.text);
    assert_json_content_type_and_request_id(a);
}

fn is_decimal_string(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.parse::<Decimal>().is_ok() && !s.is_empty())
}

// ---- Authentication (§2.2, §2.3)

#[tokio::test]
async fn missing_or_malformed_auth_headers_are_403_forbidden_without_code() {
    let sim = demo_paper().await;
    let url = format!("{}/v2/account", sim.url());
    let cases = [
        client().get(&url),
        client().get(&url).header("APCA-API-KEY-ID", KEY),
        client().get(&url).header("APCA-API-SECRET-KEY", SECRET),
        client()
            .get(&url)
            .header("APCA_API_KEY_ID", KEY)
            .header("APCA_API_SECRET_KEY", SECRET),
        client()
            .get(&url)
            .header("Authorization", format!("Bearer {SECRET}")),
    ];
    for req in cases {
        let a = send(req).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
        assert_eq!(a.text, r#"{"message": "forbidden."}"#);
        assert!(a.json().get("code").is_none());
        assert_json_content_type_and_request_id(&a);
        assert!(a.header("x-ratelimit-limit").is_none());
    }
    // Header names are case-insensitive on the wire.
    let a = send(
        client()
            .get(&url)
            .header("apca-api-key-id", KEY)
            .header("apca-api-secret-key", SECRET),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

#[tokio::test]
async fn wrong_secret_unknown_key_and_a_paper_key_on_live_are_401_40110000() {
    let paper_sim = demo_paper().await;
    let (live_key, live_secret) = demo_keys(Environment::Live, 1);
    let live_sim = AlpacaSim::start(
        Environment::Live,
        vec![AlpacaAccountSpec::demo(&live_key, &live_secret)],
    )
    .await
    .unwrap();
    assert_eq!(live_sim.environment(), Environment::Live);
    let unauthorized = |a: &Answer| {
        assert_error(a, StatusCode::UNAUTHORIZED, 40_110_000);
        assert_eq!(a.json()["message"], "request is not authorized");
    };
    unauthorized(&get(&paper_sim, "/v2/account", KEY, OTHER_SECRET).await);
    unauthorized(&get(&paper_sim, "/v2/account", "PKNOBODY000000000000", SECRET).await);
    // The paper key pair on the live host, and the live pair on the paper host.
    unauthorized(&get(&live_sim, "/v2/account", KEY, SECRET).await);
    unauthorized(&get(&paper_sim, "/v2/clock", &live_key, &live_secret).await);
    assert_eq!(
        get(&live_sim, "/v2/account", &live_key, &live_secret)
            .await
            .status,
        StatusCode::OK
    );
    // A regenerated secret: the old one stops working; a removed (reset) account: 401.
    let acct = paper_sim.account(KEY).unwrap();
    acct.set_secret_key("a-brand-new-secret");
    unauthorized(&get(&paper_sim, "/v2/account", KEY, SECRET).await);
    let a = get(&paper_sim, "/v2/account", KEY, "a-brand-new-secret").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(paper_sim.remove_account(KEY));
    unauthorized(&get(&paper_sim, "/v2/account", KEY, "a-brand-new-secret").await);
    // Counted per key id whatever the outcome, while the key id is registered.
    assert_eq!(acct.request_count(), 3);
    assert_eq!(paper_sim.request_count(KEY), 0);
}

// ---- Rate limit (§2.5)

#[tokio::test]
async fn rate_limit_headers_count_down_then_429_for_that_account_only() {
    let mut spec = AlpacaAccountSpec::empty(KEY, SECRET);
    spec.rate_limit_per_minute = 3;
    let sim = paper(vec![
        spec,
        AlpacaAccountSpec::empty(OTHER_KEY, OTHER_SECRET),
    ])
    .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let a = get(&sim, "/v2/account", KEY, SECRET).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.header_u64("x-ratelimit-limit"), 3);
        let reset = a.header_u64("x-ratelimit-reset");
        assert!(
            (now..=now + 62).contains(&reset),
            "reset {reset}, now {now}"
        );
        remaining.push(a.header_u64("x-ratelimit-remaining"));
    }
    assert_eq!(remaining, [2, 1, 0]);
    let a = get(&sim, "/v2/positions", KEY, SECRET).await;
    assert_error(&a, StatusCode::TOO_MANY_REQUESTS, 42_910_000);
    assert_eq!(a.json()["message"], "rate limit exceeded");
    assert_eq!(a.header_u64("x-ratelimit-remaining"), 0);
    assert_eq!(a.header_u64("x-ratelimit-limit"), 3);
    // The other account's budget is its own.
    let b = get(&sim, "/v2/account", OTHER_KEY, OTHER_SECRET).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.header_u64("x-ratelimit-remaining"), 199);

    let acct = sim.account(KEY).unwrap();
    assert_eq!(acct.request_count(), 4);
    assert_eq!(acct.max_requests_per_minute(), 4);
    assert_eq!(sim.max_requests_per_minute(), 4);
    assert_eq!(
        acct.requests_by_path().into_iter().collect::<Vec<_>>(),
        [
            ("/v2/account".to_owned(), 3),
            ("/v2/positions".to_owned(), 1)
        ]
    );
    // A new limit starts with a full budget.
    acct.set_rate_limit_per_minute(5);
    let a = get(&sim, "/v2/account", KEY, SECRET).await;
    assert_eq!(a.header_u64("x-ratelimit-remaining"), 4);
    acct.reset_requests();
    assert_eq!(
        (acct.request_count(), acct.max_requests_per_minute()),
        (0, 0)
    );
}

#[tokio::test]
async fn the_default_budget_is_200_per_minute() {
    assert_eq!(DEFAULT_RATE_LIMIT_PER_MINUTE, 200);
    let sim = paper(vec![AlpacaAccountSpec::empty(KEY, SECRET)]).await;
    let c = client();
    let url = format!("{}/v2/clock", sim.url());
    let mut last = None;
    for _ in 0..200 {
        let r = c
            .get(&url)
            .header("APCA-API-KEY-ID", KEY)
            .header("APCA-API-SECRET-KEY", SECRET)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        last = r
            .headers()
            .get("x-ratelimit-remaining")
            .map(|v| v.to_str().unwrap().to_owned());
    }
    assert_eq!(last.as_deref(), Some("0"));
    let a = get(&sim, "/v2/clock", KEY, SECRET).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header_u64("x-ratelimit-limit"), 200);
    assert_eq!(sim.account(KEY).unwrap().max_requests_per_minute(), 201);
}

#[tokio::test]
async fn a_spent_budget_comes_back_after_its_window() {
    let mut spec = AlpacaAccountSpec::empty(KEY, SECRET);
    spec.rate_limit_per_minute = 2;
    spec.rate_window = Duration::from_secs(1);
    let sim = paper(vec![spec]).await;
    for _ in 0..2 {
        assert_eq!(
            get(&sim, "/v2/clock", KEY, SECRET).await.status,
            StatusCode::OK
        );
    }
    let refused = get(&sim, "/v2/clock", KEY, SECRET).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(refused.header_u64("x-ratelimit-reset") <= now + 2);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let again = get(&sim, "/v2/clock", KEY, SECRET).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.header_u64("x-ratelimit-remaining"), 1);
    // The busiest-minute record still spans 60 s.
    assert_eq!(sim.max_requests_per_minute(), 4);
}

// ---- Account (§2.4.1)

#[tokio::test]
async fn account_has_the_reference_fields_and_statuses_and_flags_round_trip() {
    let sim = demo_paper().await;
    let a = get(&sim, "/v2/account", KEY, SECRET).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_json_content_type_and_request_id(&a);
    let v = a.json();
    for f in ACCOUNT_FIELDS {
        assert!(v.get(f).is_some(), "missing {f} in {v}");
    }
    for f in [
        "cash",
        "buying_power",
        "equity",
        "last_equity",
        "long_market_value",
    ] {
        assert!(is_decimal_string(&v[f]), "{f}: {}", v[f]);
    }
    assert_eq!(v["last_equity"], "99871.26408810113");
    // equity = cash + long_market_value + short_market_value, from the demo positions.
    let n = |f: &str| v[f].as_str().unwrap().parse::<Decimal>().unwrap();
    assert_eq!(
        n("equity"),
        n("cash") + n("long_market_value") + n("short_market_value")
    );
    assert_eq!(
        n("short_market_value"),
        "-1240.00".parse::<Decimal>().unwrap()
    );
    assert_eq!(n("portfolio_value"), n("equity"));
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["user_configurations"], Value::Null);
    assert!(v["crypto_tier"].is_u64());
    assert!(
        v["created_at"].as_str().unwrap().ends_with('Z'),
        "{}",
        v["created_at"]
    );

    let acct = sim.account(KEY).unwrap();
    for status in [
        "ACTIVE",
        "ACCOUNT_UPDATED",
        "SUBMITTED",
        "ACCOUNT_CLOSED",
        "NEW_IN_2027",
    ] {
        acct.set_status(status);
        let v = get(&sim, "/v2/account", KEY, SECRET).await.json();
        assert_eq!(v["status"], status);
    }
    acct.set_trading_blocked(true);
    acct.set_account_blocked(true);
    acct.set_trade_suspended_by_user(true);
    acct.update_account_info(|i| {
        i.crypto_status = None;
        i.cash = "122011.09751111286868".parse().unwrap();
        i.extra.insert("bod_dtbp".into(), json!(0));
    });
    let v = get(&sim, "/v2/account", KEY, SECRET).await.json();
    assert_eq!(
        (
            &v["trading_blocked"],
            &v["account_blocked"],
            &v["trade_suspended_by_user"]
        ),
        (&json!(true), &json!(true), &json!(true))
    );
    assert!(v.get("crypto_status").is_none());
    assert_eq!(v["cash"], "122011.09751111286868");
    assert_eq!(v["bod_dtbp"], json!(0));
    // The other account on the same host is untouched.
    let w = get(&sim, "/v2/account", OTHER_KEY, OTHER_SECRET)
        .await
        .json();
    assert_eq!(
        (&w["status"], &w["trading_blocked"]),
        (&json!("ACTIVE"), &json!(false))
    );
    assert_ne!(w["id"], v["id"]);
}

// ---- Positions (§2.4.2)

#[tokio::test]
async fn positions_short_rows_are_negative_and_crypto_keeps_its_decimals() {
    let sim = demo_paper().await;
    let rows = get(&sim, "/v2/positions", KEY, SECRET).await.rows();
    let by_symbol = |s: &str| rows.iter().find(|r| r["symbol"] == s).cloned().unwrap();
    let aapl = by_symbol("AAPL");
    assert_eq!(
        (&aapl["side"], &aapl["qty"]),
        (&json!("long"), &json!("12"))
    );
    assert_eq!(aapl["avg_entry_price"], "221.40");
    let tsla = by_symbol("TSLA");
    assert_eq!(
        (&tsla["side"], &tsla["qty"]),
        (&json!("short"), &json!("-5"))
    );
    assert!(tsla["market_value"].as_str().unwrap().starts_with('-'));
    assert!(tsla["cost_basis"].as_str().unwrap().starts_with('-'));
    let btc = by_symbol("BTCUSD");
    assert_eq!(btc["asset_class"], "crypto");
    assert_eq!(btc["qty"], "0.0412337");
    assert_eq!(btc["avg_entry_price"], "96110.2234118");
    for r in &rows {
        for f in [
            "qty",
            "market_value",
            "cost_basis",
            "unrealized_pl",
            "current_price",
        ] {
            assert!(is_decimal_string(&r[f]), "{f}: {r}");
        }
    }
    let one = get(&sim, "/v2/positions/AAPL", KEY, SECRET).await;
    assert_eq!(one.json()["symbol"], "AAPL");
    // The order-style crypto symbol is not a position symbol.
    let missing = get(&sim, "/v2/positions/BTC/USD", KEY, SECRET).await;
    assert_error(&missing, StatusCode::NOT_FOUND, 40_410_000);
    assert_eq!(missing.json()["message"], "position does not exist");
}

// ---- Orders (§2.4.3)

#[tokio::test]
async fn orders_filter_by_status_and_page_by_after_order_id() {
    let sim = demo_paper().await;
    let statuses = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect()
    };
    // Default: open only, newest first.
    let open = get(&sim, "/v2/orders", KEY, SECRET).await.rows();
    assert_eq!(statuses(&open), ["new", "partially_filled"]);
    assert_eq!(open[0]["symbol"], "NVDA");
    let closed = get(&sim, "/v2/orders?status=closed", KEY, SECRET)
        .await
        .rows();
    assert_eq!(
        statuses(&closed),
        ["filled", "canceled", "filled", "filled"]
    );
    let all = get(&sim, "/v2/orders?status=all", KEY, SECRET).await.rows();
    assert_eq!(all.len(), 6);
    let spy = all.iter().find(|o| o["symbol"] == "SPY").unwrap();
    assert_eq!(
        (&spy["qty"], &spy["notional"]),
        (&Value::Null, &json!("500"))
    );
    assert_eq!(spy["filled_qty"], "0.838505409");
    let aapl = all.iter().find(|o| o["symbol"] == "AAPL").unwrap();
    assert_eq!(aapl["filled_avg_price"], "221.4");
    assert_eq!(aapl["order_class"], "");
    let submitted = aapl["submitted_at"].as_str().unwrap();
    assert_eq!(
        submitted.len(),
        "2026-11-24T15:02:11.401932718Z".len(),
        "{submitted}"
    );

    // Paging recipe: status=all&direction=asc&limit=N&after_order_id=<last id>.
    let mut seen: Vec<String> = Vec::new();
    let mut after = String::new();
    for _ in 0..10 {
        let q = if after.is_empty() {
            "/v2/orders?status=all&direction=asc&limit=4".to_owned()
        } else {
            format!("/v2/orders?status=all&direction=asc&limit=4&after_order_id={after}")
        };
        let page = get(&sim, &q, KEY, SECRET).await.rows();
        seen.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match page.last() {
            Some(last) if page.len() == 4 => after = last["id"].as_str().unwrap().to_owned(),
            _ => break,
        }
    }
    let mut expected: Vec<String> = all
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    expected.reverse(); // `all` was newest first
    assert_eq!(seen, expected);

    assert_error(
        &get(&sim, "/v2/orders?limit=501", KEY, SECRET).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        42_210_000,
    );
    assert_eq!(
        get(&sim, "/v2/orders?limit=500", KEY, SECRET).await.status,
        StatusCode::OK
    );
    assert_error(
        &get(&sim, "/v2/orders?status=pending", KEY, SECRET).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        42_210_000,
    );
    assert_error(
        &get(
            &sim,
            "/v2/orders?after_order_id=x&before_order_id=y",
            KEY,
            SECRET,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        42_210_000,
    );
    let one = get(
        &sim,
        &format!("/v2/orders/{}", aapl["id"].as_str().unwrap()),
        KEY,
        SECRET,
    )
    .await;
    assert_eq!(one.json()["id"], aapl["id"]);
}

#[tokio::test]
async fn orders_limit_defaults_to_50_and_nested_rolls_legs_up() {
    let sim = paper(vec![AlpacaAccountSpec::empty(KEY, SECRET)]).await;
    let acct = sim.account(KEY).unwrap();
    let t0 = UNIX_EPOCH + Duration::from_secs(1_795_532_531);
    let mut orders: Vec<Order> = (0..60)
        .map(|i| {
            Order::new(
                &format!("o{i}"),
                "AAPL",
                "buy",
                Decimal::ONE,
                None,
                t0 + Duration::from_secs(i),
            )
        })
        .collect();
    let mut parent = Order::new(
        "mleg",
        "",
        "",
        Decimal::ONE,
        None,
        t0 + Duration::from_secs(100),
    );
    parent.order_class = "mleg".into();
    parent.asset_id = String::new();
    parent.asset_class = String::new();
    parent.legs = (0..2)
        .map(|i| {
            Order::new(
                &format!("leg{i}"),
                &format!("AAPL261218C0023{i}000"),
                "buy",
                Decimal::ONE,
                None,
                t0 + Duration::from_secs(100),
            )
        })
        .collect();
    orders.push(parent);
    acct.set_orders(orders);
    assert_eq!(get(&sim, "/v2/orders", KEY, SECRET).await.rows().len(), 50);
    let nested = get(&sim, "/v2/orders?nested=true&limit=500", KEY, SECRET)
        .await
        .rows();
    assert_eq!(nested.len(), 61);
    let p = nested.iter().find(|o| o["order_class"] == "mleg").unwrap();
    assert_eq!(p["legs"].as_array().unwrap().len(), 2);
    assert_eq!((&p["symbol"], &p["asset_class"]), (&json!(""), &json!("")));
    let flat = get(&sim, "/v2/orders?limit=500", KEY, SECRET).await.rows();
    assert_eq!(flat.len(), 63);
    assert!(flat.iter().all(|o| o["legs"].is_null()));
}

// ---- Activities (§2.4.4)

#[tokio::test]
async fn fill_activities_page_by_page_token() {
    let sim = demo_paper().await;
    let acct = sim.account(KEY).unwrap();
    let order = Order::new("big", "AAPL", "buy", Decimal::from(7), None, UNIX_EPOCH);
    let t0 = UNIX_EPOCH + Duration::from_secs(1_795_532_531);
    let mut acts = acct.activities(); // 4 fills and a DIV
    for i in 1..=7u32 {
        acts.push(Activity::Fill(FillActivity::of(
            &order,
            Decimal::ONE,
            Decimal::from(220),
            Decimal::from(i),
            t0 + Duration::from_millis(u64::from(i) * 1_500),
        )));
    }
    acct.set_activities(acts);

    for base in [
        "/v2/account/activities?activity_types=FILL&",
        "/v2/account/activities/FILL?",
    ] {
        let mut ids: Vec<String> = Vec::new();
        let mut sizes = Vec::new();
        let mut token = String::new();
        for _ in 0..10 {
            let q = if token.is_empty() {
                format!("{base}page_size=5")
            } else {
                format!("{base}page_size=5&page_token={token}")
            };
            let page = get(&sim, &q, KEY, SECRET).await.rows();
            sizes.push(page.len());
            for r in &page {
                assert_eq!(r["activity_type"], "FILL");
                assert!(is_decimal_string(&r["price"]) && is_decimal_string(&r["cum_qty"]));
            }
            ids.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
            if page.len() < 5 {
                break;
            }
            token = ids.last().cloned().unwrap();
        }
        assert_eq!(sizes, [5, 5, 1], "{base}");
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.reverse();
        sorted.dedup();
        assert_eq!(ids, sorted, "newest first, no duplicates");
        for id in &ids {
            let (stamp, uuid) = id.split_once("::").unwrap();
            assert!(
                stamp.len() == 17 && stamp.bytes().all(|b| b.is_ascii_digit()),
                "{id}"
            );
            assert_eq!(uuid.len(), 36, "{id}");
        }
    }
    let partial = get(
        &sim,
        "/v2/account/activities/FILL?direction=asc&page_size=1",
        KEY,
        SECRET,
    )
    .await
    .rows();
    assert_eq!(partial[0]["type"], "fill"); // the demo AAPL fill, the oldest
    let all = get(&sim, "/v2/account/activities", KEY, SECRET)
        .await
        .rows();
    assert_eq!(all.len(), 12);
    assert!(all.iter().any(|r| r["activity_type"] == "DIV"));
    assert_error(
        &get(&sim, "/v2/account/activities?page_size=101", KEY, SECRET).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        42_210_000,
    );
}

// ---- Clock, routing (§2.4.5, §2.6)

#[tokio::test]
async fn clock_is_in_eastern_time_and_can_be_pinned() {
    let sim = demo_paper().await;
    let v = get(&sim, "/v2/clock", KEY, SECRET).await.json();
    let ts = v["timestamp"].as_str().unwrap();
    assert!(ts.ends_with("-05:00") || ts.ends_with("-04:00"), "{ts}");
    assert_eq!(
        ts.len(),
        "2026-11-25T10:41:07.112039204-05:00".len(),
        "{ts}"
    );
    assert!(v["is_open"].is_boolean());
    assert!(v["next_open"].as_str().unwrap().ends_with(":00"));
    sim.set_clock(Some(MarketClock {
        is_open: true,
        next_open: "2026-11-26T09:30:00-05:00".into(),
        next_close: "2026-11-25T16:00:00-05:00".into(),
    }));
    let v = get(&sim, "/v2/clock", KEY, SECRET).await.json();
    assert_eq!(v["is_open"], true);
    assert_eq!(v["next_close"], "2026-11-25T16:00:00-05:00");
}

#[tokio::test]
async fn unknown_paths_are_404_and_writes_are_405() {
    let sim = demo_paper().await;
    assert_error(
        &get(&sim, "/v2/nothing-here", KEY, SECRET).await,
        StatusCode::NOT_FOUND,
        40_410_000,
    );
    assert_error(
        &get(
            &sim,
            "/v2/orders/00000000-0000-4000-a000-000000000000",
            KEY,
            SECRET,
        )
        .await,
        StatusCode::NOT_FOUND,
        40_410_000,
    );
    let post = send(
        client()
            .post(format!("{}/v2/orders", sim.url()))
            .header("APCA-API-KEY-ID", KEY)
            .header("APCA-API-SECRET-KEY", SECRET)
            .body("{}"),
    )
    .await;
    assert_error(&post, StatusCode::METHOD_NOT_ALLOWED, 40_510_000);
    // Auth comes before routing.
    let anon = send(client().get(format!("{}/v2/nothing-here", sim.url()))).await;
    assert_eq!(anon.status, StatusCode::FORBIDDEN);
    let paths = sim.requests_by_path();
    assert_eq!(paths.get("other"), Some(&2));
    assert_eq!(paths.get("/v2/orders/{order_id}"), Some(&1));
    assert_eq!(paths.get("/v2/orders"), Some(&1));
    assert_eq!(sim.total_requests(), 4);
}

#[tokio::test]
async fn odd_query_values_get_4xx_answers_and_the_server_carries_on() {
    let sim = demo_paper().await;
    let cases = [
        ("/v2/orders?limit=-1", StatusCode::BAD_REQUEST),
        ("/v2/orders?limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "/v2/orders?limit=99999999999999999999999",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v2/orders?direction=sideways",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/v2/orders?after=yesterday", StatusCode::BAD_REQUEST),
        ("/v2/orders?nested=maybe", StatusCode::BAD_REQUEST),
        (
            "/v2/orders?status=all&after_order_id=nope",
            StatusCode::NOT_FOUND,
        ),
        (
            "/v2/account/activities?activity_types=FILL&category=trade_activity",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v2/account/activities?page_size=0",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v2/account/activities?page_token=%FF%FE%zz&page_size=%",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (path, status) in cases {
        let a = get(&sim, path, KEY, SECRET).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        assert!(a.json()["code"].is_u64(), "{path}: {}", a.text);
    }
    // Percent-encoded cursors decode (clients encode the `::` of activity ids).
    let ids: Vec<String> = get(&sim, "/v2/account/activities/FILL", KEY, SECRET)
        .await
        .rows()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let token = ids[0].replace(':', "%3A");
    let rest = get(
        &sim,
        &format!("/v2/account/activities/FILL?page_token={token}"),
        KEY,
        SECRET,
    )
    .await
    .rows();
    assert_eq!(rest.len(), ids.len() - 1);
    assert_eq!(
        get(&sim, "/v2/account", KEY, SECRET).await.status,
        StatusCode::OK
    );
}

// ---- Faults

#[tokio::test]
async fn server_faults_hit_every_account() {
    let sim = demo_paper().await;
    sim.set_fault(AlpacaFault::Status500);
    let a = get(&sim, "/v2/account", KEY, SECRET).await;
    assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR, 50_010_000);
    assert_eq!(a.json()["message"], "internal server error");
    sim.set_fault(AlpacaFault::RateLimited);
    assert_error(
        &get(&sim, "/v2/account", OTHER_KEY, OTHER_SECRET).await,
        StatusCode::TOO_MANY_REQUESTS,
        42_910_000,
    );
    sim.set_fault(AlpacaFault::Forbidden);
    let a = get(&sim, "/v2/account", KEY, SECRET).await;
    assert_eq!(
        (a.status, a.text.as_str()),
        (StatusCode::FORBIDDEN, r#"{"message": "forbidden."}"#)
    );
    sim.set_fault(AlpacaFault::Hang);
    let hung = client()
        .get(format!("{}/v2/account", sim.url()))
        .header("APCA-API-KEY-ID", KEY)
        .header("APCA-API-SECRET-KEY", SECRET)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    sim.clear_fault();
    assert_eq!(
        get(&sim, "/v2/account", KEY, SECRET).await.status,
        StatusCode::OK
    );
    // Faulted requests are counted too.
    assert_eq!(sim.request_count(KEY), 4);
    assert_eq!(sim.request_count(OTHER_KEY), 1);
}

#[tokio::test]
async fn account_faults_hit_only_that_account() {
    let sim = demo_paper().await;
    let acct = sim.account(KEY).unwrap();
    acct.set_fault(AlpacaFault::Status500);
    let a = get(&sim, "/v2/positions", KEY, SECRET).await;
    assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR, 50_010_000);
    assert!(a.header("x-ratelimit-remaining").is_some());
    assert_eq!(
        get(&sim, "/v2/positions", OTHER_KEY, OTHER_SECRET)
            .await
            .status,
        StatusCode::OK
    );
    acct.set_fault(AlpacaFault::Forbidden);
    assert_eq!(
        get(&sim, "/v2/account", KEY, SECRET).await.status,
        StatusCode::FORBIDDEN
    );
    acct.set_fault(AlpacaFault::RateLimited);
    let limited = get(&sim, "/v2/account", KEY, SECRET).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, 42_910_000);
    assert_eq!(limited.header_u64("x-ratelimit-remaining"), 0);
    acct.set_fault(AlpacaFault::Body {
        status: 200,
        body: bytes::Bytes::from_static(b"[{}]"),
    });
    assert_eq!(get(&sim, "/v2/account", KEY, SECRET).await.text, "[{}]");
    acct.set_fault(AlpacaFault::ConnectionRefused);
    let dropped = client()
        .get(format!("{}/v2/account", sim.url()))
        .header("APCA-API-KEY-ID", KEY)
        .header("APCA-API-SECRET-KEY", SECRET)
        .send()
        .await;
    assert!(dropped.is_err());
    acct.set_fault(AlpacaFault::Hang);
    let hung = client()
        .get(format!("{}/v2/account", sim.url()))
        .header("APCA-API-KEY-ID", KEY)
        .header("APCA-API-SECRET-KEY", SECRET)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    assert_eq!(
        get(&sim, "/v2/account", OTHER_KEY, OTHER_SECRET)
            .await
            .status,
        StatusCode::OK
    );
    acct.clear_fault();
    assert_eq!(
        get(&sim, "/v2/account", KEY, SECRET).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn connection_refused_closes_the_port_and_clearing_reopens_it() {
    let sim = demo_paper().await;
    let port = sim.port();
    sim.set_fault(AlpacaFault::ConnectionRefused);
    sim.settle().await;
    let err = client()
        .get(format!("{}/v2/account", sim.url()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    sim.clear_fault();
    sim.settle().await;
    assert_eq!(sim.port(), port);
    assert_eq!(
        get(&sim, "/v2/account", KEY, SECRET).await.status,
        StatusCode::OK
    );
    assert_eq!(sim.request_count(KEY), 1);
}

// ---- Scale and the binary

#[tokio::test]
async fn one_server_holds_2500_accounts() {
    let sim = AlpacaSim::start_many(Environment::Paper, 2_500)
        .await
        .unwrap();
    assert_eq!(sim.accounts().len(), 2_500);
    for i in [1, 1_250, 2_500] {
        let (key, secret) = demo_keys(Environment::Paper, i);
        let v = get(&sim, "/v2/account", &key, &secret).await;
        assert_eq!(v.status, StatusCode::OK, "account {i}");
    }
    let ids: std::collections::HashSet<String> =
        sim.accounts().iter().map(|a| a.account_info().id).collect();
    assert_eq!(ids.len(), 2_500);
    // Demo keys of one environment are not keys of the other.
    let (live_key, live_secret) = demo_keys(Environment::Live, 1);
    assert_eq!(
        get(&sim, "/v2/account", &live_key, &live_secret)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut tokio::io::Lines<R>) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn the_binary_prints_its_url_and_keys_and_serves_them() {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_alpaca-sim"))
        .args(["--demo", "--env", "live", "--accounts", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let head = next_line(&mut lines).await;
    let url = head.strip_prefix("# alpaca-sim live ").unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{head}");
    let first = next_line(&mut lines).await;
    let second = next_line(&mut lines).await;
    let (key, secret) = first.split_once('\t').unwrap();
    assert_eq!(
        (key.to_owned(), secret.to_owned()),
        demo_keys(Environment::Live, 1)
    );
    assert!(second.starts_with("AK"));
    let r = client()
        .get(format!("{url}/v2/account"))
        .header("APCA-API-KEY-ID", key)
        .header("APCA-API-SECRET-KEY", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    child.kill().await.unwrap();
}
