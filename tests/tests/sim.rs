//! Self-tests of the OpenAlgo simulator: response shapes against the reference fixtures (copied
//! below, because the reference lives outside the repository), error shapes, rate limiting, every
//! fault, the TCP fault helpers and scale. Loopback only; every client has a timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use roster_tests::sim::{
    Fault, Funds, InstanceHandle, InstanceSpec, Mode, NumberStyle, SimConfig, Simulator, blackhole,
    trickle_server,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

// ---- Reference fixtures: the recorded answers the connector's tests decode (one copy, in
// tests/fixtures/openalgo/). The three *_DOCS books are the first rows of the docs' fixtures, the
// shape a simulator configured with one row answers.

const PING_SUCCESS: &str = include_str!("../fixtures/openalgo/ping.success.200.json");
const FUNDS_LIVE: &str = include_str!("../fixtures/openalgo/funds.live.200.json");
const FUNDS_ANALYZE: &str = include_str!("../fixtures/openalgo/funds.analyze.200.json");
const FUNDS_SESSION_EXPIRED: &str =
    include_str!("../fixtures/openalgo/funds.session_expired.200.json");
const POSITIONS_STRINGS: &str =
    include_str!("../fixtures/openalgo/positionbook.docs_strings.200.json");
const POSITIONS_ZERODHA: &str =
    include_str!("../fixtures/openalgo/positionbook.zerodha_mixed.200.json");
const POSITIONS_ANALYZE_EMPTY: &str =
    include_str!("../fixtures/openalgo/positionbook.analyze_empty.200.json");
const ORDERBOOK_DOCS: &str = r#"{"status":"success","data":{"orders":[{"action":"BUY","symbol":"RELIANCE","exchange":"NSE","orderid":"250408000989443","product":"MIS","quantity":"1","price":1186.0,"pricetype":"MARKET","order_status":"complete","trigger_price":0.0,"timestamp":"08-Apr-2025 13:58:03"}],"statistics":{"total_buy_orders":2.0,"total_sell_orders":0.0,"total_completed_orders":1.0,"total_open_orders":0.0,"total_rejected_orders":0.0}}}"#;
const ORDERBOOK_ANALYZE: &str = include_str!("../fixtures/openalgo/orderbook.analyze.200.json");
const TRADEBOOK_DOCS: &str = r#"{"status":"success","data":[{"action":"BUY","symbol":"RELIANCE","exchange":"NSE","orderid":"250408000989443","product":"MIS","quantity":0.0,"average_price":1180.1,"timestamp":"13:58:03","trade_value":1180.1}]}"#;
const TRADEBOOK_ANALYZE_EMPTY: &str =
    include_str!("../fixtures/openalgo/tradebook.analyze_empty.200.json");
const HOLDINGS_DOCS: &str = r#"{"status":"success","data":{"holdings":[{"symbol":"RELIANCE","exchange":"NSE","product":"CNC","quantity":1,"pnl":-149.0,"pnlpercent":-11.1}],"statistics":{"totalholdingvalue":1768.0,"totalinvvalue":2001.0,"totalprofitandloss":-233.15,"totalpnlpercentage":-11.65}}}"#;
const HOLDINGS_ANALYZE_EMPTY: &str =
    include_str!("../fixtures/openalgo/holdings.analyze_empty.200.json");
const ANALYZER_STATUS: &str = include_str!("../fixtures/openalgo/analyzer.status.200.json");
const GET_ON_POST_404: &str = include_str!("../fixtures/openalgo/any.get_on_post_route.404.json");
const INVALID_KEY_403: &str = include_str!("../fixtures/openalgo/any.invalid_apikey.403.json");
const MALFORMED_400: &str = include_str!("../fixtures/openalgo/any.malformed_json.400.json");
const MISSING_KEY_400: &str = include_str!("../fixtures/openalgo/ping.missing_apikey.400.json");
const UNEXPECTED_500: &str = include_str!("../fixtures/openalgo/any.unexpected.500.json");
const IP_BANNED: &str = include_str!("../fixtures/openalgo/any.ip_banned.403.txt");

const KEY: &str = "k3y-0f-the-account";

fn v(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// Structure with leaves replaced by their JSON type; arrays reduced to their first element.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(n) if n.is_f64() => json!("float"),
        Value::Number(_) => json!("int"),
        Value::String(_) => json!("string"),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), shape(x))).collect()),
    }
}

