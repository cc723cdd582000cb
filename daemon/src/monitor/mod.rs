//! Health monitoring: the scheduler, the per-account state machine, backoff, and health events.
//!
//! Shape (cheap enough for 5,000 accounts on 2 cores):
//! - one small task per enabled account ([`scheduler`]): it sleeps until its next slot (a stable
//!   offset inside the interval, from a hash of the id), takes a place in its tenant's fair share
//!   ([`fair`]) and a permit of the global semaphore,
//!   runs one bounded check, applies the result under the health lock, and computes the next due
//!   time (with backoff when DOWN). A check therefore never overlaps itself, and `CheckNow` goes
//!   through the same task. The upstream (with its unsealed key) is built once per task, not per
//!   check, and no check reads the store;
//! - a manager task that follows the accounts event bus, so create/update/delete/enable/disable
//!   take effect at once (a lagged receiver resyncs from the registry);
//! - a flusher task ([`flush`]) that writes changed health rows and transition events in one
//!   durable transaction: at once when there is a transition, otherwise every `flush_interval`;
//! - [`watch`]: WatchEvents (snapshot or replay, then live, without gaps or duplicates).

mod check;
mod fair;
mod flush;
mod scheduler;
pub mod state;
mod watch;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use crate::accounts::Accounts;
use crate::config::MonitorConfig;
use crate::connector::{Connectors, Upstream};
use crate::metrics::Metrics;
use crate::store::{EventRecord, HealthRecord, HealthState, Store};
use crate::supervisor::{ShutdownSignal, Supervisor};

pub use check::TestReport;
pub use state::Policy;
pub use watch::{WatchEnd, WatchError, WatchItem, WatchStream};

/// Why CheckNow could not give a result.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("account {0:?} not found")]
    NotFound(String),
    #[error("account {0:?} is disabled; enable it to check it")]
    Disabled(String),
    #[error("the check of {0:?} did not finish in time (the scheduler is saturated)")]
    Busy(String),
    #[error("the monitor is shutting down")]
    Stopped,
}

/// The current health of one account plus the generation of the task allowed to update it
/// (a task that was replaced or stopped must not write a late result).
#[derive(Debug, Clone)]
struct Entry {
    rec: HealthRecord,
    generation: u64,
}

/// Health rows changed since the last flush, and transitions waiting to be written.
#[derive(Debug, Default)]
struct Pending {
    dirty: IdSet,
    events: Vec<EventRecord>,
}

enum Cmd {
    CheckNow(oneshot::Sender<HealthRecord>),
}

struct TaskRef {
    /// The account as the task was started with.
    record: Arc<crate::store::AccountRecord>,
    cmd: mpsc::Sender<Cmd>,
    handle: tokio::task::JoinHandle<()>,
}

/// The monitor's tunables; replaced as a whole on reload and read (copied) where used, so each
/// check runs under one consistent set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    policy: Policy,
    timeout: Duration,
    flush_interval: Duration,
    concurrency: usize,
}

impl Settings {
    fn from_config(config: &MonitorConfig) -> Self {
        Self {
            policy: Policy {
                interval: config.interval,
                failures_before_down: config.failures_before_down,
                successes_before_up: config.successes_before_up,
                funds_probe_every: config.funds_probe_every,
                down_backoff_max: config.down_backoff_max,
                auth_backoff_max: config.auth_backoff_max,
                refused_key_checks_per_host_per_day: config.max_refused_key_checks_per_host_per_day,
            },
            timeout: config.timeout,
            flush_interval: config.flush_interval,
            concurrency: config.concurrency,
        }
    }
}

/// Maps and sets keyed by account id. The ids are ours (UUIDs the daemon minted), not an
/// attacker's choice, so a fast non-DoS-resistant hash is safe; these maps are hit several times
/// per check and SipHash showed in the check profile.
type IdMap<V> = HashMap<Arc<str>, V, foldhash::fast::RandomState>;
type IdSet = HashSet<Arc<str>, foldhash::fast::RandomState>;

