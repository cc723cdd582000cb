//! `okx-sim`: a simulator of OKX's REST API v5 host for Roster's tests, written from the
//! reference (`okx-coinbase-api.md` part A), not from a connector.
//!
//! One server plays `www.okx.com`, live and demo at once as OKX does: a request with
//! `x-simulated-trading: 1` is a demo request, and a key of the other environment is refused with
//! `50101`. It serves many accounts, told apart by `OK-ACCESS-KEY`.
//!
//! Every private request is checked in the order the reference's error table implies, each
//! failure with OKX's HTTP status and body (auth errors without `data`, as observed):
//!
//! | check | answer |
//! |---|---|
//! | a credential header missing | 401 `50103` (key) / `50104` (passphrase) / `50106` (sign) / `50107` (timestamp) |
//! | `OK-ACCESS-TIMESTAMP` not `YYYY-MM-DDTHH:MM:SS.mmmZ` | 401 `50112` |
//! | the timestamp more than [`WINDOW`] from the simulator's clock, either way | 401 `{"msg":"Timestamp request expired","code":"50102"}` |
//! | the key unknown or revoked | 401 `{"msg":"API key doesn't exist","code":"50119"}` |
//! | a demo key without the demo header or the reverse | 401 `50101` |
//! | a wrong passphrase | 401 `50105` |
//! | the signature not base64 HMAC-SHA256(secret, ts + METHOD + path?query + body) | 401 `{"msg":"Invalid Sign","code":"50113"}` |
//! | the key's IP whitelist excludes the caller | 401 `50110` |
//! | more than the endpoint's limit per 2 s for the account's uid | 200 `50011` (HTTP 429 with [`OkxAccount::set_rate_limit_as_429`]) |
//! | a key without Read permission | 200 `50120` with `data: []` |
//! | a frozen account ([`OkxAccount::set_frozen`]) | 200 with that code (`50007`, ...) |
//!
//! The window: the reference gives 30 s for WebSocket logins and no number for REST; 30 s both
//! ways is what it infers, and what this simulator enforces.
//!
//! Endpoints (GET): `/api/v5/public/time` (no auth, 10 per 2 s per server), `account/config`,
//! `account/balance`, `account/positions`, `trade/orders-pending` and `trade/fills` (`limit`
//! 1-100, default 100; `after` = the `ordId` / `billId` after which older rows follow). Rows are
//! the reference's shapes, strings for numbers and `""` for what does not apply. Limits per uid
//! and endpoint, per rolling 2 s: balance 10, positions 10, config 5, orders-pending 60, fills 60.
//!
//! The clock: [`OkxSim::set_clock_offset_ms`] sets the simulator's clock ahead (positive) or
//! behind our wall clock; both its time endpoint and its window use it.
//!
//! Faults ([`OkxFault`]) for the whole server or one account: hang, 500, 429, a custom answer.

mod server;

pub use server::{expected_sign, parse_timestamp};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The timestamp window, either way (see the module doc).
pub const WINDOW: Duration = Duration::from_secs(30);

/// The limit of each endpoint per 2 s per uid (reference A7), by path.
pub fn limit_of(path: &str) -> Option<usize> {
    Some(match path {
        "/api/v5/account/balance" | "/api/v5/account/positions" => 10,
        "/api/v5/account/config" => 5,
        "/api/v5/trade/orders-pending" | "/api/v5/trade/fills" => 60,
        "/api/v5/public/time" => 10,
        _ => return None,
    })
}

/// A fault, for the whole server or one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OkxFault {
    #[default]
    None,
    /// Accept, read the request, never answer.
    Hang,
    /// 500 with a CCXT-style body.
    Status500,
    /// HTTP 429 `{"msg":"Too Many Requests","code":"50011"}`.
    Status429,
    /// Any answer.
    Body { status: u16, body: String },
}