/// Only the key structure (leaf types erased).
fn keys(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.first().map(keys).into_iter().collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), keys(x))).collect()),
        _ => json!("_"),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

struct Reply {
    status: StatusCode,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
}

async fn post_with(c: &reqwest::Client, h: &InstanceHandle, endpoint: &str, body: &Value) -> Reply {
    let r = c
        .post(format!("{}/api/v1/{endpoint}", h.url()))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        headers,
        text: r.text().await.unwrap(),
    }
}

async fn post(h: &InstanceHandle, endpoint: &str) -> Reply {
    post_with(&client(), h, endpoint, &json!({ "apikey": KEY })).await
}

fn spec(style: NumberStyle, mode: Mode) -> InstanceSpec {
    InstanceSpec {
        number_style: style,
        mode,
        ..InstanceSpec::demo(format!("{style:?}-{mode:?}"), KEY)
    }
}

async fn one(spec: InstanceSpec) -> (Simulator, InstanceHandle) {
    let sim = Simulator::start(vec![spec]).await.unwrap();
    let h = sim.instance(0);
    (sim, h)
}

// ---- Shapes ----

#[tokio::test]
async fn a_wsgi_framed_instance_answers_the_same_bytes_on_a_kept_alive_connection() {
    let whole = one(InstanceSpec::demo("w", KEY)).await;
    let wsgi = one(InstanceSpec {
        framing: roster_tests::sim::Framing::Wsgi,
        ..InstanceSpec::demo("w", KEY)
    })
    .await;
    // One client: the second and third answers come over the kept-alive connection, each again
    // as headers then body.
    let c = client();
    for endpoint in ["ping", "funds", "orderbook"] {
        let a = post_with(&c, &whole.1, endpoint, &json!({ "apikey": KEY })).await;
        let b = post_with(&c, &wsgi.1, endpoint, &json!({ "apikey": KEY })).await;
        assert_eq!((a.status, a.text), (b.status, b.text), "{endpoint}");
    }
    assert_eq!(wsgi.1.connections_accepted(), 1);
}

