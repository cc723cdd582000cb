//! Changes to accounts: create, update, delete and key rotation.
//!
//! Every mutation is committed by [`Accounts::commit`], which writes the audit record and the
//! event that describe it in the same durable transaction as the change, trims the events, and
//! only then updates the registry and announces the event. A mutation therefore cannot be made
//! without its record (if the audit record cannot be written, nothing changes), and readers never
//! see a change that did not become durable.
//!
//! The one other write here, [`Accounts::learn_upstream`], is not a mutation: it stores the broker
//! name and mode the health checks read from the upstream, which nobody asked for and nobody is
//! accountable for, like a health record.

use std::sync::Arc;

use tokio::sync::MutexGuard;

use super::registry::Registry;
use super::{AccountError, AccountPatch, Accounts, NewAccount};
use crate::audit::Actor;
use crate::auth::Scope;
use crate::seal::MasterKey;
use crate::store::{AccountRecord, EventKind, EventRecord, Tx, now_millis};

/// Proof that the caller holds the account write lock: writes commit in the order they took it,
/// so the registry is updated in commit order.
type WriteTurn<'a> = MutexGuard<'a, ()>;

/// What a mutation is, as its audit record and its event tell it.
struct Change {
    action: &'static str,
    target: String,
    outcome: String,
    event: EventRecord,
}

/// What a mutation's own writes did.
enum Applied {
    /// The change is written; it commits with its audit record and event.
    Written,
    /// A retried create that an earlier attempt already made (the id of its account): nothing
    /// is written, audited or announced.
    Replayed(String),
}

/// How a commit ended.
enum Committed<T> {
    /// Durable, audited, announced; `T` is what the registry update returned.
    Done(T),
    Replayed(String),
}

