//! Portfolio snapshots: the last good payload per (account, kind), keyed `"{account id}/{kind}"`.
//!
//! A value is `fetched_at` (i64 big-endian Unix milliseconds) followed by the payload, which the
//! store treats as opaque bytes (the portfolio module owns its format). Knowing `fetched_at` lets
//! a write keep the newer of two snapshots when two fetches race. Snapshots are a cache, but they are what a failing account is shown with and
//! they must survive a restart, so each batch is one ordinary durable transaction: one fsync per
//! portfolio call, never one per account.

use redb::{Durability, ReadTransaction, ReadableTable};

use super::{ACCOUNTS, SNAPSHOTS, Store, StoreError, Tx, UnixMillis};

/// A stored snapshot: when it was fetched, and its payload.
pub type SnapshotBytes = (UnixMillis, Vec<u8>);

fn split(value: &[u8]) -> Result<SnapshotBytes, StoreError> {
    let (head, payload) = value.split_at_checked(8).ok_or(StoreError::Corrupt {
        table: "snapshots",
        message: "value shorter than its fetched_at header".into(),
    })?;
    let mut at = [0u8; 8];
    at.copy_from_slice(head);
    Ok((i64::from_be_bytes(at), payload.to_vec()))
}

/// The table key of one snapshot.
pub fn snapshot_key(account_id: &str, kind: &str) -> String {
    format!("{account_id}/{kind}")
}

impl Tx<'_> {
    /// Stores one snapshot, unless the account no longer exists (a fetch that was in flight while
    /// its account was deleted must not leave an orphan behind: `delete_account` already ran) or
    /// a newer snapshot is already there (a slower, older fetch finished last). Returns whether
    /// it was stored.
    pub fn put_snapshot(
        &mut self,
        account_id: &str,
        kind: &str,
        fetched_at: UnixMillis,
        payload: &[u8],
    ) -> Result<bool, StoreError> {
        if self.tx.open_table(ACCOUNTS)?.get(account_id)?.is_none() {
            return Ok(false);
        }
        let key = snapshot_key(account_id, kind);
        let mut table = self.tx.open_table(SNAPSHOTS)?;
        let newer = match table.get(key.as_str())? {
            // An unreadable old value is simply replaced.
            Some(old) => split(old.value()).is_ok_and(|(at, _)| at > fetched_at),
            None => false,
        };
        if newer {
            return Ok(false);
        }
        let mut value = Vec::with_capacity(8 + payload.len());
        value.extend_from_slice(&fetched_at.to_be_bytes());
        value.extend_from_slice(payload);
        table.insert(key.as_str(), value.as_slice())?;
        Ok(true)
    }
}

impl Store {
    /// One snapshot, if there is one.
    pub fn snapshot(
        rtx: &ReadTransaction,
        account_id: &str,
        kind: &str,
    ) -> Result<Option<SnapshotBytes>, StoreError> {
        let table = rtx.open_table(SNAPSHOTS)?;
        let value = table.get(snapshot_key(account_id, kind).as_str())?;
        value.map(|v| split(v.value())).transpose()
    }

    /// The `kind` snapshots of many accounts from one consistent read, in the order asked
    /// (`None` where an account has none).
    pub async fn snapshots(
        &self,
        account_ids: Vec<String>,
        kind: &'static str,
    ) -> Result<Vec<Option<SnapshotBytes>>, StoreError> {
        self.read(move |rtx| {
            account_ids
                .iter()
                .map(|id| {
                    // One corrupt value is a cache miss for its account, not a failed read.
                    Self::snapshot(rtx, id, kind).or_else(|e| match e {
                        StoreError::Corrupt { .. } => Ok(None),
                        e => Err(e),
                    })
                })
                .collect()
        })
        .await
    }

    /// Writes a batch of `(account id, fetched_at, payload)` snapshots of one kind in a single
    /// transaction. Returns, row by row, whether it was stored (see [`Tx::put_snapshot`] for what
    /// is skipped), so the portfolio's in-memory copy can follow exactly.
    pub async fn put_snapshots(
        &self,
        kind: &'static str,
        rows: Vec<(String, UnixMillis, Vec<u8>)>,
    ) -> Result<Vec<bool>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.clone();
        let audit_keep = self.shared.options.audit_retention;
        tokio::task::spawn_blocking(move || {
            let db = store.db()?;
            let mut wtx = db.begin_write().map_err(|e| store.noted(e.into()))?;
            wtx.set_durability(Durability::Immediate)?;
            let stored = {
                let mut tx = Tx {
                    tx: &wtx,
                    audit_keep,
                };
                rows.iter()
                    .map(|(id, at, payload)| tx.put_snapshot(id, kind, *at, payload))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| store.noted(e))?
            };
            wtx.commit().map_err(|e| store.noted(e.into()))?;
            Ok(stored)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn snapshots_round_trip_skip_deleted_accounts_and_go_with_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        // A minimal account row is enough: put_snapshot only checks that the key exists.
        let record: super::super::AccountRecord = serde_json::from_value(serde_json::json!({
            "id": "a1", "name": "one", "connector": "openalgo", "host_url": "http://x",
            "sealed_key": {"key_id": "k", "nonce": [], "ciphertext": []},
            "api_key_hint": "h", "enabled": true, "create_time": 1, "update_time": 1,
            "revision": 1
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"));
        let put = record.clone();
        store
            .write(move |tx| -> Result<(), StoreError> { tx.put_account(&put, None) })
            .await
            .unwrap();
        let stored = store
            .put_snapshots(
                "funds",
                vec![
                    ("a1".into(), 20, b"one".to_vec()),
                    ("gone".into(), 20, b"x".to_vec()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            stored,
            [true, false],
            "the deleted account's snapshot is not written"
        );
        // An older fetch that finishes last does not replace a newer snapshot; a newer one does.
        let older = store
            .put_snapshots("funds", vec![("a1".into(), 10, b"older".to_vec())])
            .await
            .unwrap();
        assert_eq!(older, [false]);
        let got = store
            .snapshots(vec!["a1".into(), "gone".into()], "funds")
            .await
            .unwrap();
        assert_eq!(got, vec![Some((20, b"one".to_vec())), None]);
        let newer = store
            .put_snapshots("funds", vec![("a1".into(), 30, b"newer".to_vec())])
            .await
            .unwrap();
        assert_eq!(newer, [true]);
        let got = store.snapshots(vec!["a1".into()], "funds").await.unwrap();
        assert_eq!(got, vec![Some((30, b"newer".to_vec()))]);
        // Kinds are separate.
        let got = store
            .snapshots(vec!["a1".into()], "positions")
            .await
            .unwrap();
        assert_eq!(got, vec![None]);
        store
            .write(move |tx| -> Result<(), StoreError> { tx.delete_account(&record) })
            .await
            .unwrap();
        let got = store.snapshots(vec!["a1".into()], "funds").await.unwrap();
        assert_eq!(got, vec![None]);
    }
}