#[tokio::test]
async fn ping_and_analyzer_match_fixtures_exactly() {
    let (_sim, h) = one(InstanceSpec::demo("a", KEY)).await;
    let r = post(&h, "ping").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.json(), v(PING_SUCCESS));
    // jsonify output: compact, sorted keys (serde_json's map is sorted), trailing newline.
    let jsonify = serde_json::to_string(&v(PING_SUCCESS)).unwrap();
    assert_eq!(r.text, format!("{jsonify}\n"));
    assert_eq!(post(&h, "analyzer").await.json(), v(ANALYZER_STATUS));
    // Trailing slash works too.
    let r = post(&h, "ping/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), v(PING_SUCCESS));
    // Health endpoint needs no key.
    let r = client()
        .get(format!("{}/health/status", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "pass");
}

#[tokio::test]
async fn live_shapes_per_number_style() {
    for style in [
        NumberStyle::Strings,
        NumberStyle::Mixed,
        NumberStyle::Floats,
    ] {
        let (_sim, h) = one(spec(style, Mode::Live)).await;
        let funds = post(&h, "funds").await.json();
        let pos = post(&h, "positionbook").await.json();
        let ob = post(&h, "orderbook").await.json();
        let tb = post(&h, "tradebook").await.json();
        let hold = post(&h, "holdings").await.json();
        // Live funds are 2-dp strings for every broker.
        assert_eq!(shape(&funds), shape(&v(FUNDS_LIVE)), "{style:?}");
        assert_eq!(funds, v(FUNDS_LIVE), "{style:?}");
        for (body, fixture) in [
            (&pos, POSITIONS_STRINGS),
            (&ob, ORDERBOOK_DOCS),
            (&tb, TRADEBOOK_DOCS),
        ] {
            assert_eq!(keys(body), keys(&v(fixture)), "{style:?}");
            assert!(body.get("mode").is_none());
        }
        match style {
            NumberStyle::Strings => {
                assert_eq!(pos, v(POSITIONS_STRINGS), "docs values passed through");
                assert_eq!(shape(&ob), shape(&v(ORDERBOOK_DOCS)));
                assert_eq!(ob["data"]["orders"][0]["price"], json!(1186.0));
                assert_eq!(
                    hold["data"]["holdings"][0],
                    v(HOLDINGS_DOCS)["data"]["holdings"][0]
                );
                assert_eq!(shape(&hold), shape(&v(HOLDINGS_DOCS)));
                assert_eq!(tb["data"][0]["quantity"], json!("1"));
            }
            NumberStyle::Mixed => {
                assert_eq!(shape(&pos), shape(&v(POSITIONS_ZERODHA)));
                assert_eq!(pos["data"][0], v(POSITIONS_ZERODHA)["data"][0]);
                assert_eq!(ob["data"]["orders"][0]["quantity"], json!(1));
                // Current service code: MARKET price forced to 0.0, statistics as ints.
                assert_eq!(ob["data"]["orders"][0]["price"], json!(0.0));
                assert_eq!(ob["data"]["statistics"]["total_buy_orders"], json!(2));
                // Zerodha adds average_price to holdings.
                let mut k = keys(&v(HOLDINGS_DOCS));
                k["data"]["holdings"][0]["average_price"] = json!("_");
                assert_eq!(keys(&hold), k);
                assert_eq!(tb["data"][0]["quantity"], json!(1));
            }
            NumberStyle::Floats => {
                let row = &pos["data"][0];
                for f in ["quantity", "average_price", "ltp", "pnl"] {
                    assert!(row[f].is_f64(), "{f} should be a float: {row}");
                }
                assert_eq!(shape(&tb), shape(&v(TRADEBOOK_DOCS)));
                assert_eq!(shape(&hold), shape(&v(HOLDINGS_DOCS)));
            }
        }
        assert_eq!(
            ob["data"]["statistics"]["total_completed_orders"].as_f64(),
            Some(1.0)
        );
        assert_eq!(tb["data"][0]["trade_value"], json!(1180.1));
    }
}

#[tokio::test]
async fn analyze_mode_shapes() {
    let (_sim, h) = one(spec(NumberStyle::Mixed, Mode::Analyze)).await;
    let funds = post(&h, "funds").await.json();
    assert_eq!(shape(&funds), shape(&v(FUNDS_ANALYZE)));
    assert_eq!(funds["data"]["availablecash"], json!(320.66));
    let ob = post(&h, "orderbook").await.json();
    assert_eq!(shape(&ob), shape(&v(ORDERBOOK_ANALYZE)));
    let pos = post(&h, "positionbook").await.json();
    let mut top = keys(&pos);
    top["data"] = json!([]);
    assert_eq!(top, keys(&v(POSITIONS_ANALYZE_EMPTY)));
    let row = pos["data"][0].as_object().unwrap();
    for k in [
        "pnlpercent",
        "unrealized_pnl",
        "today_realized_pnl",
        "total_pnl_today",
        "lot_size",
    ] {
        assert!(row.contains_key(k), "{k} missing in {row:?}");
    }
    assert!(row["quantity"].is_i64());
    for e in ["tradebook", "holdings"] {
        assert_eq!(post(&h, e).await.json()["mode"], "analyze");
    }
    // ping and analyzer never carry mode.
    assert_eq!(post(&h, "ping").await.json(), v(PING_SUCCESS));
    let st = post(&h, "analyzer").await.json();
    assert!(st.get("mode").is_none());
    assert_eq!(st["data"]["analyze_mode"], true);
    assert_eq!(st["data"]["mode"], "analyze");

    // Empty sandbox books are byte-for-byte the observed ones.
    h.set_positions(vec![]).unwrap();
    h.set_trades(vec![]).unwrap();
    h.set_holdings(vec![]).unwrap();
    h.set_funds(Funds {
        available_cash: "10000000".into(),
        ..Funds::default()
    })
    .unwrap();
    assert_eq!(
        post(&h, "positionbook").await.json(),
        v(POSITIONS_ANALYZE_EMPTY)
    );
    assert_eq!(
        post(&h, "tradebook").await.json(),
        v(TRADEBOOK_ANALYZE_EMPTY)
    );
    assert_eq!(post(&h, "holdings").await.json(), v(HOLDINGS_ANALYZE_EMPTY));
    let mut f = post(&h, "funds").await.json();
    let mut want = v(FUNDS_ANALYZE);
    f["data"]["last_reset"] = json!("");
    want["data"]["last_reset"] = json!("");
    assert_eq!(f, want);

    // Toggle back to live through the API.
    let r = post_with(
        &client(),
        &h,
        "analyzer/toggle",
        &json!({"apikey": KEY, "mode": false}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["data"]["message"],
        "Analyzer mode switched to live"
    );
    assert_eq!(h.mode(), Mode::Live);
    assert!(post(&h, "funds").await.json().get("mode").is_none());
}

// ---- Error shapes ----

#[tokio::test]
async fn error_shapes() {
    let (_sim, h) = one(InstanceSpec::demo("e", KEY)).await;
    let c = client();
    // Wrong key.
    let r = post_with(&c, &h, "funds", &json!({"apikey": "nope"})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json(), v(INVALID_KEY_403));
    // GET on a POST route.
    let r = c
        .get(format!("{}/api/v1/ping", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap(), v(GET_ON_POST_404));
    // Unknown endpoint is the same 404 with its path.
    let r = post(&h, "nosuch").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["path"], "/api/v1/nosuch");
    // Malformed JSON: flask-restx body, no status key.
    let r = c
        .post(format!("{}/api/v1/ping", h.url()))
        .header("content-type", "application/json")
        .body("{\"apikey\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap(), v(MALFORMED_400));
    // Missing apikey: message is an object.
    let r = post_with(&c, &h, "ping", &json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), v(MISSING_KEY_400));
    // Analyzer schema errors are a Python repr string.
    let r = post_with(&c, &h, "analyzer/toggle", &json!({"apikey": KEY})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "{'mode': ['Missing data for required field.']}"
    );
    // Form-encoded body: the catch-all 500.
    let r = c
        .post(format!("{}/api/v1/ping", h.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("apikey={KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.json::<Value>().await.unwrap(), v(UNEXPECTED_500));
    assert_eq!(h.request_count("ping"), 4);
    assert_eq!(h.request_count("funds"), 1);
    assert_eq!(h.total_requests(), 7);
}

#[tokio::test]
async fn rate_limit_moving_window() {
    // Default budget: 10 per second per endpoint.
    let (_sim, h) = one(InstanceSpec::demo("r", KEY)).await;
    let c = client();
    let body = json!({ "apikey": KEY });
    for i in 0..10 {
        assert_eq!(
            post_with(&c, &h, "ping", &body).await.status,
            200,
            "request {i}"
        );
    }
    let r = post_with(&c, &h, "ping", &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.text, "{\"message\": \"10 per 1 second\"}\n");
    assert!(r.json().get("status").is_none());
    assert!(r.headers.get("retry-after").is_none());
    // Separate bucket per endpoint.
    assert_eq!(post_with(&c, &h, "funds", &body).await.status, 200);

    // Configurable, and the window moves.
    h.set_rate_limit_per_second(3);
    for _ in 0..3 {
        assert_eq!(post_with(&c, &h, "funds", &body).await.status, 200);
    }
    let r = post_with(&c, &h, "funds", &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json(), json!({"message": "3 per 1 second"}));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(post_with(&c, &h, "funds", &body).await.status, 200);
}

// ---- Session expiry ----

#[tokio::test]
async fn session_expired_flag_and_fault() {
    let (_sim, h) = one(InstanceSpec::demo("s", KEY)).await;
    for how in ["flag", "fault"] {
        if how == "flag" {
            h.set_session_expired(true);
        } else {
            h.set_fault(Fault::SessionExpired);
        }
        assert_eq!(post(&h, "ping").await.json(), v(PING_SUCCESS), "{how}");
        let r = post(&h, "funds").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), v(FUNDS_SESSION_EXPIRED), "{how}");
        for e in ["positionbook", "orderbook", "tradebook", "holdings"] {
            let r = post(&h, e).await;
            assert_eq!(r.status, 500, "{how} {e}");
            assert_eq!(r.json()["status"], "error");
            assert!(r.json()["message"].is_string());
        }
        h.set_session_expired(false);
        h.clear_fault();
        assert_eq!(post(&h, "funds").await.json(), v(FUNDS_LIVE));
    }
}

// ---- Faults ----

#[tokio::test]
async fn simple_faults() {
    let (_sim, h) = one(InstanceSpec::demo("f", KEY)).await;
    h.set_rate_limit_per_second(0);

    h.set_fault(Fault::Http500);
    let r = post(&h, "ping").await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::INTERNAL_SERVER_ERROR, v(UNEXPECTED_500))
    );

    h.set_fault(Fault::InvalidKey403);
    let r = post(&h, "funds").await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::FORBIDDEN, v(INVALID_KEY_403))
    );

    h.set_fault(Fault::IpBanned);
    let r = post(&h, "funds").await;
    assert_eq!(r.status, 403);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    assert_eq!(r.text, IP_BANNED);

    h.set_fault(Fault::RateLimited);
    let r = post(&h, "ping").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json(), json!({"message": "0 per 1 second"}));

    h.set_fault(Fault::MalformedJson);
    let r = post(&h, "funds").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    assert!(
        serde_json::from_str::<Value>(&r.text).is_err(),
        "{}",
        r.text
    );
    assert!(FUNDS_LIVE.len() > r.text.len());

    h.set_fault(Fault::HugeBody { bytes: 5_000_000 });
    let r = post(&h, "funds").await;
    assert_eq!(r.status, 200);
    assert!(r.text.len() >= 5_000_000);
    let j = r.json();
    assert_eq!(j["data"], v(FUNDS_LIVE)["data"]);

    h.set_fault(Fault::Latency(Duration::from_millis(300)));
    let t = Instant::now();
    assert_eq!(post(&h, "ping").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Per-endpoint fault wins over the instance-wide one.
    h.clear_fault();
    h.set_endpoint_fault("funds", Fault::Http500).unwrap();
    assert_eq!(post(&h, "funds").await.status, 500);
    assert_eq!(post(&h, "ping").await.status, 200);
    assert!(h.set_endpoint_fault("bogus", Fault::Hang).is_err());
    h.clear_endpoint_faults();
    assert_eq!(post(&h, "funds").await.status, 200);
}

