//! The systemd notify protocol: READY, STATUS, RELOADING, STOPPING and the watchdog. Every call is
//! a no-op when the daemon does not run under systemd (no NOTIFY_SOCKET).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use sd_notify::NotifyState;
use tracing::{debug, warn};

use crate::monitor::MonitorHandle;
use crate::store::Store;
use crate::supervisor::Supervisor;

/// How long a state change (READY, RELOADING, STOPPING) may wait for room in the service
/// manager's queue before it is given up.
const STATE_CHANGE_PATIENCE: Duration = Duration::from_millis(250);

/// Whether a message may wait for room in the queue.
#[derive(Clone, Copy)]
enum Urgency {
    /// READY, RELOADING, STOPPING: wait up to [`STATE_CHANGE_PATIENCE`].
    StateChange,
    /// STATUS and WATCHDOG: the next one supersedes it, so drop it when the queue is full.
    Periodic,
}

/// Sends one notify datagram without ever blocking a thread for long. `sd_notify::notify`
/// sends on a blocking socket, and the kernel queues only `net.unix.max_dgram_qlen` (10 by
/// default) unread datagrams per receiver: a service manager that stops reading for a few
/// seconds would park every thread that notifies. That happened in a test, where the watchdog
/// and STATUS tasks took both runtime workers and SIGTERM never finished.
fn send(states: &[NotifyState<'_>], urgency: Urgency) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let mut msg = String::new();
    for state in states {
        let _ = writeln!(msg, "{state}");
    }
    if let Err(e) = send_datagram(&path, msg.as_bytes(), urgency) {
        debug!(error = %e, "sd_notify failed");
    }
}

fn send_datagram(path: &OsStr, msg: &[u8], urgency: Urgency) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    match urgency {
        Urgency::StateChange => sock.set_write_timeout(Some(STATE_CHANGE_PATIENCE))?,
        Urgency::Periodic => sock.set_nonblocking(true)?,
    }
    // `@name` is a socket in the abstract namespace, as sd_notify(3) allows.
    let sent = match path.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(msg, &addr)?
        }
        None => sock.send_to(msg, path)?,
    };
    if sent == msg.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "incomplete datagram",
        ))
    }
}

/// The store is open, the keyring loaded and the listener bound.
pub fn ready(status: &str) {
    send(
        &[NotifyState::Ready, NotifyState::Status(status)],
        Urgency::StateChange,
    );
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)], Urgency::Periodic);
}

/// Sent before a reload; `ready` after it. MONOTONIC_USEC lets systemd 253+ track the reload.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now], Urgency::StateChange),
        Err(_) => send(&[NotifyState::Reloading], Urgency::StateChange),
    }
}

pub fn stopping() {
    send(
        &[NotifyState::Stopping, NotifyState::Status("stopping")],
        Urgency::StateChange,
    );
}

/// When systemd asks for a watchdog (WatchdogSec=), pings at half the interval, but only while
/// the store answers a read within that half and the health monitor has completed a flush round
/// since the last ping, and the store has no I/O fault it could not recover from by reopening:
/// a daemon whose storage or scheduler is wedged stops pinging and gets restarted instead of
/// serving stale answers (or refusing every write) forever. Keep WatchdogSec at least 4x the
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
            if let Some(reason) = store.fault() {
                warn!(reason, "storage is failing; withholding the watchdog ping");
                continue;
            }
            let probe = store.read(|rtx| Store::event_bounds(rtx).map(|_| ()));
            match tokio::time::timeout(half, probe).await {
                Ok(Ok(())) => send(&[NotifyState::Watchdog], Urgency::Periodic),
                Ok(Err(e)) => {
                    warn!(error = %e, "store check failed; withholding the watchdog ping")
                }
                Err(_) => warn!("store did not answer in time; withholding the watchdog ping"),
            }
        }
    });
}

/// Keeps STATUS= current: the account counts by health state, and why the store fails while it
/// does (`systemctl status` shows it), sent when they change.
pub fn spawn_status(supervisor: &Supervisor, monitor: MonitorHandle, store: Store, prefix: String) {
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
            let line = match store.fault() {
                Some(reason) => format!(
                    "{prefix}; STORAGE FAILING: {reason}; {}",
                    monitor.status_line()
                ),
                None => format!("{prefix}; {}", monitor.status_line()),
            };
            if line != last {
                status(&line);
                last = line;
            }
        }
    });
}
