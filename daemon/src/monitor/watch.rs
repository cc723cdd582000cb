//! WatchEvents: a snapshot of every account's health (from 0) or a replay of retained events
//! (from N), then live events, with no gap and no duplicate.
//!
//! How: subscribe to the event bus *before* reading the store, remember the last sequence sent,
//! drop live events at or below it, and when a live event skips ahead (two writers can broadcast
//! out of commit order, or the receiver lagged) fill the gap from the store, where every
//! broadcast event is already durable. A consumer that does not read for [`SLOW_CONSUMER`] with
//! a full buffer is cut off (RESOURCE_EXHAUSTED with the sequence to resume from), so it holds
//! neither memory nor the daemon.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::Shared;
use crate::store::{EventRecord, HealthRecord, Store, StoreError};

/// Items buffered per watcher before it counts as slow.
const BUFFER: usize = 256;
/// How long a watcher may leave its buffer full before it is cut off.
const SLOW_CONSUMER: Duration = Duration::from_secs(10);
/// Events read from the store per page while replaying.
const PAGE: usize = 512;

/// One item of the stream.
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// The current health of one account (from_sequence 0 only; sequence 0 on the wire).
    Snapshot {
        health: HealthRecord,
        name: String,
    },
    Event(EventRecord),
}

/// Why a watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    OutOfRange(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a running watch ended early (sent as the stream's final status).
#[derive(Debug, Clone, thiserror::Error)]
pub enum WatchEnd {
    #[error(
        "watcher too slow: not reading for {0:?} with a full buffer; resume with from_sequence={1}"
    )]
    TooSlow(Duration, u64),
    #[error("{0}")]
    OutOfRange(String),
    #[error("event storage unavailable: {0}")]
    Store(String),
    #[error("the daemon is shutting down; resume with from_sequence={0}")]
    ShuttingDown(u64),
}

/// The receiving side: items, then (maybe) why it ended.
pub struct WatchStream {
    pub items: mpsc::Receiver<WatchItem>,
    pub end: oneshot::Receiver<WatchEnd>,
}

pub(super) async fn start(shared: Arc<Shared>, from: u64) -> Result<WatchStream, WatchError> {
    // Subscribe first: anything committed after the store read below is also on this receiver.
    let live = shared.accounts.events().subscribe();
    let (snapshot, last) = if from == 0 {
        let last = shared.store.read(Store::last_event_sequence).await?;
        let accounts = shared.accounts.all();
        let map = shared.health_read();
        let snapshot: Vec<WatchItem> = accounts
            .iter()
            .map(|a| WatchItem::Snapshot {
                health: map.get(a.id.as_str()).map_or_else(
                    || {
                        let state = if a.enabled {
                            crate::store::HealthState::Unknown
                        } else {
                            crate::store::HealthState::Disabled
                        };
                        HealthRecord::new(&a.id, state, 0)
                    },
                    |e| e.rec.clone(),
                ),
                name: a.name.clone(),
            })
            .collect();
        (snapshot, last)
    } else {
        let bounds = shared.store.read(Store::event_bounds).await?;
        match bounds {
            Some((first, _)) if from < first => {
                return Err(WatchError::OutOfRange(format!(
                    "from_sequence {from} is no longer retained (oldest is {first}); list health, then watch from 0"
                )));
            }
            Some((_, last)) if from > last.saturating_add(1) => {
                return Err(WatchError::OutOfRange(format!(
                    "from_sequence {from} is ahead of the newest event ({last})"
                )));
            }
            None if from > 1 => {
                return Err(WatchError::OutOfRange(format!(
                    "from_sequence {from} is ahead of the newest event (there are none)"
                )));
            }
            _ => {}
        }
        (Vec::new(), from - 1)
    };
    let (tx, items) = mpsc::channel(BUFFER);
    let (end_tx, end) = oneshot::channel();
    let shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let mut w = Watcher {
            store: shared.store.clone(),
            tx,
            last,
        };
        if let Err(Stop::End(why)) = w.run(snapshot, live, shutdown).await {
            let _ = end_tx.send(why);
        }
    });
    Ok(WatchStream { items, end })
}

enum Stop {
    /// The client went away: nothing to tell anyone.
    Gone,
    End(WatchEnd),
}

struct Watcher {
    store: Store,
    tx: mpsc::Sender<WatchItem>,
    /// Highest event sequence sent (or, from 0, already covered by the snapshot's store read).
    last: u64,
}

