//! Consolidated portfolio: which accounts a request means, fetching their books in parallel,
//! per-account snapshots with `fetched_at`, staleness, and (in [`consolidate`]) the exact decimal
//! consolidation.
//!
//! One call for one book kind ([`Book`]) goes:
//! 1. take the selected accounts' snapshots of that kind from the in-memory [`cache`], and read
//!    only those it lacks (after a restart, say) from redb in one read transaction;
//! 2. an account whose snapshot is younger than `max_staleness` (and no `refresh`) is answered
//!    from it without touching its upstream;
//! 3. every other enabled account is fetched through the connector, all at once but under one
//!    daemon-wide semaphore (`[portfolio] concurrency`), and the whole fan-out under one deadline
//!    of about one upstream timeout, so a hanging upstream costs one timeout, not one each. A
//!    fetch of the same book of the same account already in the air is joined, not repeated
//!    ([`flight`]). An account whose key the upstream refused at its last health check is not
//!    asked at all: each refused request counts towards OpenAlgo's IP ban, which would cut every
//!    account behind that instance;
//! 4. good results are written back as snapshots in one transaction, then to the cache; a failed
//!    account is answered with its last good snapshot marked stale (with its true age), or with no
//!    data at all.
//!
//! A failure is always per account: nothing an upstream does fails the whole call.

mod cache;
pub mod consolidate;
mod flight;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Semaphore, broadcast};
use tracing::{debug, warn};

use crate::accounts::{AccountError, Accounts, FieldViolation, LabelSelector};
use crate::auth::Scope;
use crate::config::PortfolioConfig;
use crate::connector::bounds::Bounded;
use crate::connector::{
    Balances, BookKind, Connector, Connectors, FailureReason, Funds, Holdings, Mode, OrderBook,
    Positions, TradeBook, Upstream, UpstreamError,
};
use crate::metrics::Metrics;
use crate::store::{AccountRecord, EventKind, EventRecord, UnixMillis, now_millis};
use crate::supervisor::{ShutdownSignal, Supervisor};
use cache::{Snapshot, SnapshotCache};
use flight::Flights;

/// Beyond the upstream timeout, the fan-out gets this long for queueing and decoding before an
/// account still in flight is reported as TIMEOUT.
const DEADLINE_SLACK: Duration = Duration::from_millis(500);

/// One kind of book: how it is fetched, what it is called in the snapshot table, its mode and
/// the currency of its money.
pub trait Book: Bounded + Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const BOOK: BookKind;
    /// The snapshot table's kind (`"{account id}/{KIND}"`).
    const KIND: &'static str;
    fn mode(&self) -> Mode;
    /// The currency of its money; empty for balances, whose rows are each their own asset.
    fn currency(&self) -> &str;
    fn fetch<'a>(
        connector: &'a dyn Connector,
        up: &'a Upstream,
    ) -> BoxFuture<'a, Result<Self, UpstreamError>>;
}

macro_rules! book {
    ($t:ty, $book:ident, $kind:literal, $method:ident) => {
        impl Book for $t {
            const BOOK: BookKind = BookKind::$book;
            const KIND: &'static str = $kind;
            fn mode(&self) -> Mode {
                self.mode
            }
            fn currency(&self) -> &str {
                &self.currency
            }
            fn fetch<'a>(
                connector: &'a dyn Connector,
                up: &'a Upstream,
            ) -> BoxFuture<'a, Result<Self, UpstreamError>> {
                connector.$method(up)
            }
        }
    };
}

book!(Funds, Funds, "funds", funds);
book!(Positions, Positions, "positions", positions);
book!(OrderBook, Orders, "orders", orders);
book!(TradeBook, Trades, "trades", trades);
book!(Holdings, Holdings, "holdings", holdings);

impl Book for Balances {
    const BOOK: BookKind = BookKind::Balances;
    const KIND: &'static str = "balances";
    fn mode(&self) -> Mode {
        self.mode
    }
    fn currency(&self) -> &str {
        ""
    }
    fn fetch<'a>(
        connector: &'a dyn Connector,
        up: &'a Upstream,
    ) -> BoxFuture<'a, Result<Self, UpstreamError>> {
        connector.balances(up)
    }
}

/// Which accounts a request means: ids or names, and/or a label selector ("k=v,k2=v2"). Both
/// empty: every enabled account.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub accounts: Vec<String>,
    pub label_selector: String,
}

/// How fresh the answer must be.
#[derive(Debug, Clone, Copy, Default)]
pub struct Freshness {
    /// Serve snapshots younger than this; `None` = the configured default.
    pub max_staleness: Option<Duration>,
    /// Fetch from every upstream whatever the snapshots' age.
    pub refresh: bool,
}

/// Why an account's section has no fresh data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The classified upstream failure, or for an account not asked because its key was refused
    /// at its last health check, that refusal (`AUTH_REJECTED`); `None` when the upstream was not
    /// asked for another reason (disabled account, unreadable credential).
    pub reason: Option<FailureReason>,
    pub message: String,
}

impl Problem {
    fn upstream(e: UpstreamError) -> Self {
        Self {
            reason: Some(e.reason),
            message: e.message,
        }
    }

    fn local(message: impl Into<String>) -> Self {
        Self {
            reason: None,
            message: message.into(),
        }
    }
}

