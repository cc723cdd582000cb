//! The batch flusher: writes changed health rows and transition events to redb in one durable
//! transaction, then broadcasts the events (only after they are durable, like account events).
//!
//! Routine results (no state change) wait up to `flush_interval`, so 5,000 accounts cost about
//! one commit per second instead of 5,000; a transition wakes the flusher at once, and whatever
//! else is pending rides along in the same commit.

use std::sync::Arc;

use tracing::{error, trace};

use super::{Pending, Shared, lock};
use crate::store::HealthBatch;
use crate::supervisor::ShutdownSignal;

/// Test hook: with `ROSTER_TEST_STALL_MONITOR_AFTER=<duration>` in its environment the flusher
/// wedges itself after that long, so an end-to-end test can show that the systemd watchdog ping
/// stops when the monitor stops making progress. Unset in production.
const STALL_HOOK: &str = "ROSTER_TEST_STALL_MONITOR_AFTER";

pub(super) async fn run(shared: Arc<Shared>, mut shutdown: ShutdownSignal) {
    let stall_at = std::env::var(STALL_HOOK)
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .map(|after| tokio::time::Instant::now() + after);
    loop {
        if stall_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
            tracing::warn!("{STALL_HOOK} is set: the health flusher stalls now");
            shutdown.requested().await;
            return;
        }
        let stop = tokio::select! {
            () = shutdown.requested() => true,
            () = shared.flush_now.notified() => false,
            () = tokio::time::sleep(shared.settings().flush_interval) => false,
        };
        flush(&shared).await;
        shared
            .flush_rounds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if stop {
            return;
        }
    }
}

async fn flush(shared: &Shared) {
    let taken = std::mem::take(&mut *lock(&shared.pending));
    if taken.dirty.is_empty() && taken.events.is_empty() {
        return;
    }
    let mut batch = HealthBatch {
        rows: Vec::with_capacity(taken.dirty.len()),
        events: taken.events.clone(),
    };
    {
        let map = shared.health_read();
        for id in &taken.dirty {
            if let Some(e) = map.get(id) {
                match serde_json::to_vec(&e.rec) {
                    Ok(bytes) => batch.rows.push((id.to_string(), bytes)),
                    Err(err) => error!(account_id = %id, error = %err, "cannot encode health"),
                }
            }
        }
    }
    let retention = shared.retention;
    let rows = batch.rows.len();
    match shared
        .store
        .write(move |tx| tx.put_health_batch(batch, retention))
        .await
    {
        Ok(stored) => {
            trace!(rows, events = stored.len(), "health flushed");
            for ev in stored {
                let _ = shared.accounts.events().send(ev);
            }
        }
        Err(e) => {
            // Keep everything for the next attempt, events first in their original order.
            error!(error = %e, rows, "cannot write health; will retry");
            let mut pending = lock(&shared.pending);
            let Pending { dirty, events } = taken;
            pending.dirty.extend(dirty);
            let newer = std::mem::replace(&mut pending.events, events);
            pending.events.extend(newer);
        }
    }
}