#[tokio::test]
async fn hang_and_slow_body() {
    let (_sim, h) = one(InstanceSpec::demo("h", KEY)).await;
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let body = json!({ "apikey": KEY });

    h.set_fault(Fault::Hang);
    let t = Instant::now();
    let err = short
        .post(format!("{}/api/v1/ping", h.url()))
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(2));
    // The request was read before hanging.
    assert_eq!(h.request_count("ping"), 1);
    h.clear_fault();
    assert_eq!(post(&h, "ping").await.status, 200);

    // Slow body: headers arrive at once, the body takes ~len/rate.
    h.set_fault(Fault::SlowBody { bytes_per_sec: 200 });
    let t = Instant::now();
    let r = client()
        .post(format!("{}/api/v1/funds", h.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers_at = t.elapsed();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let total = t.elapsed();
    assert!(headers_at < Duration::from_millis(300), "{headers_at:?}");
    assert!(total >= Duration::from_millis(500), "{total:?}");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v(FUNDS_LIVE));
    // A 300 ms client gives up mid-body.
    let r = short
        .post(format!("{}/api/v1/funds", h.url()))
        .json(&body)
        .send()
        .await;
    let failed = match r {
        Err(e) => e.is_timeout(),
        Ok(r) => r.text().await.is_err(),
    };
    assert!(failed);
}

