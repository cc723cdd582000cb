//! Portfolio snapshots: the last good payload per (account, kind), keyed `"{account id}/{kind}"`.
//!
//! The store treats the payload as opaque bytes (the portfolio module owns its format, including
//! `fetched_at`). Snapshots are a cache, but they are what a failing account is shown with and
//! they must survive a restart, so each batch is one ordinary durable transaction: one fsync per
//! portfolio call, never one per account.

use redb::{Durability, ReadTransaction, ReadableTable};

use super::{ACCOUNTS, SNAPSHOTS, Store, StoreError, Tx};

/// The table key of one snapshot.
pub fn snapshot_key(account_id: &str, kind: &str) -> String {
    format!("{account_id}/{kind}")
}

impl Tx<'_> {
    /// Stores one snapshot, unless the account no longer exists: a fetch that was in flight while
    /// its account was deleted must not leave an orphan behind (`delete_account` already ran).
    /// Returns whether it was stored.
    pub fn put_snapshot(
        &mut self,
        account_id: &str,
        kind: &str,
        bytes: &[u8],
    ) -> Result<bool, StoreError> {
        if self.tx.open_table(ACCOUNTS)?.get(account_id)?.is_none() {
            return Ok(false);
        }
        self.tx
            .open_table(SNAPSHOTS)?
            .insert(snapshot_key(account_id, kind).as_str(), bytes)?;
        Ok(true)
    }
}

impl Store {
    /// One snapshot's bytes, if there is one.
    pub fn snapshot(
        rtx: &ReadTransaction,
        account_id: &str,
        kind: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let table = rtx.open_table(SNAPSHOTS)?;
        let value = table.get(snapshot_key(account_id, kind).as_str())?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// The `kind` snapshots of many accounts from one consistent read, in the order asked
    /// (`None` where an account has none).
    pub async fn snapshots(
        &self,
        account_ids: Vec<String>,
        kind: &'static str,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.read(move |rtx| {
            account_ids
                .iter()
                .map(|id| Self::snapshot(rtx, id, kind))
                .collect()
        })
        .await
    }

    /// Writes a batch of `(account id, bytes)` snapshots of one kind in a single transaction.
    /// Returns how many were stored (deleted accounts are skipped).
    pub async fn put_snapshots(
        &self,
        kind: &'static str,
        rows: Vec<(String, Vec<u8>)>,
    ) -> Result<usize, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut wtx = db.begin_write()?;
            wtx.set_durability(Durability::Immediate)?;
            let mut stored = 0;
            {
                let mut tx = Tx { tx: &wtx };
                for (id, bytes) in &rows {
                    if tx.put_snapshot(id, kind, bytes)? {
                        stored += 1;
                    }
                }
            }
            wtx.commit()?;
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
                    ("a1".into(), b"one".to_vec()),
                    ("gone".into(), b"x".to_vec()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(stored, 1, "the deleted account's snapshot is not written");
        let got = store
            .snapshots(vec!["a1".into(), "gone".into()], "funds")
            .await
            .unwrap();
        assert_eq!(got, vec![Some(b"one".to_vec()), None]);
        store
            .write(move |tx| -> Result<(), StoreError> { tx.delete_account(&record) })
            .await
            .unwrap();
        let got = store.snapshots(vec!["a1".into()], "funds").await.unwrap();
        assert_eq!(got, vec![None]);
    }
}
