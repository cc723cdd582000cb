//! The Binance connector: the reference's signing vector and JSON shapes, error classification,
//! the symbols trades are read for, and the HTTP path (clock sync, one resync on -1021, the
//! shared weight and bans) against tiny raw HTTP servers on 127.0.0.1 that write canned bytes.
//! Every network test is bounded by the 500 ms request timeout of [`config`].

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::decode::{self, classify_status};
use super::{Binance, MAX_TRADE_SYMBOLS, VENUE, signed_query};
use crate::connector::clock::wall_ms;
use crate::connector::transport::Transport;
use crate::connector::{
    Balance, BookKind, Connector, ConnectorConfig, FailureReason, Mode, Upstream, venue,
};
use crate::metrics::Metrics;
use crate::secret::{Credential, Secret};

const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const TIMEOUT: Duration = Duration::from_millis(500);

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The reference (alpaca-binance-api.md 3.2-3.6)

const ACCOUNT: &str = r#"{
  "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
  "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
  "canTrade": true, "canWithdraw": true, "canDeposit": true, "brokered": false,
  "requireSelfTradePrevention": false, "preventSor": false, "updateTime": 1764066912345,
  "accountType": "SPOT",
  "balances": [
    {"asset": "BTC",  "free": "0.01843100", "locked": "0.00000000"},
    {"asset": "USDT", "free": "1520.44810000", "locked": "250.00000000"},
    {"asset": "BNB",  "free": "0.31207411", "locked": "0.00000000"}
  ],
  "permissions": ["SPOT"], "uid": 354937868
}"#;

const OPEN_ORDERS: &str = r#"[{
  "symbol": "BTCUSDT", "orderId": 28154870921, "orderListId": -1, "clientOrderId": "roster-9d41e2",
  "price": "96000.00000000", "origQty": "0.00520000", "executedQty": "0.00200000",
  "cummulativeQuoteQty": "192.00000000", "status": "PARTIALLY_FILLED", "timeInForce": "GTC",
  "type": "LIMIT", "side": "BUY", "stopPrice": "0.00000000", "icebergQty": "0.00000000",
  "time": 1764064001117, "updateTime": 1764064015502, "isWorking": true,
  "workingTime": 1764064001117, "origQuoteOrderQty": "0.00000000",
  "selfTradePreventionMode": "EXPIRE_MAKER"
}]"#;

const MY_TRADES: &str = r#"[{
  "symbol": "BTCUSDT", "id": 5120391877, "orderId": 28154870921, "orderListId": -1,
  "price": "96000.00000000", "qty": "0.00520000", "quoteQty": "499.20000000",
  "commission": "0.00000520", "commissionAsset": "BTC", "time": 1764064015502,
  "isBuyer": true, "isMaker": true, "isBestMatch": true
}]"#;

#[test]
fn the_published_hmac_vector_signs_the_query_as_sent() {
    // rest-api.md "HMAC Keys": Binance's illustration key, not a credential.
    let q = signed_query(
        &[
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
        ],
        1_499_827_319_559,
        SECRET.as_bytes(),
    );
    assert_eq!(
        q,
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000\
         &timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    );
}

#[test]
fn the_venue_declares_its_fields_environments_and_books() {
    assert!(std::ptr::eq(venue("binance").unwrap(), &VENUE));
    assert_eq!(VENUE.field_names(), ["api_key", "secret_key"]);
    let hosts: Vec<_> = VENUE
        .environments
        .iter()
        .map(|e| (e.name, e.default_host))
        .collect();
    assert_eq!(
        hosts,
        [
            ("live", Some("https://api.binance.com")),
            ("testnet", Some("https://testnet.binance.vision")),
            ("demo", Some("https://demo-api.binance.com")),
        ]
    );
    assert!(VENUE.has(BookKind::Balances) && VENUE.has(BookKind::Orders));
    assert!(VENUE.has(BookKind::Trades));
    assert!(!VENUE.has(BookKind::Positions) && !VENUE.has(BookKind::Funds));
    assert_eq!(VENUE.default_environment(), "live");
}

