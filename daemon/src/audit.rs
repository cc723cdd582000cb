//! Audit records: who did what to which target, and how it ended.
//!
//! A record for a mutation is written in the same transaction as the mutation itself (see
//! `accounts`), so if the audit record cannot be written the mutation does not happen. Records of
//! what changed nothing (refusals, a connection test, a backup) go through an [`AuditSink`].
//! Records never carry a secret.

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::escape::escape_untrusted;
use crate::store::{AuditRecord, Store, StoreError, now_millis};

/// The caller of an operation, as established by the verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub principal: String,
    pub role: String,
    /// The request id the client sent, or one the daemon assigned.
    pub request_id: String,
    /// The caller's tenant; empty for a global admin and the daemon itself.
    pub tenant: String,
}

impl Actor {
    /// The daemon acting on its own behalf (scheduler, startup tasks).
    pub fn system() -> Self {
        Self {
            principal: "rosterd".into(),
            role: "system".into(),
            request_id: String::new(),
            tenant: String::new(),
        }
    }

    pub fn record(&self, action: &str, target: &str, outcome: &str) -> AuditRecord {
        AuditRecord {
            sequence: 0,
            time: now_millis(),
            // Every field may quote client-supplied text: none reaches the table unescaped.
            principal: escape_untrusted(&self.principal).into_owned(),
            role: escape_untrusted(&self.role).into_owned(),
            action: escape_untrusted(action).into_owned(),
            target: escape_untrusted(target).into_owned(),
            outcome: escape_untrusted(outcome).into_owned(),
            request_id: escape_untrusted(&self.request_id).into_owned(),
            tenant: self.tenant.clone(),
        }
    }
}

/// Audit records waiting to be written. A writer that must wait for its record waits for room;
/// one that may not wait ([`AuditSink::offer`]) has its record dropped (and counted) when full.
pub const AUDIT_QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the audit writer has stopped")]
    Stopped,
}

/// A record on its way to the audit table, and who waits for the outcome.
struct Queued {
    record: AuditRecord,
    written: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// Where records go that are not part of a mutation's own transaction: refusals (from the TLS
/// verifier and the request layer), an API key unsealed for a connection test, a backup. One task
/// drains a bounded queue into the audit table, one durable transaction per record, so
/// whoever records (in particular the authentication layer) needs only this handle, not the
/// accounts, and a burst of refusals cannot make the daemon queue writes without limit.
#[derive(Clone, Debug)]
pub struct AuditSink {
    queue: mpsc::Sender<Queued>,
}

impl AuditSink {
    /// Starts the writer on the current tokio runtime; it ends once every handle is dropped.
    pub fn start(store: Store) -> Self {
        let (queue, mut rx) = mpsc::channel::<Queued>(AUDIT_QUEUE);
        tokio::spawn(async move {
            while let Some(Queued { record, written }) = rx.recv().await {
                let result = store
                    .write(move |tx| tx.append_audit(record).map(|_| ()))
                    .await;
                match written {
                    Some(tx) => {
                        let _ = tx.send(result);
                    }
                    None => {
                        if let Err(e) = result {
                            warn!(error = %e, "could not write a queued audit record");
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Writes `record` and returns once it is durable: an operation that must not happen
    /// unrecorded waits for this.
    pub async fn write(&self, record: AuditRecord) -> Result<(), AuditError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(Queued {
                record,
                written: Some(tx),
            })
            .await
            .map_err(|_| AuditError::Stopped)?;
        rx.await
            .map_err(|_| AuditError::Stopped)?
            .map_err(AuditError::from)
    }

    /// Queues `record` without waiting; `false` when the queue is full (the record is dropped,
    /// and the caller counts that).
    pub fn offer(&self, record: AuditRecord) -> bool {
        self.queue
            .try_send(Queued {
                record,
                written: None,
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(n: usize) -> AuditRecord {
        Actor {
            principal: format!("p{n}"),
            role: "viewer".into(),
            request_id: String::new(),
            tenant: String::new(),
        }
        .record("auth", "roster.v1.AccountService/CreateAccount", "refused")
    }

    async fn stored(store: &Store) -> Vec<AuditRecord> {
        store
            .read(|rtx| Store::audit_page(rtx, 0, 10_000))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_write_returns_once_durable_and_offers_never_wait() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r.redb")).unwrap();
        let sink = AuditSink::start(store.clone());
        sink.write(refusal(0)).await.unwrap();
        let records = stored(&store).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].principal, "p0");

        // A burst larger than the queue: offers return at once, and what does not fit is
        // refused (for the caller to count), never queued without limit.
        let offered = 10 * AUDIT_QUEUE;
        let taken = (1..=offered).filter(|&n| sink.offer(refusal(n))).count();
        assert!((AUDIT_QUEUE..offered).contains(&taken), "{taken}");
        // A write waits behind the queued records: once it returns, they are all stored.
        sink.write(refusal(0)).await.unwrap();
        assert_eq!(stored(&store).await.len(), taken + 2);
    }
}
