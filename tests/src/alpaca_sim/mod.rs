//! `alpaca-sim`: a simulator of one Alpaca Trading API v2 host (paper or live) for Roster's tests,
//! written from the reference (`alpaca-binance-api.md` §2, §4, §5.1, §6), not from a connector.
//!
//! One server per environment serves many accounts, told apart by their key pair, as
//! `paper-api.alpaca.markets` does:
//!
//! - auth: both `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY`; a missing or misnamed header (e.g.
//!   `APCA_API_KEY_ID`) is `403 {"message": "forbidden."}` with no code; an unknown key id or a
//!   wrong secret (also a paper key on the live server, or a revoked or regenerated key) is
//!   `401 {"code":40110000,"message":"request is not authorized"}`. Every answer is
//!   `application/json; charset=UTF-8` with an `x-request-id`.
//! - budget: 200 requests per rolling minute per account (configurable), `X-RateLimit-Limit`,
//!   `-Remaining` and `-Reset` (epoch seconds) on every answer to an authenticated request, 429
//!   past it. The simulator records each account's busiest minute
//!   ([`AlpacaAccount::max_requests_per_minute`]).
//! - read endpoints (GET only; any other method is `405 {"code":40510000,...}`, the simulator
//!   being read-only), each answered from the account's [`AlpacaAccountSpec`] and changeable at
//!   run time through its [`AlpacaAccount`] handle:
//!
//!   | path | answer |
//!   |---|---|
//!   | `/v2/account` | [`AccountInfo`], money as decimal strings |
//!   | `/v2/positions`, `/v2/positions/{symbol_or_asset_id}` | [`Position`] rows; short = `"side":"short"` with negative `qty`; a missing one is `404 40410000 "position does not exist"` (so is `BTC/USD`: positions say `BTCUSD`) |
//!   | `/v2/orders`, `/v2/orders/{order_id}` | [`Order`]s by `submitted_at`: `status` `open` (default; see [`OPEN_ORDER_STATUSES`]) / `closed` / `all`, `limit` 1-500 (default 50), `direction` `desc` (default) / `asc`, `after` / `until` (exclusive, RFC 3339 UTC), `after_order_id` / `before_order_id` (orders submitted after / before that one; not both, not with `after`/`until`: 422; unknown id: 404), `symbols`, `side`, `nested` (legs under their parent; otherwise legs are rows of their own and `legs` is `null`) |
//!   | `/v2/account/activities`, `/v2/account/activities/{activity_type}` | a bare array of [`Activity`] by id: `activity_types` (comma list) or `category` (`trade_activity` / `non_trade_activity`; not both: 422), `direction` `desc` (default) / `asc`, `page_size` 1-100 (default 100), `page_token` = the id of the previous page's last row |
//!   | `/v2/clock` | now in US/Eastern (9 digits, `-05:00`/`-04:00`), `is_open`, `next_open`, `next_close` |
//!
//!   Out-of-range `limit`/`page_size` and unknown enum values are `422 {"code":42210000,...}`
//!   (the reference gives the bounds, not what happens past them; refusing catches a client that
//!   relies on a silent clamp), unparsable numbers and times `400 {"code":40010000,...}`. Other
//!   paths are `404 {"code":40410000,"message":"Not Found"}`.
//! - faults ([`AlpacaFault`]) for the whole server or one account.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use roster_tests::alpaca_sim::{AlpacaAccountSpec, AlpacaFault, AlpacaSim, Environment};
//! let sim = AlpacaSim::start(
//!     Environment::Paper,
//!     vec![AlpacaAccountSpec::demo("PKDEMO0000000000001", "secret-1")],
//! )
//! .await?;
//! println!("{}", sim.url()); // http://127.0.0.1:PORT
//! let acct = sim.account("PKDEMO0000000000001").expect("registered");
//! acct.set_status("ACCOUNT_UPDATED");
//! acct.set_fault(AlpacaFault::Status500);
//! sim.set_fault(AlpacaFault::ConnectionRefused);
//! sim.settle().await; // the port is now closed
//! # Ok(()) }
//! ```
//!
//! Scale: one listener and task for the server, one task per open connection, and per account
//! its book plus two bounded request-time queues; [`AlpacaSim::start_many`] starts 2,500 accounts
//! in milliseconds.
//!
//! Not simulated: order entry and cancels (writes), OAuth bearer tokens (treated as missing
//! headers), `/v2/assets`, `/v2/calendar`, portfolio history, the activities' `date`, `after`
//! and `until` filters, and market holidays on the clock (pin it with
//! [`AlpacaSim::set_clock`]).