pub(crate) struct Shared {
    settings: RwLock<Settings>,
    accounts: Accounts,
    connectors: Connectors,
    metrics: Arc<Metrics>,
    store: Store,
    retention: u64,
    health: RwLock<IdMap<Entry>>,
    pending: Mutex<Pending>,
    flush_now: Notify,
    permits: Semaphore,
    /// Each tenant's share of the permits while several tenants have checks to run.
    fair: fair::FairShares,
    tasks: Mutex<IdMap<TaskRef>>,
    /// Per venue kind with enabled accounts: how often they are checked (see
    /// [`state::effective_interval`]); recomputed when accounts or settings change.
    cadence: RwLock<HashMap<String, Cadence>>,
    /// Checks that carry a refused key, rationed per upstream host (lock order: after `health`,
    /// before `pending`).
    refused_keys: Mutex<state::RefusedKeyBudget>,
    shutdown: ShutdownSignal,
    /// Flush rounds completed (each one a pass through the store); the watchdog pings only while
    /// this moves, so a wedged monitor gets the daemon restarted.
    flush_rounds: std::sync::atomic::AtomicU64,
}

// Poisoning only means a panic elsewhere; every map here is updated by whole-value writes, so
// the data stays consistent and the monitor keeps going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How one venue's accounts are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Enabled accounts of the venue.
    pub accounts: usize,
    /// The venue's shared check budget, when it has one.
    pub checks_per_minute: Option<u32>,
    pub configured: Duration,
    /// What each account is checked at: `configured`, stretched to fit the budget.
    pub effective: Duration,
}

impl Shared {
    fn settings(&self) -> Settings {
        *self.settings.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings' policy for an account of venue `kind`: its interval is the venue's
    /// effective one.
    fn policy_for(&self, kind: &str) -> Policy {
        let mut policy = self.settings().policy;
        if let Some(c) = self
            .cadence
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kind)
        {
            policy.interval = c.effective;
        }
        policy
    }

    /// Counts one more (`added`) or one fewer enabled account of venue `kind` being checked, and
    /// restretches that venue's interval. O(1) per account change, so a bulk create of thousands
    /// of accounts does not recount them all each time.
    fn count_task(&self, kind: &str, added: bool) {
        let configured = self.settings().policy.interval;
        let mut cadence = self.cadence.write().unwrap_or_else(|e| e.into_inner());
        if !added && !cadence.contains_key(kind) {
            return;
        }
        let c = cadence.entry(kind.to_string()).or_insert_with(|| Cadence {
            accounts: 0,
            checks_per_minute: self
                .connectors
                .get(kind)
                .ok()
                .and_then(|c| c.checks_per_minute()),
            configured,
            effective: configured,
        });
        c.accounts = if added {
            c.accounts.saturating_add(1)
        } else {
            c.accounts.saturating_sub(1)
        };
        if c.accounts == 0 {
            cadence.remove(kind);
            return;
        }
        self.restretch(kind, c, configured);
    }

    /// Every venue's interval again, after `[monitor] interval` changed.
    fn restretch_all(&self) {
        let configured = self.settings().policy.interval;
        let mut cadence = self.cadence.write().unwrap_or_else(|e| e.into_inner());
        for (kind, c) in cadence.iter_mut() {
            self.restretch(kind, c, configured);
        }
    }

    /// Sets `c`'s effective interval for `configured`; logs and records it when it changes.
    fn restretch(&self, kind: &str, c: &mut Cadence, configured: Duration) {
        let effective = state::effective_interval(configured, c.accounts, c.checks_per_minute);
        let changed = effective != c.effective || configured != c.configured;
        c.configured = configured;
        c.effective = effective;
        if !changed {
            return;
        }
        self.metrics.set_check_interval(kind, effective);
        if effective > configured {
            tracing::info!(
                venue = %kind,
                accounts = c.accounts,
                checks_per_minute = c.checks_per_minute,
                effective = %humantime::format_duration(effective),
                configured = %humantime::format_duration(configured),
                "check interval stretched to fit the venue's shared budget"
            );
        }
    }

    fn health_read(&self) -> RwLockReadGuard<'_, IdMap<Entry>> {
        self.health.read().unwrap_or_else(|e| e.into_inner())
    }

    fn health_write(&self) -> RwLockWriteGuard<'_, IdMap<Entry>> {
        self.health.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The API's handle on health monitoring. Cheap to clone.
