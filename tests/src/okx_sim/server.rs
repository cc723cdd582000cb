//! The HTTP side of the simulated OKX host: the accept loop and the request handler, check by
//! check in the order of the table in the module doc.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine as _;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::{AccountState, OkxFault, Shared, WINDOW};

/// Request bodies read at most (reads carry none).
const MAX_BODY: usize = 64 * 1024;

pub(crate) async fn run(shared: Arc<Shared>, listener: TcpListener) {
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => { conns.spawn(serve(shared.clone(), stream, peer)); }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve(shared: Arc<Shared>, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req| handle(shared.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "okx-sim connection ended");
    }
}

/// An answer: status and JSON body.
struct Reply(u16, Value);

/// OKX's auth-error body: no `data` key (reference A4).
fn auth_error(code: &str, msg: &str) -> Reply {
    Reply(401, json!({ "msg": msg, "code": code }))
}

/// An HTTP-200 error with `data: []`.
fn error_200(code: &str, msg: &str) -> Reply {
    Reply(200, json!({ "code": code, "msg": msg, "data": [] }))
}

fn ok(data: Value) -> Reply {
    Reply(200, json!({ "code": "0", "msg": "", "data": data }))
}

enum Outcome {
    Answer(Reply),
    Hang,
}

fn fault_outcome(fault: &OkxFault) -> Option<Outcome> {
    Some(match fault {
        OkxFault::None => return None,
        OkxFault::Hang => Outcome::Hang,
        OkxFault::Status500 => Outcome::Answer(Reply(
            500,
            json!({"code": 500, "data": [], "msg": "Internal Server Error"}),
        )),
        OkxFault::Status429 => Outcome::Answer(Reply(
            429,
            json!({"msg": "Too Many Requests", "code": "50011"}),
        )),
        OkxFault::Body { status, body } => Outcome::Answer(Reply(
            *status,
            serde_json::from_str(body).unwrap_or(Value::String(body.clone())),
        )),
    })
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_owned();
    shared.count_path(&path);
    let outcome = answer(&shared, req).await;
    let Reply(status, body) = match outcome {
        Outcome::Answer(r) => r,
        Outcome::Hang => std::future::pending().await,
    };
    let code = body
        .get("code")
        .map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    shared.count_code(&code);
    let mut resp = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(&body).unwrap_or_default(),
    )));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` as ms since the epoch; `None` for any other form.
pub fn parse_timestamp(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = ts.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// The signature OKX expects (reference A2).
pub fn expected_sign(secret: &str, prehash: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, prehash.as_bytes()).as_ref())
}

async fn answer(shared: &Shared, req: Request<Incoming>) -> Outcome {
    let server_fault = shared
        .fault
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let Some(o) = fault_outcome(&server_fault) {
        return o;
    }
    let path = req.uri().path().to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    if path == "/api/v5/public/time" {
        if !shared.admit("public", &path) {
            return Outcome::Answer(Reply(
                429,
                json!({"msg": "Too Many Requests", "code": "50011"}),
            ));
        }
        let skew = shared
            .time_endpoint_skew_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        return Outcome::Answer(ok(json!([{ "ts": (shared.now_ms() + skew).to_string() }])));
    }
    let method = req.method().as_str().to_owned();
    let key = header(&req, "ok-access-key").map(str::to_owned);
    let sign = header(&req, "ok-access-sign").map(str::to_owned);
    let ts = header(&req, "ok-access-timestamp").map(str::to_owned);
    let passphrase = header(&req, "ok-access-passphrase").map(str::to_owned);
    let demo = header(&req, "x-simulated-trading").is_some_and(|v| v.trim() == "1");
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => return Outcome::Answer(Reply(413, json!({"msg": "too large", "code": "50000"}))),
    };
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Outcome::Answer(auth_error(
            "50103",
            "Request header OK-ACCESS-KEY cannot be empty.",
        ));
    };
    let Some(passphrase) = passphrase.filter(|p| !p.is_empty()) else {
        return Outcome::Answer(auth_error(
            "50104",
            "Request header OK-ACCESS-PASSPHRASE cannot be empty.",
        ));
    };
    let Some(sign) = sign.filter(|s| !s.is_empty()) else {
        return Outcome::Answer(auth_error(
            "50106",
            "Request header OK-ACCESS-SIGN cannot be empty.",
        ));
    };
    let Some(ts) = ts.filter(|t| !t.is_empty()) else {
        return Outcome::Answer(auth_error(
            "50107",
            "Request header OK-ACCESS-TIMESTAMP cannot be empty.",
        ));
    };
    let Some(ts_ms) = parse_timestamp(&ts) else {
        return Outcome::Answer(auth_error("50112", "Invalid OK-ACCESS-TIMESTAMP."));
    };
    if (shared.now_ms() - ts_ms).unsigned_abs() > WINDOW.as_millis() as u64 {
        return Outcome::Answer(auth_error("50102", "Timestamp request expired"));
    }
    // What the account is, copied so the lock is not held across an await.
    let account = {
        let accounts = shared.lock();
        accounts.get(&key).map(Snapshot::of)
    };
    let Some(a) = account.filter(|a| !a.revoked) else {
        return Outcome::Answer(auth_error("50119", "API key doesn't exist"));
    };
    if a.demo != demo {
        return Outcome::Answer(auth_error(
            "50101",
            "APIKey does not match current environment.",
        ));
    }
    if a.passphrase != passphrase {
        return Outcome::Answer(auth_error(
            "50105",
            "Request header \"OK-ACCESS-PASSPHRASE\" incorrect.",
        ));
    }
    let prehash = format!("{ts}{method}{path_and_query}{body}");
    if expected_sign(&a.secret, &prehash) != sign {
        return Outcome::Answer(auth_error("50113", "Invalid Sign"));
    }
    if a.ip_blocked {
        return Outcome::Answer(auth_error(
            "50110",
            "Your IP 127.0.0.1 is not included in your API key's IP whitelist.",
        ));
    }
    if let Some(o) = fault_outcome(&a.fault) {
        return o;
    }
    if !shared.admit(&a.uid, &path) {
        return Outcome::Answer(if a.rate_limit_as_429 {
            Reply(429, json!({"msg": "Too Many Requests", "code": "50011"}))
        } else {
            error_200(
                "50011",
                "Rate limit reached. Please refer to API documentation and throttle requests accordingly.",
            )
        });
    }
    if method != "GET" {
        return Outcome::Answer(Reply(
            405,
            json!({"msg": "Method Not Allowed", "code": "405"}),
        ));
    }
    if !a.read {
        return Outcome::Answer(error_200(
            "50120",
            "This API key doesn't have permission to use this function",
        ));
    }
    if let Some(code) = &a.frozen {
        return Outcome::Answer(error_200(code, "Account is frozen or restricted"));
    }
    let query: Vec<(String, String)> = path_and_query
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    Outcome::Answer(match path.as_str() {
        "/api/v5/account/config" => ok(json!([{
            "uid": a.uid, "mainUid": a.uid, "acctLv": "2", "posMode": "net_mode",
            "autoLoan": false, "greeksType": "PA", "level": "Lv1", "levelTmp": "",
            "ctIsoMode": "automatic", "mgnIsoMode": "automatic", "spotOffsetType": "",
            "roleType": "0", "traderInsts": [], "spotRoleType": "0", "spotTraderInsts": [],
            "opAuth": "0", "kycLv": "2", "label": "roster", "ip": "",
            "perm": "read_only", "liquidationGear": "-1", "enableSpotBorrow": false,
            "spotBorrowAutoRepay": false, "type": "0"
        }])),
        "/api/v5/account/balance" => ok(json!([{
            "uTime": "1717000000123", "totalEq": "", "isoEq": "", "adjEq": "", "ordFroz": "",
            "imr": "", "mmr": "", "borrowFroz": "", "mgnRatio": "", "notionalUsd": "",
            "upl": "", "details": a.balances
        }])),
        "/api/v5/account/positions" => ok(Value::Array(a.positions)),
        "/api/v5/trade/orders-pending" => match page(&a.orders, "ordId", &param) {
            Ok(rows) => ok(Value::Array(rows)),
            Err(r) => r,
        },
        "/api/v5/trade/fills" => match page(&a.fills, "billId", &param) {
            Ok(rows) => ok(Value::Array(rows)),
            Err(r) => r,
        },
        _ => Reply(404, json!({"msg": "Not Found", "code": "404"})),
    })
}

/// Newest-first rows after the row whose `id_field` is `after`, at most `limit` (1-100).
fn page(
    rows: &[Value],
    id_field: &str,
    param: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Value>, Reply> {
    let limit = match param("limit") {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(error_200("51000", "Parameter limit error")),
        },
    };
    let start = match param("after") {
        None => 0,
        Some(after) => rows
            .iter()
            .position(|r| r.get(id_field).and_then(Value::as_str) == Some(after.as_str()))
            .map_or(rows.len(), |i| i + 1),
    };
    Ok(rows.iter().skip(start).take(limit).cloned().collect())
}

/// An account's state, copied out of the lock.
struct Snapshot {
    revoked: bool,
    demo: bool,
    passphrase: String,
    secret: String,
    uid: String,
    read: bool,
    ip_blocked: bool,
    frozen: Option<String>,
    fault: OkxFault,
    rate_limit_as_429: bool,
    balances: Vec<Value>,
    positions: Vec<Value>,
    orders: Vec<Value>,
    fills: Vec<Value>,
}

impl Snapshot {
    fn of(a: &AccountState) -> Self {
        Self {
            revoked: a.revoked,
            demo: a.spec.demo,
            passphrase: a.spec.passphrase.clone(),
            secret: a.spec.secret_key.clone(),
            uid: a.spec.uid.clone(),
            read: a.spec.read,
            ip_blocked: a.ip_blocked,
            frozen: a.frozen.clone(),
            fault: a.fault.clone(),
            rate_limit_as_429: a.rate_limit_as_429,
            balances: a.spec.balances.clone(),
            positions: a.spec.positions.clone(),
            orders: a.spec.orders.clone(),
            fills: a.spec.fills.clone(),
        }
    }
}
