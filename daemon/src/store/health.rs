//! Health rows: the current health of each account (`health` table, id -> JSON record), and the
//! batched commit that writes routine check results together with transition events.
//!
//! The monitor keeps the live copy in memory and flushes it here; the table exists so that a
//! restart starts from what was last known (a DOWN account stays DOWN with its reason) and so
//! that a hard backoff (403, IP ban) survives a restart instead of hammering the upstream again.

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::{ACCOUNTS, EVENTS, EventRecord, HEALTH, Store, StoreError, Tx, UnixMillis, decode};
use crate::domain::{FailureReason, HealthState};

/// Current health of one account, as persisted. Times are Unix milliseconds (0 = never).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    pub account_id: String,
    pub state: HealthState,
    /// Why the last check failed; kept while the account is failing, cleared when it is UP.
    #[serde(default)]
    pub reason: Option<FailureReason>,
    /// Human detail of the last failure (never contains the API key: the connector scrubs it).
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default)]
    pub consecutive_successes: u32,
    #[serde(default)]
    pub last_check: UnixMillis,
    #[serde(default)]
    pub last_success: UnixMillis,
    /// Duration of the last completed check, in microseconds.
    #[serde(default)]
    pub latency_us: u64,
    #[serde(default)]
    pub broker: String,
    #[serde(default)]
    pub mode: String,
    /// When `state` last changed.
    #[serde(default)]
    pub state_since: UnixMillis,
    /// When the scheduler means to check next (0 = not scheduled).
    #[serde(default)]
    pub next_check: UnixMillis,
    /// Checks since the last funds probe, for the `funds_probe_every` cadence.
    #[serde(default)]
    pub checks_since_probe: u32,
    /// The last funds probe failed: probe on every check until it succeeds, so a ping-only check
    /// cannot paper over an expired session.
    #[serde(default)]
    pub probe_failing: bool,
}

impl HealthRecord {
    /// A never-checked account.
    pub fn new(account_id: &str, state: HealthState, now: UnixMillis) -> Self {
        Self {
            account_id: account_id.to_string(),
            state,
            state_since: now,
            ..Self::default()
        }
    }
}

/// One batch from the monitor: rows (already encoded) and transition events, committed together.
#[derive(Debug, Default)]
pub struct HealthBatch {
    pub rows: Vec<(String, Vec<u8>)>,
    pub events: Vec<EventRecord>,
}

impl Tx<'_> {
    /// Whether an account row exists (cheaper than decoding it).
    pub fn account_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.tx.open_table(ACCOUNTS)?.get(id)?.is_some())
    }

    /// Writes a batch of health rows and events, skipping accounts deleted meanwhile (a check that
    /// was in flight during a delete must not resurrect the row). Returns the stored events.
    pub fn put_health_batch(
        &mut self,
        batch: HealthBatch,
        retention: u64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        {
            let accounts = self.tx.open_table(ACCOUNTS)?;
            let mut health = self.tx.open_table(HEALTH)?;
            for (id, bytes) in &batch.rows {
                if accounts.get(id.as_str())?.is_some() {
                    health.insert(id.as_str(), bytes.as_slice())?;
                }
            }
        }
        let mut stored = Vec::with_capacity(batch.events.len());
        for event in batch.events {
            if self.account_exists(&event.account_id)? {
                stored.push(self.append_event(event)?);
            }
        }
        if !stored.is_empty() {
            self.trim_events(retention)?;
        }
        Ok(stored)
    }
}

impl Store {
    /// Every stored health row (at startup; blocking).
    pub fn load_health(&self) -> Result<Vec<HealthRecord>, StoreError> {
        let db = self.db()?;
        let rtx = db.begin_read()?;
        let table = rtx.open_table(HEALTH)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            // A row this version cannot read is dropped rather than stopping the daemon: the next
            // check rebuilds it.
            if let Ok(rec) = decode::<HealthRecord>("health", v.value()) {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Highest stored event sequence (0 when there are none), without opening a transaction
    /// from the caller's side.
    pub fn last_event_sequence(rtx: &redb::ReadTransaction) -> Result<u64, StoreError> {
        let table = rtx.open_table(EVENTS)?;
        Ok(table.last()?.map(|(k, _)| k.value()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventKind, encode};

    #[test]
    fn state_names_round_trip() {
        for s in HealthState::ALL {
            assert_eq!(HealthState::parse(s.as_str()), Some(s));
        }
        assert_eq!(HealthState::parse("nope"), None);
    }

    #[test]
    fn batch_skips_deleted_accounts_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("h.redb")).unwrap();
        let rec = HealthRecord {
            state: HealthState::Down,
            reason: Some(FailureReason::IpBanned),
            ..HealthRecord::new("gone", HealthState::Down, 5)
        };
        let batch = HealthBatch {
            rows: vec![("gone".into(), encode("health", &rec).unwrap())],
            events: vec![EventRecord {
                sequence: 0,
                tenant: "default".into(),
                time: 1,
                kind: EventKind::HealthChanged,
                account_id: "gone".into(),
                account_name: String::new(),
                previous_state: "UP".into(),
                state: "DOWN".into(),
                reason: String::new(),
                message: String::new(),
            }],
        };
        let db = store.db().unwrap();
        let wtx = db.begin_write().unwrap();
        let stored = Tx {
            tx: &wtx,
            audit_keep: 1,
        }
        .put_health_batch(batch, 10)
        .unwrap();
        wtx.commit().unwrap();
        assert!(stored.is_empty(), "no account row: nothing written");
        assert!(store.load_health().unwrap().is_empty());
    }
}
