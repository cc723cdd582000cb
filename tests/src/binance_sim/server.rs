//! The HTTP side of one simulated Binance host: the accept loop and the request handler, layer
//! by layer: server faults, the IP's weight (429, 418), the method and route, then for signed
//! routes the key, the parameters, the signature and the timestamp (see the module doc).

use super::{AccountState, Admit, BinanceFault, Server, lock};
use aws_lc_rs::hmac;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const JSON: &str = "application/json;charset=UTF-8";

pub(crate) async fn run(server: Arc<Server>, listener: TcpListener) {
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let server = server.clone();
                    conns.spawn(async move {
                        let _ = stream.set_nodelay(true);
                        let svc = service_fn(move |req| handle(server.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

struct Reply {
    status: u16,
    body: Value,
    used_weight: Option<u32>,
    retry_after: Option<i64>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        used_weight: None,
        retry_after: None,
    }
}

fn error(status: u16, code: i64, msg: &str) -> Reply {
    reply(status, json!({"code": code, "msg": msg}))
}

fn render(r: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(&r.body).unwrap_or_default(),
    )));
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    if let Some(w) = r.used_weight {
        h.insert("x-mbx-used-weight", HeaderValue::from(w));
        h.insert("x-mbx-used-weight-1m", HeaderValue::from(w));
    }
    if let Some(s) = r.retry_after {
        h.insert("retry-after", HeaderValue::from(s));
    }
    resp
}

async fn handle(
    server: Arc<Server>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    server.requests.fetch_add(1, Ordering::SeqCst);
    let fault = *lock(&server.fault);
    match fault {
        BinanceFault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        BinanceFault::Status500 => {
            return Ok(render(error(
                500,
                -1000,
                "An unknown error occurred while processing the request.",
            )));
        }
        BinanceFault::GeoBlocked => {
            return Ok(render(error(
                451,
                0,
                "Service unavailable from a restricted location according to 'b. Eligibility' in \
                 https://www.binance.com/en/terms. Please contact customer service if you believe \
                 you received this message in error.",
            )));
        }
        BinanceFault::None => {}
    }
    Ok(render(answer(&server, &req)))
}

/// The request's weight (reference §3.3, §3.4).
fn weight(path: &str, params: &[(String, String)]) -> u32 {
    let has = |k: &str| params.iter().any(|(n, _)| n == k);
    match path {
        "/api/v3/account" => 20,
        "/api/v3/openOrders" if has("symbol") => 6,
        "/api/v3/openOrders" => 80,
        "/api/v3/myTrades" if has("orderId") => 5,
        "/api/v3/myTrades" => 20,
        _ => 1,
    }
}

fn answer(server: &Server, req: &Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let used = match server.admit(weight(&path, &params)) {
        Admit::Ok { used } => used,
        Admit::Limited {
            used,
            retry_after_s,
        } => {
            let limit = server.weight_limit.load(Ordering::SeqCst);
            let mut r = error(
                429,
                -1003,
                &format!(
                    "Too much request weight used; current limit is {limit} request weight per 1 \
                     MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
                ),
            );
            r.used_weight = Some(used);
            r.retry_after = Some(retry_after_s);
            return r;
        }
        Admit::Banned {
            until_ms,
            retry_after_s,
        } => {
            let mut r = error(
                418,
                -1003,
                &format!(
                    "Way too much request weight used; IP banned until {until_ms}. Please use WebSocket Streams for live updates to avoid bans."
                ),
            );
            r.retry_after = Some(retry_after_s);
            return r;
        }
    };
    let mut r = route(server, req, &path, &raw_query, &params);
    r.used_weight = Some(used);
    r
}

fn route(
    server: &Server,
    req: &Request<Incoming>,
    path: &str,
    raw_query: &str,
    params: &[(String, String)],
) -> Reply {
    if req.method() != Method::GET {
        return error(
            405,
            -1000,
            "Method not allowed (the simulator is read-only).",
        );
    }
    match path {
        "/api/v3/ping" => reply(200, json!({})),
        "/api/v3/time" => {
            let lag = server.time_endpoint_lag_ms.load(Ordering::SeqCst);
            reply(
                200,
                json!({"serverTime": server.server_time_ms().saturating_add(lag)}),
            )
        }
        "/api/v3/account" | "/api/v3/openOrders" | "/api/v3/myTrades" => {
            match authenticate(server, req, raw_query, params) {
                Ok(account) => signed_route(server, &account, path, params),
                Err(r) => r,
            }
        }
        _ => error(404, -1000, "Not found."),
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn mandatory(name: &str) -> Reply {
    error(
        400,
        -1102,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

/// The key, the parameters, the signature and the timestamp, in that order.
fn authenticate(
    server: &Server,
    req: &Request<Incoming>,
    raw_query: &str,
    params: &[(String, String)],
) -> Result<Arc<AccountState>, Reply> {
    let key = req
        .headers()
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key.is_empty() || key.len() > 256 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(error(401, -2014, "API-key format invalid."));
    }
    let rejected = || {
        error(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    };
    let Some(account) = server.accounts.get(key).cloned() else {
        return Err(rejected());
    };
    account.requests.fetch_add(1, Ordering::SeqCst);
    if account.revoked.load(Ordering::SeqCst) || !lock(&account.spec).can_read {
        return Err(rejected());
    }
    let Some(timestamp) = param(params, "timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err(mandatory("timestamp"));
    };
    let Some(signature) = param(params, "signature").filter(|s| !s.is_empty()) else {
        return Err(mandatory("signature"));
    };
    let recv_window = match param(params, "recvWindow") {
        None => 5_000.0,
        Some(w) => match w.parse::<f64>() {
            Ok(w) if w > 0.0 && w <= 60_000.0 => w,
            _ => return Err(error(400, -1131, "recvWindow must be less than 60000")),
        },
    };
    // The payload is the query string as sent, without its signature pair.
    let payload = raw_query
        .split('&')
        .filter(|pair| !pair.starts_with("signature="))
        .collect::<Vec<_>>()
        .join("&");
    let secret = lock(&account.secret).clone();
    let expected = hex::encode(hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        payload.as_bytes(),
    ));
    if !signature.eq_ignore_ascii_case(&expected) {
        return Err(error(
            400,
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    let server_time = server.server_time_ms();
    if timestamp >= server_time + 1_000 {
        return Err(error(
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    if (server_time - timestamp) as f64 > recv_window {
        return Err(error(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(account)
}

fn signed_route(
    server: &Server,
    account: &AccountState,
    path: &str,
    params: &[(String, String)],
) -> Reply {
    let spec = lock(&account.spec).clone();
    match path {
        "/api/v3/account" => {
            account.account_requests.fetch_add(1, Ordering::SeqCst);
            let omit_zero = param(params, "omitZeroBalances") == Some("true");
            let is_zero = |s: &str| s.trim_start_matches(['0', '.']).is_empty();
            let balances: Vec<Value> = spec
                .balances
                .iter()
                .filter(|b| !(omit_zero && is_zero(&b.free) && is_zero(&b.locked)))
                .map(|b| json!({"asset": b.asset, "free": b.free, "locked": b.locked}))
                .collect();
            reply(
                200,
                json!({
                    "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
                    "sellerCommission": 0,
                    "commissionRates": {"maker": "0.00100000", "taker": "0.00100000",
                                        "buyer": "0.00000000", "seller": "0.00000000"},
                    "canTrade": spec.can_trade, "canWithdraw": true, "canDeposit": true,
                    "brokered": false, "requireSelfTradePrevention": false, "preventSor": false,
                    "updateTime": server.server_time_ms(), "accountType": "SPOT",
                    "balances": balances, "permissions": ["SPOT"], "uid": 354_937_868,
                }),
            )
        }
        "/api/v3/openOrders" => {
            let symbol = param(params, "symbol");
            if let Some(s) = symbol
                && !server.listed.iter().any(|l| l == s)
            {
                return error(400, -1121, "Invalid symbol.");
            }
            let rows: Vec<Value> = spec
                .open_orders
                .iter()
                .filter(|o| symbol.is_none_or(|s| s == o.symbol))
                .map(|o| {
                    json!({
                        "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
                        "clientOrderId": format!("sim-{}", o.order_id), "price": o.price,
                        "origQty": o.orig_qty, "executedQty": o.executed_qty,
                        "cummulativeQuoteQty": "0.00000000", "status": "NEW",
                        "timeInForce": "GTC", "type": "LIMIT", "side": o.side,
                        "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": o.time,
                        "updateTime": o.time, "isWorking": true, "workingTime": o.time,
                        "origQuoteOrderQty": "0.00000000",
                        "selfTradePreventionMode": "EXPIRE_MAKER",
                    })
                })
                .collect();
            reply(200, Value::Array(rows))
        }
        "/api/v3/myTrades" => {
            let Some(symbol) = param(params, "symbol").filter(|s| !s.is_empty()) else {
                return mandatory("symbol");
            };
            if !server.listed.iter().any(|l| l == symbol) {
                return error(400, -1121, "Invalid symbol.");
            }
            let limit = match param(params, "limit").map(str::parse::<usize>) {
                None => 500,
                Some(Ok(n)) if (1..=1000).contains(&n) => n,
                Some(_) => {
                    return error(
                        400,
                        -1100,
                        "Illegal characters found in parameter 'limit'; legal range is '1' to '1000'.",
                    );
                }
            };
            let mut rows: Vec<_> = spec.trades.iter().filter(|t| t.symbol == symbol).collect();
            rows.sort_by_key(|t| t.id);
            let skip = rows.len().saturating_sub(limit);
            let rows: Vec<Value> = rows
                .into_iter()
                .skip(skip)
                .map(|t| {
                    json!({
                        "symbol": t.symbol, "id": t.id, "orderId": t.order_id,
                        "orderListId": -1, "price": t.price, "qty": t.qty,
                        "quoteQty": t.quote_qty, "commission": "0.00000000",
                        "commissionAsset": "BNB", "time": t.time, "isBuyer": t.is_buyer,
                        "isMaker": false, "isBestMatch": true,
                    })
                })
                .collect();
            reply(200, Value::Array(rows))
        }
        _ => error(404, -1000, "Not found."),
    }
}
