//! Filtered reads of the audit and events tables, newest first, that do a bounded amount of work
//! per request: a scan stops after examining a fixed number of records, matching or not, and says
//! where to continue, so a filter that matches nothing in a large table costs one bounded read,
//! not a walk of the whole table.

use redb::{ReadTransaction, TableDefinition};
use serde::de::DeserializeOwned;

use super::{AUDIT, AuditRecord, EVENTS, EventRecord, Store, StoreError, decode};

/// Records examined per request at most: the default audit retention, so one request covers a
/// default-sized audit table.
pub const SCAN_BUDGET: usize = super::DEFAULT_AUDIT_RETENTION as usize;

/// One page of a filtered scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Matching records, newest first.
    pub records: Vec<T>,
    /// Where to continue (as `before`) for older matches; 0 when the scan reached the oldest
    /// record.
    pub next_before: u64,
}

/// What a scan may do: stop after `limit` matches or `budget` examined records.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Only records with a sequence below this (0: from the newest).
    pub before: u64,
    pub limit: usize,
    pub budget: usize,
}

fn newest_first<T: DeserializeOwned>(
    rtx: &ReadTransaction,
    table: TableDefinition<u64, &[u8]>,
    name: &'static str,
    bounds: Bounds,
    keep: impl Fn(&T) -> bool,
) -> Result<Page<T>, StoreError> {
    let table = rtx.open_table(table)?;
    let range = if bounds.before == 0 {
        table.range(0..)?
    } else {
        table.range(0..bounds.before)?
    };
    let mut records = Vec::with_capacity(bounds.limit.min(1024));
    for (examined, row) in range.rev().enumerate() {
        let (k, v) = row?;
        let sequence = k.value();
        // Stopped with records left: the caller continues from this one on.
        if records.len() >= bounds.limit || examined >= bounds.budget {
            return Ok(Page {
                records,
                next_before: sequence + 1,
            });
        }
        let record: T = decode(name, v.value())?;
        if keep(&record) {
            records.push(record);
        }
    }
    Ok(Page {
        records,
        next_before: 0,
    })
}

impl Store {
    /// Audit records `keep` passes, newest first, within `bounds`.
    pub fn audit_scan(
        rtx: &ReadTransaction,
        bounds: Bounds,
        keep: impl Fn(&AuditRecord) -> bool,
    ) -> Result<Page<AuditRecord>, StoreError> {
        newest_first(rtx, AUDIT, "audit", bounds, keep)
    }

    /// Events `keep` passes, newest first, within `bounds`.
    pub fn events_scan(
        rtx: &ReadTransaction,
        bounds: Bounds,
        keep: impl Fn(&EventRecord) -> bool,
    ) -> Result<Page<EventRecord>, StoreError> {
        newest_first(rtx, EVENTS, "events", bounds, keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableDatabase;

    use crate::store::{EventKind, Tx, now_millis};

    fn event(account: &str) -> EventRecord {
        EventRecord {
            sequence: 0,
            tenant: "default".into(),
            time: now_millis(),
            kind: EventKind::HealthChanged,
            account_id: account.into(),
            account_name: String::new(),
            previous_state: "UP".into(),
            state: "DOWN".into(),
            reason: String::new(),
            message: String::new(),
        }
    }

    fn sequences(p: &Page<EventRecord>) -> Vec<u64> {
        p.records.iter().map(|e| e.sequence).collect()
    }

    /// Ten events, every third about account "a" (sequences 3, 6, 9).
    fn store_with_events() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let db = store.db().unwrap();
        let wtx = db.begin_write().unwrap();
        let mut tx = Tx {
            tx: &wtx,
            audit_keep: 100,
        };
        for n in 1..=10 {
            tx.append_event(event(if n % 3 == 0 { "a" } else { "b" }))
                .unwrap();
        }
        wtx.commit().unwrap();
        (dir, store)
    }

    fn scan(store: &Store, before: u64, limit: usize, budget: usize) -> Page<EventRecord> {
        let db = store.db().unwrap();
        let rtx = db.begin_read().unwrap();
        let bounds = Bounds {
            before,
            limit,
            budget,
        };
        Store::events_scan(&rtx, bounds, |e| e.account_id == "a").unwrap()
    }

    #[test]
    fn a_scan_stops_at_its_limit_and_says_where_to_continue() {
        let (_dir, store) = store_with_events();
        let all = scan(&store, 0, 10, SCAN_BUDGET);
        assert_eq!((sequences(&all), all.next_before), (vec![9, 6, 3], 0));
        let first = scan(&store, 0, 2, SCAN_BUDGET);
        assert_eq!(sequences(&first), [9, 6]);
        // Continues from the first record it did not examine (5), above the next match (3).
        let rest = scan(&store, first.next_before, 2, SCAN_BUDGET);
        assert_eq!((sequences(&rest), rest.next_before), (vec![3], 0));
    }

    #[test]
    fn a_scan_examines_at_most_its_budget_and_paging_on_finds_the_rest() {
        let (_dir, store) = store_with_events();
        // Four records examined (10..7): one match, then it stops although the limit allows more.
        let first = scan(&store, 0, 10, 4);
        assert_eq!((sequences(&first), first.next_before), (vec![9], 7));
        let second = scan(&store, first.next_before, 10, 4);
        assert_eq!((sequences(&second), second.next_before), (vec![6, 3], 3));
        let last = scan(&store, second.next_before, 10, 4);
        assert_eq!((sequences(&last), last.next_before), (vec![], 0));
        // A budget that finds nothing still answers, with where to go on.
        let none = scan(&store, 0, 10, 1);
        assert_eq!((sequences(&none), none.next_before), (vec![], 10));
    }
}
