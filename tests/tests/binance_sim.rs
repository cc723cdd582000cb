//! The Binance simulator against the reference (alpaca-binance-api.md §3): its signature and
//! timestamp checks, its key answers, its weight accounting with 429 and 418, and its faults,
//! driven by a plain HTTP client that signs as the reference says (not by the connector).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use roster_tests::binance_sim::{
    BinanceAccountSpec, BinanceFault, BinanceSim, BinanceSimOptions, SimBalance, demo_keys,
};
use serde_json::Value;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn sign(secret: &str, payload: &str) -> String {
    hex::encode(hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        payload.as_bytes(),
    ))
}

struct Answer {
    status: u16,
    body: Value,
    used_weight: Option<u32>,
    retry_after: Option<u64>,
}

async fn get(url: &str, key: Option<&str>) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client.get(url).timeout(Duration::from_secs(5));
    if let Some(k) = key {
        req = req.header("X-MBX-APIKEY", k);
    }
    let resp = req.send().await.unwrap();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    };
    let (used_weight, retry_after) = (header("x-mbx-used-weight-1m"), header("retry-after"));
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        used_weight: used_weight.map(|w: u64| w as u32),
        retry_after,
    }
}

/// `GET {path}?{params}&timestamp={ts}&signature=...` signed with `secret`.
async fn signed(
    sim: &BinanceSim,
    path: &str,
    params: &str,
    ts: i64,
    key: &str,
    secret: &str,
) -> Answer {
    let query = if params.is_empty() {
        format!("timestamp={ts}")
    } else {
        format!("{params}&timestamp={ts}")
    };
    let url = format!(
        "{}{path}?{query}&signature={}",
        sim.url(),
        sign(secret, &query)
    );
    get(&url, Some(key)).await
}

fn code(a: &Answer) -> i64 {
    a.body["code"].as_i64().unwrap_or(i64::MIN)
}

/// Waits past a minute boundary when one is near: the weight count starts over each minute.
async fn clear_of_minute_edge() {
    if now_ms() % 60_000 > 55_000 {
        tokio::time::sleep(Duration::from_millis(
            (60_000 - now_ms() % 60_000 + 100) as u64,
        ))
        .await;
    }
}

async fn one() -> (BinanceSim, String, String) {
    clear_of_minute_edge().await;
    let (k, s) = demo_keys(1);
    let sim = BinanceSim::start(vec![BinanceAccountSpec::demo(k.clone(), s.clone())])
        .await
        .unwrap();
    (sim, k, s)
}

