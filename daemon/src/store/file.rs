//! Opening the database file at startup, without ever trusting it blindly.
//!
//! - A new, empty database is created only on the first start in its directory. The first open
//!   writes a marker beside the file (`<file>.instance`, holding the store's instance id); when
//!   the marker is there but the file is missing or 0 bytes, the accounts are gone and the daemon
//!   refuses to start (rather than serve an empty fleet as if nothing happened) unless told to
//!   begin again with `--init-store`.
//! - Every page's checksum is verified on open (`[store] verify_on_open`), so a damaged file is
//!   refused with a message naming it instead of panicking a storage task later.
//! - Copies left by a backup that was killed are removed (each is a full copy of the file).
//! - When free pages dominate a big file (deleted accounts, old snapshots), it is compacted.

use std::path::{Path, PathBuf};

use redb::Database;
use tracing::{info, warn};

use super::{CACHE_BYTES, StoreError};

/// How the file is opened; from `[store]` and `--init-store`.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Create an empty database even where the marker shows one existed.
    pub init: bool,
    /// Verify every page's checksum on open.
    pub verify: bool,
    /// Compact at startup from this file size on, when more than half of it is free.
    pub compact_min_bytes: u64,
    /// Audit records kept (at least 1; oldest dropped first), enforced by every append.
    pub audit_retention: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            init: false,
            verify: true,
            compact_min_bytes: 64 << 20,
            audit_retention: super::DEFAULT_AUDIT_RETENTION,
        }
    }
}

impl From<&crate::config::StoreConfig> for OpenOptions {
    fn from(c: &crate::config::StoreConfig) -> Self {
        Self {
            init: c.init,
            verify: c.verify_on_open,
            compact_min_bytes: c.compact_min_bytes,
            audit_retention: c
                .audit_retention_count
                .unwrap_or(super::DEFAULT_AUDIT_RETENTION)
                .max(1),
        }
    }
}

/// `<file>.instance`: present once a store has been created at `path`.
pub fn marker_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".instance");
    path.with_file_name(name)
}

fn open_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// redb's error for a file it cannot open, with what the operator can do about a damaged one.
fn damaged(path: &Path, e: redb::DatabaseError) -> StoreError {
    let hint = match &e {
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(_)) => {
            " (the file is damaged: restore a backup with `rosterd restore`)"
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(_)) => {
            " (reading the file failed; is the disk full or failing?)"
        }
        _ => "",
    };
    open_err(path, format!("{e}{hint}"))
}

fn builder(options: &OpenOptions) -> redb::Builder {
    let mut b = Database::builder();
    b.set_cache_size(CACHE_BYTES)
        .set_check_integrity_on_open(options.verify);
    b
}

/// Opens the file at startup; see the module docs for what is refused.
pub(super) fn open_at_startup(path: &Path, options: &OpenOptions) -> Result<Database, StoreError> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| open_err(path, e))?;
    let marker = marker_path(path);
    let had_store = marker.exists();
    let len = match std::fs::metadata(path) {
        Ok(meta) => Some(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(open_err(path, e)),
    };
    let what = match len {
        None => Some("missing"),
        Some(0) => Some("empty (0 bytes)"),
        Some(_) => None,
    };
    if let Some(what) = what {
        if had_store && !options.init {
            return Err(StoreError::Lost {
                path: path.to_path_buf(),
                marker,
                what,
            });
        }
        if had_store {
            warn!(path = %path.display(), "the database is {what}; --init-store: starting an empty one");
        } else {
            info!(path = %path.display(), "first start here: creating the database");
        }
        let db = builder(options)
            .create(path)
            .map_err(|e| damaged(path, e))?;
        remove_stale_backups(path, dir);
        return Ok(db);
    }
    let mut db = builder(options).open(path).map_err(|e| damaged(path, e))?;
    // Only once the file is ours (redb's lock): a second daemon started on this directory by
    // mistake must not delete the copy a running backup is writing.
    remove_stale_backups(path, dir);
    compact_if_mostly_free(&mut db, path, options.compact_min_bytes);
    Ok(db)
}

/// Opens the existing file again after an I/O error; never creates one.
pub(super) fn reopen(path: &Path, options: &OpenOptions) -> Result<Database, StoreError> {
    builder(options).open(path).map_err(|e| damaged(path, e))
}

/// Writes the marker once the store is open (and again if it names another instance, as after
/// a restore). A marker that cannot be written only costs the missing-file check, so it is a
/// warning.
pub(super) fn record_marker(path: &Path, instance_id: &str) {
    let marker = marker_path(path);
    let current = std::fs::read_to_string(&marker).unwrap_or_default();
    if current.trim() == instance_id {
        return;
    }
    // Replaced, not rewritten in place: the marker is whole or absent.
    let _ = std::fs::remove_file(&marker);
    if let Err(e) = crate::seal::write_file_atomically(&marker, instance_id.as_bytes(), 0o600) {
        warn!(marker = %marker.display(), error = %e, "cannot record the store marker; a missing database would not be noticed at the next start");
    }
}