#[test]
fn the_account_decodes_balances_per_asset_exactly() {
    let a = decode::account(200, ACCOUNT.as_bytes(), 100).unwrap();
    assert!(a.can_trade);
    assert_eq!(a.permissions, ["SPOT"]);
    assert_eq!(
        a.balances[1],
        Balance {
            asset: "USDT".into(),
            free: d("1520.4481"),
            locked: d("250"),
            total: d("1770.4481"),
        }
    );
    assert_eq!(a.balances.len(), 3);
    // Zero rows (without omitZeroBalances) are dropped; too many rows are refused.
    let zeros =
        r#"{"canTrade":false,"balances":[{"asset":"XRP","free":"0.00000000","locked":"0.0"}]}"#;
    let a = decode::account(200, zeros.as_bytes(), 100).unwrap();
    assert!(!a.can_trade && a.balances.is_empty());
    let e = decode::account(200, ACCOUNT.as_bytes(), 2).unwrap_err();
    assert_eq!(e.reason, FailureReason::BadResponse, "{e}");
    let huge = r#"{"canTrade":true,"balances":[{"asset":"BTC","free":"1e16","locked":"0"}]}"#;
    let e = decode::account(200, huge.as_bytes(), 10).unwrap_err();
    assert!(e.message.contains("balances[0].free"), "{e}");
    for bad in [
        "[]",
        "{}",
        r#"{"canTrade":"yes","balances":[]}"#,
        "not json",
    ] {
        let e = decode::account(200, bad.as_bytes(), 10).unwrap_err();
        assert_eq!(e.reason, FailureReason::BadResponse, "{bad}");
    }
}

#[test]
fn open_orders_and_fills_decode_with_their_quote_currency() {
    let book = decode::open_orders(200, OPEN_ORDERS.as_bytes(), 100, Mode::Live).unwrap();
    let o = &book.orders[0];
    assert_eq!(o.order_id, "28154870921");
    assert_eq!((o.symbol.as_str(), o.action.as_str()), ("BTCUSDT", "buy"));
    assert_eq!(o.status, "partially_filled");
    assert_eq!((o.quantity, o.price), (d("0.0052"), d("96000")));
    assert_eq!(o.filled_quantity, Some(d("0.002")));
    assert_eq!(o.pending_quantity, Some(d("0.0032")));
    assert_eq!(o.average_price, Some(d("96000")));
    assert_eq!(book.currency, "USDT");
    assert_eq!(book.statistics.total_open_orders, 1);
    // A negative cummulativeQuoteQty is "not available", not a price.
    let unknown = OPEN_ORDERS.replace("\"192.00000000\"", "\"-1.00000000\"");
    let book = decode::open_orders(200, unknown.as_bytes(), 100, Mode::Live).unwrap();
    assert_eq!(book.orders[0].average_price, None);

    let fills = decode::my_trades(200, MY_TRADES.as_bytes(), 100).unwrap();
    assert_eq!(fills[0].trade_id, "5120391877");
    assert_eq!(fills[0].trade_value, d("499.2"));
    assert_eq!(fills[0].action, "buy");
    let book = decode::trade_book(fills, Mode::Paper);
    assert_eq!((book.currency.as_str(), book.mode), ("USDT", Mode::Paper));
    assert_eq!(
        decode::book_currency(["BTCUSDT", "ETHBTC"].into_iter()),
        "MIXED"
    );
}

#[test]
fn error_answers_map_to_their_reasons_with_the_code_and_message_kept() {
    let cases = [
        (
            401,
            r#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action, request ip: 1.2.3.4"}"#,
            FailureReason::AuthRejected,
            "-2015",
        ),
        (
            401,
            r#"{"code":-2014,"msg":"API-key format invalid."}"#,
            FailureReason::AuthRejected,
            "-2014",
        ),
        (
            400,
            r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#,
            FailureReason::AuthRejected,
            "-1022",
        ),
        (
            400,
            r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#,
            FailureReason::ClockSkew,
            "-1021",
        ),
        (
            401,
            r#"{"code":-1002,"msg":"You are not authorized to execute this request."}"#,
            FailureReason::PermissionDenied,
            "-1002",
        ),
        (
            418,
            r#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1764067267112."}"#,
            FailureReason::IpBanned,
            "banned until",
        ),
        (
            429,
            r#"{"code":-1003,"msg":"Too much request weight used"}"#,
            FailureReason::RateLimited,
            "-1003",
        ),
        (
            451,
            r#"{"code":0,"msg":"Service unavailable from a restricted location"}"#,
            FailureReason::IpBanned,
            "restricted location",
        ),
        (403, "<html>WAF</html>", FailureReason::RateLimited, "WAF"),
        (502, "bad gateway", FailureReason::Http5xx, "502"),
        (
            404,
            r#"{"code":-1100,"msg":"x"}"#,
            FailureReason::BadResponse,
            "-1100",
        ),
    ];
    for (status, body, reason, kept) in cases {
        let e = classify_status("account", status, body.as_bytes());
        assert_eq!(e.reason, reason, "{status} {body}: {e}");
        assert!(e.message.contains(kept), "{e}");
        assert_eq!(e.http_status, Some(status));
    }
}