/// One account's part of an answer.
#[derive(Debug, Clone)]
pub struct Section<T> {
    pub account: Arc<AccountRecord>,
    /// Fresh data, or the last good snapshot when `stale`; `None` when there is nothing. Shared
    /// with the snapshot cache, so serving a snapshot copies nothing.
    pub data: Option<Arc<T>>,
    pub fetched_at: Option<UnixMillis>,
    /// How old `data` is now.
    pub age: Option<Duration>,
    /// `data` is a last good snapshot older than `max_staleness`, shown because the fetch failed.
    pub stale: bool,
    pub problem: Option<Problem>,
    /// The account's venue does not have this book: no data, no problem, not partial.
    pub unsupported: bool,
}

impl<T: Book> Section<T> {
    /// The data's mode, else the account's last known mode.
    pub fn mode(&self) -> String {
        match &self.data {
            Some(d) => d.mode().as_str().into(),
            None => self.account.mode.clone(),
        }
    }

    /// The currency of the data's money; empty without data.
    pub fn currency(&self) -> &str {
        self.data.as_deref().map_or("", Book::currency)
    }
}

/// How many accounts the totals cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    pub selected: u32,
    pub fresh: u32,
    pub stale: u32,
    pub failed: u32,
    pub unsupported: u32,
}

pub fn coverage<T>(sections: &[Section<T>]) -> Coverage {
    let mut c = Coverage::default();
    for s in sections {
        c.selected += 1;
        match (&s.data, s.stale) {
            (None, _) if s.unsupported => c.unsupported += 1,
            (None, _) => c.failed += 1,
            (Some(_), true) => c.stale += 1,
            (Some(_), false) => c.fresh += 1,
        }
    }
    c
}

/// The API's handle on portfolio views. Cheap to clone.
#[derive(Clone)]
pub struct PortfolioHandle {
    inner: Arc<Inner>,
}

/// Where an account stands with the health monitor, as far as fetching its books goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// UP: the background refresh keeps its books warm.
    Up,
    /// Its key was refused (`AUTH_REJECTED`) at its last check: its books are not fetched, since
    /// every refused request counts towards OpenAlgo's IP ban, until a check succeeds again.
    KeyRefused,
    /// Anything else: fetched when asked (not by the background refresh, so a dead upstream is
    /// not polled twice over).
    Other,
}

/// The health monitor's view of an account (by id).
pub type StandingOf = Arc<dyn Fn(&str) -> Standing + Send + Sync>;

/// One landed fetch, as every caller that waited on it sees it (see [`flight`]).
struct Fetched<T> {
    data: Arc<T>,
    fetched_at: UnixMillis,
    /// The snapshot to store; `None` when the book could not be encoded.
    encoded: Option<Arc<Vec<u8>>>,
    /// Taken by the first caller that stores the snapshot: thirty callers sharing one fetch
    /// write it once.
    unstored: Arc<AtomicBool>,
}

// Not derived: a derive would demand `T: Clone`, and cloning only bumps the `Arc`s.
impl<T> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        Self {
            data: self.data.clone(),
            fetched_at: self.fetched_at,
            encoded: self.encoded.clone(),
            unstored: self.unstored.clone(),
        }
    }
}

struct Inner {
    accounts: Accounts,
    standing: StandingOf,
    connectors: Connectors,
    metrics: Arc<Metrics>,
    /// Replaced as a whole on reload.
    config: std::sync::RwLock<PortfolioConfig>,
    /// The connector's per-call deadline; the fan-out's deadline is derived from it.
    upstream_timeout: Duration,
    /// Upstream fetches in flight across every call and the background refresh.
    slots: Semaphore,
    /// Decoded copies of the redb snapshots.
    cache: SnapshotCache,
    /// Upstream fetches in the air, one per (account, book).
    flights: Arc<Flights>,
}

impl PortfolioHandle {
    /// Starts the background refresh (when `refresh_interval` is not zero) and the task that
    /// drops deleted accounts' cached snapshots under `supervisor`.
    pub(crate) fn start(
        config: &PortfolioConfig,
        accounts: Accounts,
        connectors: Connectors,
        metrics: Arc<Metrics>,
        supervisor: &Supervisor,
        upstream_timeout: Duration,
        standing: StandingOf,
    ) -> Self {
        // Subscribed before anything can be cached, so no deletion is missed.
        let events = accounts.events().subscribe();
        let handle = Self {
            inner: Arc::new(Inner {
                accounts,
                standing,
                connectors,
                metrics,
                config: std::sync::RwLock::new(config.clone()),
                upstream_timeout,
                slots: Semaphore::new(config.concurrency.clamp(1, Semaphore::MAX_PERMITS)),
                cache: SnapshotCache::default(),
                flights: Arc::default(),
            }),
        };
        supervisor.spawn(
            "portfolio-cache",
            handle.clone().forget_deleted(events, supervisor.signal()),
        );
        // Always running, idle while refresh_interval is 0, so a reload can turn it on.
        let h = handle.clone();
        let stop = supervisor.signal();
        supervisor.spawn("portfolio-refresh", h.refresh_loop(stop));
        handle
    }