/// Removes `<file>.backup-*` copies: a backup that was killed (or whose daemon was) never
/// removed its copy, and nothing else ever would.
fn remove_stale_backups(path: &Path, dir: &Path) {
    let prefix = super::backup::temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        match std::fs::remove_file(entry.path()) {
            Ok(()) => info!(
                file = %entry.path().display(),
                bytes,
                "removed the copy left by an interrupted backup"
            ),
            Err(e) => warn!(
                file = %entry.path().display(),
                error = %e,
                "cannot remove the copy left by an interrupted backup"
            ),
        }
    }
}

/// Compacts when the file is at least `min_bytes` and more than half of it is free pages: redb
/// reuses free pages but never gives them back, so one burst of data (a hostile upstream's
/// snapshot, thousands of deleted accounts) would otherwise keep the disk it took for good.
/// A failure is logged and the file is used as it is.
fn compact_if_mostly_free(db: &mut Database, path: &Path, min_bytes: u64) {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let before = size(path);
    if before < min_bytes {
        return;
    }
    let used = (|| -> Result<u64, StoreError> {
        let tx = db.begin_write()?;
        let stats = tx.stats()?;
        tx.abort()?;
        Ok(stats
            .allocated_pages()
            .saturating_mul(u64::try_from(stats.page_size()).unwrap_or(u64::MAX)))
    })();
    let used = match used {
        Ok(used) => used,
        Err(e) => {
            warn!(error = %e, "cannot measure the database's free space; not compacting");
            return;
        }
    };
    if used.saturating_mul(2) >= before {
        return;
    }
    info!(
        path = %path.display(),
        bytes = before,
        used_bytes = used,
        "most of the database file is free pages; compacting"
    );
    // Each pass moves what it can; a handful is enough (redb stops when nothing moves).
    for _ in 0..8 {
        match db.compact() {
            Ok(true) => continue,
            Ok(false) => break,
            Err(e) => {
                warn!(error = %e, "compaction failed; the file keeps its size");
                return;
            }
        }
    }
    info!(
        bytes_before = before,
        bytes_after = size(path),
        "database compacted"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A store with some data in it, closed.
    fn made(dir: &Path) -> PathBuf {
        let path = dir.join("r.redb");
        let store = Store::open(&path).unwrap();
        drop(store);
        path
    }

    #[test]
    fn a_lost_file_is_refused_unless_init() {
        let dir = tempfile::tempdir().unwrap();
        let path = made(dir.path());
        assert!(marker_path(&path).exists());
        std::fs::write(&path, b"").unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(
            matches!(
                err,
                StoreError::Lost {
                    what: "empty (0 bytes)",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("r.redb"), "{err}");
        std::fs::remove_file(&path).unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(
            matches!(
                err,
                StoreError::Lost {
                    what: "missing",
                    ..
                }
            ),
            "{err}"
        );
        let init = OpenOptions {
            init: true,
            ..OpenOptions::default()
        };
        Store::open_with(&path, &init).unwrap();
    }

    #[test]
    fn garbage_in_the_middle_is_an_error_not_a_panic() {
        use std::io::{Seek, SeekFrom, Write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        {
            let store = Store::open(&path).unwrap();
            let db = store.db().unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(crate::store::AUDIT).unwrap();
                for i in 0..2000u64 {
                    t.insert(i, vec![7u8; 200].as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len();
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(len / 2)).unwrap();
        f.write_all(&vec![0xA5; 8192]).unwrap();
        drop(f);
        // Without the check on open, redb panics here (the panic would abort the daemon).
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("r.redb"), "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn stale_backup_copies_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = made(dir.path());
        let stale = dir.path().join("r.redb.backup-0123abcd");
        let other = dir.path().join("r.redbX.backup-keep");
        std::fs::write(&stale, b"old copy").unwrap();
        std::fs::write(&other, b"not ours").unwrap();
        let _store = Store::open(&path).unwrap();
        assert!(!stale.exists());
        assert!(other.exists());
    }

    #[test]
    fn one_backup_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r.redb")).unwrap();
        let first = store.begin_backup().unwrap();
        assert!(store.begin_backup().is_none());
        drop(first);
        assert!(store.begin_backup().is_some());
    }

    #[test]
    fn a_mostly_free_file_is_compacted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        {
            let store = Store::open(&path).unwrap();
            let db = store.db().unwrap();
            for round in 0..2 {
                let tx = db.begin_write().unwrap();
                {
                    let mut t = tx.open_table(crate::store::SNAPSHOTS).unwrap();
                    for i in 0..400u32 {
                        let key = format!("acc-{i}/positions");
                        if round == 0 {
                            t.insert(key.as_str(), vec![1u8; 16 << 10].as_slice())
                                .unwrap();
                        } else {
                            t.remove(key.as_str()).unwrap();
                        }
                    }
                }
                tx.commit().unwrap();
            }
        }
        let before = std::fs::metadata(&path).unwrap().len();
        assert!(before > 4 << 20, "{before}");
        let small = OpenOptions {
            compact_min_bytes: 1 << 20,
            ..OpenOptions::default()
        };
        drop(Store::open_with(&path, &small).unwrap());
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after * 2 < before, "{before} -> {after}");
    }
}
