//! `openalgo-sim`: a simulator of OpenAlgo REST servers for Roster's end-to-end tests.
//!
//! It answers the way a real OpenAlgo 2.0.x server does (see `openalgo-api.md`), quirks included:
//! `POST /api/v1/<name>` with or without a trailing slash; `GET` on a POST route is a 404 JSON;
//! malformed JSON is flask-restx's 400 (no `status` key); a missing `apikey` is a 400 whose
//! `message` is an object; a wrong key is a 403; keys are sorted like `jsonify`; numbers are
//! strings, ints or floats depending on the broker ([`NumberStyle`]) and analyzer [`Mode`]; funds
//! come back as `{"data":{}}` when the broker session is dead; and each endpoint has a
//! moving-window rate limit per client IP whose 429 body has no `status` key.
//!
//! Endpoints: `ping`, `funds`, `positionbook`, `orderbook`, `tradebook`, `holdings`, `analyzer`,
//! `analyzer/toggle`, plus the unauthenticated `GET /health/status`.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use roster_tests::sim::{Fault, InstanceSpec, Simulator};
//! let sim = Simulator::start(vec![InstanceSpec::demo("acct-1", "key-1")]).await?;
//! let acct = sim.instance(0);
//! println!("{}", acct.url()); // http://127.0.0.1:PORT
//! acct.set_fault(Fault::ConnectionRefused);
//! acct.settle().await; // the port is now closed
//! acct.clear_fault();
//! acct.settle().await; // listening again on the same port
//! # Ok(()) }
//! ```
//!
//! [`Simulator::start_https`] serves the same over TLS (a CA made at start, see
//! [`Simulator::ca_pem`]); its URLs start with `https://`.
//!
//! Scale: one tokio task per instance (its accept loop) plus one per open connection; an idle
//! instance is a listener, a task and a few hundred bytes of state, so thousands of instances fit
//! in one process (mind `ulimit -n`).

mod body;
pub mod control;
mod fault;
mod render;
mod server;
mod spec;
mod tcp;
mod tls;

pub use fault::Fault;
pub use spec::{
    DEFAULT_RATE_LIMIT_PER_SECOND, DEFAULT_RECORD_LIMIT, Framing, Funds, Holding, InstanceSpec,
    Mode, NumberStyle, Order, Position, Trade,
};
pub use tcp::{TcpFaultServer, blackhole, trickle_server};

use anyhow::Context as _;
use render::Book;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Endpoint names as used by [`InstanceHandle::request_count`] and
/// [`InstanceHandle::set_endpoint_fault`] (the part after `/api/v1/`).
pub const ENDPOINTS: [&str; 8] = [
    "ping",
    "funds",
    "positionbook",
    "orderbook",
    "tradebook",
    "holdings",
    "analyzer",
    "analyzer/toggle",
];

/// The `openalgo-sim --config` file: one `[[instance]]` table per server (see
/// `tests/openalgo-sim.example.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimConfig {
    /// The instances, in order.
    pub instance: Vec<InstanceSpec>,
    /// Each instance's faults from its table (`fault`, `[instance.endpoint_faults]`), in the same
    /// order; applied once the instances run.
    pub faults: Vec<InstanceFaults>,
}

/// The faults an `[[instance]]` table starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFaults {
    /// `fault = "..."`: every endpoint.
    pub all: Fault,
    /// `[instance.endpoint_faults]`: endpoint name (see [`ENDPOINTS`]) to fault.
    pub endpoints: Vec<(String, Fault)>,
}