impl Watcher {
    async fn run(
        &mut self,
        snapshot: Vec<WatchItem>,
        mut live: broadcast::Receiver<EventRecord>,
        mut shutdown: crate::supervisor::ShutdownSignal,
    ) -> Result<(), Stop> {
        for item in snapshot {
            self.send(item).await?;
        }
        self.catch_up().await?;
        loop {
            tokio::select! {
                () = shutdown.requested() => return Err(Stop::End(WatchEnd::ShuttingDown(self.last + 1))),
                () = self.tx.closed() => return Err(Stop::Gone),
                ev = live.recv() => match ev {
                    Ok(ev) if ev.sequence <= self.last => {}
                    Ok(ev) if ev.sequence == self.last + 1 => {
                        self.last = ev.sequence;
                        self.send(WatchItem::Event(ev)).await?;
                    }
                    // A gap: the missing events are durable already, read them in order.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up().await?,
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(Stop::End(WatchEnd::ShuttingDown(self.last + 1)));
                    }
                },
            }
        }
    }

    /// Sends every stored event after `last`, in order.
    async fn catch_up(&mut self) -> Result<(), Stop> {
        loop {
            let from = self.last + 1;
            let page = self
                .store
                .read(move |rtx| Store::events_from(rtx, from, PAGE))
                .await
                .map_err(|e| Stop::End(WatchEnd::Store(e.to_string())))?;
            if let Some(first) = page.first()
                && first.sequence != from
            {
                return Err(Stop::End(WatchEnd::OutOfRange(format!(
                    "events from {from} were dropped by retention before they could be sent; list health, then watch from 0"
                ))));
            }
            let n = page.len();
            for ev in page {
                self.last = ev.sequence;
                self.send(WatchItem::Event(ev)).await?;
            }
            if n < PAGE {
                return Ok(());
            }
        }
    }

    async fn send(&self, item: WatchItem) -> Result<(), Stop> {
        match tokio::time::timeout(SLOW_CONSUMER, self.tx.reserve()).await {
            Ok(Ok(permit)) => {
                permit.send(item);
                Ok(())
            }
            Ok(Err(_)) => Err(Stop::Gone),
            Err(_) => {
                let resume = match &item {
                    WatchItem::Event(ev) => ev.sequence,
                    WatchItem::Snapshot { .. } => 0,
                };
                tracing::info!(
                    resume_from = resume,
                    "watcher cut off: not reading with a full buffer"
                );
                Err(Stop::End(WatchEnd::TooSlow(SLOW_CONSUMER, resume)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventKind, now_millis};
    use crate::supervisor::Supervisor;

    fn event(n: u64) -> EventRecord {
        EventRecord {
            sequence: 0,
            tenant: "default".into(),
            time: now_millis(),
            kind: EventKind::HealthChanged,
            account_id: format!("a{n}"),
            account_name: String::new(),
            previous_state: "UP".into(),
            state: "DOWN".into(),
            reason: String::new(),
            message: String::new(),
        }
    }

    async fn append(store: &Store, n: u64) -> EventRecord {
        store
            .write(move |tx| tx.append_event(event(n)))
            .await
            .map_err(|e: StoreError| e)
            .unwrap()
    }

    async fn next_seq(rx: &mut mpsc::Receiver<WatchItem>) -> u64 {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(WatchItem::Event(e))) => e.sequence,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Replays from the store, then live; live events that arrive out of commit order are put
    /// back in order from the store, and none is sent twice.
    #[tokio::test]
    async fn replay_then_live_without_gaps_or_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("w.redb")).unwrap();
        for n in 1..=3 {
            append(&store, n).await;
        }
        let (bus, live) = broadcast::channel(16);
        let (tx, mut rx) = mpsc::channel(16);
        let supervisor = Supervisor::new();
        let mut w = Watcher {
            store: store.clone(),
            tx,
            last: 1,
        };
        let signal = supervisor.signal();
        let task = tokio::spawn(async move { w.run(Vec::new(), live, signal).await.is_ok() });
        assert_eq!([next_seq(&mut rx).await, next_seq(&mut rx).await], [2, 3]);
        // Two writers commit 4 then 5 but broadcast 5 first.
        let e4 = append(&store, 4).await;
        let e5 = append(&store, 5).await;
        bus.send(e5).unwrap();
        bus.send(e4).unwrap();
        // Already replayed: ignored.
        bus.send(append(&store, 6).await).unwrap();
        assert_eq!(
            [
                next_seq(&mut rx).await,
                next_seq(&mut rx).await,
                next_seq(&mut rx).await
            ],
            [4, 5, 6]
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(200), rx.recv())
                .await
                .is_err(),
            "nothing sent twice"
        );
        drop(rx);
        let _ = bus.send(append(&store, 7).await);
        // The client went away: the watcher ends quietly.
        assert!(!task.await.unwrap());
    }
}