impl Accounts {
    /// Commits one mutation: `write` writes its rows; the audit record and event of `change`
    /// are appended in the same durable transaction (an `Err` from any of them commits nothing).
    /// After the commit, `then` updates the registry and the event is broadcast.
    async fn commit<T>(
        &self,
        _turn: &WriteTurn<'_>,
        actor: &Actor,
        change: Change,
        write: impl FnOnce(&mut Tx<'_>) -> Result<Applied, AccountError> + Send + 'static,
        then: impl FnOnce(&mut Registry) -> T,
    ) -> Result<Committed<T>, AccountError> {
        let mut audit = actor.record(change.action, &change.target, &change.outcome);
        // A change is recorded in the tenant it concerns (an account's, or none for the key),
        // so a tenant's audit shows what a global admin did to its accounts.
        audit.tenant = change.event.tenant.clone();
        let event = change.event;
        let retention = self.inner.event_retention;
        let written = self
            .inner
            .store
            .write(move |tx| {
                if let Applied::Replayed(first) = write(tx)? {
                    return Ok(Err(first));
                }
                tx.append_audit(audit)?;
                let event = tx.append_event(event)?;
                tx.trim_events(retention)?;
                Ok::<_, AccountError>(Ok(event))
            })
            .await?;
        match written {
            Ok(event) => {
                let out = self.write_registry(then);
                let _ = self.inner.events.send(event);
                Ok(Committed::Done(out))
            }
            Err(first) => Ok(Committed::Replayed(first)),
        }
    }

    pub async fn create(
        &self,
        actor: &Actor,
        new: NewAccount,
    ) -> Result<Arc<AccountRecord>, AccountError> {
        self.create_within(actor, new, None).await
    }

    /// Creates an account unless its tenant already owns `max_accounts` (then nothing is
    /// written: RESOURCE_EXHAUSTED naming the quota). Counted under the write lock, so two
    /// creates racing for the last place cannot both take it.
    pub async fn create_within(
        &self,
        actor: &Actor,
        mut new: NewAccount,
        max_accounts: Option<usize>,
    ) -> Result<Arc<AccountRecord>, AccountError> {
        new.validate()?;
        let turn = self.inner.write_lock.lock().await;
        if let Some(max) = max_accounts
            && self.count_in(&new.tenant) >= max
        {
            return Err(AccountError::Quota(format!(
                "tenant {} owns {max} accounts, its max_accounts ([tenants] default_max_accounts or [tenants.{}] max_accounts)",
                new.tenant, new.tenant
            )));
        }
        let request_key = (!new.request_id.is_empty())
            .then(|| format!("{}\0{}", actor.principal, new.request_id));
        let id = uuid::Uuid::now_v7().to_string();
        let sealed_key = self.keyring().seal(&id, &new.credential)?;
        let now = now_millis();
        let record = AccountRecord {
            id: id.clone(),
            name: new.name,
            tenant: new.tenant,
            connector: new.connector,
            environment: new.environment,
            host_url: new.host_url,
            ws_url: new.ws_url,
            sealed_key,
            credential_hints: new.credential.hints(),
            broker: String::new(),
            mode: String::new(),
            enabled: new.enabled,
            labels: new.labels,
            create_time: now,
            update_time: now,
            revision: 1,
        };
        let change = Change {
            action: "account.create",
            target: target(&record),
            outcome: "ok".into(),
            event: account_event(EventKind::AccountCreated, &record, ""),
        };
        let to_store = record.clone();
        let committed = self
            .commit(
                &turn,
                actor,
                change,
                move |tx| {
                    // A retried create answers with the account the first attempt made.
                    if let Some(key) = &request_key
                        && let Some(first) = tx.create_request(key)?
                    {
                        return Ok(Applied::Replayed(first));
                    }
                    if tx
                        .account_id_by_name(&to_store.tenant, &to_store.name)?
                        .is_some()
                    {
                        return Err(AccountError::NameTaken(to_store.name.clone()));
                    }
                    tx.put_account(&to_store, None)?;
                    if let Some(key) = &request_key {
                        tx.put_create_request(key, &to_store.id)?;
                    }
                    Ok(Applied::Written)
                },
                |r| r.insert(record),
            )
            .await?;
        match committed {
            Committed::Done(stored) => Ok(stored),
            Committed::Replayed(first) => self
                .get(&first)
                .map_err(|_| AccountError::RequestIdSpent(new.request_id)),
        }
    }

    pub async fn update(
        &self,
        actor: &Actor,
        scope: &Scope,
        id_or_name: &str,
        etag: &str,
        mut patch: AccountPatch,
    ) -> Result<Arc<AccountRecord>, AccountError> {
        patch.validate()?;
        let turn = self.inner.write_lock.lock().await;
        let current = self.get_in(scope, id_or_name)?;
        check_etag(&current, etag)?;
        if let Some(credential) = &patch.credential {
            let mut v = Vec::new();
            if let Some(venue) =
                super::validate::check_connector("connector", &current.connector, &mut v)
            {
                super::validate::check_credential("credentials", venue, credential, &mut v);
            }
            if !v.is_empty() {
                return Err(AccountError::Invalid(v));
            }
        }
        let changed = patch.changed_fields(&current);
        if changed.is_empty() {
            return Ok(current);
        }
        let mut next = (*current).clone();
        if let Some(name) = patch.name {
            next.name = name;
        }
        if let Some(tenant) = patch.tenant {
            next.tenant = tenant;
        }
        if let Some(url) = patch.host_url {
            next.host_url = url;
        }
        if let Some(url) = patch.ws_url {
            next.ws_url = url;
        }
        if let Some(labels) = patch.labels {
            next.labels = labels;
        }
        if let Some(enabled) = patch.enabled {
            next.enabled = enabled;
        }
        if let Some(credential) = &patch.credential {
            next.sealed_key = self.keyring().seal(&next.id, credential)?;
            next.credential_hints = credential.hints();
        }
        next.revision += 1;
        next.update_time = now_millis().max(current.update_time);
        let message = format!("changed: {}", changed.join(", "));
        let change = Change {
            action: "account.update",
            target: target(&next),
            outcome: format!("ok; {message}"),
            event: account_event(EventKind::AccountUpdated, &next, &message),
        };
        let old = (*current).clone();
        let to_store = next.clone();
        let committed = self
            .commit(
                &turn,
                actor,
                change,
                move |tx| {
                    if tx
                        .account_id_by_name(&to_store.tenant, &to_store.name)?
                        .is_some_and(|other| other != to_store.id)
                    {
                        return Err(AccountError::NameTaken(to_store.name.clone()));
                    }
                    tx.put_account(&to_store, Some(&old))?;
                    Ok(Applied::Written)
                },
                |r| r.insert(next),
            )
            .await?;
        match committed {
            Committed::Done(stored) => Ok(stored),
            // Only a create can be a replay.
            Committed::Replayed(_) => self.get(&current.id),
        }
    }

    pub async fn delete(
        &self,
        actor: &Actor,
        scope: &Scope,
        id_or_name: &str,
        etag: &str,
    ) -> Result<(), AccountError> {
        let turn = self.inner.write_lock.lock().await;
        let current = self.get_in(scope, id_or_name)?;
        check_etag(&current, etag)?;
        let change = Change {
            action: "account.delete",
            target: target(&current),
            outcome: "ok".into(),
            event: account_event(EventKind::AccountDeleted, &current, ""),
        };
        let to_delete = (*current).clone();
        self.commit(
            &turn,
            actor,
            change,
            move |tx| {
                tx.delete_account(&to_delete)?;
                Ok(Applied::Written)
            },
            |r| r.remove(&current.id),
        )
        .await?;
        Ok(())
    }

    /// Re-seals every API key under `new_key` in one durable transaction, then makes the new
    /// keyring (which still opens values sealed with older keys) the one in use.
    pub async fn rotate_key(
        &self,
        actor: &Actor,
        new_key: MasterKey,
    ) -> Result<(String, u32), AccountError> {
        let turn = self.inner.write_lock.lock().await;
        let current = self.keyring();
        let next = current.rotated_to(new_key);
        let new_id = next.active_id().to_string();
        let mut resealed = Vec::new();
        for record in self.all() {
            let key = current.unseal(&record.id, &record.sealed_key)?;
            let mut r = (*record).clone();
            r.sealed_key = next.seal(&r.id, &key)?;
            resealed.push(r);
        }
        let count = u32::try_from(resealed.len()).unwrap_or(u32::MAX);
        let message = format!(
            "resealed {count} API keys under key {new_id} (was {})",
            current.active_id()
        );
        let change = Change {
            action: "key.rotate",
            target: "master-key".into(),
            outcome: format!("ok; {message}"),
            event: EventRecord {
                sequence: 0,
                time: now_millis(),
                kind: EventKind::KeyRotated,
                account_id: String::new(),
                tenant: String::new(),
                account_name: String::new(),
                previous_state: String::new(),
                state: String::new(),
                reason: String::new(),
                message,
            },
        };
        let to_store = resealed.clone();
        let new_id_for_meta = new_id.clone();
        let keyring = &self.inner.keyring;
        self.commit(
            &turn,
            actor,
            change,
            move |tx| {
                for r in &to_store {
                    tx.put_account(r, None)?;
                }
                tx.set_active_key_id(&new_id_for_meta)?;
                Ok(Applied::Written)
            },
            |r| {
                keyring.store(Arc::new(next));
                for record in resealed {
                    r.insert(record);
                }
            },
        )
        .await?;
        Ok((new_id, count))
    }

    /// Stores the broker name and mode an upstream reported on its account. This is learned
    /// data, not an edit: no revision/etag change (a client's pending update must not fail
    /// because a check ran), no audit record and no event. A no-op when nothing changed or the
    /// account is gone.
    pub async fn learn_upstream(
        &self,
        id: &str,
        broker: &str,
        mode: &str,
    ) -> Result<(), AccountError> {
        let _turn = self.inner.write_lock.lock().await;
        let Some(current) = self.read_registry(|r| r.by_id(id)) else {
            return Ok(());
        };
        let broker = if broker.is_empty() {
            current.broker.as_str()
        } else {
            broker
        };
        let mode = if mode.is_empty() {
            current.mode.as_str()
        } else {
            mode
        };
        if current.broker == broker && current.mode == mode {
            return Ok(());
        }
        let mut next = (*current).clone();
        next.broker = broker.to_string();
        next.mode = mode.to_string();
        let to_store = next.clone();
        let stored = self
            .inner
            .store
            .write(move |tx| {
                if tx.account(&to_store.id)?.is_none() {
                    return Ok(false);
                }
                tx.put_account(&to_store, Some(&to_store))?;
                Ok::<_, AccountError>(true)
            })
            .await?;
        if stored {
            self.write_registry(|r| r.insert(next));
        }
        Ok(())
    }
}

/// An empty etag makes the write unconditional; any other must match the current one.
fn check_etag(current: &AccountRecord, etag: &str) -> Result<(), AccountError> {
    if etag.is_empty() || etag == current.etag() {
        Ok(())
    } else {
        Err(AccountError::EtagMismatch {
            given: etag.to_string(),
            current: current.etag(),
        })
    }
}

/// How audit records name an account.
fn target(r: &AccountRecord) -> String {
    format!("account/{} ({})", r.id, r.name)
}

fn account_event(kind: EventKind, r: &AccountRecord, message: &str) -> EventRecord {
    EventRecord {
        sequence: 0,
        time: now_millis(),
        kind,
        account_id: r.id.clone(),
        tenant: r.tenant.clone(),
        account_name: r.name.clone(),
        previous_state: String::new(),
        state: String::new(),
        reason: String::new(),
        message: message.to_string(),
    }
}
