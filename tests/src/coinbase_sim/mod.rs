//! A simulated Coinbase Advanced Trade host (v3 brokerage, CDP keys) on 127.0.0.1, written from
//! `shared/reference/okx-coinbase-api.md` part B: many accounts (one per CDP key) on one
//! listener, told apart by the key each token names.
//!
//! - `GET /api/v3/brokerage/time` is public: `{"iso","epochSeconds","epochMillis"}` (strings)
//!   from the simulator's clock, which a test sets ahead or behind ([`CoinbaseSim::set_clock_offset_ms`]);
//!   [`CoinbaseSim::set_time_answer_offset_ms`] makes the time answer disagree with the clock the
//!   tokens are checked against (what a client that syncs can still be refused for).
//! - Every other route needs `Authorization: Bearer <ES256 JWT>`, verified exactly ([`auth`]):
//!   any fault is 401 with the plain-text body `Unauthorized`, revoked keys included.
//! - Per user (the key's organization) at most 30 requests in any second; past it a 429 whose
//!   body is an HTML page (B4, B7). [`CoinbaseSim::max_per_second`] reports the busiest second.
//! - A key without the view scope: `key_permissions` answers `can_view: false`, every book 403
//!   `{"error":"PERMISSION_DENIED","error_details":"Missing required scopes",...}`.
//! - Routes: `key_permissions`, `accounts` (`limit` default 49, max 250, `cursor`, `has_next`),
//!   `orders/historical/batch` (`order_status` filter, cursor), `orders/historical/fills` (cursor).
//! - Faults ([`CoinbaseFault`]): hang, 500, an HTML 429 for everyone.
//!
//! Keys are generated per run ([`CdpKey::generate`]): a P-256 key whose private half is exported
//! as the SEC1 PEM CDP downloads, given to the daemon as the `private_key` field.

pub mod auth;

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub use auth::Refusal;

/// The private requests one user may send in any second.
pub const PER_USER_PER_SECOND: usize = 30;
const PREFIX: &str = "/api/v3/brokerage";

/// A CDP key: its name and the SEC1 PEM of its private key, as the CDP portal hands them out.
#[derive(Clone)]
pub struct CdpKey {
    pub name: String,
    pub private_key_pem: String,
    public_key: Vec<u8>,
}

