//! `binance-sim`: a simulator of one Binance spot REST host for Roster's tests, written from the
//! reference (`alpaca-binance-api.md` §3, §4, §5.2; `okx-coinbase-api.md` §9), not from a
//! connector. One server is one egress IP's view of Binance: many accounts, told apart by their
//! API key, share one request-weight counter, as `api.binance.com` counts per IP.
//!
//! - Signed endpoints (`USER_DATA`) check, in order: the `X-MBX-APIKEY` header (missing or
//!   malformed: 401 `-2014 API-key format invalid.`; unknown or revoked, or a key without read
//!   permission: 401 `-2015 Invalid API-key, IP, or permissions for action.`), the mandatory
//!   `timestamp` and `signature` (400 `-1102`), `recvWindow` (at most 60000, 400 `-1131`), the
//!   signature: lowercase or uppercase hex HMAC-SHA256 of the query string as sent minus its
//!   `signature` pair, under the account's secret (400 `-1022`), then the timing rule exactly as
//!   `rest-api.md` states it: accept only if `timestamp < serverTime + 1000` and
//!   `serverTime - timestamp <= recvWindow` (default 5000), else 400 `-1021`.
//! - The server's clock is ours plus a settable offset ([`BinanceSim::set_clock_offset_ms`]);
//!   `GET /api/v3/time` tells it.
//! - Weight: every request adds its weight (time, ping 1; account 20; openOrders 6 with a
//!   symbol, 80 without; myTrades 20, 5 with `orderId`) to the current minute's count, which every
//!   answer carries in `X-MBX-USED-WEIGHT-1M`. Past the limit ([`BinanceSimOptions::weight_per_minute`],
//!   6000 by default) the answer is 429 `-1003` with `Retry-After` (seconds to the next minute);
//!   more than [`BinanceSimOptions::requests_after_429_before_ban`] requests in the same minute
//!   after a 429 ban the IP: 418 `-1003 Way too much request weight used; IP banned until <ms>.`
//!   with `Retry-After`, on every request until the ban ends.
//! - Endpoints (GET): `/api/v3/ping`, `/api/v3/time`, `/api/v3/account` (`omitZeroBalances`),
//!   `/api/v3/openOrders` (`symbol` optional), `/api/v3/myTrades` (`symbol` mandatory: -1102;
//!   unlisted: 400 `-1121 Invalid symbol.`; `limit` 1-1000, default 500, newest kept). Other
//!   paths are 404 `-1100`-style errors; other methods 405.
//! - Account states: `canTrade` false, revoked key, key without read permission (both -2015, as
//!   Binance cannot tell them apart); faults ([`BinanceFault`]) for the whole server: hang,
//!   500, 451 geo-block.
//!
//! Not simulated: order entry (writes), RSA and Ed25519 keys, `exchangeInfo`, the WebSocket API,
//! microsecond timestamps, the `ORDERS` and `RAW_REQUESTS` limits, bans growing with repeats.

mod server;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The symbols every simulated host lists (besides those of the accounts' orders and fills).
pub const LISTED_SYMBOLS: [&str; 8] = [
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "ETHBTC", "BNBBTC", "SOLBTC", "BNBETH",
];

/// A poisoned lock only means a panicking test thread; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One asset an account holds; amounts are decimal strings as Binance sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBalance {
    pub asset: String,
    pub free: String,
    pub locked: String,
}

impl SimBalance {
    pub fn new(asset: &str, free: &str, locked: &str) -> Self {
        Self {
            asset: asset.into(),
            free: free.into(),
            locked: locked.into(),
        }
    }
}

/// One open order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOrder {
    pub symbol: String,
    pub order_id: i64,
    pub side: String,
    pub price: String,
    pub orig_qty: String,
    pub executed_qty: String,
    pub time: i64,
}

/// One fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTrade {
    pub symbol: String,
    pub id: i64,
    pub order_id: i64,
    pub price: String,
    pub qty: String,
    pub quote_qty: String,
    pub is_buyer: bool,
    pub time: i64,
}