/// One account's setup.
#[derive(Debug, Clone)]
pub struct OkxAccountSpec {
    pub api_key: String,
    pub secret_key: String,
    pub passphrase: String,
    pub uid: String,
    /// A demo-trading key (works only with `x-simulated-trading: 1`).
    pub demo: bool,
    /// The key has the Read permission.
    pub read: bool,
    /// `details` rows of the balance (the reference's A5.1 shape).
    pub balances: Vec<Value>,
    pub positions: Vec<Value>,
    pub orders: Vec<Value>,
    pub fills: Vec<Value>,
}

impl OkxAccountSpec {
    /// A read-enabled live account `i` with two currencies, one position, one open order and
    /// one fill.
    pub fn demo(i: usize) -> Self {
        Self {
            api_key: format!("a1b2c3d4-0000-4000-8000-{i:012}"),
            secret_key: format!("5EC0A7E{i:025X}"),
            passphrase: format!("Pass-phrase-{i}"),
            uid: format!("{}", 44_705_892_343_619_584u64 + i as u64),
            demo: false,
            read: true,
            balances: vec![
                balance("USDT", "5000.25", "100", "5100.25"),
                balance("BTC", "0.4", "0.1", "0.5"),
            ],
            positions: vec![json!({
                "instType":"SWAP","instId":"BTC-USDT-SWAP","mgnMode":"cross",
                "posId":"1752810569801498000","posSide":"net","pos":"-3","availPos":"",
                "avgPx":"61000.1","markPx":"60500.0","last":"60510.0","upl":"15.0",
                "uplRatio":"0.0123","lever":"5","liqPx":"80000","imr":"363.0","mmr":"3.6",
                "margin":"","mgnRatio":"25.1","notionalUsd":"1815.0","ccy":"USDT","posCcy":"",
                "realizedPnl":"-0.9","fee":"-0.9","fundingFee":"0","cTime":"1717000000000",
                "uTime":"1717000100000","tradeId":"785524470","adl":"2"
            })],
            orders: vec![order(
                "1752588852617379841",
                "BTC-USDT",
                "buy",
                "25013.5",
                "0.002",
            )],
            fills: vec![fill(
                "744876981",
                "680800019754098689",
                "BTC-USDT",
                "51800",
                "0.0019",
            )],
        }
    }

    /// The same as a demo-trading key.
    pub fn in_demo(mut self) -> Self {
        self.demo = true;
        self
    }
}

/// A balance `details` row in Spot mode (`""` where the docs say it does not apply).
pub fn balance(ccy: &str, avail: &str, frozen: &str, cash: &str) -> Value {
    json!({
        "ccy": ccy, "eq": cash, "cashBal": cash, "availBal": avail, "frozenBal": frozen,
        "ordFrozen": frozen, "availEq": "", "upl": "", "isoEq": "", "eqUsd": "", "disEq": "",
        "liab": "0", "crossLiab": "0", "interest": "0", "maxLoan": "0", "stgyEq": "0",
        "spotBal": "", "openAvgPx": "", "accAvgPx": "", "spotUpl": "", "totalPnl": "",
        "uTime": "1716999999000"
    })
}

/// A pending order row (reference A5.4).
pub fn order(ord_id: &str, inst_id: &str, side: &str, px: &str, sz: &str) -> Value {
    json!({
        "instType":"SPOT","instId":inst_id,"ordId":ord_id,"clOrdId":"","tag":"",
        "px":px,"sz":sz,"ordType":"limit","side":side,"posSide":"net","tdMode":"cash",
        "accFillSz":"0","fillPx":"","fillSz":"0","fillTime":"","avgPx":"","state":"live",
        "fee":"0","feeCcy":"BTC","rebate":"0","rebateCcy":"USDT","lever":"","reduceOnly":"false",
        "tgtCcy":"","category":"normal","algoId":"","attachAlgoOrds":[],
        "cTime":"1717000000000","uTime":"1717000000000"
    })
}

