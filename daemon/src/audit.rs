//! Audit records: who did what to which target, and how it ended.
//!
//! A record for a mutation is written in the same transaction as the mutation itself (see
//! `accounts`), so if the audit record cannot be written the mutation does not happen. Records of
//! what changed nothing (refusals, a connection test, a backup) go through an [`AuditSink`].
//! Records never carry a secret.

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::escape::escape_untrusted;
use crate::store::{AuditRecord, Store, StoreError, UnixMillis, now_millis};

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

/// How a refused request's record names the account the request named (as the client spelled
/// it: an id or a name, never looked up, so the record says nothing about whether it exists).
pub fn named_account_target(named: &str) -> String {
    format!("account/{named}")
}

/// Whether an outcome says the operation happened ("ok", or "ok; what changed").
pub fn outcome_is_ok(outcome: &str) -> bool {
    outcome == "ok" || outcome.starts_with("ok;")
}

/// The RPC method a record is about: a mutation's by its action, a refusal's from its outcome
/// (`roster.v1.AccountService/UpdateAccount: refused: ...`).
fn rpc_method(r: &AuditRecord) -> Option<&str> {
    Some(match r.action.as_str() {
        "account.create" => "CreateAccount",
        "account.update" => "UpdateAccount",
        "account.delete" => "DeleteAccount",
        "account.test" => "TestConnection",
        "key.rotate" => "RotateEncryptionKey",
        "backup" => "Backup",
        "auth" => {
            let (rpc, _) = r.outcome.split_once(": refused")?;
            rpc.rsplit('/').next()?
        }
        _ => return None,
    })
}

/// Whether `target` names one of `accounts`: a change's target is `account/ID (NAME)`, a
/// refusal's `account/ID` or `account/NAME`.
fn names_account(target: &str, accounts: &[String]) -> bool {
    let Some(rest) = target.strip_prefix("account/") else {
        return false;
    };
    let (id, name) = match rest.split_once(" (") {
        Some((id, name)) => (id, name.strip_suffix(')').unwrap_or(name)),
        None => (rest, rest),
    };
    accounts.iter().any(|a| a == id || a == name)
}

/// Which audit records a listing shows (every field optional; a record passes all given).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub principal: Option<String>,
    /// A record's action, or an RPC method name (its records whether they succeeded or not).
    pub action: Option<String>,
    /// The account's id and name (or what the client gave, for an account that is gone).
    pub accounts: Vec<String>,
    /// Unix milliseconds: `since <= time < until`.
    pub since: Option<UnixMillis>,
    pub until: Option<UnixMillis>,
    /// `Some(true)`: only "ok" outcomes; `Some(false)`: only the rest (refusals, failures).
    pub ok: Option<bool>,
}

impl AuditFilter {
    /// The filter with its text escaped as records' text is (see [`Actor::record`]), so that
    /// matching compares like with like, once per request rather than once per record.
    pub fn escaped(self) -> Self {
        let escaped = |s: String| escape_untrusted(&s).into_owned();
        Self {
            principal: self.principal.map(escaped),
            action: self.action.map(escaped),
            accounts: self.accounts.into_iter().map(escaped).collect(),
            ..self
        }
    }

    /// Whether `r` passes (the filter [`escaped`](Self::escaped) first).
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.principal.as_ref().is_none_or(|p| r.principal == *p)
            && self
                .action
                .as_ref()
                .is_none_or(|a| r.action == *a || rpc_method(r) == Some(a.as_str()))
            && (self.accounts.is_empty() || names_account(&r.target, &self.accounts))
            && self.since.is_none_or(|t| r.time >= t)
            && self.until.is_none_or(|t| r.time < t)
            && self.ok.is_none_or(|ok| outcome_is_ok(&r.outcome) == ok)
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

    fn record(
        principal: &str,
        action: &str,
        target: &str,
        outcome: &str,
        time: i64,
    ) -> AuditRecord {
        AuditRecord {
            time,
            ..Actor {
                principal: principal.into(),
                role: "operator".into(),
                request_id: String::new(),
                tenant: "default".into(),
            }
            .record(action, target, outcome)
        }
    }

    #[test]
    fn filters_match_principal_action_account_time_and_outcome() {
        let records = [
            record(
                "ops",
                "account.update",
                "account/A1 (desk-a)",
                "ok; name",
                10,
            ),
            record(
                "eve",
                "auth",
                &named_account_target("desk-a"),
                "roster.v1.AccountService/UpdateAccount: refused: permission denied",
                20,
            ),
            record(
                "eve",
                "auth",
                &named_account_target("A2"),
                "roster.v1.AccountService/DeleteAccount: refused: permission denied",
                30,
            ),
            record("ops", "account.create", "account/A2 (desk-b)", "ok", 40),
        ];
        let shown = |f: AuditFilter| -> Vec<i64> {
            let f = f.escaped();
            records
                .iter()
                .filter(|r| f.matches(r))
                .map(|r| r.time)
                .collect()
        };
        assert_eq!(shown(AuditFilter::default()), [10, 20, 30, 40]);
        let by = |p: &str| AuditFilter {
            principal: Some(p.into()),
            ..AuditFilter::default()
        };
        assert_eq!(shown(by("eve")), [20, 30]);
        assert_eq!(shown(by("ev")), Vec::<i64>::new(), "exact, not a prefix");
        let action = |a: &str| AuditFilter {
            action: Some(a.into()),
            ..AuditFilter::default()
        };
        // An RPC name matches its successes and its refusals; a record's action only itself.
        assert_eq!(shown(action("UpdateAccount")), [10, 20]);
        assert_eq!(shown(action("account.update")), [10]);
        assert_eq!(shown(action("auth")), [20, 30]);
        assert_eq!(shown(action("Update")), Vec::<i64>::new());
        let account = |ids: &[&str]| AuditFilter {
            accounts: ids.iter().map(|s| s.to_string()).collect(),
            ..AuditFilter::default()
        };
        // By id and name: the change (`A1 (desk-a)`) and the refusal that named it by name.
        assert_eq!(shown(account(&["A1", "desk-a"])), [10, 20]);
        assert_eq!(shown(account(&["A2"])), [30, 40]);
        assert_eq!(shown(account(&["desk"])), Vec::<i64>::new());
        let window = AuditFilter {
            since: Some(20),
            until: Some(40),
            ..AuditFilter::default()
        };
        assert_eq!(shown(window), [20, 30], "since inclusive, until exclusive");
        let ok = |ok| AuditFilter {
            ok: Some(ok),
            ..AuditFilter::default()
        };
        assert_eq!(shown(ok(true)), [10, 40]);
        assert_eq!(shown(ok(false)), [20, 30]);
        let all = AuditFilter {
            principal: Some("eve".into()),
            action: Some("UpdateAccount".into()),
            accounts: vec!["desk-a".into()],
            since: Some(1),
            until: Some(100),
            ok: Some(false),
        };
        assert_eq!(shown(all), [20]);
        // Text the records hold escaped is found by what the client typed.
        let odd = record("odd\nname", "auth", "account/x\u{7}y", "refused", 50);
        let f = AuditFilter {
            principal: Some("odd\nname".into()),
            accounts: vec!["x\u{7}y".into()],
            ..AuditFilter::default()
        }
        .escaped();
        assert_ne!(odd.principal, "odd\nname");
        assert!(f.matches(&odd));
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