/// What one account is and holds.
#[derive(Debug, Clone)]
pub struct BinanceAccountSpec {
    pub api_key: String,
    pub secret_key: String,
    pub can_trade: bool,
    /// Without it every signed call is -2015 (Binance's one answer for a key that may not read).
    pub can_read: bool,
    pub balances: Vec<SimBalance>,
    pub open_orders: Vec<SimOrder>,
    pub trades: Vec<SimTrade>,
}

/// The deterministic key pair of demo account `i` (64 characters each, as Binance's are).
pub fn demo_keys(i: usize) -> (String, String) {
    (format!("simKEY{i:058}"), format!("simSECRET{i:055}"))
}

impl BinanceAccountSpec {
    /// An account holding BTC, USDT (some locked by an open BTCUSDT buy) and BNB, one fill.
    pub fn demo(api_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            secret_key: secret_key.into(),
            can_trade: true,
            can_read: true,
            balances: vec![
                SimBalance::new("BTC", "0.01843100", "0.00000000"),
                SimBalance::new("USDT", "1520.44810000", "250.00000000"),
                SimBalance::new("BNB", "0.31207411", "0.00000000"),
                SimBalance::new("XRP", "0.00000000", "0.00000000"),
            ],
            open_orders: vec![SimOrder {
                symbol: "BTCUSDT".into(),
                order_id: 28_154_870_921,
                side: "BUY".into(),
                price: "50000.00000000".into(),
                orig_qty: "0.00500000".into(),
                executed_qty: "0.00000000".into(),
                time: 1_764_064_001_117,
            }],
            trades: vec![SimTrade {
                symbol: "BTCUSDT".into(),
                id: 5_120_391_877,
                order_id: 28_154_870_920,
                price: "96000.00000000".into(),
                qty: "0.00520000".into(),
                quote_qty: "499.20000000".into(),
                is_buyer: true,
                time: 1_764_064_015_502,
            }],
        }
    }
}

/// A fault of the whole server (see also [`BinanceSim::set_time_endpoint_lag_ms`] and
/// [`BinanceSim::ban_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BinanceFault {
    #[default]
    None,
    /// Requests are read and never answered.
    Hang,
    /// 500 `{"code":-1000,...}`.
    Status500,
    /// 451 `{"code":0,"msg":"Service unavailable from a restricted location ..."}`.
    GeoBlocked,
}

/// Server-wide settings.
#[derive(Debug, Clone)]
pub struct BinanceSimOptions {
    /// The IP's request weight a minute (Binance's 6000).
    pub weight_per_minute: u32,
    /// Requests after a 429 in the same minute that turn it into a ban.
    pub requests_after_429_before_ban: u32,
    /// How long a ban lasts, in seconds.
    pub ban_seconds: u64,
}

impl Default for BinanceSimOptions {
    fn default() -> Self {
        Self {
            weight_per_minute: 6_000,
            requests_after_429_before_ban: 20,
            ban_seconds: 120,
        }
    }
}

/// One account's state; the handler and every [`BinanceAccount`] handle point at it.
pub(crate) struct AccountState {
    api_key: String,
    secret: Mutex<String>,
    spec: Mutex<BinanceAccountSpec>,
    revoked: AtomicBool,
    requests: AtomicU64,
    account_requests: AtomicU64,
}

/// A handle on one simulated account.
#[derive(Clone)]
pub struct BinanceAccount(Arc<AccountState>);

impl BinanceAccount {
    pub fn api_key(&self) -> &str {
        &self.0.api_key
    }
    pub fn secret_key(&self) -> String {
        lock(&self.0.secret).clone()
    }
    /// The key is deleted: every call is -2015.
    pub fn revoke(&self) {
        self.0.revoked.store(true, Ordering::SeqCst);
    }
    pub fn set_can_trade(&self, can: bool) {
        lock(&self.0.spec).can_trade = can;
    }
    pub fn set_can_read(&self, can: bool) {
        lock(&self.0.spec).can_read = can;
    }
    pub fn set_balances(&self, balances: Vec<SimBalance>) {
        lock(&self.0.spec).balances = balances;
    }
    /// Authenticated requests that reached this account (any answer).
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::SeqCst)
    }
    /// `GET /api/v3/account` answered 200 for this account.
    pub fn account_requests(&self) -> u64 {
        self.0.account_requests.load(Ordering::SeqCst)
    }
}