impl SimConfig {
    /// Parses and validates a TOML config.
    pub fn from_toml_str(text: &str) -> anyhow::Result<SimConfig> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            instance: Vec<toml::Table>,
        }
        let file: File = toml::from_str(text)?;
        let mut cfg = SimConfig::default();
        for (i, mut table) in file.instance.into_iter().enumerate() {
            let at = |key: &str| format!("[[instance]] #{}: {key}", i + 1);
            let mut faults = InstanceFaults::default();
            if let Some(v) = table.remove("fault") {
                let name = v.as_str().with_context(|| at("fault must be a string"))?;
                faults.all = name.parse().with_context(|| at("fault"))?;
            }
            if let Some(v) = table.remove("endpoint_faults") {
                let map = v
                    .as_table()
                    .with_context(|| at("endpoint_faults must be a table"))?;
                for (endpoint, f) in map {
                    anyhow::ensure!(
                        ENDPOINTS.contains(&endpoint.as_str()),
                        "{}: unknown endpoint {endpoint:?} (one of {ENDPOINTS:?})",
                        at("endpoint_faults")
                    );
                    let name = f
                        .as_str()
                        .with_context(|| at("endpoint_faults values must be strings"))?;
                    let fault = name.parse().with_context(|| at("endpoint_faults"))?;
                    faults.endpoints.push((endpoint.clone(), fault));
                }
            }
            let spec: InstanceSpec = toml::Table::try_into(table)?;
            spec.validate()?;
            cfg.instance.push(spec);
            cfg.faults.push(faults);
        }
        Ok(cfg)
    }
}

/// One request as the simulator received it, for assertions such as "the API key travelled only
/// in the body".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// Path without the query string, e.g. `/api/v1/funds`.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Every header as received (names lower-case, values lossily decoded), in order.
    pub headers: Vec<(String, String)>,
    /// Raw request body.
    pub body: Vec<u8>,
    /// Client address.
    pub peer: SocketAddr,
    /// Resolved endpoint name (see [`ENDPOINTS`]), `None` for other paths.
    pub endpoint: Option<String>,
}

impl ReceivedRequest {
    /// Body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True if `needle` occurs anywhere outside the body: path, query or any header name/value.
    pub fn leaks_outside_body(&self, needle: &str) -> bool {
        self.path.contains(needle)
            || self.query.as_deref().is_some_and(|q| q.contains(needle))
            || self
                .headers
                .iter()
                .any(|(k, v)| k.contains(needle) || v.contains(needle))
    }
}

type RateWindows = HashMap<(usize, IpAddr), VecDeque<std::time::Instant>>;

/// Shared state of one instance; the accept loop and every handle point at it.
pub(crate) struct Inner {
    name: String,
    port: u16,
    api_keys: Mutex<Vec<String>>,
    book: Mutex<Book>,
    /// Instance-wide fault; the accept loop watches it for `ConnectionRefused`.
    fault: watch::Sender<Fault>,
    endpoint_faults: Mutex<[Option<Fault>; ENDPOINTS.len()]>,
    rate_limit: AtomicU32,
    rate: Mutex<RateWindows>,
    counts: [AtomicU64; ENDPOINTS.len()],
    total: AtomicU64,
    analyzer_logs: AtomicU64,
    record_limit: usize,
    framing: Framing,
    received: Mutex<VecDeque<ReceivedRequest>>,
    /// Whether the listener is bound right now (`settle` waits on it).
    listening: watch::Sender<bool>,
    /// Set once the simulator is gone, so `settle` does not wait forever.
    stopped: AtomicBool,
    /// Serve https with this acceptor; plain http if `None`.
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// TCP connections accepted.
    connections: AtomicU64,
    /// TLS handshakes completed (always 0 for plain http).
    tls_handshakes: AtomicU64,
}

/// A poisoned lock only means a panicking test thread; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn lock_book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }

    fn lock_rate(&self) -> MutexGuard<'_, RateWindows> {
        lock(&self.rate)
    }

    fn key_ok(&self, key: &str) -> bool {
        lock(&self.api_keys).iter().any(|k| k == key)
    }

    fn endpoint_fault(&self, i: usize) -> Option<Fault> {
        lock(&self.endpoint_faults).get(i).cloned().flatten()
    }

    fn record(&self, r: ReceivedRequest) {
        if self.record_limit == 0 {
            return;
        }
        let mut q = lock(&self.received);
        while q.len() >= self.record_limit {
            q.pop_front();
        }
        q.push_back(r);
    }

    fn set_listening(&self, on: bool) {
        self.listening.send_if_modified(|v| {
            let changed = *v != on;
            *v = on;
            changed
        });
    }
}

