//! Storage faults: after one failed read or write (disk full, a file size limit, a failing
//! device), redb refuses every later operation on that handle ("Previous I/O error occurred"),
//! even once space is back. The store records why, reports it (gRPC health NOT_SERVING,
//! `rosterctl status`, no watchdog ping) and reopens the file: once the cause is gone, writes
//! work again without a restart.
//!
//! Nothing acknowledged is lost: a write is acknowledged only after its durable commit, and a
//! reopen runs redb's recovery, which keeps every committed transaction. A write that failed was
//! reported as failed (UNAVAILABLE) and may be retried.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redb::Database;
use tracing::{debug, error, info, warn};

use super::{META, META_WRITE_PROBE, Store, StoreError, file, now_millis};
use crate::supervisor::Supervisor;

/// Least time between two reopen attempts of a store that stays broken.
const REOPEN_BACKOFF: Duration = Duration::from_secs(1);
/// How long a reopen waits for operations that still use the old handle.
const DRAIN_WAIT: Duration = Duration::from_secs(5);
/// How often an idle daemon looks at a broken store (one that is busy tries on every use).
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// The handle for one operation (blocking: call from the blocking pool). While the store is
    /// broken, first tries to reopen it (at most once per [`REOPEN_BACKOFF`]).
    pub(super) fn db(&self) -> Result<Arc<Database>, StoreError> {
        if self.shared.needs_reopen.load(Ordering::Acquire) {
            self.try_reopen();
        }
        let slot = self
            .shared
            .slot
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(db) => Ok(db.clone()),
            None => Err(StoreError::Unavailable(format!(
                "the database is being reopened after an I/O error: {}",
                self.fault().unwrap_or_default()
            ))),
        }
    }

    /// Records `e` as the store's fault when it is an I/O failure; returns it unchanged.
    pub(super) fn noted(&self, e: StoreError) -> StoreError {
        if let StoreError::Io(reason) = &e {
            self.shared.needs_reopen.store(true, Ordering::Release);
            let first = self.fault().is_none();
            self.shared
                .fault
                .send_replace(Some(format!("storage I/O failed: {reason}")));
            if first {
                error!(error = %reason, "storage I/O failed; writes fail until the database is reopened");
            }
        }
        e
    }

    /// Why the store cannot be used right now; `None` when it works.
    pub fn fault(&self) -> Option<String> {
        self.shared.fault.borrow().clone()
    }

    /// Follows [`Store::fault`] as it changes.
    pub fn faults(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.shared.fault.subscribe()
    }

    /// Closes the broken handle, opens the file again and proves with a small durable write
    /// that writes work (blocking). Returns whether they do; the fault is cleared only then.
    pub fn try_reopen(&self) -> bool {
        if !self.shared.needs_reopen.load(Ordering::Acquire) {
            return self.fault().is_none();
        }
        let Ok(_reopening) = self.shared.reopening.try_lock() else {
            return false;
        };
        {
            let mut last = lock(&self.shared.last_reopen);
            if last.is_some_and(|t| t.elapsed() < REOPEN_BACKOFF) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let taken = self
            .shared
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(db) = taken {
            // redb locks the file: the old handle must be gone (closed) before it opens again.
            match wait_until_unused(db) {
                Ok(db) => drop(db),
                Err(db) => {
                    warn!("the database is still in use; reopening it later");
                    *self
                        .shared
                        .slot
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = Some(db);
                    return false;
                }
            }
        }
        match file::reopen(&self.shared.path, &self.shared.options) {
            Ok(db) => {
                let probe = write_probe(&db);
                *self
                    .shared
                    .slot
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(db));
                self.shared.needs_reopen.store(false, Ordering::Release);
                match probe {
                    Ok(()) => {
                        let was = self.shared.fault.send_replace(None);
                        info!(
                            after = was.as_deref().unwrap_or_default(),
                            "database reopened; writes work again"
                        );
                        true
                    }
                    Err(e) => {
                        // Still full: the probe's I/O error marks the new handle for reopening.
                        debug!(error = %e, "database reopened, but writes still fail");
                        self.noted(e);
                        false
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "cannot reopen the database yet");
                self.shared
                    .fault
                    .send_replace(Some(format!("cannot reopen the database: {e}")));
                false
            }
        }
    }
}

/// One durable write transaction (the time of the probe in `meta`): what every write needs.
fn write_probe(db: &Database) -> Result<(), StoreError> {
    let mut tx = db.begin_write()?;
    tx.set_durability(redb::Durability::Immediate)?;
    {
        let mut meta = tx.open_table(META)?;
        meta.insert(META_WRITE_PROBE, now_millis().to_le_bytes().as_slice())?;
    }
    tx.commit()?;
    Ok(())
}

/// The database once no operation holds it any more, or back after [`DRAIN_WAIT`].
fn wait_until_unused(mut db: Arc<Database>) -> Result<Database, Arc<Database>> {
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        match Arc::try_unwrap(db) {
            Ok(db) => return Ok(db),
            Err(back) if Instant::now() >= deadline => return Err(back),
            Err(back) => {
                db = back;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Reopens a broken store even when nothing uses it (an idle daemon would otherwise report the
/// fault until the next write).
pub fn spawn_recovery(supervisor: &Supervisor, store: Store) {
    let mut stop = supervisor.signal();
    supervisor.spawn("store-recovery", async move {
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.requested() => return,
            }
            if store.shared.needs_reopen.load(Ordering::Acquire) {
                let store = store.clone();
                let _ = tokio::task::spawn_blocking(move || store.try_reopen()).await;
            }
        }
    });
}
