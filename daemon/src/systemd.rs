//! The systemd notify protocol: READY, STATUS, RELOADING, STOPPING and the watchdog. Every call is
//! a no-op when the daemon does not run under systemd (no NOTIFY_SOCKET).

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::{debug, warn};

use crate::monitor::MonitorHandle;
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
/// the store answers a read within that half and the health monitor has completed a flush round
/// since the last ping: a daemon whose storage or scheduler is wedged stops pinging and gets
/// restarted instead of serving stale answers forever. Keep WatchdogSec at least 4x the
/// monitor's flush_interval.
pub fn spawn_watchdog(supervisor: &Supervisor, store: Store, monitor: MonitorHandle) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let half = (interval / 2).max(Duration::from_millis(100));
    let mut stop = supervisor.signal();
    supervisor.spawn("watchdog", async move {
        let mut tick = tokio::time::interval(half);
        let mut last_round = monitor.flush_rounds();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.requested() => return,
            }
            let round = monitor.flush_rounds();
            if round == last_round {
                warn!("health monitor made no progress; withholding the watchdog ping");
                continue;
            }
            last_round = round;
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

/// Keeps STATUS= current: the account counts by health state, sent when they change.
pub fn spawn_status(supervisor: &Supervisor, monitor: MonitorHandle, prefix: String) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let mut stop = supervisor.signal();
    supervisor.spawn("systemd-status", async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut last = String::new();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.requested() => return,
            }
            let line = format!("{prefix}; {}", monitor.status_line());
            if line != last {
                status(&line);
                last = line;
            }
        }
    });
}