mod fault;
mod rate;
mod render;
mod server;
mod spec;
mod time;

pub use fault::AlpacaFault;
pub use render::MarketClock;
pub use spec::{
    AccountInfo, Activity, AlpacaAccountSpec, DEFAULT_RATE_LIMIT_PER_MINUTE, Environment,
    FillActivity, NonTradeActivity, OPEN_ORDER_STATUSES, Order, Position, activity_id, uuid_from,
};
pub use time::{activity_stamp, rfc3339_eastern, rfc3339_utc};

use anyhow::Context as _;
use rate::{Budget, Quota};
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The paths [`AlpacaSim::requests_by_path`] counts, as route templates; every other path counts
/// as `"other"` (so hostile paths cannot grow the map).
pub const ROUTES: [&str; 9] = [
    "/v2/account",
    "/v2/positions",
    "/v2/positions/{symbol_or_asset_id}",
    "/v2/orders",
    "/v2/orders/{order_id}",
    "/v2/account/activities",
    "/v2/account/activities/{activity_type}",
    "/v2/clock",
    "other",
];

/// A request's route, indexing [`ROUTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Account,
    Positions,
    Position,
    Orders,
    Order,
    Activities,
    ActivitiesOfType,
    Clock,
    Other,
}

impl Route {
    fn of(path: &str) -> Route {
        let one_segment = |rest: &str| !rest.is_empty() && !rest.contains('/');
        match path {
            "/v2/account" => Route::Account,
            "/v2/positions" => Route::Positions,
            "/v2/orders" => Route::Orders,
            "/v2/account/activities" => Route::Activities,
            "/v2/clock" => Route::Clock,
            // `BTC/USD` is two segments: the lookup fails with Alpaca's 404, as reported.
            p if p
                .strip_prefix("/v2/positions/")
                .is_some_and(|r| !r.is_empty()) =>
            {
                Route::Position
            }
            p if p.strip_prefix("/v2/orders/").is_some_and(one_segment) => Route::Order,
            p if p
                .strip_prefix("/v2/account/activities/")
                .is_some_and(one_segment) =>
            {
                Route::ActivitiesOfType
            }
            _ => Route::Other,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

type PathCounts = [AtomicU64; ROUTES.len()];

fn by_path(counts: &PathCounts) -> BTreeMap<String, u64> {
    ROUTES
        .iter()
        .zip(counts.iter())
        .map(|(p, c)| ((*p).to_owned(), c.load(Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// A poisoned lock only means a panicking test thread; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What an account's endpoints answer.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub(crate) account: AccountInfo,
    pub(crate) positions: Vec<Position>,
    pub(crate) orders: Vec<Order>,
    pub(crate) activities: Vec<Activity>,
}

/// One account's state; the handler and every [`AlpacaAccount`] handle point at it.
pub(crate) struct AccountState {
    key_id: String,
    secret: Mutex<String>,
    book: Mutex<Book>,
    fault: Mutex<AlpacaFault>,
    rate_limit: AtomicU32,
    rate_window: Mutex<Duration>,
    budget: Mutex<Budget>,
    requests: AtomicU64,
    paths: PathCounts,
}

impl AccountState {
    fn new(spec: AlpacaAccountSpec) -> AccountState {
        AccountState {
            key_id: spec.key_id,
            secret: Mutex::new(spec.secret_key),
            book: Mutex::new(Book {
                account: spec.account,
                positions: spec.positions,
                orders: spec.orders,
                activities: spec.activities,
            }),
            fault: Mutex::new(AlpacaFault::None),
            rate_limit: AtomicU32::new(spec.rate_limit_per_minute),
            rate_window: Mutex::new(spec.rate_window),
            budget: Mutex::new(Budget::default()),
            requests: AtomicU64::new(0),
            paths: Default::default(),
        }
    }

    pub(crate) fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }

    pub(crate) fn secret_matches(&self, secret: &str) -> bool {
        *lock(&self.secret) == secret
    }

    pub(crate) fn fault(&self) -> AlpacaFault {
        lock(&self.fault).clone()
    }

    pub(crate) fn count(&self, route: Route, now: Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.paths.get(route.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.budget).note(now);
    }

    /// Spends one request of the budget; `None` when the account is unlimited.
    pub(crate) fn admit(&self, now: Instant) -> Option<Quota> {
        let limit = self.rate_limit.load(Ordering::Relaxed);
        let window = *lock(&self.rate_window);
        (limit > 0).then(|| lock(&self.budget).admit(limit, window, now))
    }

    /// The budget as it stands, without spending (for answers a fault produced).
    pub(crate) fn peek_quota(&self) -> Option<Quota> {
        let limit = self.rate_limit.load(Ordering::Relaxed);
        let window = *lock(&self.rate_window);
        (limit > 0).then(|| lock(&self.budget).peek(limit, window, Instant::now()))
    }
}

/// The accounts of one server, by key id and in registration order.
#[derive(Default)]
struct Registry {
    by_key: HashMap<String, Arc<AccountState>>,
    order: Vec<Arc<AccountState>>,
}

/// Shared state of one simulated host.
pub(crate) struct Server {
    env: Environment,
    port: u16,
    accounts: RwLock<Registry>,
    /// Server-wide fault; the accept loop watches it for `ConnectionRefused`.
    fault: watch::Sender<AlpacaFault>,
    clock: Mutex<Option<MarketClock>>,
    paths: PathCounts,
    total: AtomicU64,
    next_request_id: AtomicU64,
    connections: AtomicU64,
    /// Whether the listener is bound right now (`settle` waits on it).
    listening: watch::Sender<bool>,
    /// Set once the simulator is gone, so `settle` does not wait forever.
    stopped: AtomicBool,
}

impl Server {
    pub(crate) fn account(&self, key_id: &str) -> Option<Arc<AccountState>> {
        self.accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .get(key_id)
            .cloned()
    }

    pub(crate) fn count(&self, route: Route) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.paths.get(route.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fresh `x-request-id` (32 hex digits, like Alpaca's).
    pub(crate) fn request_id(&self) -> String {
        let n = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        uuid_from(&format!("request:{}:{n}", self.port)).replace('-', "")
    }

    pub(crate) fn pinned_clock(&self) -> Option<MarketClock> {
        lock(&self.clock).clone()
    }

    fn set_listening(&self, on: bool) {
        self.listening.send_if_modified(|v| {
            let changed = *v != on;
            *v = on;
            changed
        });
    }
}

/// Handle to one account of a running simulator: cheap to clone, usable from any thread. Every
/// setter takes effect for the next request.
#[derive(Clone)]
pub struct AlpacaAccount {
    state: Arc<AccountState>,
}

impl std::fmt::Debug for AlpacaAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaAccount")
            .field("key_id", &self.state.key_id)
            .finish()
    }
}

impl AlpacaAccount {
    /// `APCA-API-KEY-ID`.
    pub fn key_id(&self) -> &str {
        &self.state.key_id
    }

    /// The secret the server currently accepts.
    pub fn secret_key(&self) -> String {
        lock(&self.state.secret).clone()
    }

    /// Replaces the secret (a regenerated key): the old one now gets 401 `40110000`.
    pub fn set_secret_key(&self, secret: impl Into<String>) {
        *lock(&self.state.secret) = secret.into();
    }

    /// The `GET /v2/account` fields as they stand.
    pub fn account_info(&self) -> AccountInfo {
        self.state.book().account.clone()
    }

    /// Replaces the `GET /v2/account` fields.
    pub fn set_account_info(&self, info: AccountInfo) {
        self.state.book().account = info;
    }

    /// Changes some `GET /v2/account` fields in place.
    pub fn update_account_info(&self, f: impl FnOnce(&mut AccountInfo)) {
        f(&mut self.state.book().account);
    }

    /// Sets `status` (any string: `ACTIVE`, `ACCOUNT_UPDATED`, `SUBMITTED`, `ACCOUNT_CLOSED`, ...).
    pub fn set_status(&self, status: impl Into<String>) {
        self.state.book().account.status = status.into();
    }

    /// Sets `trading_blocked`.
    pub fn set_trading_blocked(&self, blocked: bool) {
        self.state.book().account.trading_blocked = blocked;
    }

    /// Sets `account_blocked`.
    pub fn set_account_blocked(&self, blocked: bool) {
        self.state.book().account.account_blocked = blocked;
    }

    /// Sets `trade_suspended_by_user`.
    pub fn set_trade_suspended_by_user(&self, suspended: bool) {
        self.state.book().account.trade_suspended_by_user = suspended;
    }

    /// The positions as they stand.
    pub fn positions(&self) -> Vec<Position> {
        self.state.book().positions.clone()
    }

    /// Replaces the positions.
    pub fn set_positions(&self, positions: Vec<Position>) {
        self.state.book().positions = positions;
    }

    /// The orders as they stand.
    pub fn orders(&self) -> Vec<Order> {
        self.state.book().orders.clone()
    }

    /// Replaces the orders.
    pub fn set_orders(&self, orders: Vec<Order>) {
        self.state.book().orders = orders;
    }

    /// The activities as they stand.
    pub fn activities(&self) -> Vec<Activity> {
        self.state.book().activities.clone()
    }

    /// Replaces the activities.
    pub fn set_activities(&self, activities: Vec<Activity>) {
        self.state.book().activities = activities;
    }

    /// Switches this account's fault (see [`AlpacaFault`]); the server-wide fault still wins.
    pub fn set_fault(&self, fault: AlpacaFault) {
        *lock(&self.state.fault) = fault;
    }

    /// Back to normal (`AlpacaFault::None`).
    pub fn clear_fault(&self) {
        self.set_fault(AlpacaFault::None);
    }

    /// The account's current fault.
    pub fn fault(&self) -> AlpacaFault {
        self.state.fault()
    }

    /// Changes the budget (0: unlimited) and starts it full.
    pub fn set_rate_limit_per_minute(&self, limit: u32) {
        self.state.rate_limit.store(limit, Ordering::Relaxed);
        lock(&self.state.budget).clear_window();
    }

    /// Changes the budget's window (see [`AlpacaAccountSpec::rate_window`]; clamped to 1 s..1
    /// day) and starts it full.
    pub fn set_rate_window(&self, window: Duration) {
        *lock(&self.state.rate_window) =
            window.clamp(Duration::from_secs(1), Duration::from_secs(86_400));
        lock(&self.state.budget).clear_window();
    }

    /// The budget per window (0: unlimited).
    pub fn rate_limit_per_minute(&self) -> u32 {
        self.state.rate_limit.load(Ordering::Relaxed)
    }

    /// The budget's window (60 s unless changed).
    pub fn rate_window(&self) -> Duration {
        *lock(&self.state.rate_window)
    }

    /// Requests that carried this key id (any secret, path or outcome, faulted ones included).
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// [`request_count`](Self::request_count) by route template (see [`ROUTES`]); routes never
    /// asked are left out.
    pub fn requests_by_path(&self) -> BTreeMap<String, u64> {
        by_path(&self.state.paths)
    }

    /// The most requests carrying this key id in any 60-second window so far, admitted or not:
    /// what "the client never exceeded 200/min" is asserted with.
    pub fn max_requests_per_minute(&self) -> u64 {
        lock(&self.state.budget).max_per_minute()
    }

    /// Zeroes the counters and the busiest-minute record (the budget itself is kept).
    pub fn reset_requests(&self) {
        self.state.requests.store(0, Ordering::Relaxed);
        for c in &self.state.paths {
            c.store(0, Ordering::Relaxed);
        }
        lock(&self.state.budget).clear_record();
    }
}

/// The demo key pair of account `i` (1-based) on an environment, as [`AlpacaSim::start_many`]
/// and `alpaca-sim --demo` register them: `PK…`/`AK…` ids of 20 characters, 40-character
/// secrets.
pub fn demo_keys(env: Environment, i: usize) -> (String, String) {
    let prefix = match env {
        Environment::Paper => "PK",
        Environment::Live => "AK",
    };
    let secret: String = (0..2)
        .map(|half| uuid_from(&format!("secret:{}:{i}:{half}", env.as_str())).replace('-', ""))
        .collect::<String>()
        .chars()
        .take(40)
        .collect();
    (format!("{prefix}SIM{i:015}"), secret)
}

/// One simulated Alpaca host on 127.0.0.1. Dropping it (or [`shutdown`](Self::shutdown)) stops
/// the listener and every connection.
pub struct AlpacaSim {
    server: Arc<Server>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AlpacaSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaSim")
            .field("environment", &self.server.env)
            .field("port", &self.server.port)
            .finish()
    }
}

impl AlpacaSim {
    /// Binds 127.0.0.1 on a free port and serves `accounts` as `env`. Must be called inside a
    /// tokio runtime; fails on an invalid spec or a key id given twice.
    pub async fn start(
        env: Environment,
        accounts: Vec<AlpacaAccountSpec>,
    ) -> anyhow::Result<AlpacaSim> {
        Self::start_on(env, accounts, 0).await
    }

    /// Like [`start`](Self::start) on a given port (0: any free one).
    pub async fn start_on(
        env: Environment,
        accounts: Vec<AlpacaAccountSpec>,
        port: u16,
    ) -> anyhow::Result<AlpacaSim> {
        let mut registry = Registry::default();
        for spec in accounts {
            spec.validate()?;
            anyhow::ensure!(
                !registry.by_key.contains_key(&spec.key_id),
                "key id {:?} given twice",
                spec.key_id
            );
            let state = Arc::new(AccountState::new(spec));
            registry.by_key.insert(state.key_id.clone(), state.clone());
            registry.order.push(state);
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .with_context(|| format!("alpaca-sim: bind 127.0.0.1:{port}"))?;
        let port = listener.local_addr()?.port();
        let server = Arc::new(Server {
            env,
            port,
            accounts: RwLock::new(registry),
            fault: watch::Sender::new(AlpacaFault::None),
            clock: Mutex::new(None),
            paths: Default::default(),
            total: AtomicU64::new(0),
            next_request_id: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            listening: watch::Sender::new(true),
            stopped: AtomicBool::new(false),
        });
        let task = tokio::spawn(server::run(server.clone(), listener));
        Ok(AlpacaSim {
            server,
            task: Some(task),
        })
    }

    /// `n` demo accounts ([`AlpacaAccountSpec::demo`]) keyed by [`demo_keys`]`(env, 1..=n)`, on
    /// one server: the many-accounts benchmark's upstream.
    pub async fn start_many(env: Environment, n: usize) -> anyhow::Result<AlpacaSim> {
        let specs = (1..=n)
            .map(|i| {
                let (id, secret) = demo_keys(env, i);
                AlpacaAccountSpec::demo(id, secret)
            })
            .collect();
        Self::start(env, specs).await
    }

    /// `http://127.0.0.1:PORT` (no trailing slash), the stand-in for
    /// [`Environment::real_base_url`].
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// The port; stable for the simulator's life, also across `ConnectionRefused`.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.server.port))
    }

    /// Paper or live.
    pub fn environment(&self) -> Environment {
        self.server.env
    }

    /// The account registered under `key_id`.
    pub fn account(&self, key_id: &str) -> Option<AlpacaAccount> {
        self.server
            .account(key_id)
            .map(|state| AlpacaAccount { state })
    }

    /// Every account, in registration order.
    pub fn accounts(&self) -> Vec<AlpacaAccount> {
        self.server
            .accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .order
            .iter()
            .map(|s| AlpacaAccount { state: s.clone() })
            .collect()
    }

    /// Registers one more account while running; fails if its key id is taken.
    pub fn add_account(&self, spec: AlpacaAccountSpec) -> anyhow::Result<AlpacaAccount> {
        spec.validate()?;
        let mut reg = self
            .server
            .accounts
            .write()
            .unwrap_or_else(|e| e.into_inner());
        anyhow::ensure!(
            !reg.by_key.contains_key(&spec.key_id),
            "key id {:?} is already registered",
            spec.key_id
        );
        let state = Arc::new(AccountState::new(spec));
        reg.by_key.insert(state.key_id.clone(), state.clone());
        reg.order.push(state.clone());
        Ok(AlpacaAccount { state })
    }

    /// Unregisters a key id (a revoked key, or a paper account reset, which invalidates its
    /// keys): its requests now get 401. Returns whether it was registered.
    pub fn remove_account(&self, key_id: &str) -> bool {
        let mut reg = self
            .server
            .accounts
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let found = reg.by_key.remove(key_id).is_some();
        reg.order.retain(|s| s.key_id != key_id);
        found
    }

    /// Switches the server-wide fault; it applies before authentication and wins over any
    /// account's fault.
    pub fn set_fault(&self, fault: AlpacaFault) {
        self.server.fault.send_replace(fault);
    }

    /// Back to normal (`AlpacaFault::None`); account faults are kept.
    pub fn clear_fault(&self) {
        self.set_fault(AlpacaFault::None);
    }

    /// The server-wide fault.
    pub fn fault(&self) -> AlpacaFault {
        self.server.fault.borrow().clone()
    }

    /// Waits until the listener matches the fault: closed under `ConnectionRefused`, bound
    /// otherwise. Returns at once if the simulator is gone.
    pub async fn settle(&self) {
        let mut rx = self.server.listening.subscribe();
        loop {
            if self.server.stopped.load(Ordering::Acquire) {
                return;
            }
            let want = !matches!(*self.server.fault.borrow(), AlpacaFault::ConnectionRefused);
            if *rx.borrow_and_update() == want {
                return;
            }
            // Poll as well as wait: the fault may flip again meanwhile.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(20), rx.changed()).await;
        }
    }

    /// Pins what `GET /v2/clock` reports (`None`: a Monday-to-Friday 09:30-16:00 ET session
    /// without holidays). The timestamp is always now.
    pub fn set_clock(&self, clock: Option<MarketClock>) {
        *lock(&self.server.clock) = clock;
    }

    /// Requests that carried `key_id` (0 for a key id never registered).
    pub fn request_count(&self, key_id: &str) -> u64 {
        self.account(key_id).map_or(0, |a| a.request_count())
    }

    /// Every request by route template (see [`ROUTES`]), authenticated or not; routes never
    /// asked are left out.
    pub fn requests_by_path(&self) -> BTreeMap<String, u64> {
        by_path(&self.server.paths)
    }

    /// Every HTTP request received.
    pub fn total_requests(&self) -> u64 {
        self.server.total.load(Ordering::Relaxed)
    }

    /// The busiest minute of any account (see [`AlpacaAccount::max_requests_per_minute`]).
    pub fn max_requests_per_minute(&self) -> u64 {
        self.accounts()
            .iter()
            .map(AlpacaAccount::max_requests_per_minute)
            .max()
            .unwrap_or(0)
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.server.connections.load(Ordering::Relaxed)
    }

    /// Zeroes the server's and every account's counters.
    pub fn reset_requests(&self) {
        self.server.total.store(0, Ordering::Relaxed);
        for c in &self.server.paths {
            c.store(0, Ordering::Relaxed);
        }
        for a in self.accounts() {
            a.reset_requests();
        }
    }

    /// Stops the listener and every connection, and waits for them to be gone.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    fn stop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
        self.server.stopped.store(true, Ordering::Release);
        self.server.set_listening(false);
    }
}

impl Drop for AlpacaSim {
    fn drop(&mut self) {
        self.stop();
    }
}