/// Handle to one simulated OpenAlgo server: cheap to clone, `Send + Sync`, usable from any thread.
/// Every setter takes effect for the next request.
#[derive(Clone)]
pub struct InstanceHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for InstanceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceHandle")
            .field("name", &self.inner.name)
            .field("port", &self.inner.port)
            .finish()
    }
}

fn endpoint_idx(endpoint: &str) -> Option<usize> {
    let e = endpoint.trim_matches('/');
    let e = e.strip_prefix("api/v1/").unwrap_or(e);
    ENDPOINTS.iter().position(|x| *x == e)
}

impl InstanceHandle {
    /// The instance's name from its spec.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Base URL, `http://127.0.0.1:PORT` (`https://` if the simulator serves TLS; no trailing
    /// slash).
    pub fn url(&self) -> String {
        let scheme = if self.is_https() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.inner.port)
    }

    /// Whether this instance serves https.
    pub fn is_https(&self) -> bool {
        self.inner.tls.is_some()
    }

    /// TCP connections accepted so far (not zeroed by [`reset_requests`](Self::reset_requests)):
    /// how a test sees whether a client keeps its connections alive.
    pub fn connections_accepted(&self) -> u64 {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// TLS handshakes completed so far; a connection whose client rejected the certificate does
    /// not count. Always 0 over plain http; not zeroed by [`reset_requests`](Self::reset_requests).
    pub fn tls_handshakes(&self) -> u64 {
        self.inner.tls_handshakes.load(Ordering::Relaxed)
    }

    /// The port; stable for the instance's life, also across `ConnectionRefused`.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// Socket address `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.inner.port))
    }

    /// Switches the instance-wide fault (see [`Fault`]). Per-endpoint faults still win.
    pub fn set_fault(&self, fault: Fault) {
        self.inner.fault.send_replace(fault);
    }

    /// Back to normal behaviour (`Fault::None`); per-endpoint faults are kept.
    pub fn clear_fault(&self) {
        self.set_fault(Fault::None);
    }

    /// The current instance-wide fault.
    pub fn fault(&self) -> Fault {
        self.inner.fault.borrow().clone()
    }

    /// Sets a fault on one endpoint only (a name from [`ENDPOINTS`], e.g. `"funds"`); it overrides
    /// the instance-wide fault for that endpoint. `Fault::None` removes the override.
    pub fn set_endpoint_fault(&self, endpoint: &str, fault: Fault) -> anyhow::Result<()> {
        let i = endpoint_idx(endpoint)
            .with_context(|| format!("unknown endpoint {endpoint:?}; known: {ENDPOINTS:?}"))?;
        let mut f = lock(&self.inner.endpoint_faults);
        if let Some(slot) = f.get_mut(i) {
            *slot = (fault != Fault::None).then_some(fault);
        }
        Ok(())
    }

    /// Removes every per-endpoint fault.
    pub fn clear_endpoint_faults(&self) {
        *lock(&self.inner.endpoint_faults) = Default::default();
    }

    /// Waits until the listener state matches the current fault: closed under
    /// `Fault::ConnectionRefused`, bound otherwise. Returns at once if the simulator is gone.
    pub async fn settle(&self) {
        let mut rx = self.inner.listening.subscribe();
        loop {
            if self.inner.stopped.load(Ordering::Acquire) {
                return;
            }
            let want = !matches!(*self.inner.fault.borrow(), Fault::ConnectionRefused);
            if *rx.borrow_and_update() == want {
                return;
            }
            // Poll as well as wait: the fault may flip again while we sleep.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(20), rx.changed()).await;
        }
    }

    /// Marks the broker session dead (funds `{"data":{}}`, books 500, ping still 200) or alive.
    /// Live mode only: the sandbox has no broker.
    pub fn set_session_expired(&self, expired: bool) {
        self.inner.lock_book().session_expired = expired;
    }

    /// Whether the session is marked expired (by this flag; `Fault::SessionExpired` is separate).
    pub fn session_expired(&self) -> bool {
        self.inner.lock_book().session_expired
    }

    /// Switches analyzer mode (as `POST /api/v1/analyzer/toggle` would).
    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock_book().mode = mode;
    }

    /// Current analyzer mode.
    pub fn mode(&self) -> Mode {
        self.inner.lock_book().mode
    }

    /// Changes the broker number style.
    pub fn set_number_style(&self, style: NumberStyle) {
        self.inner.lock_book().style = style;
    }

    /// Changes the broker name reported by ping.
    pub fn set_broker(&self, broker: impl Into<String>) {
        self.inner.lock_book().broker = broker.into();
    }

    /// Replaces the accepted API keys (e.g. to simulate a key rotation or a revoked session).
    pub fn set_api_keys(&self, keys: Vec<String>) {
        *lock(&self.inner.api_keys) = keys;
    }

    /// Replaces funds. Fails (and changes nothing) if a value is not a decimal string.
    pub fn set_funds(&self, funds: Funds) -> anyhow::Result<()> {
        spec::validate_funds(&funds)?;
        self.inner.lock_book().funds = funds;
        Ok(())
    }

    /// Replaces the positionbook. Fails (and changes nothing) on a bad decimal string.
    pub fn set_positions(&self, positions: Vec<Position>) -> anyhow::Result<()> {
        positions.iter().try_for_each(spec::validate_position)?;
        self.inner.lock_book().positions = positions;
        Ok(())
    }

    /// Replaces the orderbook. Fails (and changes nothing) on a bad decimal string.
    pub fn set_orders(&self, orders: Vec<Order>) -> anyhow::Result<()> {
        orders.iter().try_for_each(spec::validate_order)?;
        self.inner.lock_book().orders = orders;
        Ok(())
    }

    /// Replaces the tradebook. Fails (and changes nothing) on a bad decimal string.
    pub fn set_trades(&self, trades: Vec<Trade>) -> anyhow::Result<()> {
        trades.iter().try_for_each(spec::validate_trade)?;
        self.inner.lock_book().trades = trades;
        Ok(())
    }

    /// Replaces holdings. Fails (and changes nothing) on a bad decimal string.
    pub fn set_holdings(&self, holdings: Vec<Holding>) -> anyhow::Result<()> {
        holdings.iter().try_for_each(spec::validate_holding)?;
        self.inner.lock_book().holdings = holdings;
        Ok(())
    }

    /// Changes the per-endpoint, per-client-IP budget (0 disables limiting).
    pub fn set_rate_limit_per_second(&self, limit: u32) {
        self.inner.rate_limit.store(limit, Ordering::Relaxed);
        self.inner.lock_rate().clear();
    }

    /// Requests received for one endpoint (name from [`ENDPOINTS`], any method, any outcome).
    /// Unknown names count 0.
    pub fn request_count(&self, endpoint: &str) -> u64 {
        endpoint_idx(endpoint)
            .and_then(|i| self.inner.counts.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// All HTTP requests received, any path.
    pub fn total_requests(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    /// The last requests received (up to the spec's `record_limit`), oldest first.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        lock(&self.inner.received).iter().cloned().collect()
    }

    /// Forgets recorded requests and zeroes the counters.
    pub fn reset_requests(&self) {
        lock(&self.inner.received).clear();
        for c in &self.inner.counts {
            c.store(0, Ordering::Relaxed);
        }
        self.inner.total.store(0, Ordering::Relaxed);
    }
}

/// A set of simulated OpenAlgo servers, each on its own 127.0.0.1 port. Dropping it (or
/// [`shutdown`](Simulator::shutdown)) stops every listener and connection.
pub struct Simulator {
    instances: Vec<InstanceHandle>,
    tasks: Vec<JoinHandle<()>>,
    /// The CA that signed the instances' certificate, if they serve https.
    ca_pem: Option<String>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("instances", &self.instances.len())
            .finish()
    }
}

