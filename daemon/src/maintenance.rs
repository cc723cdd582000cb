//! The daemon's care of its own data: online backups and master key rotation.
//!
//! Each is a workflow across the store, the keyring, key files and the audit log, and each runs
//! here as one function, so the API only checks who asks, calls it, and maps its result.

use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::accounts::{AccountError, Accounts};
use crate::audit::{Actor, AuditError, AuditSink};
use crate::seal::{SealError, next_key, next_key_path, promote_next_key, retired_key_path};
use crate::store::{BackupGuard, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    /// Each backup writes a full copy of the database to the state disk: one at a time.
    #[error("a backup is already running; try again when it has finished")]
    BackupRunning,
    #[error("backup failed: {0}")]
    Backup(StoreError),
    /// The copy is made but its audit record is not written: it is not handed out.
    #[error("cannot audit the backup: {0}")]
    BackupNotAudited(AuditError),
    #[error(
        "no key to rotate to: put a new 32-byte key (mode 0600) at {}, or make its directory writable so the daemon can generate one ({source})",
        next.display()
    )]
    NoNextKey { next: PathBuf, source: SealError },
    #[error("{} holds the key already in use ({id}); provide a new one", next.display())]
    SameKey { next: PathBuf, id: String },
    #[error(transparent)]
    Accounts(#[from] AccountError),
    /// A blocking step panicked or was cancelled.
    #[error("{0}")]
    Task(String),
}

/// A consistent copy of the database, made and audited for one backup. Dropping it removes the
/// copy, and only then may the next backup start.
pub struct BackupCopy {
    path: PathBuf,
    _one_at_a_time: BackupGuard,
}

impl BackupCopy {
    /// The copy to stream to the client.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BackupCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Makes a point-in-time copy of the database while the daemon keeps serving, and audits it.
/// The copy is written next to the live file (same filesystem, same permissions); one left by a
/// killed daemon is removed at startup.
pub async fn backup(
    store: &Store,
    audit: &AuditSink,
    actor: &Actor,
) -> Result<BackupCopy, MaintenanceError> {
    let guard = store
        .begin_backup()
        .ok_or(MaintenanceError::BackupRunning)?;
    let copy = BackupCopy {
        path: store.backup_temp_path(&guard),
        _one_at_a_time: guard,
    };
    let (from, to) = (store.clone(), copy.path.clone());
    tokio::task::spawn_blocking(move || from.snapshot_to(&to))
        .await
        .map_err(|e| MaintenanceError::Task(e.to_string()))?
        .map_err(MaintenanceError::Backup)?;
    audit
        .write(actor.record("backup", "database", "ok"))
        .await
        .map_err(MaintenanceError::BackupNotAudited)?;
    Ok(copy)
}

/// A finished rotation.
#[derive(Debug)]
pub struct Rotated {
    pub new_key_id: String,
    pub resealed: u32,
    /// What the operator must do by hand when the key files could not be moved; empty when
    /// they were.
    pub note: String,
}

/// Rotates the master key at `key_file`: takes the key staged at `<key_file>.next` (or
/// generates one there), re-seals every API key under it in one transaction (audited, with its
/// event), then moves the key files: the old key is kept as `<key_file>.retired-<id>` (old
/// backups need it) and the new one takes its place.
pub async fn rotate_master_key(
    accounts: &Accounts,
    actor: &Actor,
    key_file: &Path,
) -> Result<Rotated, MaintenanceError> {
    let old_id = accounts.keyring().active_id().to_string();
    let next = {
        let key_file = key_file.to_path_buf();
        tokio::task::spawn_blocking(move || next_key(&key_file))
            .await
            .map_err(|e| MaintenanceError::Task(e.to_string()))?
    };
    let (new_key, generated) = next.map_err(|source| MaintenanceError::NoNextKey {
        next: next_key_path(key_file),
        source,
    })?;
    if new_key.id() == old_id {
        return Err(MaintenanceError::SameKey {
            next: next_key_path(key_file),
            id: old_id,
        });
    }
    let (new_key_id, resealed) = accounts.rotate_key(actor, new_key).await?;
    // The database now needs the new key. `<file>.next` is loaded at every start, so nothing
    // is lost if it cannot be moved into place (read-only credentials): the operator is told
    // what to install instead.
    let note = match promote_next_key(key_file, &old_id) {
        Ok(()) => String::new(),
        Err(e) => {
            warn!(error = %e, "re-sealed under the new key but could not move the key files");
            format!(
                "could not move the key files ({e}); install {} as the master key and keep the old key as {}",
                next_key_path(key_file).display(),
                retired_key_path(key_file, &old_id).display()
            )
        }
    };
    info!(
        new_key_id,
        old_key_id = old_id,
        resealed,
        generated,
        "master key rotated"
    );
    Ok(Rotated {
        new_key_id,
        resealed,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_backup_at_a_time_audited_and_its_copy_removed_when_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r.redb")).unwrap();
        let audit = AuditSink::start(store.clone());
        let admin = Actor {
            principal: "admin".into(),
            role: "admin".into(),
            request_id: "b1".into(),
            tenant: String::new(),
        };
        let copy = backup(&store, &audit, &admin).await.unwrap();
        assert!(copy.path().is_file());
        assert!(matches!(
            backup(&store, &audit, &admin).await,
            Err(MaintenanceError::BackupRunning)
        ));
        let path = copy.path().to_path_buf();
        drop(copy);
        assert!(!path.exists(), "the copy is removed once streamed");
        drop(backup(&store, &audit, &admin).await.unwrap());
        let records = store
            .read(|rtx| Store::audit_page(rtx, 0, 10))
            .await
            .unwrap();
        let summary: Vec<(&str, &str, &str)> = records
            .iter()
            .map(|a| (a.principal.as_str(), a.action.as_str(), a.target.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("admin", "backup", "database"),
                ("admin", "backup", "database")
            ]
        );
    }
}