/// The IP's weight counter.
#[derive(Debug, Default)]
pub(crate) struct WeightState {
    minute: i64,
    used: u32,
    /// Requests since a 429 in this minute.
    after_429: Option<u32>,
    banned_until_ms: Option<i64>,
    /// The most weight any minute saw.
    max_used: u32,
}

/// What the IP's weight counter says of one request.
pub(crate) enum Admit {
    Ok { used: u32 },
    Limited { used: u32, retry_after_s: i64 },
    Banned { until_ms: i64, retry_after_s: i64 },
}

pub(crate) struct Server {
    accounts: HashMap<String, Arc<AccountState>>,
    listed: Vec<String>,
    fault: Mutex<BinanceFault>,
    clock_offset_ms: AtomicI64,
    /// How far `/api/v3/time` is off the clock that checks timestamps (a fault).
    time_endpoint_lag_ms: AtomicI64,
    weight_limit: AtomicU32,
    options: BinanceSimOptions,
    weight: Mutex<WeightState>,
    requests: AtomicU64,
    answered_429: AtomicU64,
    answered_418: AtomicU64,
}

impl Server {
    /// The venue's clock now, in ms.
    pub(crate) fn server_time_ms(&self) -> i64 {
        wall_ms().saturating_add(self.clock_offset_ms.load(Ordering::SeqCst))
    }

    /// Counts `weight` against the IP (see the module doc).
    pub(crate) fn admit(&self, weight: u32) -> Admit {
        let now = wall_ms();
        let minute = now / 60_000;
        let next_minute_s = ((minute + 1) * 60_000 - now + 999) / 1000;
        let mut w = lock(&self.weight);
        if let Some(until) = w.banned_until_ms {
            if until > now {
                self.answered_418.fetch_add(1, Ordering::SeqCst);
                return Admit::Banned {
                    until_ms: until,
                    retry_after_s: (until - now + 999) / 1000,
                };
            }
            w.banned_until_ms = None;
        }
        if w.minute != minute {
            w.minute = minute;
            w.used = 0;
            w.after_429 = None;
        }
        w.used = w.used.saturating_add(weight);
        w.max_used = w.max_used.max(w.used);
        let limit = self.weight_limit.load(Ordering::SeqCst);
        if let Some(n) = w.after_429 {
            if n >= self.options.requests_after_429_before_ban {
                let until = now + i64::try_from(self.options.ban_seconds).unwrap_or(120) * 1000;
                w.banned_until_ms = Some(until);
                self.answered_418.fetch_add(1, Ordering::SeqCst);
                return Admit::Banned {
                    until_ms: until,
                    retry_after_s: i64::try_from(self.options.ban_seconds).unwrap_or(120),
                };
            }
            w.after_429 = Some(n + 1);
        }
        if w.used > limit {
            if w.after_429.is_none() {
                w.after_429 = Some(0);
            }
            self.answered_429.fetch_add(1, Ordering::SeqCst);
            return Admit::Limited {
                used: w.used,
                retry_after_s: next_minute_s.max(1),
            };
        }
        Admit::Ok { used: w.used }
    }
}

