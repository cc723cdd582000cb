//! Fair shares of the check concurrency across tenants.
//!
//! Every check takes a permit of the global semaphore (`[monitor] concurrency`). Without more, a
//! tenant with thousands of accounts (or many slow upstreams) would hold most permits and delay
//! every other tenant's checks. So before the global permit, a check takes a place in its
//! tenant's share: while `n` tenants have checks waiting or running, each may run at most
//! `concurrency / n` (at least 1) at once. With one tenant active its share is the whole
//! concurrency, so a single-tenant daemon checks exactly as before; a tenant that finds its share
//! full waits until one of its own checks ends or fewer tenants are active. The shares are
//! recomputed on every attempt, so a reload of the concurrency applies at once.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
pub(super) struct FairShares {
    /// Per tenant: (checks waiting for a place, checks holding one). A tenant with neither has
    /// no entry, so the map holds only active tenants (bounded by the accounts).
    active: Mutex<HashMap<String, (usize, usize)>>,
    /// Woken when a place is given back or a tenant stops being active.
    freed: Notify,
}

/// A place in a tenant's share; given back on drop.
pub(super) struct Place<'a> {
    shares: &'a FairShares,
    tenant: String,
}

impl FairShares {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (usize, usize)>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a place in `tenant`'s share of `concurrency`.
    pub(super) async fn enter(&self, tenant: &str, concurrency: usize) -> Place<'_> {
        self.lock().entry(tenant.to_string()).or_default().0 += 1;
        // Gives the waiting count back if this future is dropped while waiting (a stopped task).
        let mut waiting = Waiting {
            shares: self,
            tenant,
            armed: true,
        };
        loop {
            // Registered before looking, so a place freed in between is not missed.
            let freed = self.freed.notified();
            {
                let mut active = self.lock();
                let tenants = active.len().max(1);
                let share = (concurrency / tenants).max(1);
                if let Some(e) = active.get_mut(tenant)
                    && e.1 < share
                {
                    e.0 -= 1;
                    e.1 += 1;
                    waiting.armed = false;
                    return Place {
                        shares: self,
                        tenant: tenant.to_string(),
                    };
                }
            }
            freed.await;
        }
    }

    #[cfg(test)]
    fn running(&self, tenant: &str) -> usize {
        self.lock().get(tenant).map_or(0, |e| e.1)
    }
}

struct Waiting<'a> {
    shares: &'a FairShares,
    tenant: &'a str,
    armed: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.armed {
            leave(self.shares, self.tenant, |e| e.0 = e.0.saturating_sub(1));
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        leave(self.shares, &self.tenant, |e| e.1 = e.1.saturating_sub(1));
    }
}

fn leave(shares: &FairShares, tenant: &str, f: impl FnOnce(&mut (usize, usize))) {
    {
        let mut active = shares.lock();
        if let Some(e) = active.get_mut(tenant) {
            f(e);
            if *e == (0, 0) {
                active.remove(tenant);
            }
        }
    }
    shares.freed.notify_waiters();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_tenant_gets_everything_and_two_split_it() {
        let shares = Arc::new(FairShares::default());
        // Alone, alpha may hold all 4 places.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(shares.enter("alpha", 4).await);
        }
        assert_eq!(shares.running("alpha"), 4);
        drop(held);
        assert_eq!(shares.running("alpha"), 0);

        // Beta waits for a place: from then on alpha's share is 2, so a third alpha check waits
        // while beta's gets in.
        let a1 = shares.enter("alpha", 4).await;
        let a2 = shares.enter("alpha", 4).await;
        let b = shares.enter("beta", 4).await;
        let s = shares.clone();
        let third = tokio::spawn(async move {
            let _p = s.enter("alpha", 4).await;
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        assert_eq!(shares.running("alpha"), 2);
        // Beta done and gone: alpha's share is the whole concurrency again.
        drop(b);
        tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .unwrap()
            .unwrap();
        drop((a1, a2));
        assert!(shares.lock().is_empty());
    }

    #[tokio::test]
    async fn a_waiter_dropped_while_waiting_leaves_no_trace() {
        let shares = FairShares::default();
        let a = shares.enter("alpha", 1).await;
        let waiting = tokio::time::timeout(Duration::from_millis(20), shares.enter("alpha", 1));
        assert!(waiting.await.is_err());
        drop(a);
        assert!(shares.lock().is_empty());
    }
}