#[tokio::test]
async fn a_signed_account_request_answers_balances_and_the_used_weight() {
    let (sim, k, s) = one().await;
    let a = signed(
        &sim,
        "/api/v3/account",
        "omitZeroBalances=true",
        now_ms(),
        &k,
        &s,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["canTrade"], true);
    let assets: Vec<_> = a.body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["asset"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(assets, ["BTC", "USDT", "BNB"], "XRP is zero and omitted");
    assert_eq!(a.body["balances"][1]["locked"], "250.00000000");
    assert_eq!(a.used_weight, Some(20));
    let a = signed(&sim, "/api/v3/account", "", now_ms(), &k, &s).await;
    assert_eq!(a.body["balances"].as_array().unwrap().len(), 4);
    assert_eq!(a.used_weight, Some(40));
    let t = get(&format!("{}/api/v3/time", sim.url()), None).await;
    assert!((t.body["serverTime"].as_i64().unwrap() - now_ms()).abs() < 2_000);
    assert_eq!(t.used_weight, Some(41));
    // An uppercase hex signature is accepted too (the reference: case-insensitive).
    let ts = now_ms();
    let query = format!("timestamp={ts}");
    let url = format!(
        "{}/api/v3/account?{query}&signature={}",
        sim.url(),
        sign(&s, &query).to_uppercase()
    );
    assert_eq!(get(&url, Some(&k)).await.status, 200);
    assert_eq!(sim.account(&k).unwrap().account_requests(), 3);
}

#[tokio::test]
async fn keys_and_signatures_are_refused_with_binances_codes() {
    let (sim, k, s) = one().await;
    let wrong_secret = signed(&sim, "/api/v3/account", "", now_ms(), &k, "not-the-secret").await;
    assert_eq!((wrong_secret.status, code(&wrong_secret)), (400, -1022));
    assert_eq!(
        wrong_secret.body["msg"],
        "Signature for this request is not valid."
    );
    let (other, _) = demo_keys(2);
    let unknown = signed(&sim, "/api/v3/account", "", now_ms(), &other, &s).await;
    assert_eq!((unknown.status, code(&unknown)), (401, -2015));
    let url = format!("{}/api/v3/account?timestamp=1&signature=00", sim.url());
    let missing = get(&url, None).await;
    assert_eq!((missing.status, code(&missing)), (401, -2014));
    let malformed = get(&url, Some("\"quoted key\"")).await;
    assert_eq!(code(&malformed), -2014);
    // A tampered parameter breaks the signature.
    let ts = now_ms();
    let q = format!("omitZeroBalances=true&timestamp={ts}");
    let url = format!(
        "{}/api/v3/account?omitZeroBalances=false&timestamp={ts}&signature={}",
        sim.url(),
        sign(&s, &q)
    );
    assert_eq!(code(&get(&url, Some(&k)).await), -1022);
    let no_ts = format!("{}/api/v3/account?signature=00", sim.url());
    assert_eq!(code(&get(&no_ts, Some(&k)).await), -1102);

    let acct = sim.account(&k).unwrap();
    acct.set_can_read(false);
    let a = signed(&sim, "/api/v3/account", "", now_ms(), &k, &s).await;
    assert_eq!((a.status, code(&a)), (401, -2015));
    acct.set_can_read(true);
    acct.set_can_trade(false);
    let a = signed(&sim, "/api/v3/account", "", now_ms(), &k, &s).await;
    assert_eq!(
        (a.status, a.body["canTrade"].clone()),
        (200, Value::Bool(false))
    );
    acct.revoke();
    let a = signed(&sim, "/api/v3/account", "", now_ms(), &k, &s).await;
    assert_eq!((a.status, code(&a)), (401, -2015));
    assert_eq!(
        a.body["msg"],
        "Invalid API-key, IP, or permissions for action."
    );
}

#[tokio::test]
async fn the_timestamp_window_is_one_second_ahead_and_recv_window_behind() {
    let (sim, k, s) = one().await;
    let ok = signed(&sim, "/api/v3/account", "", now_ms() + 300, &k, &s).await;
    assert_eq!(ok.status, 200);
    let ahead = signed(&sim, "/api/v3/account", "", now_ms() + 1_500, &k, &s).await;
    assert_eq!((ahead.status, code(&ahead)), (400, -1021));
    assert!(ahead.body["msg"].as_str().unwrap().contains("ahead"));
    // Ahead by more than a second fails whatever the window.
    let ahead = signed(
        &sim,
        "/api/v3/account",
        "recvWindow=60000",
        now_ms() + 1_500,
        &k,
        &s,
    )
    .await;
    assert_eq!(code(&ahead), -1021);
    let behind = signed(&sim, "/api/v3/account", "", now_ms() - 6_000, &k, &s).await;
    assert_eq!(code(&behind), -1021);
    assert!(behind.body["msg"].as_str().unwrap().contains("recvWindow"));
    let wider = signed(
        &sim,
        "/api/v3/account",
        "recvWindow=10000",
        now_ms() - 6_000,
        &k,
        &s,
    )
    .await;
    assert_eq!(wider.status, 200, "{}", wider.body);
    let too_wide = signed(
        &sim,
        "/api/v3/account",
        "recvWindow=60001",
        now_ms(),
        &k,
        &s,
    )
    .await;
    assert_eq!(code(&too_wide), -1131);

    // A venue clock 10 s ahead: our own time is now too old, the venue's time is fine.
    sim.set_clock_offset_ms(10_000);
    let t = get(&format!("{}/api/v3/time", sim.url()), None).await;
    let server = t.body["serverTime"].as_i64().unwrap();
    assert!((server - now_ms() - 10_000).abs() < 2_000);
    let ours = signed(&sim, "/api/v3/account", "", now_ms(), &k, &s).await;
    assert_eq!(code(&ours), -1021);
    let venues = signed(&sim, "/api/v3/account", "", now_ms() + 10_000 - 200, &k, &s).await;
    assert_eq!(venues.status, 200);
}

#[tokio::test]
async fn past_the_weight_limit_it_answers_429_then_bans_with_418() {
    let (k, s) = demo_keys(1);
    let sim = BinanceSim::start_with(
        vec![BinanceAccountSpec::demo(k.clone(), s.clone())],
        BinanceSimOptions {
            weight_per_minute: 100,
            requests_after_429_before_ban: 3,
            ban_seconds: 120,
        },
        0,
    )
    .await
    .unwrap();
    clear_of_minute_edge().await;
    for i in 1..=5 {
        let a = signed(&sim, "/api/v3/account", "", now_ms(), &k, &s).await;
        assert_eq!((a.status, a.used_weight), (200, Some(20 * i)));
    }
    let limited = signed(&sim, "/api/v3/account", "", now_ms(), &k, &s).await;
    assert_eq!((limited.status, code(&limited)), (429, -1003));
    assert!(limited.retry_after.is_some_and(|r| (1..=60).contains(&r)));
    assert!(
        limited.body["msg"]
            .as_str()
            .unwrap()
            .contains("current limit is 100 request weight per 1 MINUTE")
    );
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get(&format!("{}/api/v3/ping", sim.url()), None).await);
    }
    let last = statuses.last().unwrap();
    assert_eq!((last.status, code(last)), (418, -1003));
    assert_eq!(last.retry_after, Some(120));
    assert!(
        last.body["msg"]
            .as_str()
            .unwrap()
            .contains("IP banned until")
    );
    assert!(sim.is_banned());
    assert_eq!(sim.answered_429(), 4);
    assert!(sim.answered_418() >= 1);
    // Every account behind the IP is banned, whatever it asks.
    let t = get(&format!("{}/api/v3/time", sim.url()), None).await;
    assert_eq!(t.status, 418);
}

