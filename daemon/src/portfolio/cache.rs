//! Decoded snapshots kept in memory, so that a call answered from fresh snapshots neither reads
//! redb nor decodes JSON.
//!
//! The cache mirrors the redb `snapshots` table, which stays the durable copy: an entry is either
//! exactly what redb holds for that (account, book), or absent, in which case redb is read and
//! the entry filled. Keeping it a mirror (rather than a second source of truth) is what lets
//! staleness, "newer fetch wins" and "a deleted account has no snapshots" keep meaning what they
//! mean in the store. So:
//! - an entry is replaced only by a snapshot at least as new (the store's rule for racing fetches)
//!   and only after redb stored it;
//! - an account's entries go when the account is deleted (the store drops its snapshots in the
//!   same transaction);
//! - nothing is cached for an account the registry no longer has, checked under the cache's write
//!   lock: a deletion removes the account from the registry before it announces the deletion, so
//!   a fill that raced it is either refused here or removed by that announcement.
//!
//! One decoded copy per (account, book), shared by every answer through an `Arc`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::store::UnixMillis;

/// A decoded snapshot: the book and when it was fetched (which staleness is judged from).
#[derive(Debug)]
pub struct Snapshot<T> {
    pub fetched_at: UnixMillis,
    pub data: Arc<T>,
}

// Not derived: a derive would demand `T: Clone`, and cloning only bumps the `Arc`.
impl<T> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Self {
            fetched_at: self.fetched_at,
            data: self.data.clone(),
        }
    }
}

/// One book of one account, its type erased so every kind shares one map.
struct Entry {
    kind: &'static str,
    fetched_at: UnixMillis,
    data: Arc<dyn Any + Send + Sync>,
}

#[derive(Default)]
pub struct SnapshotCache {
    /// Account id -> its cached books (at most one per kind, so a handful).
    accounts: RwLock<HashMap<String, Vec<Entry>>>,
}

impl SnapshotCache {
    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Vec<Entry>>> {
        // A poisoned lock only means a panic elsewhere; every change is a whole-entry insert or
        // remove, so the map is consistent.
        self.accounts.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Vec<Entry>>> {
        self.accounts.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached `kind` snapshots of `account_ids`, in order (`None`: not cached).
    pub fn get_many<'a, T: Send + Sync + 'static>(
        &self,
        kind: &'static str,
        account_ids: impl ExactSizeIterator<Item = &'a str>,
    ) -> Vec<Option<Snapshot<T>>> {
        let map = self.read();
        let mut out = Vec::with_capacity(account_ids.len());
        for id in account_ids {
            let entry = map
                .get(id)
                .and_then(|books| books.iter().find(|e| e.kind == kind));
            out.push(entry.and_then(|e| {
                // A kind always holds one type; a mismatch would be a bug, and is only a miss.
                let data = e.data.clone().downcast::<T>().ok()?;
                Some(Snapshot {
                    fetched_at: e.fetched_at,
                    data,
                })
            }));
        }
        out
    }

    /// Caches snapshots that redb now holds, unless a newer one is cached already or the account
    /// is gone (`exists` asks the registry).
    pub fn put_many<T: Send + Sync + 'static>(
        &self,
        kind: &'static str,
        snapshots: impl IntoIterator<Item = (String, Snapshot<T>)>,
        exists: impl Fn(&str) -> bool,
    ) {
        let mut map = self.write();
        for (id, s) in snapshots {
            if !exists(&id) {
                continue;
            }
            let entry = Entry {
                kind,
                fetched_at: s.fetched_at,
                data: s.data,
            };
            let books = map.entry(id).or_default();
            match books.iter_mut().find(|e| e.kind == kind) {
                Some(old) if old.fetched_at <= entry.fetched_at => *old = entry,
                Some(_) => {}
                None => books.push(entry),
            }
        }
    }

    /// Forgets every book of a deleted account.
    pub fn remove_account(&self, account_id: &str) {
        self.write().remove(account_id);
    }

    /// Keeps only the accounts `exists` still knows: the resync after missed deletions.
    pub fn retain_accounts(&self, exists: impl Fn(&str) -> bool) {
        self.write().retain(|id, _| exists(id));
    }

    /// How many (account, book) snapshots are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.read().values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(fetched_at: UnixMillis, data: &str) -> Snapshot<String> {
        Snapshot {
            fetched_at,
            data: Arc::new(data.to_string()),
        }
    }

    fn get(c: &SnapshotCache, kind: &'static str, id: &str) -> Option<(UnixMillis, String)> {
        let mut got = c.get_many::<String>(kind, [id].into_iter());
        got.pop()
            .flatten()
            .map(|s| (s.fetched_at, s.data.as_str().to_string()))
    }

    #[test]
    fn newer_or_equal_replaces_older_does_not_and_kinds_are_separate() {
        let c = SnapshotCache::default();
        let all = |_: &str| true;
        c.put_many("funds", [("a".into(), snap(20, "first"))], all);
        c.put_many("funds", [("a".into(), snap(10, "older"))], all);
        assert_eq!(get(&c, "funds", "a"), Some((20, "first".into())));
        c.put_many("funds", [("a".into(), snap(30, "newer"))], all);
        assert_eq!(get(&c, "funds", "a"), Some((30, "newer".into())));
        assert_eq!(get(&c, "positions", "a"), None);
        assert_eq!(get(&c, "funds", "b"), None);
        // One copy per (account, kind), however often it is written.
        c.put_many("positions", [("a".into(), snap(30, "p"))], all);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn gone_accounts_are_neither_cached_nor_kept() {
        let c = SnapshotCache::default();
        c.put_many(
            "funds",
            [("a".into(), snap(1, "a")), ("gone".into(), snap(1, "x"))],
            |id| id != "gone",
        );
        assert_eq!(get(&c, "funds", "gone"), None);
        c.put_many("funds", [("b".into(), snap(1, "b"))], |_| true);
        c.put_many("orders", [("b".into(), snap(1, "b"))], |_| true);
        c.remove_account("a");
        assert_eq!(get(&c, "funds", "a"), None);
        assert_eq!(c.len(), 2);
        c.retain_accounts(|id| id != "b");
        assert_eq!(c.len(), 0);
    }
}