#[tokio::test]
async fn connection_refused_and_rebind_same_port() {
    let (_sim, h) = one(InstanceSpec::demo("c", KEY)).await;
    let c = client();
    let body = json!({ "apikey": KEY });
    let port = h.port();
    // Warm a pooled keep-alive connection: the fault must kill it too.
    assert_eq!(post_with(&c, &h, "ping", &body).await.status, 200);

    h.set_fault(Fault::ConnectionRefused);
    tokio::time::timeout(Duration::from_secs(5), h.settle())
        .await
        .unwrap();
    let e = tokio::net::TcpStream::connect(h.addr()).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    let e = c
        .post(format!("{}/api/v1/ping", h.url()))
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect() || e.is_request(), "{e:?}");

    h.clear_fault();
    tokio::time::timeout(Duration::from_secs(5), h.settle())
        .await
        .unwrap();
    assert_eq!(h.port(), port);
    assert_eq!(post_with(&c, &h, "ping", &body).await.status, 200);
}

// ---- TLS ----

/// `start_https`: the same answers and faults over TLS with a certificate for 127.0.0.1 and
/// localhost from the simulator's CA; a client that does not trust the CA fails its handshake and
/// never reaches HTTP; the counters tell a kept-alive connection from new ones.
#[tokio::test]
async fn https_instances_answer_verify_and_count_handshakes() {
    let sim = Simulator::start_https(vec![InstanceSpec::demo("tls", KEY)])
        .await
        .unwrap();
    let h = sim.instance(0);
    assert!(h.is_https());
    assert_eq!(h.url(), format!("https://127.0.0.1:{}", h.port()));
    let ca = sim.ca_pem().expect("an https simulator has a CA");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let trusting = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let body = json!({ "apikey": KEY });

    // Three requests, one connection, one handshake.
    for _ in 0..3 {
        let r = post_with(&trusting, &h, "ping", &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json(), v(PING_SUCCESS));
    }
    assert_eq!((h.connections_accepted(), h.tls_handshakes()), (1, 1));
    assert_eq!(h.request_count("ping"), 3);

    // The certificate also names localhost (a new origin, so a new connection).
    let r = trusting
        .post(format!("https://localhost:{}/api/v1/funds", h.port()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(h.tls_handshakes(), 2);

    // Faults apply over TLS as over http.
    h.set_fault(Fault::Http500);
    let r = post_with(&trusting, &h, "ping", &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (500, v(UNEXPECTED_500)));
    h.clear_fault();

    // The platform's roots do not include a CA made a moment ago: the handshake fails, the
    // connection was accepted, and no request arrives.
    let requests = h.total_requests();
    let accepted = h.connections_accepted();
    let e = client()
        .post(format!("{}/api/v1/ping", h.url()))
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e:?}");
    assert_eq!(h.connections_accepted(), accepted + 1);
    assert_eq!(h.tls_handshakes(), 2);
    assert_eq!(h.total_requests(), requests);

    // The plain default is unchanged.
    let (plain_sim, p) = one(InstanceSpec::demo("plain", KEY)).await;
    assert!(plain_sim.ca_pem().is_none() && !p.is_https());
    assert_eq!(p.url(), format!("http://127.0.0.1:{}", p.port()));
    assert_eq!(post(&p, "ping").await.status, 200);
    assert_eq!((p.connections_accepted(), p.tls_handshakes()), (1, 0));
}

// ---- Recording ----

#[tokio::test]
async fn received_shows_key_only_in_body() {
    let (_sim, h) = one(InstanceSpec::demo("rec", KEY)).await;
    assert_eq!(post(&h, "funds").await.status, 200);
    let got = h.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/v1/funds");
    assert_eq!(r.query, None);
    assert_eq!(r.endpoint.as_deref(), Some("funds"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body_json().unwrap()["apikey"], KEY);
    assert!(!r.leaks_outside_body(KEY));
    // The helper does catch a leak.
    client()
        .post(format!("{}/api/v1/ping?apikey={KEY}", h.url()))
        .header("x-api-key", KEY)
        .json(&json!({ "apikey": KEY }))
        .send()
        .await
        .unwrap();
    let last = h.received().pop().unwrap();
    assert_eq!(last.query.as_deref(), Some(&*format!("apikey={KEY}")));
    assert!(last.leaks_outside_body(KEY));
    h.reset_requests();
    assert!(h.received().is_empty());
    assert_eq!(h.total_requests(), 0);
}

// ---- TCP helpers ----

#[tokio::test]
async fn blackhole_and_trickle_helpers() {
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (addr, bh) = blackhole().await.unwrap();
    let e = short
        .post(format!("http://{addr}/api/v1/ping"))
        .json(&json!({"apikey": KEY}))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(bh.accepted(), 1);

    let (addr, _tr) = trickle_server(200).await.unwrap();
    let e = short
        .post(format!("http://{addr}/api/v1/ping"))
        .json(&json!({"apikey": KEY}))
        .send()
        .await;
    assert!(e.is_err());
    let t = Instant::now();
    let r = client()
        .post(format!("http://{addr}/api/v1/ping"))
        .json(&json!({"apikey": KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), v(PING_SUCCESS));
    assert!(t.elapsed() >= Duration::from_millis(500));
    drop(bh);
}

#[tokio::test]
async fn trader_fields_render_only_when_set_in_live_mode_and_always_in_the_sandbox() {
    for (style, price, qty) in [
        (NumberStyle::Strings, json!("1180.10"), json!("1")),
        (NumberStyle::Mixed, json!(1180.1), json!(1)),
        (NumberStyle::Floats, json!(1180.1), json!(1.0)),
    ] {
        let mut spec = spec(style, Mode::Live);
        spec.orders[0].average_price = "1180.10".into();
        spec.orders[0].filled_quantity = "1".into();
        spec.orders[1].rejection_reason = "RMS: blocked".into();
        spec.trades[0].tradeid = "T-1".into();
        spec.positions[2].realized_pnl = "1.00".into();
        let (_sim, h) = one(spec).await;
        let o = post(&h, "orderbook").await.json();
        let rows = &o["data"]["orders"];
        assert_eq!(rows[0]["average_price"], price, "{style:?}");
        assert_eq!(rows[0]["filled_quantity"], qty, "{style:?}");
        // Not set: not sent (the documented shape has none of them).
        assert!(rows[0].get("pending_quantity").is_none(), "{style:?}");
        assert!(rows[0].get("rejection_reason").is_none(), "{style:?}");
        assert_eq!(rows[1]["rejection_reason"], "RMS: blocked");
        assert!(rows[1].get("average_price").is_none());
        let t = post(&h, "tradebook").await.json();
        assert_eq!(t["data"][0]["tradeid"], "T-1");
        assert!(t["data"][1].get("tradeid").is_none());
        let p = post(&h, "positionbook").await.json();
        assert!(p["data"][2].get("realized_pnl").is_some());
        assert!(p["data"][2].get("unrealized_pnl").is_none());
        assert!(p["data"][0].get("realized_pnl").is_none());
    }
    // The sandbox always sends them; set values win over the derived ones.
    let mut sandbox = spec(NumberStyle::Mixed, Mode::Analyze);
    sandbox.trades[0].tradeid = "T-1".into();
    sandbox.orders[1].rejection_reason = "RMS: blocked".into();
    let (_sim, h) = one(sandbox).await;
    let o = post(&h, "orderbook").await.json();
    assert_eq!(o["data"]["orders"][1]["rejection_reason"], "RMS: blocked");
    assert_eq!(o["data"]["orders"][0]["rejection_reason"], "");
    let t = post(&h, "tradebook").await.json();
    assert_eq!(t["data"][0]["tradeid"], "T-1");
    assert_eq!(t["data"][1]["tradeid"], "T250408001086129002");
}

// ---- Config, lifecycle, scale ----

#[tokio::test]
async fn example_config_parses_and_serves() {
    let mut cfg = SimConfig::from_toml_str(include_str!("../openalgo-sim.example.toml")).unwrap();
    assert_eq!(cfg.instance.len(), 2);
    for s in &mut cfg.instance {
        s.port = None; // the example's fixed port may be taken on this machine
    }
    let key = cfg.instance[0].api_keys[0].clone();
    let sim = Simulator::start(cfg.instance).await.unwrap();
    let r = post_with(
        &client(),
        &sim.instance(0),
        "funds",
        &json!({ "apikey": key }),
    )
    .await;
    assert_eq!(r.json(), v(FUNDS_LIVE));
    let r = post_with(
        &client(),
        &sim.instance(1),
        "ping",
        &json!({"apikey": "sandbox-key"}),
    )
    .await;
    assert_eq!(r.json()["data"]["broker"], "angel");
    // Bad decimals are rejected up front.
    let bad =
        SimConfig::from_toml_str("[[instance]]\n[instance.funds]\navailable_cash = \"lots\"\n");
    assert!(bad.is_err());
    // Faults from the file: every name the example documents parses, and an unknown one or an
    // unknown endpoint is an error that lists what exists.
    assert_eq!(cfg.faults.len(), 2);
    assert_eq!(cfg.faults[0].all, Fault::None);
    assert_eq!(
        cfg.faults[1].endpoints,
        [("tradebook".to_string(), Fault::Http500)]
    );
    for (name, fault) in [
        ("hang", Fault::Hang),
        ("ip_banned", Fault::IpBanned),
        ("latency:250ms", Fault::Latency(Duration::from_millis(250))),
        ("slow_body:10", Fault::SlowBody { bytes_per_sec: 10 }),
        ("huge_body:5000", Fault::HugeBody { bytes: 5000 }),
        ("session_expired", Fault::SessionExpired),
    ] {
        let cfg = SimConfig::from_toml_str(&format!("[[instance]]\nfault = \"{name}\"\n")).unwrap();
        assert_eq!(cfg.faults[0].all, fault, "{name}");
    }
    let e = SimConfig::from_toml_str("[[instance]]\nfault = \"explode\"\n").unwrap_err();
    assert!(format!("{e:#}").contains("ip_banned"), "{e:#}");
    let e =
        SimConfig::from_toml_str("[[instance]]\n[instance.endpoint_faults]\nfundz = \"hang\"\n")
            .unwrap_err();
    assert!(format!("{e:#}").contains("fundz"), "{e:#}");
}

/// `openalgo-sim --config FILE` starts its instances with the file's faults in force.
#[tokio::test]
async fn the_binary_applies_faults_from_its_config_file() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.toml");
    std::fs::write(
        &path,
        "[[instance]]\nname = \"banned\"\napi_keys = [\"k1\"]\nfault = \"ip_banned\"\n\n\
         [[instance]]\nname = \"flaky\"\napi_keys = [\"k2\"]\n\
         [instance.endpoint_faults]\nfunds = \"http500\"\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openalgo-sim"))
        .arg("--config")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = |name: &str| {
        let line = lines.next().unwrap().unwrap();
        let mut cols = line.split('\t');
        assert_eq!(cols.next(), Some(name), "{line}");
        cols.next().unwrap().to_string()
    };
    let (banned, flaky) = (url("banned"), url("flaky"));
    let post = |base: String, endpoint: &'static str, key: &'static str| async move {
        reqwest::Client::new()
            .post(format!("{base}/api/v1/{endpoint}"))
            .json(&json!({ "apikey": key }))
            .send()
            .await
            .unwrap()
    };
    let r = post(banned, "ping", "k1").await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("banned"));
    assert_eq!(post(flaky.clone(), "ping", "k2").await.status(), 200);
    assert_eq!(post(flaky, "funds", "k2").await.status(), 500);
    let _ = child.kill();
    let _ = child.wait();
}

