//! Online backup and offline restore of the database file.
//!
//! A backup copies every table as one read transaction sees it into a new redb file, so it is a
//! consistent point-in-time snapshot while the daemon keeps serving and writing. A restore checks
//! that a file is a Roster database this daemon can open before it replaces anything, and keeps
//! the replaced file beside the new one.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use redb::{
    Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, Value, WriteTransaction,
};

use super::{
    ACCOUNT_NAMES, ACCOUNTS, AUDIT, AccountRecord, CREATE_REQUESTS, EVENTS, HEALTH, META,
    META_SCHEMA, SCHEMA_VERSION, SNAPSHOTS, Store, StoreError, decode,
};

fn copy<K: Key + 'static, V: Value + 'static>(
    rtx: &ReadTransaction,
    wtx: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<(), StoreError> {
    let src = rtx.open_table(def)?;
    let mut dst = wtx.open_table(def)?;
    for row in src.iter()? {
        let (k, v) = row?;
        dst.insert(k.value(), v.value())?;
    }
    Ok(())
}

fn copy_all(rtx: &ReadTransaction, wtx: &WriteTransaction) -> Result<(), StoreError> {
    copy(rtx, wtx, META)?;
    copy(rtx, wtx, ACCOUNTS)?;
    copy(rtx, wtx, ACCOUNT_NAMES)?;
    copy(rtx, wtx, CREATE_REQUESTS)?;
    copy(rtx, wtx, HEALTH)?;
    copy(rtx, wtx, EVENTS)?;
    copy(rtx, wtx, AUDIT)?;
    copy(rtx, wtx, SNAPSHOTS)?;
    Ok(())
}

/// What a backup file holds, as far as an operator restoring it needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub accounts: u64,
    /// Master key ids the sealed API keys need (the daemon must have these keys to use them).
    pub key_ids: Vec<String>,
}

/// The one backup allowed at a time; dropping it (once its copy is removed) lets the next run.
pub struct BackupGuard(Store);

impl Drop for BackupGuard {
    fn drop(&mut self) {
        self.0.shared.backup_running.store(false, Ordering::Release);
    }
}

/// Prefix of the copy a running backup writes beside the live file: `<file name>.backup-<id>`.
/// A copy with this name that exists at startup was left by a backup that was killed.
pub(super) fn temp_prefix(db_path: &Path) -> String {
    let name = db_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name}.backup-")
}

impl Store {
    /// Claims the right to make a backup, or `None` while another one is running: each backup
    /// is a full copy of the file on the state disk, so concurrent ones could fill it.
    pub fn begin_backup(&self) -> Option<BackupGuard> {
        self.shared
            .backup_running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| BackupGuard(self.clone()))
    }

    /// Where the guard's backup writes its copy (same directory as the file: same filesystem,
    /// same permissions).
    pub fn backup_temp_path(&self, _guard: &BackupGuard) -> PathBuf {
        let name = format!(
            "{}{}",
            temp_prefix(&self.shared.path),
            uuid::Uuid::new_v4().simple()
        );
        self.shared.path.with_file_name(name)
    }

    /// Writes a consistent snapshot of the live database to `dest` (which must not exist).
    /// Blocking: call from the blocking pool.
    pub fn snapshot_to(&self, dest: &Path) -> Result<(), StoreError> {
        let db = self.db()?;
        let rtx = db.begin_read().map_err(|e| self.noted(e.into()))?;
        let out = Database::create(dest).map_err(|e| StoreError::Open {
            path: dest.to_path_buf(),
            message: e.to_string(),
        })?;
        let wtx = out.begin_write()?;
        copy_all(&rtx, &wtx)?;
        wtx.commit()?;
        Ok(())
    }
}

/// A private copy of a backup file, opened with every page's checksum verified, removed when
/// dropped. The backup itself is never opened: a damaged file can panic redb's plain open (and
/// the release build aborts on a panic), and the verifying open writes to the file it checks.
/// The copy is named like a backup's temporary copy, so one left by a killed restore is removed
/// at the next start.
struct VerifiedCopy {
    db: Option<Database>,
    path: PathBuf,
}

impl VerifiedCopy {
    fn db(&self) -> Result<&Database, StoreError> {
        self.db
            .as_ref()
            .ok_or_else(|| StoreError::Db("backup copy already closed".into()))
    }
}