impl std::fmt::Debug for CdpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdpKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CdpKey {
    /// A fresh P-256 key named `organizations/{org}/apiKeys/{id}`.
    pub fn generate(org: &str, id: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap_or_else(|_| unreachable!("P-256 key generation"));
        let der = pair
            .private_key()
            .as_der()
            .unwrap_or_else(|_| unreachable!("SEC1 export"));
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let body: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        Self {
            name: format!("organizations/{org}/apiKeys/{id}"),
            private_key_pem: format!(
                "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
                body.join("\n")
            ),
            public_key: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The `credentials` JSON `rosterctl account add --credentials-stdin` takes.
    pub fn credentials_json(&self) -> String {
        json!({"key_name": self.name, "private_key": self.private_key_pem}).to_string()
    }
}

/// One wallet (a Coinbase "account" of one currency).
#[derive(Debug, Clone)]
pub struct WalletSpec {
    pub currency: String,
    pub available: String,
    pub hold: String,
    /// `ACCOUNT_TYPE_CRYPTO`, `ACCOUNT_TYPE_FIAT`, `ACCOUNT_TYPE_VAULT`, ...
    pub kind: String,
}

impl WalletSpec {
    pub fn new(currency: &str, available: &str, hold: &str) -> Self {
        let kind = if matches!(currency, "USD" | "EUR" | "GBP") {
            "ACCOUNT_TYPE_FIAT"
        } else {
            "ACCOUNT_TYPE_CRYPTO"
        };
        Self {
            currency: currency.into(),
            available: available.into(),
            hold: hold.into(),
            kind: kind.into(),
        }
    }
}

/// One account: a key and what its portfolio holds.
#[derive(Debug, Clone)]
pub struct CoinbaseAccountSpec {
    pub key: CdpKey,
    pub wallets: Vec<WalletSpec>,
    /// Rows of `orders/historical/batch`, as Coinbase sends them.
    pub orders: Vec<Value>,
    /// Rows of `orders/historical/fills`.
    pub fills: Vec<Value>,
    pub can_view: bool,
}

impl CoinbaseAccountSpec {
    /// BTC 0.5 + 0.1 held, USD 1000.25 + 20 held, ETH 2 (twice: two wallets of one currency are
    /// summed), a zero SOL wallet and a vault; one open limit order and two fills.
    pub fn demo(key: CdpKey) -> Self {
        Self {
            key,
            wallets: vec![
                WalletSpec::new("BTC", "0.5000000000000000", "0.1000000000000000"),
                WalletSpec::new("USD", "1000.25", "20"),
                WalletSpec::new("ETH", "1.5", "0"),
                WalletSpec::new("ETH", "0.5", ""),
                WalletSpec::new("SOL", "0", "0"),
                WalletSpec {
                    kind: "ACCOUNT_TYPE_VAULT".into(),
                    ..WalletSpec::new("BTC", "7", "0")
                },
            ],
            orders: vec![
                json!({"order_id":"o-open-1","product_id":"ETH-USD","user_id":"u",
                    "order_configuration":{"limit_limit_gtc":{"base_size":"0.5","limit_price":"2500.00","post_only":false}},
                    "side":"BUY","client_order_id":"c1","status":"OPEN","time_in_force":"GOOD_UNTIL_CANCELLED",
                    "created_time":"2024-03-16T23:37:23.947030Z","completion_percentage":"0","filled_size":"0",
                    "average_filled_price":"0","fee":"","number_of_fills":"0","filled_value":"0","pending_cancel":false,
                    "order_type":"LIMIT","product_type":"SPOT","reject_message":"","cancel_message":""}),
                json!({"order_id":"o-done-1","product_id":"BTC-USD","side":"SELL","status":"FILLED",
                    "order_configuration":{"market_market_ioc":{"base_size":"0.01"}},
                    "created_time":"2024-03-15T10:00:00Z","order_type":"MARKET","product_type":"SPOT"}),
            ],
            fills: vec![
                json!({"entry_id":"e1","trade_id":"t-1","order_id":"o-done-1","trade_time":"2024-01-18T01:37:38.091377090Z",
                    "trade_type":"FILL","price":"42220.64","size":"0.0046","commission":"0.0281","product_id":"BTC-USD",
                    "sequence_timestamp":"2024-01-18T01:37:38.092520Z","liquidity_indicator":"TAKER",
                    "size_in_quote":false,"user_id":"u","side":"SELL"}),
                json!({"entry_id":"e2","trade_id":"t-2","order_id":"o-x","trade_time":"2024-01-17T01:00:00Z",
                    "trade_type":"FILL","price":"2000","size":"100","commission":"0.5","product_id":"ETH-USD",
                    "size_in_quote":true,"side":"BUY"}),
            ],
            can_view: true,
        }
    }
}

/// A fault of the whole host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CoinbaseFault {
    #[default]
    None,
    /// Accepts and never answers.
    Hang,
    /// 500 with a JSON error.
    Http500,
    /// 429 with an HTML page, for every private request.
    RateLimitedHtml,
    /// This answer to every private request whose token is good (e.g. one echoing a secret).
    Body { status: u16, body: String },
}

#[derive(Default)]
struct Counters {
    by_path: HashMap<String, u64>,
    refusals: HashMap<Refusal, u64>,
    status_429: u64,
    status_403: u64,
    /// User -> when its recent requests arrived (the last second's).
    recent: HashMap<String, VecDeque<Instant>>,
    /// User -> the most requests it sent in any second.
    busiest: HashMap<String, usize>,
}

struct Account {
    spec: CoinbaseAccountSpec,
    revoked: bool,
}

struct State {
    /// Key name -> account.
    accounts: HashMap<String, Account>,
    fault: CoinbaseFault,
    counters: Counters,
}

struct Shared {
    state: Mutex<State>,
    clock_offset_ms: AtomicI64,
    time_answer_offset_ms: AtomicI64,
    requests: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The simulator's clock, ms since the epoch.
    fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        wall.saturating_add(self.clock_offset_ms.load(Ordering::Relaxed))
    }
}

/// A running simulated Coinbase host. Dropping it stops the listener.
pub struct CoinbaseSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CoinbaseSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn user_of(key_name: &str) -> String {
    key_name
        .strip_prefix("organizations/")
        .and_then(|r| r.split_once("/apiKeys/"))
        .map_or(key_name, |(org, _)| org)
        .to_owned()
}

impl CoinbaseSim {
    pub async fn start(accounts: Vec<CoinbaseAccountSpec>) -> anyhow::Result<Self> {
        Self::start_on(accounts, 0).await
    }