/// A fill row (reference A5.5).
pub fn fill(trade_id: &str, bill_id: &str, inst_id: &str, px: &str, sz: &str) -> Value {
    json!({
        "instType":"SPOT","instId":inst_id,"tradeId":trade_id,"ordId":"680800019749904385",
        "clOrdId":"","billId":bill_id,"subType":"1","tag":"","side":"buy","posSide":"net",
        "fillPx":px,"fillSz":sz,"fillPnl":"0","fee":"-0.0000019","feeCcy":"BTC",
        "feeRate":"-0.001","execType":"T","fillIdxPx":"","fillMarkPx":"","fillPxVol":"",
        "fillPxUsd":"","fillMarkVol":"","fillFwdPx":"","fillTime":"1708587373361",
        "ts":"1708587373362"
    })
}

/// What an account is now.
#[derive(Debug)]
pub(crate) struct AccountState {
    pub(crate) spec: OkxAccountSpec,
    pub(crate) revoked: bool,
    pub(crate) frozen: Option<String>,
    pub(crate) ip_blocked: bool,
    pub(crate) fault: OkxFault,
    pub(crate) rate_limit_as_429: bool,
}

/// A handle on one simulated account; changes apply to the next request.
#[derive(Clone)]
pub struct OkxAccount {
    server: Arc<Shared>,
    api_key: String,
}

impl OkxAccount {
    fn with<R>(&self, f: impl FnOnce(&mut AccountState) -> R) -> Option<R> {
        let mut accounts = self.server.lock();
        accounts.get_mut(&self.api_key).map(f)
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }
    /// The key is deleted at OKX (50119 from now on).
    pub fn set_revoked(&self, revoked: bool) {
        self.with(|a| a.revoked = revoked);
    }
    pub fn set_read(&self, read: bool) {
        self.with(|a| a.spec.read = read);
    }
    /// Answer every private call with this account-status code (`50007` blocked, `50009`
    /// stop-out, ...), or `None` for a normal account.
    pub fn set_frozen(&self, code: Option<&str>) {
        self.with(|a| a.frozen = code.map(str::to_owned));
    }
    pub fn set_ip_blocked(&self, blocked: bool) {
        self.with(|a| a.ip_blocked = blocked);
    }
    pub fn set_fault(&self, fault: OkxFault) {
        self.with(|a| a.fault = fault);
    }
    /// Rate-limit refusals as HTTP 429 instead of 200 (both are in OKX's table).
    pub fn set_rate_limit_as_429(&self, as_429: bool) {
        self.with(|a| a.rate_limit_as_429 = as_429);
    }
    pub fn set_balances(&self, rows: Vec<Value>) {
        self.with(|a| a.spec.balances = rows);
    }
    pub fn set_orders(&self, rows: Vec<Value>) {
        self.with(|a| a.spec.orders = rows);
    }
    pub fn set_fills(&self, rows: Vec<Value>) {
        self.with(|a| a.spec.fills = rows);
    }
    pub fn set_positions(&self, rows: Vec<Value>) {
        self.with(|a| a.spec.positions = rows);
    }
}