#[test]
fn trades_read_open_order_symbols_then_balances_against_usdt_then_btc_bounded() {
    let a = decode::account(200, ACCOUNT.as_bytes(), 100).unwrap();
    let symbols = Binance::trade_symbols(&["ETHBTC".into()], &a);
    assert_eq!(symbols, ["ETHBTC", "BTCUSDT", "BNBUSDT", "BNBBTC"]);
    let many: Vec<String> = (0..10).map(|i| format!("A{i}USDT")).collect();
    assert_eq!(Binance::trade_symbols(&many, &a).len(), MAX_TRADE_SYMBOLS);
}

// ---------------------------------------------------------------------------------------------
// Over HTTP

fn config() -> ConnectorConfig {
    ConnectorConfig {
        request_timeout: TIMEOUT,
        connect_timeout: Duration::from_millis(200),
        max_response_bytes: 64 * 1024,
        user_agent: "rosterd-test".into(),
        max_rows_per_book: 1000,
        ..Default::default()
    }
}

fn binance() -> Binance {
    let transport = Transport::new(config(), Arc::new(Metrics::new())).unwrap();
    Binance::new(Arc::new(transport)).unwrap()
}

fn upstream(url: &str) -> Upstream {
    let credential = Credential::new([
        ("api_key".to_string(), Secret::new(API_KEY)),
        ("secret_key".to_string(), Secret::new(SECRET)),
    ]);
    Upstream::new("acct-1", url, credential).in_environment("testnet")
}

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