#[tokio::test]
async fn books_need_their_symbols_and_faults_answer_as_binance_does() {
    let (k, s) = demo_keys(1);
    let mut spec = BinanceAccountSpec::demo(k.clone(), s.clone());
    spec.balances = vec![SimBalance::new("ETH", "2.5", "0.5")];
    let sim = BinanceSim::start(vec![spec]).await.unwrap();
    clear_of_minute_edge().await;
    let open = signed(&sim, "/api/v3/openOrders", "", now_ms(), &k, &s).await;
    assert_eq!((open.status, open.used_weight), (200, Some(80)));
    assert_eq!(open.body[0]["symbol"], "BTCUSDT");
    let open = signed(
        &sim,
        "/api/v3/openOrders",
        "symbol=ETHUSDT",
        now_ms(),
        &k,
        &s,
    )
    .await;
    assert_eq!(open.body, Value::Array(vec![]));
    assert_eq!(open.used_weight, Some(86));
    let trades = signed(
        &sim,
        "/api/v3/myTrades",
        "symbol=BTCUSDT&limit=10",
        now_ms(),
        &k,
        &s,
    )
    .await;
    assert_eq!(trades.body[0]["id"], 5_120_391_877_i64);
    let no_symbol = signed(&sim, "/api/v3/myTrades", "", now_ms(), &k, &s).await;
    assert_eq!((no_symbol.status, code(&no_symbol)), (400, -1102));
    let unlisted = signed(&sim, "/api/v3/myTrades", "symbol=USDTBTC", now_ms(), &k, &s).await;
    assert_eq!((unlisted.status, code(&unlisted)), (400, -1121));

    sim.set_fault(BinanceFault::GeoBlocked);
    let geo = get(&format!("{}/api/v3/time", sim.url()), None).await;
    assert_eq!((geo.status, code(&geo)), (451, 0));
    assert!(
        geo.body["msg"]
            .as_str()
            .unwrap()
            .contains("restricted location")
    );
    sim.set_fault(BinanceFault::Status500);
    assert_eq!(
        get(&format!("{}/api/v3/ping", sim.url()), None)
            .await
            .status,
        500
    );
    sim.set_fault(BinanceFault::Hang);
    let hung = reqwest::Client::new()
        .get(format!("{}/api/v3/ping", sim.url()))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
}