impl Drop for VerifiedCopy {
    fn drop(&mut self) {
        drop(self.db.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Opens a copy (placed beside `db_path`) of the Roster database at `path`; fails if it is not
/// one, is damaged, or has a schema newer than this daemon understands. `path` is not changed.
fn open_backup(path: &Path, db_path: &Path) -> Result<VerifiedCopy, StoreError> {
    let err = |message: String| StoreError::Open {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    let name = format!(
        "{}verify-{}",
        temp_prefix(db_path),
        uuid::Uuid::new_v4().simple()
    );
    let copy_path = db_path.with_file_name(name);
    let mut copy = VerifiedCopy {
        db: None,
        path: copy_path.clone(),
    };
    std::fs::copy(path, &copy_path).map_err(|e| err(format!("cannot copy it: {e}")))?;
    let db = Database::builder()
        .set_check_integrity_on_open(true)
        .open(&copy_path)
        .map_err(|e| {
            let damaged = matches!(
                e,
                redb::DatabaseError::Storage(redb::StorageError::Corrupted(_))
            );
            err(if damaged {
                format!("{e} (the backup is damaged)")
            } else {
                e.to_string()
            })
        })?;
    {
        let rtx = db.begin_read()?;
        let meta = rtx
            .open_table(META)
            .map_err(|e| err(format!("not a Roster database ({e})")))?;
        let version = meta
            .get(META_SCHEMA)?
            .and_then(|v| <[u8; 4]>::try_from(v.value()).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| err("not a Roster database (no schema version)".into()))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
            });
        }
    }
    copy.db = Some(db);
    Ok(copy)
}

/// Summarises a backup file without changing it (through a verified copy beside `db_path`).
pub fn inspect_backup(path: &Path, db_path: &Path) -> Result<BackupSummary, StoreError> {
    let copy = open_backup(path, db_path)?;
    summarise(copy.db()?)
}

fn summarise(db: &Database) -> Result<BackupSummary, StoreError> {
    let rtx = db.begin_read()?;
    let accounts = rtx.open_table(ACCOUNTS)?;
    let mut key_ids = std::collections::BTreeSet::new();
    for row in accounts.iter()? {
        let (_, v) = row?;
        let record: AccountRecord = decode("accounts", v.value())?;
        key_ids.insert(record.sealed_key.key_id);
    }
    Ok(BackupSummary {
        accounts: accounts.len()?,
        key_ids: key_ids.into_iter().collect(),
    })
}

/// Replaces `db_path` with the backup at `from`. Refuses while a daemon has the database open.
/// Returns where the replaced database was kept (if there was one).
pub fn restore(
    from: &Path,
    db_path: &Path,
) -> Result<(BackupSummary, Option<PathBuf>), StoreError> {
    let src = open_backup(from, db_path)?;
    let summary = summarise(src.db()?)?;
    let io = |e: std::io::Error| StoreError::Open {
        path: db_path.to_path_buf(),
        message: e.to_string(),
    };
    if db_path.exists() {
        // A running daemon holds redb's lock on the file (which includes a whole-file lock): if
        // this lock cannot be taken, nothing is replaced. Only the lock is taken: opening the
        // file with redb could panic on a damaged one, which is what a restore repairs.
        let live = std::fs::File::open(db_path).map_err(io)?;
        live.try_lock().map_err(|e| StoreError::Open {
            path: db_path.to_path_buf(),
            message: format!("the file is in use ({e}); stop rosterd before restoring"),
        })?;
        drop(live);
    }
    if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = db_path.with_extension("redb.restoring");
    let _ = std::fs::remove_file(&tmp);
    // Copy table by table rather than byte for byte: the result is a freshly written, compact
    // file, and reading every record proves the backup is readable before anything is replaced.
    {
        let out = Database::create(&tmp).map_err(|e| StoreError::Open {
            path: tmp.clone(),
            message: e.to_string(),
        })?;
        let rtx = src.db()?.begin_read()?;
        let wtx = out.begin_write()?;
        copy_all(&rtx, &wtx)?;
        wtx.commit()?;
    }
    let kept = if db_path.exists() {
        let stamp = super::now_millis();
        let kept = db_path.with_extension(format!("redb.pre-restore-{stamp}"));
        std::fs::rename(db_path, &kept).map_err(io)?;
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&tmp, db_path).map_err(io)?;
    if let Some(dir) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok((summary, kept))
}