    /// On a given port of 127.0.0.1 (0: any free one).
    pub async fn start_on(accounts: Vec<CoinbaseAccountSpec>, port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .context("binding the coinbase simulator")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                accounts: accounts
                    .into_iter()
                    .map(|spec| {
                        (
                            spec.key.name.clone(),
                            Account {
                                spec,
                                revoked: false,
                            },
                        )
                    })
                    .collect(),
                fault: CoinbaseFault::None,
                counters: Counters::default(),
            }),
            clock_offset_ms: AtomicI64::new(0),
            time_answer_offset_ms: AtomicI64::new(0),
            requests: AtomicU64::new(0),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let s = s.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&s, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Self { shared, addr, task })
    }

    /// `http://127.0.0.1:PORT`: the account's `host_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_account(&self, spec: CoinbaseAccountSpec) {
        self.shared.state().accounts.insert(
            spec.key.name.clone(),
            Account {
                spec,
                revoked: false,
            },
        );
    }

    /// Revokes (or restores) a key: every token it signs is then 401.
    pub fn set_revoked(&self, key_name: &str, revoked: bool) {
        if let Some(a) = self.shared.state().accounts.get_mut(key_name) {
            a.revoked = revoked;
        }
    }

    /// Gives or takes the key's view scope.
    pub fn set_can_view(&self, key_name: &str, can_view: bool) {
        if let Some(a) = self.shared.state().accounts.get_mut(key_name) {
            a.spec.can_view = can_view;
        }
    }

    pub fn set_fault(&self, fault: CoinbaseFault) {
        self.shared.state().fault = fault;
    }

    /// Moves the simulator's clock (tokens are checked against it, and `/time` tells it).
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.shared.clock_offset_ms.store(ms, Ordering::Relaxed);
    }

    /// Makes `/time` answer this far from the clock tokens are checked against.
    pub fn set_time_answer_offset_ms(&self, ms: i64) {
        self.shared
            .time_answer_offset_ms
            .store(ms, Ordering::Relaxed);
    }

    /// Every request received.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Requests per path (without the query).
    pub fn requests_to(&self, path: &str) -> u64 {
        self.shared
            .state()
            .counters
            .by_path
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Tokens refused for `why`.
    pub fn refusals(&self, why: Refusal) -> u64 {
        self.shared
            .state()
            .counters
            .refusals
            .get(&why)
            .copied()
            .unwrap_or(0)
    }

    pub fn refusals_total(&self) -> u64 {
        self.shared.state().counters.refusals.values().sum()
    }

    /// 429s sent (the fault's included).
    pub fn rate_limited(&self) -> u64 {
        self.shared.state().counters.status_429
    }

    /// The most private requests the user of `key_name` sent within any second.
    pub fn max_per_second(&self, key_name: &str) -> usize {
        self.shared
            .state()
            .counters
            .busiest
            .get(&user_of(key_name))
            .copied()
            .unwrap_or(0)
    }
}

fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn json_reply(status: u16, v: &Value) -> Response<Full<Bytes>> {
    reply(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn unauthorized() -> Response<Full<Bytes>> {
    reply(401, "text/plain; charset=utf-8", "Unauthorized\n")
}

fn html_429() -> Response<Full<Bytes>> {
    reply(
        429,
        "text/html",
        "<html><head><title>429 Too Many Requests</title></head><body><h1>Too Many \
         Requests</h1></body></html>",
    )
}

fn query_of(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .collect::<HashMap<String, String>>()
        })
        .unwrap_or_default()
}

/// `a=b&c=d`, percent-decoded enough for our cursors and filters.
fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%2F", "/").replace('+', " ")))
        .collect()
}

/// A page of `rows` from `cursor` (`"c<offset>"`), `limit` rows (default `default`, max 250).
fn paged(
    rows: &[Value],
    q: &HashMap<String, String>,
    default: usize,
) -> (Vec<Value>, String, bool) {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(default)
        .clamp(1, 250);
    let from = q
        .get("cursor")
        .and_then(|c| c.strip_prefix('c'))
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0)
        .min(rows.len());
    let to = from.saturating_add(limit).min(rows.len());
    let has_next = to < rows.len();
    (
        rows[from..to].to_vec(),
        if has_next {
            format!("c{to}")
        } else {
            String::new()
        },
        has_next,
    )
}

