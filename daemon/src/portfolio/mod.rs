//! Consolidated portfolio: which accounts a request means, fetching their books in parallel,
//! per-account snapshots with `fetched_at`, staleness, and (in [`consolidate`]) the exact decimal
//! consolidation.
//!
//! One call for one book kind ([`Book`]) goes:
//! 1. read the selected accounts' snapshots of that kind in one read transaction;
//! 2. an account whose snapshot is younger than `max_staleness` (and no `refresh`) is answered
//!    from it without touching its upstream;
//! 3. every other enabled account is fetched through the connector, all at once but under one
//!    daemon-wide semaphore (`[portfolio] concurrency`), and the whole fan-out under one deadline
//!    of about one upstream timeout, so a hanging upstream costs one timeout, not one each;
//! 4. good results are written back as snapshots in one transaction; a failed account is answered
//!    with its last good snapshot marked stale (with its true age), or with no data at all.
//!
//! A failure is always per account: nothing an upstream does fails the whole call.

pub mod consolidate;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::accounts::{AccountError, Accounts, FieldViolation, LabelSelector};
use crate::config::PortfolioConfig;
use crate::connector::{
    Connector, FailureReason, Funds, Holdings, Mode, OrderBook, Positions, TradeBook, Upstream,
    UpstreamError,
};
use crate::store::{AccountRecord, UnixMillis, now_millis};
use crate::supervisor::Supervisor;

/// Beyond the upstream timeout, the fan-out gets this long for queueing and decoding before an
/// account still in flight is reported as TIMEOUT.
const DEADLINE_SLACK: Duration = Duration::from_millis(500);

/// One kind of book: how it is fetched, what it is called in the snapshot table, and its mode.
pub trait Book: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The snapshot table's kind (`"{account id}/{KIND}"`).
    const KIND: &'static str;
    fn mode(&self) -> Mode;
    fn fetch<'a>(
        connector: &'a dyn Connector,
        up: &'a Upstream,
    ) -> BoxFuture<'a, Result<Self, UpstreamError>>;
}

