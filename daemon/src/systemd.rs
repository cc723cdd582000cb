//! The systemd notify protocol: READY, STATUS, RELOADING, STOPPING and the watchdog. Every call is
//! a no-op when the daemon does not run under systemd (no NOTIFY_SOCKET).

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::{debug, warn};

use crate::store::Store;
use crate::supervisor::Supervisor;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        debug!(error = %e, "sd_notify failed");
    }
}

/// The store is open, the keyring loaded and the listener bound.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// Sent before a reload; `ready` after it. MONOTONIC_USEC lets systemd 253+ track the reload.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// When systemd asks for a watchdog (WatchdogSec=), pings at half the interval, but only while
/// the store answers a read within that half: a daemon whose storage is wedged stops pinging
/// and gets restarted instead of serving errors forever.
pub fn spawn_watchdog(supervisor: &Supervisor, store: Store) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let half = (interval / 2).max(Duration::from_millis(100));
    let mut stop = supervisor.signal();
    supervisor.spawn("watchdog", async move {
        let mut tick = tokio::time::interval(half);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.requested() => return,
            }
            let probe = store.read(|rtx| Store::event_bounds(rtx).map(|_| ()));
            match tokio::time::timeout(half, probe).await {
                Ok(Ok(())) => send(&[NotifyState::Watchdog]),
                Ok(Err(e)) => {
                    warn!(error = %e, "store check failed; withholding the watchdog ping")
                }
                Err(_) => warn!("store did not answer in time; withholding the watchdog ping"),
            }
        }
    });
}