/// `openalgo-sim --demo N` as a load test's separate fleet: faulty instances first, the rest
/// answering after `--latency`, and request counters on the `--control` listener.
#[tokio::test]
async fn the_binary_runs_a_fleet_with_faults_latency_and_counters() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openalgo-sim"))
        .args(["--demo", "3", "--framing", "wsgi", "--latency", "50ms"])
        .args(["--faulty", "hang=1", "--control"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let control: std::net::SocketAddr = first.strip_prefix("# control ").unwrap().parse().unwrap();
    let urls: Vec<String> = (1..=3)
        .map(|i| {
            let line = lines.next().unwrap().unwrap();
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols[0], format!("demo-{i}"));
            assert_eq!(cols[2], format!("demo-key-{i}"));
            cols[1].to_string()
        })
        .collect();
    let c = reqwest::Client::new();
    let ping = |i: usize| {
        c.post(format!("{}/api/v1/ping", urls[i]))
            .json(&json!({ "apikey": format!("demo-key-{}", i + 1) }))
            .timeout(Duration::from_millis(500))
            .send()
    };
    assert!(ping(0).await.is_err(), "demo-1 hangs");
    let started = Instant::now();
    let r = ping(1).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["status"],
        "success"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "answered before its latency"
    );
    let counts =
        tokio::task::spawn_blocking(move || roster_tests::sim::control::fetch_counts(control))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(counts["ping"], vec![1, 1, 0]);
    assert_eq!(counts["funds"], vec![0, 0, 0]);
    let _ = child.kill();
    let _ = child.wait();

    // More faulty instances than instances, or an unknown fault, is refused at start.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_openalgo-sim"))
        .args(["--demo", "2", "--faulty", "hang=3"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--faulty names 3 instances"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_openalgo-sim"))
        .args(["--demo", "2", "--faulty", "explode=1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown fault"));
}

