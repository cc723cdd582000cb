//! The manager (follows account changes, starts and stops per-account tasks) and the
//! per-account task (sleep until due, check, apply, reschedule).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use super::state::{self, Outcome, Policy, Transition};
use super::{Cmd, Entry, Shared, TaskRef, check, lock};
use crate::connector::{Connector, FailureReason, Upstream};
use crate::store::{
    AccountRecord, EventKind, EventRecord, HealthRecord, HealthState, UnixMillis, now_millis,
};
use crate::supervisor::ShutdownSignal;

/// Task generations: unique for the life of the process, 0 means "no task may write".
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Follows the accounts event bus until shutdown, then stops every account task.
pub(super) async fn manage(
    shared: Arc<Shared>,
    mut events: broadcast::Receiver<EventRecord>,
    mut shutdown: ShutdownSignal,
) {
    reconcile_all(&shared);
    loop {
        tokio::select! {
            () = shutdown.requested() => break,
            ev = events.recv() => match ev {
                Ok(ev) => match ev.kind {
                    EventKind::AccountCreated | EventKind::AccountUpdated | EventKind::AccountDeleted => {
                        reconcile_one(&shared, &ev.account_id);
                    }
                    EventKind::KeyRotated => reconcile_all(&shared),
                    EventKind::HealthChanged => {}
                },
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // Missed account changes: the registry is the truth, so compare against it.
                    warn!(missed = n, "monitor lagged behind account events; resyncing");
                    reconcile_all(&shared);
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    let tasks = std::mem::take(&mut *lock(&shared.tasks));
    shared
        .cadence
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    for (_, t) in tasks {
        t.handle.abort();
    }
}

fn reconcile_all(shared: &Arc<Shared>) {
    let all = shared.accounts.all();
    let live: HashSet<&str> = all.iter().map(|a| a.id.as_str()).collect();
    let gone: Vec<Arc<str>> = lock(&shared.tasks)
        .keys()
        .filter(|id| !live.contains(&***id))
        .cloned()
        .collect();
    for id in gone {
        remove(shared, &id);
    }
    let orphans: Vec<Arc<str>> = shared
        .health_read()
        .keys()
        .filter(|id| !live.contains(&***id))
        .cloned()
        .collect();
    for id in orphans {
        remove(shared, &id);
    }
    for record in &all {
        apply_account(shared, record);
    }
}

fn reconcile_one(shared: &Arc<Shared>, id: &str) {
    match shared.accounts.get(id) {
        Ok(record) if record.id == id => apply_account(shared, &record),
        _ => remove(shared, id),
    }
}

/// The account is gone: stop its task and forget its health (its row went with the account).
fn remove(shared: &Arc<Shared>, id: &str) {
    let task = lock(&shared.tasks).remove(id);
    if let Some(t) = task {
        t.handle.abort();
        shared.count_task(&t.record.connector, false);
    }
    shared.health_write().remove(id);
}

/// Brings the task and health of one existing account in line with its record.
fn apply_account(shared: &Arc<Shared>, record: &Arc<AccountRecord>) {
    let now = now_millis();
    let (id, new_target) = {
        let tasks = lock(&shared.tasks);
        match tasks.get_key_value(record.id.as_str()) {
            // Same revision and still enabled: nothing changed that the task depends on.
            Some((_, t)) if t.record.revision == record.revision && record.enabled => return,
            Some((k, t)) => (k.clone(), points_elsewhere(&t.record, record)),
            None => (Arc::from(record.id.as_str()), false),
        }
    };
    let replaced = lock(&shared.tasks).remove(&id);
    if let Some(t) = replaced {
        t.handle.abort();
        shared.count_task(&t.record.connector, false);
    }
    let generation = if record.enabled {
        GENERATION.fetch_add(1, Ordering::Relaxed)
    } else {
        0
    };
    {
        let mut map = shared.health_write();
        let entry = map.entry(id.clone()).or_insert_with(|| Entry {
            rec: HealthRecord::new(&record.id, HealthState::Unknown, now),
            generation: 0,
        });
        // From here on only the new task (if any) may write this entry.
        entry.generation = generation;
        if new_target {
            // A new host or key is the operator's fix for a DOWN account: check it at its next
            // slot instead of waiting out a backoff earned by the old one.
            entry.rec.next_check = 0;
        }
        let target = if record.enabled {
            (entry.rec.state == HealthState::Disabled).then_some(HealthState::Unknown)
        } else {
            Some(HealthState::Disabled)
        };
        let transition = target.and_then(|to| state::force(&mut entry.rec, to, now));
        let mut pending = lock(&shared.pending);
        pending.dirty.insert(id.clone());
        if let Some(t) = transition {
            pending
                .events
                .push(health_event(&entry.rec, record, t, now));
            shared.flush_now.notify_one();
        }
    }
    if !record.enabled {
        return;
    }
    let upstream = match shared.accounts.upstream(record) {
        Ok(up) => up,
        Err(e) => {
            // Cannot happen with an intact keyring; the account stays UNKNOWN and says why.
            warn!(account_id = %record.id, error = %e, "cannot unseal the credential; not checking this account");
            return;
        }
    };
    let connector = match shared.connectors.get(&record.connector) {
        Ok(c) => c.clone(),
        Err(e) => {
            warn!(account_id = %record.id, error = %e, "not checking this account");
            return;
        }
    };
    // Capacity 4: CheckNow callers beyond that wait for the task (they are bounded by a deadline).
    let (cmd, rx) = mpsc::channel(4);
    let handle = tokio::spawn(account_task(
        shared.clone(),
        id.clone(),
        record.clone(),
        Target {
            upstream,
            connector,
            new: new_target,
        },
        generation,
        rx,
    ));
    lock(&shared.tasks).insert(
        id,
        TaskRef {
            record: record.clone(),
            cmd,
            handle,
        },
    );
    shared.count_task(&record.connector, true);
}

/// Whether an update changed where or with which key the account is checked. A re-seal under a
/// new master key (rotation) changes the sealed bytes but not the key, so it does not count.
fn points_elsewhere(old: &AccountRecord, new: &AccountRecord) -> bool {
    old.host_url != new.host_url
        || old.environment != new.environment
        || old.credential_hints != new.credential_hints
        || (old.sealed_key.key_id == new.sealed_key.key_id && old.sealed_key != new.sealed_key)
}

pub(super) fn health_event(
    h: &HealthRecord,
    account: &AccountRecord,
    t: Transition,
    now: UnixMillis,
) -> EventRecord {
    EventRecord {
        sequence: 0,
        time: now,
        kind: EventKind::HealthChanged,
        account_id: h.account_id.clone(),
        tenant: account.tenant.clone(),
        account_name: account.name.clone(),
        previous_state: t.from.as_str().to_string(),
        state: t.to.as_str().to_string(),
        reason: h.reason.map(|r| r.as_str().to_string()).unwrap_or_default(),
        message: h.message.clone(),
    }
}

/// Converts a wall-clock due time to a tokio instant.
fn instant_at(due: UnixMillis, now: UnixMillis) -> tokio::time::Instant {
    let wait = u64::try_from(due.saturating_sub(now)).unwrap_or(0);
    tokio::time::Instant::now() + Duration::from_millis(wait)
}

/// Where a task checks: the upstream, and whether its host or key is new (the operator's fix).
struct Target {
    upstream: Upstream,
    /// The account's venue.
    connector: Arc<dyn Connector>,
    /// The first check of a new host or key is not rationed as a refused key: the refusal was
    /// the old key's.
    new: bool,
}

async fn account_task(
    shared: Arc<Shared>,
    id: Arc<str>,
    record: Arc<AccountRecord>,
    target: Target,
    generation: u64,
    mut cmds: mpsc::Receiver<Cmd>,
) {
    let Target {
        upstream,
        connector,
        new: mut new_target,
    } = target;
    // The ration of refused keys is per host (see `state::RefusedKeyBudget`).
    let host: Option<Arc<str>> = upstream.base().map(|b| Arc::from(b.host()));
    let p = shared.policy_for(&record.connector);
    let mut offset = state::offset_ms(&id, p.interval);
    let now = now_millis();
    // Next slot, unless a stored backoff says later (a restart must not undo a 403 backoff);
    // a stored time beyond the longest wait is not trusted (clock jumps).
    let stored_due = shared
        .health_read()
        .get(&id)
        .map_or(0, |e| e.rec.next_check);
    let longest = p
        .auth_backoff_max
        .max(p.refused_key_spacing().unwrap_or_default());
    let longest = i64::try_from(longest.as_millis()).unwrap_or(i64::MAX);
    let mut due = state::next_slot(now, p.interval, offset).max(stored_due.min(now + longest));
    let mut known = (record.broker.clone(), record.mode.clone());
    loop {
        let reply = tokio::select! {
            () = tokio::time::sleep_until(instant_at(due, now_millis())) => None,
            cmd = cmds.recv() => match cmd {
                Some(Cmd::CheckNow(reply)) => Some(reply),
                None => return,
            },
        };
        let forced = reply.is_some();
        // Settings may have been reloaded since the last check.
        let settings = shared.settings();
        let p = shared.policy_for(&record.connector);
        offset = state::offset_ms(&id, p.interval);
        if !forced {
            let lag_ms = u64::try_from(now_millis().saturating_sub(due)).unwrap_or(0);
            shared
                .metrics
                .record_scheduler_lag(Duration::from_millis(lag_ms));
        }
        let (probe_due, rationed) = shared.health_read().get(&id).map_or((false, false), |e| {
            (state::probe_due(&e.rec, &p), state::rationed(&e.rec))
        });
        if rationed && !forced && !new_target {
            match wait_for_ration(&shared, &id, host.as_ref(), generation, &p, offset) {
                Ration::Go => {}
                Ration::Later(at) => {
                    due = at;
                    continue;
                }
                Ration::Gone => return,
            }
        }
        new_target = false;
        let probe = forced || probe_due;
        let (outcome, latency) = {
            // The tenant's fair share first, then a permit (see `fair`).
            let _place = shared
                .fair
                .enter(&record.tenant, settings.concurrency)
                .await;
            let Ok(_permit) = shared.permits.acquire().await else {
                return;
            };
            check::run(&*connector, &upstream, probe, settings.timeout).await
        };
        let failed = match &outcome {
            Outcome::Failed { reason, .. } | Outcome::Restricted { reason, .. } => {
                Some(reason.as_str())
            }
            Outcome::Ok { .. } => None,
        };
        shared.metrics.record_check(failed, latency);
        let result = Checked {
            generation,
            outcome,
            latency,
            offset,
            want_copy: forced,
        };
        let Some((next, snapshot, learned)) =
            record_result(&shared, &id, host.as_ref(), &record, result, &known)
        else {
            // Replaced or stopped meanwhile: this task's results no longer count.
            return;
        };
        due = next;
        if let (Some(reply), Some(snapshot)) = (reply, snapshot) {
            let _ = reply.send(snapshot);
        }
        if let Some((broker, mode)) = learned {
            let accounts = shared.accounts.clone();
            let account_id = record.id.clone();
            known = (broker.clone(), mode.clone());
            tokio::spawn(async move {
                if let Err(e) = accounts.learn_upstream(&account_id, &broker, &mode).await {
                    warn!(account_id = %account_id, error = %e, "cannot store broker/mode");
                }
            });
        }
    }
}

/// Whether a rationed check may go now.
enum Ration {
    Go,
    /// Not before this time (the account's next slot after its host's ration frees up).
    Later(UnixMillis),
    /// Replaced or stopped meanwhile.
    Gone,
}

/// Takes the host's slot for a scheduled check of a refused key, or moves the account's next
/// check to when one frees up (stored, so `health get` shows when it will be).
fn wait_for_ration(
    shared: &Shared,
    id: &Arc<str>,
    host: Option<&Arc<str>>,
    generation: u64,
    p: &Policy,
    offset: i64,
) -> Ration {
    // No host: the URL cannot be called, so the check fails without reaching anyone.
    let Some(host) = host else {
        return Ration::Go;
    };
    let now = now_millis();
    let mut map = shared.health_write();
    let Some(entry) = map.get_mut(id).filter(|e| e.generation == generation) else {
        return Ration::Gone;
    };
    let free = match lock(&shared.refused_keys).take(host, now, p.refused_key_spacing()) {
        Ok(()) => return Ration::Go,
        Err(free) => free,
    };
    // A budget of 0 never frees up: look again after the longest backoff (a reload may raise it).
    let longest = i64::try_from(p.auth_backoff_max.as_millis()).unwrap_or(i64::MAX);
    let until = free.unwrap_or_else(|| now.saturating_add(longest));
    let due = state::next_slot(until.saturating_sub(1), p.interval, offset);
    if entry.rec.next_check != due {
        entry.rec.next_check = due;
        lock(&shared.pending).dirty.insert(id.clone());
    }
    Ration::Later(due)
}

type Recorded = (UnixMillis, Option<HealthRecord>, Option<(String, String)>);

/// One finished check, as the task hands it to [`record_result`].
struct Checked {
    generation: u64,
    outcome: Outcome,
    latency: Duration,
    offset: i64,
    /// CheckNow wants a copy of the resulting health; scheduled checks do not (no allocation).
    want_copy: bool,
}

/// Applies a check result under the health lock (queuing the row and any transition for the
/// flusher under the same lock, so events keep their order). Returns the next due time, a copy
/// of the health when asked, and the broker/mode when they differ from `known`.
fn record_result(
    shared: &Shared,
    id: &Arc<str>,
    host: Option<&Arc<str>>,
    account: &AccountRecord,
    c: Checked,
    known: &(String, String),
) -> Option<Recorded> {
    let now = now_millis();
    let mut map = shared.health_write();
    let entry = map.get_mut(id).filter(|e| e.generation == c.generation)?;
    let policy = shared.policy_for(&account.connector);
    let refused = matches!(
        c.outcome,
        Outcome::Failed {
            reason: FailureReason::AuthRejected,
            ..
        }
    );
    if refused && let Some(host) = host {
        // Every refused request counts upstream, rationed or not.
        lock(&shared.refused_keys).note(host, now, policy.refused_key_spacing());
    }
    let t = state::apply(&mut entry.rec, c.outcome, &policy, now, c.latency);
    entry.rec.next_check = state::next_due(&entry.rec, &policy, now, c.offset);
    let mut pending = lock(&shared.pending);
    pending.dirty.insert(id.clone());
    if let Some(t) = t {
        // At info: an account going DOWN is what an operator reads the journal for.
        info!(
            account_id = %id,
            account = account.name, // names are [A-Za-z0-9._-]: safe to log as they are
            from = t.from.as_str(),
            to = t.to.as_str(),
            reason = entry.rec.reason.map_or("", |r| r.as_str()),
            "health changed"
        );
        pending
            .events
            .push(health_event(&entry.rec, account, t, now));
        shared.flush_now.notify_one();
    }
    drop(pending);
    let h = &entry.rec;
    let learned = (!h.broker.is_empty() && (h.broker != known.0 || h.mode != known.1))
        .then(|| (h.broker.clone(), h.mode.clone()));
    Some((h.next_check, c.want_copy.then(|| h.clone()), learned))
}