/// A server on 127.0.0.1 answering each request (one per connection) with `answer(head)`:
/// (status line, extra headers, body). Returns its URL and the request heads.
async fn serve(
    answer: impl Fn(&str) -> (&'static str, String, String) + Send + Sync + 'static,
) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (tx, answer) = (tx.clone(), answer.clone());
            tokio::spawn(async move {
                let head = read_head(&mut stream).await;
                let (status, headers, body) = answer(&head);
                let _ = tx.send(head);
                let bytes = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json;charset=UTF-8\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(bytes.as_bytes()).await;
                let _ = stream.shutdown().await;
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

fn time_body(offset_ms: i64) -> String {
    format!(r#"{{"serverTime":{}}}"#, wall_ms() + offset_ms)
}

#[tokio::test]
async fn a_check_syncs_the_clock_then_sends_a_signed_account_request() {
    let (url, mut rx) = serve(|head| {
        if head.starts_with("GET /api/v3/time") {
            (
                "200 OK",
                "X-MBX-USED-WEIGHT-1M: 1\r\n".into(),
                time_body(10_000),
            )
        } else {
            (
                "200 OK",
                "X-MBX-USED-WEIGHT-1M: 21\r\n".into(),
                ACCOUNT.into(),
            )
        }
    })
    .await;
    let b = binance();
    let up = upstream(&url);
    let v = b.check(&up, false).await.unwrap();
    assert_eq!(v.broker.as_deref(), Some("binance"));
    assert_eq!(v.mode, Some(Mode::Paper));
    assert!(v.restricted.is_none());
    let hs = heads(&mut rx);
    assert_eq!(hs.len(), 2, "{hs:?}");
    assert!(hs[0].starts_with("GET /api/v3/time "), "{}", hs[0]);
    let account = &hs[1];
    assert!(
        account.starts_with("GET /api/v3/account?omitZeroBalances=true&recvWindow=5000&timestamp=")
    );
    assert!(
        account
            .to_ascii_lowercase()
            .contains(&format!("x-mbx-apikey: {}", API_KEY.to_ascii_lowercase()))
    );
    // The timestamp is the venue's clock (10 s ahead of ours), and the signature is over exactly
    // the query before it.
    let query = account
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split_once('?')
        .unwrap()
        .1;
    let (signed, signature) = query.rsplit_once("&signature=").unwrap();
    let ts: i64 = signed.rsplit_once("timestamp=").unwrap().1.parse().unwrap();
    assert!((ts - wall_ms() - 10_000).abs() < 2_000, "{ts}");
    let expect = crate::connector::sign::to_hex(&crate::connector::sign::hmac_sha256(
        SECRET.as_bytes(),
        signed.as_bytes(),
    ));
    assert_eq!(signature, expect);
    assert!(!account.contains(SECRET));
    // A second check reuses the clock sample.
    b.check(&up, false).await.unwrap();
    assert_eq!(heads(&mut rx).len(), 1);
}

#[tokio::test]
async fn a_timestamp_refusal_resyncs_once_and_a_second_is_clock_skew() {
    let refusals = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(AtomicUsize::new(0));
    let (r, t) = (refusals.clone(), times.clone());
    let (url, _rx) = serve(move |head| {
        if head.starts_with("GET /api/v3/time") {
            t.fetch_add(1, Ordering::SeqCst);
            return ("200 OK", String::new(), time_body(0));
        }
        if r.fetch_add(1, Ordering::SeqCst) < 1 {
            let skew = r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#;
            ("400 Bad Request", String::new(), skew.into())
        } else {
            ("200 OK", String::new(), ACCOUNT.into())
        }
    })
    .await;
    let b = binance();
    let up = upstream(&url);
    b.check(&up, false).await.unwrap();
    assert_eq!(times.load(Ordering::SeqCst), 2, "one sync, one resync");

    let (url, _rx) = serve(move |head| {
        if head.starts_with("GET /api/v3/time") {
            return ("200 OK", String::new(), time_body(0));
        }
        let skew = r#"{"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the server's time."}"#;
        ("400 Bad Request", String::new(), skew.into())
    })
    .await;
    let e = b.check(&upstream(&url), false).await.unwrap_err();
    assert_eq!(e.error.reason, FailureReason::ClockSkew, "{:?}", e.error);
    assert!(e.error.message.contains("-1021"), "{}", e.error.message);
}

#[tokio::test]
async fn a_ban_on_one_account_is_reported_on_every_account_without_sending() {
    let (url, mut rx) = serve(|head| {
        if head.starts_with("GET /api/v3/time") {
            ("200 OK", String::new(), time_body(0))
        } else {
            (
                "418 I'm a teapot",
                "Retry-After: 120\r\n".into(),
                r#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1."}"#
                    .into(),
            )
        }
    })
    .await;
    let b = binance();
    let e = b.check(&upstream(&url), false).await.unwrap_err();
    assert_eq!(e.error.reason, FailureReason::IpBanned);
    let sent = heads(&mut rx).len();
    let mut other = upstream(&url);
    other.account_id = "acct-2".into();
    let e = b.check(&other, false).await.unwrap_err();
    assert_eq!(e.error.reason, FailureReason::IpBanned, "{}", e.error);
    assert!(e.error.message.contains("no Binance call is sent until"));
    assert!(
        heads(&mut rx).is_empty(),
        "nothing sent in a ban (after {sent})"
    );
}

#[tokio::test]
async fn can_trade_false_is_up_but_restricted_and_echoed_keys_are_scrubbed() {
    let body = ACCOUNT
        .replace("\"canTrade\": true", "\"canTrade\": false")
        .replace("\"SPOT\"]", &format!("\"SPOT\", \"{SECRET}\"]"));
    let (url, _rx) = serve(move |head| {
        if head.starts_with("GET /api/v3/time") {
            ("200 OK", String::new(), time_body(0))
        } else {
            ("200 OK", String::new(), body.clone())
        }
    })
    .await;
    let v = binance().check(&upstream(&url), false).await.unwrap();
    let r = v.restricted.expect("restricted");
    assert_eq!(r.reason, FailureReason::AccountRestricted);
    assert!(r.message.contains("canTrade is false"), "{}", r.message);
    assert!(!r.message.contains(SECRET), "{}", r.message);
}

#[tokio::test]
async fn trades_skip_symbols_binance_does_not_list() {
    let (url, mut rx) = serve(|head| {
        let path = head.split_whitespace().nth(1).unwrap_or("");
        if path.starts_with("/api/v3/time") {
            ("200 OK", String::new(), time_body(0))
        } else if path.starts_with("/api/v3/account") {
            ("200 OK", String::new(), ACCOUNT.into())
        } else if path.starts_with("/api/v3/openOrders") {
            ("200 OK", String::new(), OPEN_ORDERS.into())
        } else if path.contains("symbol=BTCUSDT") {
            ("200 OK", String::new(), MY_TRADES.into())
        } else {
            (
                "400 Bad Request",
                String::new(),
                r#"{"code":-1121,"msg":"Invalid symbol."}"#.into(),
            )
        }
    })
    .await;
    let book = binance().trades(&upstream(&url)).await.unwrap();
    assert_eq!(book.trades.len(), 1);
    assert_eq!(book.trades[0].symbol, "BTCUSDT");
    let symbols: Vec<String> = heads(&mut rx)
        .iter()
        .filter(|h| h.contains("/api/v3/myTrades"))
        .map(|h| {
            h.split("symbol=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(symbols.len(), 3, "{symbols:?}");
    assert!(symbols.contains(&"BNBBTC".to_owned()));
}