/// Everything the handler reads and counts.
pub(crate) struct Shared {
    accounts: Mutex<HashMap<String, AccountState>>,
    pub(crate) clock_offset_ms: AtomicI64,
    /// Added to what `public/time` says only.
    pub(crate) time_endpoint_skew_ms: AtomicI64,
    pub(crate) fault: Mutex<OkxFault>,
    /// (uid or "public", path) -> recent request instants within 2 s.
    windows: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
    /// (uid or "public", path) -> the most requests ever seen in one rolling 2 s.
    busiest: Mutex<HashMap<(String, String), usize>>,
    by_path: Mutex<BTreeMap<String, u64>>,
    /// Answers by OKX code (`"0"` for success).
    by_code: Mutex<BTreeMap<String, u64>>,
    pub(crate) rate_limited: AtomicU64,
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AccountState>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn count_path(&self, path: &str) {
        *self
            .by_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn count_code(&self, code: &str) {
        *self
            .by_code
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(code.to_owned())
            .or_default() += 1;
    }

    /// Counts one request of `who` to `path`; false when it is past the endpoint's limit
    /// (refused requests count too, as OKX's do).
    pub(crate) fn admit(&self, who: &str, path: &str) -> bool {
        let Some(limit) = limit_of(path) else {
            return true;
        };
        let now = Instant::now();
        let key = (who.to_owned(), path.to_owned());
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let q = windows.entry(key.clone()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(2))
        {
            q.pop_front();
        }
        let admitted = q.len() < limit;
        if admitted {
            q.push_back(now);
            let mut busiest = self.busiest.lock().unwrap_or_else(|e| e.into_inner());
            let b = busiest.entry(key).or_default();
            *b = (*b).max(q.len());
        } else {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }
}

/// The simulator. Dropping it stops the server.
pub struct OkxSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for OkxSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OkxSim {
    /// Starts on a free port of 127.0.0.1 with `accounts`.
    pub async fn start(accounts: Vec<OkxAccountSpec>) -> anyhow::Result<OkxSim> {
        Self::start_on(0, accounts).await
    }

    pub async fn start_on(port: u16, accounts: Vec<OkxAccountSpec>) -> anyhow::Result<OkxSim> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            accounts: Mutex::new(HashMap::new()),
            clock_offset_ms: AtomicI64::new(0),
            time_endpoint_skew_ms: AtomicI64::new(0),
            fault: Mutex::new(OkxFault::None),
            windows: Mutex::new(HashMap::new()),
            busiest: Mutex::new(HashMap::new()),
            by_path: Mutex::new(BTreeMap::new()),
            by_code: Mutex::new(BTreeMap::new()),
            rate_limited: AtomicU64::new(0),
        });
        let sim = OkxSim {
            task: tokio::spawn(server::run(shared.clone(), listener)),
            shared,
            addr,
        };
        for spec in accounts {
            sim.add_account(spec);
        }
        Ok(sim)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_account(&self, spec: OkxAccountSpec) -> OkxAccount {
        let api_key = spec.api_key.clone();
        self.shared.lock().insert(
            api_key.clone(),
            AccountState {
                spec,
                revoked: false,
                frozen: None,
                ip_blocked: false,
                fault: OkxFault::None,
                rate_limit_as_429: false,
            },
        );
        OkxAccount {
            server: self.shared.clone(),
            api_key,
        }
    }

    pub fn account(&self, api_key: &str) -> Option<OkxAccount> {
        self.shared
            .lock()
            .contains_key(api_key)
            .then(|| OkxAccount {
                server: self.shared.clone(),
                api_key: api_key.to_owned(),
            })
    }

    /// The simulator's clock minus our wall clock, in ms (e.g. `10_000`: 10 s ahead).
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.shared
            .clock_offset_ms
            .store(offset_ms, Ordering::Relaxed);
    }

    /// Makes `public/time` disagree with the clock the signature window uses by `skew_ms`: a
    /// host whose time service is off, so no resync can make a signature fit.
    pub fn set_time_endpoint_skew_ms(&self, skew_ms: i64) {
        self.shared
            .time_endpoint_skew_ms
            .store(skew_ms, Ordering::Relaxed);
    }

    pub fn set_fault(&self, fault: OkxFault) {
        *self.shared.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    /// Requests by path, answered or not.
    pub fn requests_by_path(&self) -> BTreeMap<String, u64> {
        self.shared
            .by_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests of `path`.
    pub fn requests(&self, path: &str) -> u64 {
        self.requests_by_path().get(path).copied().unwrap_or(0)
    }

    /// Answers by OKX code (`"0"` for success, `"50113"`, ...).
    pub fn answers_by_code(&self) -> BTreeMap<String, u64> {
        self.shared
            .by_code
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests refused for a rate limit (50011).
    pub fn rate_limited(&self) -> u64 {
        self.shared.rate_limited.load(Ordering::Relaxed)
    }

    /// The most requests user `uid` made to `path` in any rolling 2 s.
    pub fn busiest_window(&self, uid: &str, path: &str) -> usize {
        self.shared
            .busiest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(uid.to_owned(), path.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}
