//! Owner of the daemon's background tasks: it broadcasts shutdown and awaits every task by name,
//! so a task that does not stop is named in the log (kanidm's CoreHandle idea).

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// A receiver that resolves when the daemon is shutting down.
#[derive(Clone)]
pub struct ShutdownSignal(watch::Receiver<bool>);

impl ShutdownSignal {
    /// Resolves once shutdown has been requested (immediately if it already was).
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

pub struct Supervisor {
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
        }
    }

    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal(self.stop.subscribe())
    }

    /// Spawns a named background task; it should end soon after its `ShutdownSignal` fires.
    pub fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        match self.tasks.lock() {
            Ok(mut tasks) => tasks.push((name, handle)),
            Err(poisoned) => poisoned.into_inner().push((name, handle)),
        }
    }

    /// Signals shutdown and waits up to `deadline` for each task in turn, aborting stragglers.
    pub async fn shutdown(&self, deadline: Duration) {
        let _ = self.stop.send(true);
        let tasks = match self.tasks.lock() {
            Ok(mut tasks) => std::mem::take(&mut *tasks),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        let until = tokio::time::Instant::now() + deadline;
        for (name, mut handle) in tasks {
            match tokio::time::timeout_at(until, &mut handle).await {
                Ok(_) => info!(task = name, "task stopped"),
                Err(_) => {
                    warn!(task = name, "task did not stop in time; aborting it");
                    handle.abort();
                }
            }
        }
    }
}