impl Simulator {
    /// Validates the specs, binds one listener per spec (its `port`, or a free one) and spawns its
    /// accept loop. Must be called inside a tokio runtime; fails if any spec is invalid or any
    /// bind fails (already started instances are stopped again).
    pub async fn start(specs: Vec<InstanceSpec>) -> anyhow::Result<Simulator> {
        Self::start_with(specs, None).await
    }

    /// Like [`start`](Self::start), but every instance serves https: a CA is generated (its PEM
    /// is [`ca_pem`](Self::ca_pem)) and one certificate from it for `127.0.0.1` and `localhost`
    /// is shared by all instances. Faults and counters behave as over http; a client that does
    /// not trust the CA fails its handshake and never reaches HTTP.
    pub async fn start_https(specs: Vec<InstanceSpec>) -> anyhow::Result<Simulator> {
        let tls = tls::SimTls::generate()?;
        Self::start_with(specs, Some(tls)).await
    }

    async fn start_with(
        specs: Vec<InstanceSpec>,
        tls: Option<tls::SimTls>,
    ) -> anyhow::Result<Simulator> {
        for s in &specs {
            s.validate()?;
        }
        let (last_reset, settlement_date) = render::ist_now();
        let (acceptor, ca_pem) = tls.map(|t| (t.acceptor, t.ca_pem)).unzip();
        let mut sim = Simulator {
            instances: Vec::with_capacity(specs.len()),
            tasks: Vec::with_capacity(specs.len()),
            ca_pem,
        };
        for s in specs {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, s.port.unwrap_or(0)))
                .await
                .with_context(|| format!("instance {:?}: bind 127.0.0.1:{:?}", s.name, s.port))?;
            let port = listener.local_addr()?.port();
            let inner = Arc::new(Inner {
                name: s.name,
                port,
                api_keys: Mutex::new(s.api_keys),
                book: Mutex::new(Book {
                    broker: s.broker,
                    mode: s.mode,
                    style: s.number_style,
                    funds: s.funds,
                    positions: s.positions,
                    orders: s.orders,
                    trades: s.trades,
                    holdings: s.holdings,
                    session_expired: s.session_expired,
                    last_reset: last_reset.clone(),
                    settlement_date: settlement_date.clone(),
                }),
                fault: watch::Sender::new(Fault::None),
                endpoint_faults: Mutex::new(Default::default()),
                rate_limit: AtomicU32::new(s.rate_limit_per_second),
                rate: Mutex::new(HashMap::new()),
                counts: Default::default(),
                total: AtomicU64::new(0),
                analyzer_logs: AtomicU64::new(0),
                record_limit: s.record_limit,
                framing: s.framing,
                received: Mutex::new(VecDeque::new()),
                listening: watch::Sender::new(true),
                stopped: AtomicBool::new(false),
                tls: acceptor.clone(),
                connections: AtomicU64::new(0),
                tls_handshakes: AtomicU64::new(0),
            });
            sim.tasks
                .push(tokio::spawn(server::run(inner.clone(), listener)));
            sim.instances.push(InstanceHandle { inner });
        }
        Ok(sim)
    }

    /// The PEM of the CA that signed the instances' certificate (started with
    /// [`start_https`](Self::start_https)); `None` for plain http. Write it to a file and point
    /// `SSL_CERT_FILE` at it to make a platform-verifier client trust the instances.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Handle to instance `i` (in spec order).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn instance(&self, i: usize) -> InstanceHandle {
        self.instances[i].clone()
    }

    /// All instance handles, in spec order.
    pub fn instances(&self) -> &[InstanceHandle] {
        &self.instances
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// True if there are no instances.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// Stops every instance and waits until all listeners and connections are closed.
    pub async fn shutdown(mut self) {
        // Abort first: `stop` only sees the tasks still in `self.tasks`.
        self.stop();
        let tasks = std::mem::take(&mut self.tasks);
        for t in tasks {
            let _ = t.await;
        }
    }

    fn stop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for i in &self.instances {
            i.inner.stopped.store(true, Ordering::Release);
            i.inner.set_listening(false);
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}