    fn config(&self) -> PortfolioConfig {
        self.inner
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies reloaded settings: max_staleness and refresh_interval at once, concurrency as
    /// fetches in flight finish.
    pub fn reconfigure(&self, config: &PortfolioConfig) {
        let mut current = self.inner.config.write().unwrap_or_else(|e| e.into_inner());
        let clamp = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS);
        let (old, new) = (clamp(current.concurrency), clamp(config.concurrency));
        if new > old {
            self.inner.slots.add_permits(new - old);
        } else if new < old {
            self.inner.slots.forget_permits(old - new);
        }
        *current = config.clone();
    }

    /// Resolves a selection to accounts: named ones (ids or names, in the order given, each
    /// once, enabled or not) plus every enabled account that matches the selector; with neither,
    /// every enabled account. Sorted by name when nothing was named.
    pub fn select(&self, sel: &Selection) -> Result<Vec<Arc<AccountRecord>>, AccountError> {
        self.select_in(&Scope::Global, sel)
    }

    /// [`Self::select`] among the accounts `scope` sees: another tenant's account named in the
    /// selection is NOT_FOUND, and a selector never matches one.
    pub fn select_in(
        &self,
        scope: &Scope,
        sel: &Selection,
    ) -> Result<Vec<Arc<AccountRecord>>, AccountError> {
        let selector = LabelSelector::parse("label_selector", &sel.label_selector)?;
        let mut out: Vec<Arc<AccountRecord>> = Vec::new();
        for (i, name) in sel.accounts.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(AccountError::Invalid(vec![FieldViolation::new(
                    format!("accounts[{i}]"),
                    "is empty",
                )]));
            }
            let record = self.inner.accounts.get_in(scope, name.trim())?;
            if !out.iter().any(|r| r.id == record.id) {
                out.push(record);
            }
        }
        if sel.accounts.is_empty() || !selector.is_empty() {
            let mut matched: Vec<_> = self
                .inner
                .accounts
                .all()
                .into_iter()
                .filter(|r| scope.sees(&r.tenant) && r.enabled && selector.matches(&r.labels))
                .filter(|r| !out.iter().any(|o| o.id == r.id))
                .collect();
            matched.sort_by(|a, b| crate::accounts::natural_order(&a.name, &b.name));
            out.extend(matched);
        }
        Ok(out)
    }

    /// One section per account, in the order given. Never fails as a whole.
    pub async fn gather<T: Book>(
        &self,
        accounts: &[Arc<AccountRecord>],
        freshness: Freshness,
    ) -> Vec<Section<T>> {
        let inner = &self.inner;
        let max_staleness = freshness
            .max_staleness
            .unwrap_or_else(|| self.config().max_staleness);
        let snapshots = self.load_snapshots::<T>(accounts).await;
        let now = now_millis();
        let deadline = tokio::time::Instant::now() + inner.upstream_timeout + DEADLINE_SLACK;

        let mut sections = Vec::with_capacity(accounts.len());
        let mut fetches = Vec::new();
        for (i, (account, snapshot)) in accounts.iter().zip(snapshots).enumerate() {
            let age = snapshot.as_ref().map(|s| age_of(s.fetched_at, now));
            let young = age.is_some_and(|a| a < max_staleness);
            let mut section = Section {
                account: account.clone(),
                data: None,
                fetched_at: snapshot.as_ref().map(|s| s.fetched_at),
                age,
                stale: false,
                problem: None,
                unsupported: false,
            };
            let has_book =
                crate::connector::venue(&account.connector).is_none_or(|venue| venue.has(T::BOOK));
            if !has_book {
                // Not asked, not failed, and whatever an older snapshot holds is not shown.
                section.unsupported = true;
                section.fetched_at = None;
                section.age = None;
            } else if young && !freshness.refresh {
                if let Some(age) = age {
                    inner.metrics.record_snapshot_age(T::KIND, age);
                }
                section.data = snapshot.map(|s| s.data);
            } else if !account.enabled {
                // A disabled account's upstream is not contacted; its last data may be shown.
                section.problem = Some(Problem::local("account is disabled"));
                section.stale = snapshot.is_some();
                section.data = snapshot.map(|s| s.data);
            } else if (inner.standing)(&account.id) == Standing::KeyRefused {
                // Not even with `refresh`: the health monitor rations the requests that carry a
                // refused key per host, and a book call is one more.
                section.problem = Some(Problem {
                    reason: Some(FailureReason::AuthRejected),
                    message: format!(
                        "not fetched: the upstream refused this account's key at its last health \
                         check; fix the key, or after a re-login run `rosterctl health check {}`",
                        account.name
                    ),
                });
                section.stale = snapshot.is_some();
                section.data = snapshot.map(|s| s.data);
            } else {
                fetches.push(self.fetch_one::<T>(i, account.clone(), snapshot, deadline));
            }
            sections.push(section);
        }
        if fetches.is_empty() {
            return sections;
        }
        let results = futures::future::join_all(fetches).await;
        let mut to_store = Vec::new();
        let mut to_cache = Vec::new();
        for (i, result, snapshot) in results {
            let Some(section) = sections.get_mut(i) else {
                continue;
            };
            match result {
                Ok(fetched) => {
                    let Fetched {
                        data,
                        fetched_at,
                        encoded,
                        unstored,
                    } = fetched;
                    if let Some(bytes) = encoded
                        && unstored.swap(false, Ordering::AcqRel)
                    {
                        let id = &section.account.id;
                        to_store.push((id.clone(), fetched_at, Arc::unwrap_or_clone(bytes)));
                        let data = data.clone();
                        to_cache.push((id.clone(), Snapshot { fetched_at, data }));
                    }
                    section.data = Some(data);
                    section.fetched_at = Some(fetched_at);
                    section.age = Some(Duration::ZERO);
                    section.stale = false;
                    section.problem = None;
                }
                Err(problem) => {
                    debug!(account_id = %section.account.id, kind = T::KIND, reason = ?problem.reason, message = %problem.message, "fetch failed");
                    let now = now_millis();
                    section.stale = snapshot.is_some();
                    section.fetched_at = snapshot.as_ref().map(|s| s.fetched_at);
                    section.age = snapshot.as_ref().map(|s| age_of(s.fetched_at, now));
                    section.data = snapshot.map(|s| s.data);
                    section.problem = Some(problem);
                }
            }
        }
        match self
            .inner
            .accounts
            .store()
            .put_snapshots(T::KIND, to_store)
            .await
        {
            // Only what redb took: the cache must not hold what a restart would not find.
            Ok(stored) => self.cache(
                to_cache
                    .into_iter()
                    .zip(stored)
                    .filter_map(|(s, stored)| stored.then_some(s)),
            ),
            // The answer is still right; only the snapshots missed an update.
            Err(e) => warn!(kind = T::KIND, error = %e, "cannot store portfolio snapshots"),
        }
        sections
    }

    /// The accounts' snapshots, in order: from the cache, else (after a restart, say) from redb,
    /// which then fills the cache.
    async fn load_snapshots<T: Book>(
        &self,
        accounts: &[Arc<AccountRecord>],
    ) -> Vec<Option<Snapshot<T>>> {
        let mut snapshots = self
            .inner
            .cache
            .get_many::<T>(T::KIND, accounts.iter().map(|a| a.id.as_str()));
        let ids: Vec<String> = accounts
            .iter()
            .zip(&snapshots)
            .filter(|(_, s)| s.is_none())
            .map(|(a, _)| a.id.clone())
            .collect();
        if ids.is_empty() {
            return snapshots;
        }
        let missing = ids.len();
        let raw = match self.inner.accounts.store().snapshots(ids, T::KIND).await {
            Ok(raw) => raw,
            Err(e) => {
                warn!(kind = T::KIND, error = %e, "cannot read portfolio snapshots; fetching everything");
                vec![None; missing]
            }
        };
        let max_snapshot_bytes = self.config().max_snapshot_bytes;
        let mut loaded = Vec::new();
        let misses = accounts
            .iter()
            .zip(snapshots.iter_mut())
            .filter(|(_, s)| s.is_none());
        for ((account, slot), stored) in misses.zip(raw) {
            let Some((fetched_at, bytes)) = stored else {
                continue;
            };
            // Stored before today's bounds existed, perhaps: checked like a fresh answer, so a
            // snapshot that would break consolidation is a miss, never a crash after restart.
            if bytes.len() > max_snapshot_bytes {
                warn!(account_id = %account.id, kind = T::KIND, bytes = bytes.len(), "ignoring a snapshot over [portfolio] max_snapshot_bytes");
                continue;
            }
            match serde_json::from_slice::<T>(&bytes) {
                Ok(data) if let Err(e) = data.check_bounds(usize::MAX) => {
                    warn!(account_id = %account.id, kind = T::KIND, error = %e, "ignoring a snapshot with a value out of range");
                }
                Ok(data) => {
                    let snapshot = Snapshot {
                        fetched_at,
                        data: Arc::new(data),
                    };
                    *slot = Some(snapshot.clone());
                    loaded.push((account.id.clone(), snapshot));
                }
                Err(e) => {
                    // An unreadable snapshot (older format, say) is only a cache miss.
                    warn!(account_id = %account.id, kind = T::KIND, error = %e, "ignoring unreadable snapshot");
                }
            }
        }
        self.cache(loaded);
        snapshots
    }

    /// Caches snapshots redb holds, for accounts that still exist.
    fn cache<T: Book>(&self, snapshots: impl IntoIterator<Item = (String, Snapshot<T>)>) {
        let accounts = &self.inner.accounts;
        self.inner
            .cache
            .put_many(T::KIND, snapshots, |id| accounts.exists(id));
    }

    /// Drops a deleted account's cached snapshots, as the store dropped its stored ones.
    async fn forget_deleted(
        self,
        mut events: broadcast::Receiver<EventRecord>,
        mut stop: ShutdownSignal,
    ) {
        loop {
            let event = tokio::select! {
                () = stop.requested() => return,
                event = events.recv() => event,
            };
            match event {
                Ok(e) if matches!(e.kind, EventKind::AccountDeleted) => {
                    self.inner.cache.remove_account(&e.account_id);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // Deletions may be among the missed events: the registry is the truth.
                    debug!(
                        missed,
                        "portfolio cache lagged behind account events; resyncing"
                    );
                    let accounts = &self.inner.accounts;
                    self.inner.cache.retain_accounts(|id| accounts.exists(id));
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// One account's book before `deadline`: the fetch of it already in the air, or a new one.
    async fn fetch_one<T: Book>(
        &self,
        index: usize,
        account: Arc<AccountRecord>,
        snapshot: Option<Snapshot<T>>,
        deadline: tokio::time::Instant,
    ) -> (usize, Result<Fetched<T>, Problem>, Option<Snapshot<T>>) {
        let flight = self.inner.flights.join_or_start(
            &account.id,
            T::KIND,
            || {
                self.clone()
                    .fetch_upstream::<T>(account.clone(), deadline)
                    .boxed()
            },
            || Err(Problem::local("portfolio is shutting down")),
        );
        let result = match tokio::time::timeout_at(deadline, flight).await {
            Ok(r) => r,
            Err(_) => Err(deadline_passed()),
        };
        (index, result, snapshot)
    }

    /// Fetches one account's book under a fan-out slot, all before `deadline`, and encodes it
    /// as a snapshot. Runs as the shared fetch of every caller waiting for this book.
    async fn fetch_upstream<T: Book>(
        self,
        account: Arc<AccountRecord>,
        deadline: tokio::time::Instant,
    ) -> Result<Fetched<T>, Problem> {
        let inner = &self.inner;
        let work = async {
            let _slot = inner
                .slots
                .acquire()
                .await
                .map_err(|_| Problem::local("portfolio is shutting down"))?;
            let up = inner
                .accounts
                .upstream(&account)
                .map_err(|e| Problem::local(format!("cannot unseal the credential: {e}")))?;
            let connector = inner
                .connectors
                .get(&account.connector)
                .map_err(|e| Problem::local(e.message))?;
            T::fetch(connector.as_ref(), &up)
                .await
                .map_err(Problem::upstream)
        };
        let data = match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r?,
            Err(_) => return Err(deadline_passed()),
        };
        let fetched_at = now_millis();
        let max_snapshot_bytes = self.config().max_snapshot_bytes;
        let encoded = match serde_json::to_vec(&data) {
            // A book too big to keep is a failure like any other: the last good snapshot (if
            // any) is shown, marked stale, and nothing grows the store.
            Ok(bytes) if bytes.len() > max_snapshot_bytes => {
                return Err(Problem {
                    reason: Some(FailureReason::BadResponse),
                    message: format!(
                        "the {} book is {} bytes as a snapshot, over [portfolio] max_snapshot_bytes ({max_snapshot_bytes})",
                        T::KIND,
                        bytes.len()
                    ),
                });
            }
            Ok(bytes) => Some(Arc::new(bytes)),
            Err(e) => {
                warn!(account_id = %account.id, error = %e, "cannot encode snapshot");
                None
            }
        };
        Ok(Fetched {
            data: Arc::new(data),
            fetched_at,
            encoded,
            unstored: Arc::new(AtomicBool::new(true)),
        })
    }

    /// Keeps every UP account's snapshots warm. A round skips snapshots younger than half
    /// the interval, so a book an API call just fetched is not fetched again.
    async fn refresh_loop(self, mut stop: crate::supervisor::ShutdownSignal) {
        loop {
            let interval = self.config().refresh_interval;
            // Off (0s): look again in a second, in case a reload turned it on.
            let wait = if interval.is_zero() {
                Duration::from_secs(1)
            } else {
                interval
            };
            tokio::select! {
                () = stop.requested() => return,
                () = tokio::time::sleep(wait) => {}
            }
            if interval.is_zero() {
                continue;
            }
            let freshness = Freshness {
                max_staleness: Some(interval / 2),
                refresh: false,
            };
            let accounts: Vec<_> = self
                .inner
                .accounts
                .all()
                .into_iter()
                .filter(|a| a.enabled && (self.inner.standing)(&a.id) == Standing::Up)
                .collect();
            if accounts.is_empty() {
                continue;
            }
            let round = async {
                self.gather::<Funds>(&accounts, freshness).await;
                self.gather::<Positions>(&accounts, freshness).await;
                self.gather::<OrderBook>(&accounts, freshness).await;
                self.gather::<TradeBook>(&accounts, freshness).await;
                self.gather::<Holdings>(&accounts, freshness).await;
                self.gather::<Balances>(&accounts, freshness).await;
            };
            tokio::select! {
                () = stop.requested() => return,
                () = round => debug!(accounts = accounts.len(), "portfolio refresh round done"),
            }
        }
    }
}

fn deadline_passed() -> Problem {
    Problem {
        reason: Some(FailureReason::Timeout),
        message: "no answer before the portfolio deadline".into(),
    }
}

fn age_of(fetched_at: UnixMillis, now: UnixMillis) -> Duration {
    // A snapshot "from the future" (the clock stepped back) counts as brand new.
    Duration::from_millis(u64::try_from(now.saturating_sub(fetched_at)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use rust_decimal::Decimal;

    use super::*;
    use crate::accounts::NewAccount;
    use crate::audit::Actor;
    use crate::seal::{Keyring, MasterKey, generate_master_key};
    use crate::secret::{Credential, Secret};
    use crate::store::Store;

    /// Answers by host: `fail.test` is a 500, `hang.test` never answers, `slow.test` answers after
    /// 50 ms, any other succeeds with `available_cash` = how many times that host was asked (so
    /// each fetch is told apart).
    #[derive(Default)]
    struct Fake {
        calls: Mutex<HashMap<String, u32>>,
    }

    impl Fake {
        fn calls(&self, host: &str) -> u32 {
            self.calls.lock().unwrap().get(host).copied().unwrap_or(0)
        }
    }

    /// Only funds: the other books answer with the trait's "no such book".
    impl Connector for Fake {
        fn venue(&self) -> &'static crate::connector::Venue {
            &crate::connector::openalgo::VENUE
        }
        fn check<'a>(
            &'a self,
            _: &'a Upstream,
            _: bool,
        ) -> BoxFuture<'a, Result<crate::connector::Vitals, crate::connector::CheckFailure>>
        {
            Box::pin(async {
                Err(UpstreamError::new(FailureReason::Connect, "unused", None).into())
            })
        }
        fn funds<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Funds, UpstreamError>> {
            Box::pin(async move {
                let n = {
                    let mut calls = self.calls.lock().unwrap();
                    let n = calls.entry(up.host_url().to_string()).or_default();
                    *n += 1;
                    *n
                };
                if up.host_url().contains("hang") {
                    futures::future::pending::<()>().await;
                }
                if up.host_url().contains("slow") {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if up.host_url().contains("fail") {
                    return Err(UpstreamError::new(
                        FailureReason::Http5xx,
                        "boom",
                        Some(500),
                    ));
                }
                Ok(cash(n.into()))
            })
        }
    }

    fn cash(available_cash: Decimal) -> Funds {
        Funds {
            available_cash,
            collateral: Decimal::ZERO,
            m2m_realized: Decimal::ZERO,
            m2m_unrealized: Decimal::ZERO,
            utilised_debits: Decimal::ZERO,
            mode: Mode::Live,
            ..Default::default()
        }
    }

    /// A store holding one enabled account per name, at `http://{name}.test`.
    async fn accounts_named(dir: &std::path::Path, names: &[&str]) -> Accounts {
        let store = Store::open(&dir.join("p.redb")).unwrap();
        let master = MasterKey::from_bytes(&generate_master_key()).unwrap();
        let keyring = Arc::new(arc_swap::ArcSwap::from_pointee(Keyring::new(master)));
        let accounts =
            Accounts::load(store, keyring, tokio::sync::broadcast::channel(16).0, 100).unwrap();
        for &name in names {
            accounts
                .create(
                    &Actor::system(),
                    NewAccount {
                        request_id: String::new(),
                        name: name.into(),
                        tenant: "default".into(),
                        connector: "openalgo".into(),
                        environment: String::new(),
                        host_url: format!("http://{name}.test"),
                        ws_url: String::new(),
                        credential: Credential::api_key(Secret::new("key-123".to_string())),
                        labels: Default::default(),
                        enabled: true,
                    },
                )
                .await
                .unwrap();
        }
        accounts
    }

    /// A portfolio (with an empty cache, as after a restart) serving snapshots up to a minute old.
    fn portfolio(
        accounts: &Accounts,
        fake: &Arc<Fake>,
        supervisor: &Supervisor,
    ) -> PortfolioHandle {
        let config = PortfolioConfig {
            max_staleness: Duration::from_secs(60),
            ..PortfolioConfig::default()
        };
        PortfolioHandle::start(
            &config,
            accounts.clone(),
            Connectors::of([fake.clone() as Arc<dyn Connector>]),
            Arc::new(Metrics::new()),
            supervisor,
            Duration::from_millis(200),
            Arc::new(|_: &str| Standing::Up),
        )
    }

    fn within(max_staleness: Duration) -> Freshness {
        Freshness {
            max_staleness: Some(max_staleness),
            refresh: false,
        }
    }

    const REFRESH: Freshness = Freshness {
        max_staleness: None,
        refresh: true,
    };

    /// (available_cash, fetched_at) of each section.
    fn seen(sections: &[Section<Funds>]) -> Vec<(Option<Decimal>, Option<UnixMillis>)> {
        sections
            .iter()
            .map(|s| (s.data.as_ref().map(|d| d.available_cash), s.fetched_at))
            .collect()
    }

    #[tokio::test]
    async fn fresh_snapshot_stale_and_failed_sections_within_one_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = accounts_named(dir.path(), &["ok", "fail", "hang"]).await;
        let fake = Arc::new(Fake::default());
        let supervisor = Supervisor::new();
        let p = portfolio(&accounts, &fake, &supervisor);
        let selected = p.select(&Selection::default()).unwrap();
        let names: Vec<_> = selected.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["fail", "hang", "ok"]);

        let started = std::time::Instant::now();
        let s = p.gather::<Funds>(&selected, Freshness::default()).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let reasons: Vec<_> = s
            .iter()
            .map(|x| x.problem.as_ref().and_then(|p| p.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                Some(FailureReason::Http5xx),
                Some(FailureReason::Timeout),
                None
            ]
        );
        assert_eq!(
            coverage(&s),
            Coverage {
                selected: 3,
                fresh: 1,
                stale: 0,
                failed: 2,
                ..Default::default()
            }
        );

        // Young snapshot: served without a call; the failing ones are asked again.
        let s = p.gather::<Funds>(&selected, Freshness::default()).await;
        assert_eq!(fake.calls("http://ok.test"), 1);
        assert_eq!(fake.calls("http://fail.test"), 2);
        assert!(s[2].data.is_some() && !s[2].stale);
        // refresh fetches even a young snapshot.
        p.gather::<Funds>(&selected, REFRESH).await;
        assert_eq!(fake.calls("http://ok.test"), 2);

        // Unknown names and bad selectors are request errors, not sections.
        let err = p.select(&Selection {
            accounts: vec!["nope".into()],
            ..Selection::default()
        });
        assert!(matches!(err, Err(AccountError::NotFound(_))));
        let err = p.select(&Selection {
            label_selector: "x".into(),
            ..Selection::default()
        });
        assert!(matches!(err, Err(AccountError::Invalid(_))));
        let err = p.select(&Selection {
            accounts: vec![" ".into()],
            ..Selection::default()
        });
        assert!(matches!(err, Err(AccountError::Invalid(_))));
    }

    #[tokio::test]
    async fn a_snapshot_is_served_from_memory_and_a_write_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = accounts_named(dir.path(), &["ok"]).await;
        let fake = Arc::new(Fake::default());
        let supervisor = Supervisor::new();
        let p = portfolio(&accounts, &fake, &supervisor);
        let selected = p.select(&Selection::default()).unwrap();
        let first = seen(&p.gather::<Funds>(&selected, Freshness::default()).await);
        assert_eq!(first[0].0, Some(Decimal::ONE));

        // redb changed behind the cache's back (nothing in the daemon does this): still answered
        // from memory, so a call from fresh snapshots neither reads nor decodes the stored copy.
        let later = first[0].1.unwrap() + 1;
        let other = serde_json::to_vec(&cash(Decimal::TEN)).unwrap();
        let id = selected[0].id.clone();
        let stored = accounts
            .store()
            .put_snapshots(Funds::KIND, vec![(id, later, other)]);
        assert_eq!(stored.await.unwrap(), [true]);
        let again = p.gather::<Funds>(&selected, Freshness::default()).await;
        assert_eq!(seen(&again), first);
        assert_eq!(fake.calls("http://ok.test"), 1);
        // Served sections share the one cached copy.
        let cached = &p.load_snapshots::<Funds>(&selected).await[0];
        assert!(Arc::ptr_eq(
            &cached.as_ref().unwrap().data,
            again[0].data.as_ref().unwrap()
        ));

        // A fetch replaces the cached copy, and later calls are served the new one.
        let refreshed = seen(&p.gather::<Funds>(&selected, REFRESH).await);
        assert_eq!(refreshed[0].0, Some(Decimal::TWO));
        assert!(refreshed[0].1 >= Some(later));
        let served = p.gather::<Funds>(&selected, Freshness::default()).await;
        assert_eq!(seen(&served), refreshed);
        assert_eq!(fake.calls("http://ok.test"), 2);
        assert_eq!(p.inner.cache.len(), 1, "one copy per account and book");
    }

    #[tokio::test]
    async fn after_a_restart_stored_snapshots_are_served_and_aged_by_their_fetch_time() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = accounts_named(dir.path(), &["ok"]).await;
        let id = accounts.get("ok").unwrap().id.clone();
        // Left by the previous run, ten seconds ago.
        let fetched_at = now_millis() - 10_000;
        let bytes = serde_json::to_vec(&cash(Decimal::TEN)).unwrap();
        let stored = accounts
            .store()
            .put_snapshots(Funds::KIND, vec![(id, fetched_at, bytes)]);
        assert_eq!(stored.await.unwrap(), [true]);

        let fake = Arc::new(Fake::default());
        let supervisor = Supervisor::new();
        let p = portfolio(&accounts, &fake, &supervisor);
        let selected = p.select(&Selection::default()).unwrap();
        let s = p
            .gather::<Funds>(&selected, within(Duration::from_secs(60)))
            .await;
        assert_eq!(seen(&s), [(Some(Decimal::TEN), Some(fetched_at))]);
        let age = s[0].age.unwrap();
        assert!(
            age >= Duration::from_secs(10) && age < Duration::from_secs(60),
            "{age:?}"
        );
        assert!(!s[0].stale && s[0].problem.is_none());
        assert_eq!(fake.calls("http://ok.test"), 0);
        assert_eq!(p.inner.cache.len(), 1, "the stored copy is now cached");

        // The cached copy is just as old: too old for 5 s, so the upstream is asked.
        let s = p
            .gather::<Funds>(&selected, within(Duration::from_secs(5)))
            .await;
        assert_eq!(s[0].data.as_ref().unwrap().available_cash, Decimal::ONE);
        assert_eq!(s[0].age, Some(Duration::ZERO));
        assert_eq!(fake.calls("http://ok.test"), 1);

        // Another restart finds what that fetch stored.
        let restarted = portfolio(&accounts, &fake, &supervisor);
        let again = restarted
            .gather::<Funds>(&selected, within(Duration::from_secs(5)))
            .await;
        assert_eq!(seen(&again), seen(&s));
        assert_eq!(fake.calls("http://ok.test"), 1);
    }

    #[tokio::test]
    async fn a_stored_snapshot_out_of_range_or_too_big_is_a_miss_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = accounts_named(dir.path(), &["huge", "big"]).await;
        let huge = accounts.get("huge").unwrap().id.clone();
        let big = accounts.get("big").unwrap().id.clone();
        // Left by an older daemon that had no bounds: a value past 10^15, and a snapshot over
        // max_snapshot_bytes (valid JSON padded with whitespace).
        let fetched_at = now_millis() - 1_000;
        let out_of_range = serde_json::to_vec(&cash(Decimal::MAX)).unwrap();
        let mut too_big = serde_json::to_vec(&cash(Decimal::TEN)).unwrap();
        too_big.extend(std::iter::repeat_n(b' ', 5 * 1024 * 1024));
        let stored = accounts.store().put_snapshots(
            Funds::KIND,
            vec![(huge, fetched_at, out_of_range), (big, fetched_at, too_big)],
        );
        assert_eq!(stored.await.unwrap(), [true, true]);

        let fake = Arc::new(Fake::default());
        let supervisor = Supervisor::new();
        let p = portfolio(&accounts, &fake, &supervisor);
        let selected = p.select(&Selection::default()).unwrap();
        let s = p
            .gather::<Funds>(&selected, within(Duration::from_secs(60)))
            .await;
        // Both were fetched afresh instead of served from the store.
        assert_eq!(fake.calls("http://huge.test"), 1);
        assert_eq!(fake.calls("http://big.test"), 1);
        assert!(
            s.iter()
                .all(|x| x.data.as_ref().unwrap().available_cash == Decimal::ONE)
        );
    }

    #[tokio::test]
    async fn a_deleted_accounts_cached_snapshots_go() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = accounts_named(dir.path(), &["a", "b", "c"]).await;
        let fake = Arc::new(Fake::default());
        let supervisor = Supervisor::new();
        let p = portfolio(&accounts, &fake, &supervisor);
        let selected = p.select(&Selection::default()).unwrap();
        p.gather::<Funds>(&selected, Freshness::default()).await;
        assert_eq!(p.inner.cache.len(), 3);
        let cached_len = |want: usize| {
            let p = p.clone();
            async move {
                for _ in 0..200 {
                    if p.inner.cache.len() == want {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!(
                    "cache still holds {} snapshots, not {want}",
                    p.inner.cache.len()
                );
            }
        };

        accounts
            .delete(&Actor::system(), &crate::auth::Scope::Global, "a", "")
            .await
            .unwrap();
        cached_len(2).await;
        // A fetch that finishes after its account was deleted caches nothing.
        let gone = Snapshot {
            fetched_at: now_millis(),
            data: Arc::new(cash(Decimal::ONE)),
        };
        p.cache(vec![(selected[0].id.clone(), gone)]);
        assert_eq!(p.inner.cache.len(), 2);

        // A deletion whose event was lost in a burst is still noticed (the test runtime runs
        // nothing else until this test awaits, so the burst overflows the 16-event channel).
        accounts
            .delete(&Actor::system(), &crate::auth::Scope::Global, "b", "")
            .await
            .unwrap();
        for _ in 0..32 {
            let _ = accounts.events().send(EventRecord {
                sequence: 0,
                tenant: "default".into(),
                time: now_millis(),
                kind: EventKind::HealthChanged,
                account_id: selected[2].id.clone(),
                account_name: String::new(),
                previous_state: String::new(),
                state: String::new(),
                reason: String::new(),
                message: String::new(),
            });
        }
        cached_len(1).await;
        let left = p
            .gather::<Funds>(&selected[2..], Freshness::default())
            .await;
        assert_eq!(seen(&left)[0].0, Some(Decimal::ONE));
    }

    #[tokio::test]
    async fn parallel_refreshes_of_one_book_share_one_fetch_and_store_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = accounts_named(dir.path(), &["slow"]).await;
        let fake = Arc::new(Fake::default());
        let supervisor = Supervisor::new();
        let p = portfolio(&accounts, &fake, &supervisor);
        let selected = p.select(&Selection::default()).unwrap();
        // Cached first, so every call below reaches its fetch without awaiting the store.
        p.gather::<Funds>(&selected, Freshness::default()).await;
        assert_eq!(fake.calls("http://slow.test"), 1);

        let answers =
            futures::future::join_all((0..30).map(|_| p.gather::<Funds>(&selected, REFRESH))).await;
        assert_eq!(
            fake.calls("http://slow.test"),
            2,
            "one fetch for 30 callers"
        );
        let got: Vec<_> = answers.iter().map(|s| seen(s)[0]).collect();
        assert!(
            got.iter().all(|x| *x == (Some(Decimal::TWO), got[0].1)),
            "{got:?}"
        );
        assert_eq!(p.inner.flights.len(), 0, "a landed fetch leaves the table");
        // Stored (and cached) once, as the newest snapshot.
        let cached = &p.load_snapshots::<Funds>(&selected).await[0];
        assert_eq!(cached.as_ref().map(|c| c.fetched_at), got[0].1);
        // Landed: the next refresh fetches again.
        p.gather::<Funds>(&selected, REFRESH).await;
        assert_eq!(fake.calls("http://slow.test"), 3);
    }
}