/// One simulated Binance host on 127.0.0.1. Dropping it stops the listener.
pub struct BinanceSim {
    server: Arc<Server>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for BinanceSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BinanceSim {
    pub async fn start(accounts: Vec<BinanceAccountSpec>) -> anyhow::Result<Self> {
        Self::start_with(accounts, BinanceSimOptions::default(), 0).await
    }

    /// `n` demo accounts ([`demo_keys`] 1..=n).
    pub async fn start_many(n: usize, options: BinanceSimOptions) -> anyhow::Result<Self> {
        let specs = (1..=n)
            .map(|i| {
                let (k, s) = demo_keys(i);
                BinanceAccountSpec::demo(k, s)
            })
            .collect();
        Self::start_with(specs, options, 0).await
    }

    pub async fn start_with(
        accounts: Vec<BinanceAccountSpec>,
        options: BinanceSimOptions,
        port: u16,
    ) -> anyhow::Result<Self> {
        let mut listed: Vec<String> = LISTED_SYMBOLS.iter().map(|s| (*s).to_owned()).collect();
        for a in &accounts {
            for s in a
                .open_orders
                .iter()
                .map(|o| &o.symbol)
                .chain(a.trades.iter().map(|t| &t.symbol))
            {
                if !listed.contains(s) {
                    listed.push(s.clone());
                }
            }
        }
        let accounts = accounts
            .into_iter()
            .map(|spec| {
                let state = AccountState {
                    api_key: spec.api_key.clone(),
                    secret: Mutex::new(spec.secret_key.clone()),
                    spec: Mutex::new(spec),
                    revoked: AtomicBool::new(false),
                    requests: AtomicU64::new(0),
                    account_requests: AtomicU64::new(0),
                };
                (state.api_key.clone(), Arc::new(state))
            })
            .collect();
        let server = Arc::new(Server {
            accounts,
            listed,
            fault: Mutex::new(BinanceFault::None),
            clock_offset_ms: AtomicI64::new(0),
            time_endpoint_lag_ms: AtomicI64::new(0),
            weight_limit: AtomicU32::new(options.weight_per_minute),
            options,
            weight: Mutex::new(WeightState::default()),
            requests: AtomicU64::new(0),
            answered_429: AtomicU64::new(0),
            answered_418: AtomicU64::new(0),
        });
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(server::run(server.clone(), listener));
        Ok(Self { server, addr, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn account(&self, api_key: &str) -> Option<BinanceAccount> {
        self.server
            .accounts
            .get(api_key)
            .map(|a| BinanceAccount(a.clone()))
    }

    pub fn accounts(&self) -> Vec<BinanceAccount> {
        let mut v: Vec<_> = self
            .server
            .accounts
            .values()
            .map(|a| BinanceAccount(a.clone()))
            .collect();
        v.sort_by(|a, b| a.api_key().cmp(b.api_key()));
        v
    }

    /// Runs the venue's clock `ms` ahead of ours (negative: behind).
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.server.clock_offset_ms.store(ms, Ordering::SeqCst);
    }

    /// A fault: `/api/v3/time` answers `ms` off the clock that checks timestamps (as a caching
    /// proxy in front of it would), so a client that trusts it stays outside the window.
    pub fn set_time_endpoint_lag_ms(&self, ms: i64) {
        self.server.time_endpoint_lag_ms.store(ms, Ordering::SeqCst);
    }

    /// Bans the IP for `seconds` now, as after too many requests past a 429.
    pub fn ban_for(&self, seconds: u64) {
        let until =
            wall_ms().saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX / 2000) * 1000);
        lock(&self.server.weight).banned_until_ms = Some(until);
    }

    pub fn set_fault(&self, fault: BinanceFault) {
        *lock(&self.server.fault) = fault;
    }

    pub fn set_weight_limit(&self, per_minute: u32) {
        self.server.weight_limit.store(per_minute, Ordering::SeqCst);
    }

    /// Every request received.
    pub fn requests(&self) -> u64 {
        self.server.requests.load(Ordering::SeqCst)
    }

    /// 429 answers sent.
    pub fn answered_429(&self) -> u64 {
        self.server.answered_429.load(Ordering::SeqCst)
    }

    /// 418 answers sent.
    pub fn answered_418(&self) -> u64 {
        self.server.answered_418.load(Ordering::SeqCst)
    }

    /// The most weight one minute saw.
    pub fn max_weight_per_minute(&self) -> u32 {
        lock(&self.server.weight).max_used
    }

    /// Whether the IP is banned now.
    pub fn is_banned(&self) -> bool {
        lock(&self.server.weight)
            .banned_until_ms
            .is_some_and(|t| t > wall_ms())
    }
}
