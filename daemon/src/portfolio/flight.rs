//! One upstream fetch per (account, book) at a time, shared by every caller that wants it.
//!
//! Thirty `--refresh` calls arriving together used to make thirty upstream calls per account:
//! thirty slots of the upstream's per-endpoint budget (10/s by default) for one answer, and the
//! later ones waiting out the budget. Now the first caller starts the fetch and the others wait for
//! that same fetch; a caller that comes after it landed starts a new one (it asked for data newer
//! than what it would otherwise be served).
//!
//! The fetch runs as its own task, so a caller that gives up (its deadline passed, its client went
//! away) neither cancels it for the others nor leaves a half-done fetch that a later caller would
//! resume with a deadline long gone. The task is bounded by the deadline it was started with, and
//! it takes its entry out of the table when it lands.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

/// A fetch in the air, as every caller waiting on it holds it.
pub type Flight<R> = Shared<BoxFuture<'static, R>>;

type Key = (String, &'static str);

/// One fetch in the air: its id (so only it takes itself out) and its [`Flight`], type-erased.
type InAir = HashMap<Key, (u64, Box<dyn Any + Send + Sync>)>;

/// The fetches in the air, keyed by (account id, book kind). Each entry is a [`Flight`] of the
/// kind's result type, type-erased so every kind shares one table.
#[derive(Default)]
pub struct Flights {
    in_air: Mutex<InAir>,
    next_id: AtomicU64,
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, InAir> {
        // A poisoned lock only means a panic elsewhere; entries are whole-value inserts/removes.
        self.in_air.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fetch of `kind` for `account_id` in the air, or a new one: `start()` spawned as a task.
    /// `lost` is the answer if that task never finishes (the runtime shutting down).
    pub fn join_or_start<R>(
        self: &Arc<Self>,
        account_id: &str,
        kind: &'static str,
        start: impl FnOnce() -> BoxFuture<'static, R>,
        lost: fn() -> R,
    ) -> Flight<R>
    where
        R: Clone + Send + Sync + 'static,
    {
        let key: Key = (account_id.to_owned(), kind);
        let mut in_air = self.lock();
        if let Some(flight) = in_air
            .get(&key)
            .and_then(|(_, f)| f.downcast_ref::<Flight<R>>())
        {
            return flight.clone();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let work = start();
        let flights = self.clone();
        let landing = key.clone();
        let task = tokio::spawn(async move {
            let result = work.await;
            flights.land(&landing, id);
            result
        });
        let flight: Flight<R> = async move { task.await.unwrap_or_else(|_| lost()) }
            .boxed()
            .shared();
        in_air.insert(key, (id, Box::new(flight.clone())));
        flight
    }

    /// Takes a landed fetch out of the table, unless a newer one already replaced it.
    fn land(&self, key: &Key, id: u64) {
        let mut in_air = self.lock();
        if in_air.get(key).is_some_and(|(current, _)| *current == id) {
            in_air.remove(key);
        }
    }

    /// How many fetches are in the air.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn callers_share_one_fetch_and_a_later_caller_starts_another() {
        let flights = Arc::new(Flights::default());
        let started = Arc::new(AtomicU32::new(0));
        let (release, wait) = tokio::sync::watch::channel(false);
        let start = || {
            let started = started.clone();
            let mut wait = wait.clone();
            move || -> BoxFuture<'static, u32> {
                Box::pin(async move {
                    let n = started.fetch_add(1, Ordering::SeqCst) + 1;
                    let _ = wait.wait_for(|go| *go).await;
                    n
                })
            }
        };
        let waiting: Vec<_> = (0..30)
            .map(|_| flights.join_or_start("a", "positions", start(), || 0))
            .collect();
        // Another book or another account is another fetch.
        let other = flights.join_or_start("a", "orders", start(), || 0);
        let another = flights.join_or_start("b", "positions", start(), || 0);
        assert_eq!(flights.len(), 3);
        release.send_replace(true);
        let answers = futures::future::join_all(waiting).await;
        assert!(answers.iter().all(|&n| n == answers[0]), "{answers:?}");
        assert_ne!(other.await, another.await);
        assert_eq!(started.load(Ordering::SeqCst), 3);
        // Landed fetches leave the table; the next caller starts a new one.
        for _ in 0..100 {
            if flights.len() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(flights.len(), 0);
        let again = flights.join_or_start("a", "positions", start(), || 0).await;
        assert_eq!(again, 4);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_does_not_cancel_the_fetch_for_the_others() {
        let flights = Arc::new(Flights::default());
        let (release, wait) = tokio::sync::watch::channel(false);
        let start = move || -> BoxFuture<'static, &'static str> {
            let mut wait = wait.clone();
            Box::pin(async move {
                let _ = wait.wait_for(|go| *go).await;
                "done"
            })
        };
        let first = flights.join_or_start("a", "funds", start.clone(), || "lost");
        let second = flights.join_or_start("a", "funds", start, || "lost");
        // The first caller's deadline passes.
        assert!(
            tokio::time::timeout(Duration::from_millis(10), first)
                .await
                .is_err()
        );
        release.send_replace(true);
        assert_eq!(second.await, "done");
    }
}