#[tokio::test]
async fn drop_and_shutdown_close_ports() {
    let sim = Simulator::start(vec![
        InstanceSpec::demo("x", KEY),
        InstanceSpec::demo("y", KEY),
    ])
    .await
    .unwrap();
    let (a, b) = (sim.instance(0).addr(), sim.instance(1).addr());
    tokio::net::TcpStream::connect(a).await.unwrap();
    sim.shutdown().await;
    assert!(tokio::net::TcpStream::connect(a).await.is_err());
    assert!(tokio::net::TcpStream::connect(b).await.is_err());

    let sim = Simulator::start(vec![InstanceSpec::demo("z", KEY)])
        .await
        .unwrap();
    let a = sim.instance(0).addr();
    drop(sim);
    let deadline = Instant::now() + Duration::from_secs(2);
    while tokio::net::TcpStream::connect(a).await.is_ok() {
        assert!(Instant::now() < deadline, "port still open after drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_instances() {
    let started = Instant::now();
    let specs = (0..5000)
        .map(|i| InstanceSpec::demo(format!("acct-{i}"), format!("key-{i}")))
        .collect();
    let sim = Simulator::start(specs).await.unwrap();
    assert_eq!(sim.len(), 5000);
    let c = client();
    for i in (0..5000).step_by(250).chain([4999]) {
        let h = sim.instance(i);
        let r = post_with(&c, &h, "ping", &json!({"apikey": format!("key-{i}")})).await;
        assert_eq!(r.status, 200, "instance {i}");
        // Keys are per instance.
        let r = post_with(&c, &h, "ping", &json!({"apikey": "key-x"})).await;
        assert_eq!(r.status, 403);
    }
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(60));
}