macro_rules! book {
    ($t:ty, $kind:literal, $method:ident) => {
        impl Book for $t {
            const KIND: &'static str = $kind;
            fn mode(&self) -> Mode {
                self.mode
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

book!(Funds, "funds", funds);
book!(Positions, "positions", positions);
book!(OrderBook, "orders", orders);
book!(TradeBook, "trades", trades);
book!(Holdings, "holdings", holdings);

/// A snapshot: the book (stored as JSON) and when it was fetched (kept by the store).
#[derive(Debug, Clone)]
struct Snapshot<T> {
    fetched_at: UnixMillis,
    data: T,
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
    /// The classified upstream failure; `None` when the upstream was not asked (disabled
    /// account, unreadable credential).
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
    /// Fresh data, or the last good snapshot when `stale`; `None` when there is nothing.
    pub data: Option<T>,
    pub fetched_at: Option<UnixMillis>,
    /// How old `data` is now.
    pub age: Option<Duration>,
    /// `data` is a last good snapshot older than `max_staleness`, shown because the fetch failed.
    pub stale: bool,
    pub problem: Option<Problem>,
}

impl<T: Book> Section<T> {
    /// The data's mode, else the account's last known mode.
    pub fn mode(&self) -> String {
        match &self.data {
            Some(d) => match d.mode() {
                Mode::Live => "live".into(),
                Mode::Analyze => "analyze".into(),
            },
            None => self.account.mode.clone(),
        }
    }
}

/// How many accounts the totals cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    pub selected: u32,
    pub fresh: u32,
    pub stale: u32,
    pub failed: u32,
}

pub fn coverage<T>(sections: &[Section<T>]) -> Coverage {
    let mut c = Coverage::default();
    for s in sections {
        c.selected += 1;
        match (&s.data, s.stale) {
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

/// Whether an account is UP right now (the health monitor's view); background refresh skips
/// accounts that are not, so a dead upstream is not polled twice over.
pub type IsUp = Arc<dyn Fn(&str) -> bool + Send + Sync>;

struct Inner {
    accounts: Accounts,
    is_up: IsUp,
    connector: Arc<dyn Connector>,
    /// Replaced as a whole on reload.
    config: std::sync::RwLock<PortfolioConfig>,
    /// The connector's per-call deadline; the fan-out's deadline is derived from it.
    upstream_timeout: Duration,
    /// Upstream fetches in flight across every call and the background refresh.
    slots: Semaphore,
}

impl PortfolioHandle {
    /// Starts the background refresh (when `refresh_interval` is not zero) under `supervisor`.
    pub fn start(
        config: &PortfolioConfig,
        accounts: Accounts,
        connector: Arc<dyn Connector>,
        supervisor: &Supervisor,
        upstream_timeout: Duration,
        is_up: IsUp,
    ) -> Self {
        let handle = Self {
            inner: Arc::new(Inner {
                accounts,
                is_up,
                connector,
                config: std::sync::RwLock::new(config.clone()),
                upstream_timeout,
                slots: Semaphore::new(config.concurrency.clamp(1, Semaphore::MAX_PERMITS)),
            }),
        };
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
        let selector = LabelSelector::parse("label_selector", &sel.label_selector)?;
        let mut out: Vec<Arc<AccountRecord>> = Vec::new();
        for (i, name) in sel.accounts.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(AccountError::Invalid(vec![FieldViolation::new(
                    format!("accounts[{i}]"),
                    "is empty",
                )]));
            }
            let record = self.inner.accounts.get(name.trim())?;
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
                .filter(|r| r.enabled && selector.matches(&r.labels))
                .filter(|r| !out.iter().any(|o| o.id == r.id))
                .collect();
            matched.sort_by(|a, b| a.name.cmp(&b.name));
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
            };
            if young && !freshness.refresh {
                if let Some(age) = age {
                    crate::metrics::get()
                        .snapshot_age_seconds
                        .get_or_create(&crate::metrics::BookLabels { book: T::KIND })
                        .observe(age.as_secs_f64());
                }
                section.data = snapshot.map(|s| s.data);
            } else if !account.enabled {
                // A disabled account's upstream is not contacted; its last data may be shown.
                section.problem = Some(Problem::local("account is disabled"));
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
        for (i, result, snapshot) in results {
            let Some(section) = sections.get_mut(i) else {
                continue;
            };
            match result {
                Ok(data) => {
                    let fetched_at = now_millis();
                    match serde_json::to_vec(&data) {
                        Ok(bytes) => to_store.push((section.account.id.clone(), fetched_at, bytes)),
                        Err(e) => {
                            warn!(account_id = %section.account.id, error = %e, "cannot encode snapshot")
                        }
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
        if let Err(e) = self
            .inner
            .accounts
            .store()
            .put_snapshots(T::KIND, to_store)
            .await
        {
            // The answer is still right; only the cache missed an update.
            warn!(kind = T::KIND, error = %e, "cannot store portfolio snapshots");
        }
        sections
    }

    async fn load_snapshots<T: Book>(
        &self,
        accounts: &[Arc<AccountRecord>],
    ) -> Vec<Option<Snapshot<T>>> {
        let ids = accounts.iter().map(|a| a.id.clone()).collect();
        let raw = match self.inner.accounts.store().snapshots(ids, T::KIND).await {
            Ok(raw) => raw,
            Err(e) => {
                warn!(kind = T::KIND, error = %e, "cannot read portfolio snapshots; fetching everything");
                vec![None; accounts.len()]
            }
        };
        raw.into_iter()
            .zip(accounts)
            .map(|(stored, account)| {
                let (fetched_at, bytes) = stored?;
                match serde_json::from_slice(&bytes) {
                    Ok(data) => Some(Snapshot { fetched_at, data }),
                    Err(e) => {
                        // An unreadable snapshot (older format, say) is only a cache miss.
                        warn!(account_id = %account.id, kind = T::KIND, error = %e, "ignoring unreadable snapshot");
                        None
                    }
                }
            })
            .collect()
    }

    /// Fetches one account's book under a fan-out slot, all before `deadline`.
    async fn fetch_one<T: Book>(
        &self,
        index: usize,
        account: Arc<AccountRecord>,
        snapshot: Option<Snapshot<T>>,
        deadline: tokio::time::Instant,
    ) -> (usize, Result<T, Problem>, Option<Snapshot<T>>) {
        let inner = &self.inner;
        let work = async {
            let _slot = inner
                .slots
                .acquire()
                .await
                .map_err(|_| Problem::local("portfolio is shutting down"))?;
            let api_key = inner
                .accounts
                .api_key(&account)
                .map_err(|e| Problem::local(format!("cannot unseal the API key: {e}")))?;
            let up = Upstream::new(account.id.clone(), account.host_url.clone(), api_key);
            T::fetch(inner.connector.as_ref(), &up)
                .await
                .map_err(Problem::upstream)
        };
        let result = match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(Problem {
                reason: Some(FailureReason::Timeout),
                message: "no answer before the portfolio deadline".into(),
            }),
        };
        (index, result, snapshot)
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
                .filter(|a| a.enabled && (self.inner.is_up)(&a.id))
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
            };
            tokio::select! {
                () = stop.requested() => return,
                () = round => debug!(accounts = accounts.len(), "portfolio refresh round done"),
            }
        }
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
    use crate::connector::{PingInfo, TradeBook};
    use crate::seal::{Keyring, MasterKey, generate_master_key};
    use crate::secret::ApiKey;
    use crate::store::Store;

    /// Answers by host: `ok.test` succeeds, `fail.test` is a 500, `hang.test` never answers.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<HashMap<String, u32>>,
    }

    impl Fake {
        fn calls(&self, host: &str) -> u32 {
            self.calls.lock().unwrap().get(host).copied().unwrap_or(0)
        }
    }

    impl Connector for Fake {
        fn ping<'a>(&'a self, _: &'a Upstream) -> BoxFuture<'a, Result<PingInfo, UpstreamError>> {
            Box::pin(async { Err(UpstreamError::new(FailureReason::Connect, "unused", None)) })
        }
        fn funds<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Funds, UpstreamError>> {
            Box::pin(async move {
                *self
                    .calls
                    .lock()
                    .unwrap()
                    .entry(up.host_url.clone())
                    .or_default() += 1;
                if up.host_url.contains("hang") {
                    futures::future::pending::<()>().await;
                }
                if up.host_url.contains("fail") {
                    return Err(UpstreamError::new(
                        FailureReason::Http5xx,
                        "boom",
                        Some(500),
                    ));
                }
                Ok(Funds {
                    available_cash: Decimal::new(32066, 2),
                    collateral: Decimal::ZERO,
                    m2m_realized: Decimal::ZERO,
                    m2m_unrealized: Decimal::ZERO,
                    utilised_debits: Decimal::ZERO,
                    mode: Mode::Live,
                })
            })
        }
        fn positions<'a>(
            &'a self,
            _: &'a Upstream,
        ) -> BoxFuture<'a, Result<Positions, UpstreamError>> {
            Box::pin(async { Err(UpstreamError::new(FailureReason::Connect, "unused", None)) })
        }
        fn orders<'a>(
            &'a self,
            _: &'a Upstream,
        ) -> BoxFuture<'a, Result<OrderBook, UpstreamError>> {
            Box::pin(async { Err(UpstreamError::new(FailureReason::Connect, "unused", None)) })
        }
        fn trades<'a>(
            &'a self,
            _: &'a Upstream,
        ) -> BoxFuture<'a, Result<TradeBook, UpstreamError>> {
            Box::pin(async { Err(UpstreamError::new(FailureReason::Connect, "unused", None)) })
        }
        fn holdings<'a>(
            &'a self,
            _: &'a Upstream,
        ) -> BoxFuture<'a, Result<Holdings, UpstreamError>> {
            Box::pin(async { Err(UpstreamError::new(FailureReason::Connect, "unused", None)) })
        }
    }

    #[tokio::test]
    async fn fresh_snapshot_stale_and_failed_sections_within_one_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.redb")).unwrap();
        let master = MasterKey::from_bytes(&generate_master_key()).unwrap();
        let keyring = Arc::new(arc_swap::ArcSwap::from_pointee(Keyring::new(master)));
        let accounts =
            Accounts::load(store, keyring, tokio::sync::broadcast::channel(16).0, 100).unwrap();
        for name in ["ok", "fail", "hang"] {
            accounts
                .create(
                    &Actor::system(),
                    NewAccount {
                        request_id: String::new(),
                        name: name.into(),
                        connector: "openalgo".into(),
                        host_url: format!("http://{name}.test"),
                        ws_url: String::new(),
                        api_key: ApiKey::new("key-123".to_string()),
                        labels: Default::default(),
                        enabled: true,
                    },
                )
                .await
                .unwrap();
        }
        let fake = Arc::new(Fake::default());
        let config = PortfolioConfig {
            max_staleness: Duration::from_secs(60),
            ..PortfolioConfig::default()
        };
        let supervisor = Supervisor::new();
        let p = PortfolioHandle::start(
            &config,
            accounts.clone(),
            fake.clone(),
            &supervisor,
            Duration::from_millis(200),
            Arc::new(|_: &str| true),
        );
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
                failed: 2
            }
        );

        // Young snapshot: served without a call; the failing ones are asked again.
        let s = p.gather::<Funds>(&selected, Freshness::default()).await;
        assert_eq!(fake.calls("http://ok.test"), 1);
        assert_eq!(fake.calls("http://fail.test"), 2);
        assert!(s[2].data.is_some() && !s[2].stale);
        // refresh fetches even a young snapshot.
        p.gather::<Funds>(
            &selected,
            Freshness {
                max_staleness: None,
                refresh: true,
            },
        )
        .await;
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
}