async fn handle(s: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_owned();
    let fault = {
        let mut st = s.state();
        *st.counters.by_path.entry(path.clone()).or_default() += 1;
        st.fault.clone()
    };
    match fault {
        CoinbaseFault::Hang => std::future::pending::<()>().await,
        CoinbaseFault::Http500 => {
            return json_reply(
                500,
                &json!({"error":"INTERNAL","error_details":"internal error","message":"internal error"}),
            );
        }
        _ => {}
    }
    let now_ms = s.now_ms();
    if path == format!("{PREFIX}/time") {
        let said = now_ms.saturating_add(s.time_answer_offset_ms.load(Ordering::Relaxed));
        let secs = said.div_euclid(1000);
        let iso = humantime::format_rfc3339_seconds(
            UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0)),
        )
        .to_string();
        return json_reply(
            200,
            &json!({"iso": iso, "epochSeconds": secs.to_string(), "epochMillis": said.to_string()}),
        );
    }
    // Private: the token first, then the user's budget, the scope and the route.
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let q = query_of(&req);
    let mut st = s.state();
    let verdict = auth::parse(authorization).and_then(|t| {
        let a = st.accounts.get(&t.kid).ok_or(Refusal::UnknownKey)?;
        if a.revoked {
            return Err(Refusal::Revoked);
        }
        t.verify(
            &a.spec.key.public_key,
            now_ms.div_euclid(1000),
            req.method().as_str(),
            &host,
            &path,
        )?;
        Ok(t.kid)
    });
    let kid = match verdict {
        Ok(k) => k,
        Err(why) => {
            *st.counters.refusals.entry(why).or_default() += 1;
            return unauthorized();
        }
    };
    match &st.fault {
        CoinbaseFault::RateLimitedHtml => {
            st.counters.status_429 += 1;
            return html_429();
        }
        CoinbaseFault::Body { status, body } => {
            return reply(*status, "application/json", body.clone());
        }
        _ => {}
    }
    let user = user_of(&kid);
    let now = Instant::now();
    let recent = st.counters.recent.entry(user.clone()).or_default();
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        recent.pop_front();
    }
    if recent.len() >= PER_USER_PER_SECOND {
        st.counters.status_429 += 1;
        return html_429();
    }
    recent.push_back(now);
    let n = recent.len();
    let busiest = st.counters.busiest.entry(user).or_default();
    *busiest = (*busiest).max(n);
    let Some(account) = st.accounts.get(&kid) else {
        return unauthorized();
    };
    let spec = account.spec.clone();
    let route = path.strip_prefix(PREFIX).unwrap_or("");
    if route == "/key_permissions" {
        return json_reply(
            200,
            &json!({"can_view": spec.can_view, "can_trade": false, "can_transfer": false,
                "portfolio_uuid": "8c2e0000-0000-4000-8000-000000000001", "portfolio_type": "DEFAULT"}),
        );
    }
    if !spec.can_view {
        st.counters.status_403 += 1;
        return json_reply(
            403,
            &json!({"error":"PERMISSION_DENIED","error_details":"Missing required scopes","message":"Missing required scopes"}),
        );
    }
    drop(st);
    match route {
        "/accounts" => {
            let rows: Vec<Value> = spec
                .wallets
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    json!({"uuid": format!("w-{i}"), "name": format!("{} Wallet", w.currency),
                        "currency": w.currency,
                        "available_balance": {"value": w.available, "currency": w.currency},
                        "hold": {"value": w.hold, "currency": w.currency},
                        "default": true, "active": true, "ready": true, "type": w.kind,
                        "created_at": "2023-01-04T06:20:06.456Z", "updated_at": "2024-05-01T10:00:07.181Z",
                        "deleted_at": null, "retail_portfolio_id": "p-1", "platform": "ACCOUNT_PLATFORM_CONSUMER"})
                })
                .collect();
            let (page, cursor, has_next) = paged(&rows, &q, 49);
            let size = page.len();
            json_reply(
                200,
                &json!({"accounts": page, "has_next": has_next, "cursor": cursor, "size": size}),
            )
        }
        "/orders/historical/batch" => {
            let wanted = q.get("order_status").cloned();
            let rows: Vec<Value> = spec
                .orders
                .into_iter()
                .filter(|o| {
                    wanted
                        .as_deref()
                        .is_none_or(|w| o.get("status").and_then(Value::as_str) == Some(w))
                })
                .collect();
            let (page, cursor, has_next) = paged(&rows, &q, 100);
            json_reply(
                200,
                &json!({"orders": page, "sequence": "0", "has_next": has_next, "cursor": cursor}),
            )
        }
        "/orders/historical/fills" => {
            let (page, cursor, _) = paged(&spec.fills, &q, 100);
            json_reply(200, &json!({"fills": page, "cursor": cursor}))
        }
        _ => json_reply(
            404,
            &json!({"error":"NOT_FOUND","error_details":"route not found","message":"route not found"}),
        ),
    }
}