#[derive(Clone)]
pub struct MonitorHandle {
    shared: Arc<Shared>,
}

/// Read access to every account's health under one lock acquisition.
pub struct HealthView<'a> {
    map: &'a IdMap<Entry>,
}

impl HealthView<'_> {
    pub fn get(&self, id: &str) -> Option<&HealthRecord> {
        self.map.get(id).map(|e| &e.rec)
    }
}

impl MonitorHandle {
    /// Loads the stored health, then starts the scheduler, the manager and the flusher under
    /// `supervisor`.
    pub(crate) fn start(
        config: &MonitorConfig,
        accounts: Accounts,
        connectors: Connectors,
        metrics: Arc<Metrics>,
        supervisor: &Supervisor,
    ) -> Self {
        // Subscribe before reading the registry so no account change falls between the two.
        let events = accounts.events().subscribe();
        let store = accounts.store().clone();
        // Blocking, once, at startup: a few ms for thousands of rows. A store that cannot be
        // read here starts everyone UNKNOWN rather than refusing to start.
        let stored = match store.load_health() {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "cannot load stored health; starting from UNKNOWN");
                Vec::new()
            }
        };
        let mut health = IdMap::with_capacity_and_hasher(stored.len(), Default::default());
        for rec in stored {
            if accounts.get(&rec.account_id).is_ok() {
                health.insert(
                    Arc::from(rec.account_id.as_str()),
                    Entry { rec, generation: 0 },
                );
            }
        }
        let shared = Arc::new(Shared {
            settings: RwLock::new(Settings::from_config(config)),
            retention: accounts.event_retention(),
            accounts,
            connectors,
            metrics,
            store,
            health: RwLock::new(health),
            pending: Mutex::new(Pending::default()),
            flush_now: Notify::new(),
            permits: Semaphore::new(config.concurrency),
            fair: fair::FairShares::default(),
            tasks: Mutex::new(IdMap::default()),
            cadence: RwLock::new(HashMap::new()),
            refused_keys: Mutex::new(state::RefusedKeyBudget::default()),
            shutdown: supervisor.signal(),
            flush_rounds: std::sync::atomic::AtomicU64::new(0),
        });
        supervisor.spawn(
            "monitor",
            scheduler::manage(shared.clone(), events, supervisor.signal()),
        );
        supervisor.spawn(
            "health-flusher",
            flush::run(shared.clone(), supervisor.signal()),
        );
        Self { shared }
    }

    /// Applies reloaded settings: interval, timeout, thresholds, backoff caps, flush interval and
    /// concurrency. Each account picks them up from its next check on.
    pub fn reconfigure(&self, config: &MonitorConfig) {
        let next = Settings::from_config(config);
        let mut current = self
            .shared
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let (old, new) = (current.concurrency, next.concurrency);
        if new > old {
            self.shared.permits.add_permits(new - old);
        } else if new < old {
            // Permits held by checks in flight come back and are then kept; the limit settles
            // at the new value as those checks finish.
            let forgotten = self.shared.permits.forget_permits(old - new);
            if forgotten < old - new {
                tracing::info!(
                    pending = old - new - forgotten,
                    "monitor concurrency lowered; the rest applies as checks finish"
                );
            }
        }
        *current = next;
        drop(current);
        self.shared.restretch_all();
        self.shared.flush_now.notify_one();
    }

    /// How each venue's accounts are checked, by venue kind (for `status`).
    pub fn cadence(&self) -> Vec<(String, Cadence)> {
        let mut all: Vec<_> = self
            .shared
            .cadence
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// How many flush rounds the monitor has completed; moves about once per `flush_interval`.
    pub fn flush_rounds(&self) -> u64 {
        self.shared
            .flush_rounds
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// One line for systemd's STATUS=: "42 accounts: 40 up, 1 degraded, 1 down".
    pub fn status_line(&self) -> String {
        let counts = self.counts();
        let total: u32 = counts.values().sum();
        let mut parts = Vec::new();
        for state in ["UP", "DEGRADED", "DOWN", "UNKNOWN", "DISABLED"] {
            if let Some(n) = counts.get(state).filter(|n| **n > 0) {
                parts.push(format!("{n} {}", state.to_lowercase()));
            }
        }
        if parts.is_empty() {
            format!("{total} accounts")
        } else {
            format!("{total} accounts: {}", parts.join(", "))
        }
    }

    /// Runs `f` with every account's current health (no store read; do not block inside).
    pub fn view<T>(&self, f: impl FnOnce(&HealthView<'_>) -> T) -> T {
        let map = self.shared.health_read();
        f(&HealthView { map: &map })
    }

    /// The current health of one account, if the monitor knows it.
    pub fn health(&self, id: &str) -> Option<HealthRecord> {
        self.view(|v| v.get(id).cloned())
    }

    /// The state of an account: what the monitor knows, else UNKNOWN/DISABLED from `enabled`
    /// (an account created a moment ago may not have reached the manager yet).
    pub fn state_of(&self, view: &HealthView<'_>, id: &str, enabled: bool) -> HealthState {
        match view.get(id) {
            Some(h) => h.state,
            None if enabled => HealthState::Unknown,
            None => HealthState::Disabled,
        }
    }

    /// Accounts per state, over every account.
    pub fn counts(&self) -> HashMap<&'static str, u32> {
        let all = self.shared.accounts.all();
        // Counted by index, not by name: this runs over every account for each STATUS= line
        // and GetStatus, so a hash per account was most of its cost.
        let mut by_state = [0u32; HealthState::ALL.len()];
        self.view(|v| {
            for a in &all {
                if let Some(n) = by_state.get_mut(self.state_of(v, &a.id, a.enabled) as usize) {
                    *n += 1;
                }
            }
        });
        HealthState::ALL
            .iter()
            .zip(by_state)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (s.as_str(), n))
            .collect()
    }

    /// Checks one account now through its own task (so it cannot overlap a scheduled check), with
    /// a funds probe, and returns the resulting health.
    pub async fn check_now(&self, id_or_name: &str) -> Result<HealthRecord, CheckError> {
        let record = self
            .shared
            .accounts
            .get(id_or_name)
            .map_err(|_| CheckError::NotFound(id_or_name.to_string()))?;
        if !record.enabled {
            return Err(CheckError::Disabled(record.name.clone()));
        }
        // The account may have been created a moment ago: give the manager a moment.
        let deadline = tokio::time::Instant::now()
            + self.shared.settings().timeout * 3
            + Duration::from_secs(1);
        let cmd = loop {
            let cmd = lock(&self.shared.tasks)
                .get(record.id.as_str())
                .map(|t| t.cmd.clone());
            match cmd {
                Some(cmd) => break cmd,
                None if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => return Err(CheckError::Busy(record.name.clone())),
            }
        };
        let (tx, rx) = oneshot::channel();
        let wait = async {
            cmd.send(Cmd::CheckNow(tx))
                .await
                .map_err(|_| CheckError::Stopped)?;
            rx.await.map_err(|_| CheckError::Stopped)
        };
        match tokio::time::timeout_at(deadline, wait).await {
            Ok(r) => r,
            Err(_) => Err(CheckError::Busy(record.name.clone())),
        }
    }

    /// A connection test (not a health check: nothing is recorded but a refused key, which
    /// counts against its host's ration like any refused request), bounded by the check timeout.
    pub async fn test_connection(&self, kind: &str, up: &Upstream) -> TestReport {
        let settings = self.shared.settings();
        let report = match self.shared.connectors.get(kind) {
            Ok(connector) => check::test(&**connector, up, settings.timeout).await,
            Err(e) => TestReport {
                reason: Some(e.reason),
                message: e.message,
                ..TestReport::default()
            },
        };
        if report.reason == Some(crate::connector::FailureReason::AuthRejected)
            && let Some(host) = up.base().map(|b| Arc::<str>::from(b.host()))
        {
            lock(&self.shared.refused_keys).note(
                &host,
                crate::store::now_millis(),
                settings.policy.refused_key_spacing(),
            );
        }
        report
    }

    /// Starts a WatchEvents stream (see [`watch`]).
    pub async fn watch(&self, from_sequence: u64) -> Result<WatchStream, WatchError> {
        watch::start(self.shared.clone(), from_sequence).await
    }
}
