//! The redb file: table layout, schema version, and typed reads and writes.
//!
//! Only the daemon opens the file (redb takes an exclusive lock); the CLI always goes through
//! gRPC. Every user-visible mutation commits with `Durability::Immediate`, so an acknowledged write
//! survives `kill -9`. Records are JSON so that fields can be added without a migration; keys are
//! typed. All calls here are blocking: async callers go through [`Store::write`] / [`Store::read`],
//! which run them on the blocking pool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::seal::SealedKey;

mod backup;
mod fault;
mod file;
mod health;
mod scan;
mod snapshots;

pub use backup::{BackupGuard, BackupSummary, inspect_backup, restore};
pub use fault::spawn_recovery;
pub use file::{OpenOptions, marker_path};
pub use scan::{Bounds, Page, SCAN_BUDGET};

/// Bumped when a change needs a migration; a daemon refuses a file newer than it understands.
///
/// - 1: OpenAlgo accounts only, one sealed API key and its hint.
/// - 2: every account has a venue environment and one hint per credential field; sealed values
///   say their layout (see [`migrate`]).
pub const SCHEMA_VERSION: u32 = 3;

const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// Unique index: account name -> id.
const ACCOUNT_NAMES: TableDefinition<&str, &str> = TableDefinition::new("account_names");
/// Idempotency of CreateAccount: "principal\0request_id" -> account id.
const CREATE_REQUESTS: TableDefinition<&str, &str> = TableDefinition::new("create_requests");
const HEALTH: TableDefinition<&str, &[u8]> = TableDefinition::new("health");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub(crate) const META_SCHEMA: &str = "schema_version";
const META_INSTANCE: &str = "instance_id";
const META_ACTIVE_KEY: &str = "active_key_id";
/// When the store last proved, after reopening, that a durable write works.
const META_WRITE_PROBE: &str = "write_probe";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error(
        "database {path} has schema version {found}, newer than this rosterd understands ({SCHEMA_VERSION}); run a newer rosterd or restore a backup"
    )]
    NewerSchema { path: PathBuf, found: u32 },
    #[error(
        "database {path} is {what}, but {marker} shows that a store was created here before; restore a backup (`rosterd restore`) or, to begin with an empty store, start once with --init-store"
    )]
    Lost {
        path: PathBuf,
        marker: PathBuf,
        /// "missing" or "empty (0 bytes)".
        what: &'static str,
    },
    #[error("database error: {0}")]
    Db(String),
    /// Reading or writing the file failed (disk full, file size limit, failing device). redb
    /// refuses every later operation on that handle, so the store reopens the file.
    #[error("storage I/O failed: {0}")]
    Io(String),
    /// The file is being reopened after an I/O error, or could not be reopened yet.
    #[error("{0}")]
    Unavailable(String),
    #[error("corrupt record in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Whether a redb storage error is an I/O failure (after which redb refuses the handle).
fn is_io(e: &redb::StorageError) -> bool {
    matches!(
        e,
        redb::StorageError::Io(_) | redb::StorageError::PreviousIo
    )
}

fn classify(io: bool, text: String) -> StoreError {
    if io {
        StoreError::Io(text)
    } else {
        StoreError::Db(text)
    }
}

impl From<redb::StorageError> for StoreError {
    fn from(e: redb::StorageError) -> Self {
        classify(is_io(&e), e.to_string())
    }
}

impl From<redb::TransactionError> for StoreError {
    fn from(e: redb::TransactionError) -> Self {
        let io = matches!(&e, redb::TransactionError::Storage(s) if is_io(s));
        classify(io, e.to_string())
    }
}

impl From<redb::TableError> for StoreError {
    fn from(e: redb::TableError) -> Self {
        let io = matches!(&e, redb::TableError::Storage(s) if is_io(s));
        classify(io, e.to_string())
    }
}

impl From<redb::CommitError> for StoreError {
    fn from(e: redb::CommitError) -> Self {
        let io = matches!(&e, redb::CommitError::Storage(s) if is_io(s));
        classify(io, e.to_string())
    }
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        let io = matches!(&e, redb::Error::Io(_) | redb::Error::PreviousIo);
        classify(io, e.to_string())
    }
}

impl From<redb::SetDurabilityError> for StoreError {
    fn from(e: redb::SetDurabilityError) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// Milliseconds since the Unix epoch: how every time is stored.
pub type UnixMillis = i64;

pub fn now_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An account as persisted. The credential exists here only sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    /// The tenant that owns the account (names are unique within it).
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The venue kind ("openalgo", "alpaca").
    pub connector: String,
    /// The venue's environment ("live", "paper", ...).
    #[serde(default = "live")]
    pub environment: String,
    /// The endpoint: the venue's default for the environment unless the account overrode it.
    pub host_url: String,
    #[serde(default)]
    pub ws_url: String,
    /// Every credential field, sealed as one value with the account id as associated data.
    pub sealed_key: SealedKey,
    /// One hint per credential field.
    #[serde(default)]
    pub credential_hints: BTreeMap<String, String>,
    #[serde(default)]
    pub broker: String,
    #[serde(default)]
    pub mode: String,
    pub enabled: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub create_time: UnixMillis,
    pub update_time: UnixMillis,
    /// Incremented by every update; the etag is derived from it.
    pub revision: u64,
}

fn live() -> String {
    "live".into()
}

/// Records written before tenants existed belong to tenant `default`.
fn default_tenant() -> String {
    crate::pki::DEFAULT_TENANT.into()
}

/// The key of an account in the name index: names are unique within a tenant, and a tenant never
/// holds a '/' (see `pki::validate_tenant`), so the key is unambiguous.
pub fn name_key(tenant: &str, name: &str) -> String {
    format!("{tenant}/{name}")
}

impl AccountRecord {
    pub fn etag(&self) -> String {
        format!("r{}", self.revision)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    AccountCreated,
    AccountUpdated,
    AccountDeleted,
    HealthChanged,
    KeyRotated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub sequence: u64,
    pub time: UnixMillis,
    pub kind: EventKind,
    pub account_id: String,
    /// The tenant of the account the event is about (a key rotation's is empty: global).
    #[serde(default = "default_tenant")]
    pub tenant: String,
    #[serde(default)]
    pub account_name: String,
    #[serde(default)]
    pub previous_state: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

/// Who did what to which target, and how it ended. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub sequence: u64,
    pub time: UnixMillis,
    pub principal: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    #[serde(default)]
    pub request_id: String,
    /// The tenant the record concerns: the account's for an account change, the caller's
    /// otherwise (empty for a global admin or the daemon itself: global admins only).
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

fn encode<T: Serialize>(table: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        table,
        message: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        message: e.to_string(),
    })
}

/// redb's own page cache. Its default (1 GiB) let the cache grow with every page ever touched:
/// ~12 MiB at 5,000 accounts, 8 % of the daemon's memory, for pages the kernel's page cache
/// holds anyway. The hot set (the health table rewritten each second and the B-tree's branch
/// pages) fits in a few MiB; accounts are served from memory, not from here.
const CACHE_BYTES: usize = 4 << 20;

/// The open database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    instance_id: String,
    options: OpenOptions,
    /// The handle; `None` while it is being reopened after an I/O error, or could not be.
    slot: RwLock<Option<Arc<Database>>>,
    /// Set by an I/O error: redb refuses every later operation on this handle.
    needs_reopen: AtomicBool,
    /// Why the store cannot be used right now (`None`: it works).
    fault: tokio::sync::watch::Sender<Option<String>>,
    /// When a reopen was last tried, so a store that stays broken is not reopened in a loop.
    last_reopen: Mutex<Option<Instant>>,
    /// Held by the one thread that reopens.
    reopening: Mutex<()>,
    /// Set while a backup copy exists (each is a full copy of the file on the state disk).
    backup_running: AtomicBool,
}

/// Audit records kept by default: months of an operator's actions, a few tens of MB at most.
pub const DEFAULT_AUDIT_RETENTION: u64 = 100_000;

impl Store {
    /// Opens the file with the default [`OpenOptions`] (a fresh path is a first start).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &OpenOptions::default())
    }

    /// Opens the file (creating it only on the first start in its directory), creates missing
    /// tables, and checks the schema version. See [`file`] for what is refused and why.
    pub fn open_with(path: &Path, options: &OpenOptions) -> Result<Self, StoreError> {
        let db = file::open_at_startup(path, options)?;
        let instance_id = init_schema(&db, path)?;
        file::record_marker(path, &instance_id);
        Ok(Self {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                instance_id,
                options: options.clone(),
                slot: RwLock::new(Some(Arc::new(db))),
                needs_reopen: AtomicBool::new(false),
                fault: tokio::sync::watch::Sender::new(None),
                last_reopen: Mutex::new(None),
                reopening: Mutex::new(()),
                backup_running: AtomicBool::new(false),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    pub fn instance_id(&self) -> &str {
        &self.shared.instance_id
    }

    /// Size of the database file in bytes.
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.shared.path)
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Runs `f` in one durable write transaction on the blocking pool. The transaction commits
    /// only if `f` returns `Ok`; an `Err` leaves the database untouched.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        let store = self.clone();
        let audit_keep = self.shared.options.audit_retention;
        tokio::task::spawn_blocking(move || {
            let db = store.db()?;
            let mut wtx = db
                .begin_write()
                .map_err(|e| store.noted(StoreError::from(e)))?;
            wtx.set_durability(Durability::Immediate)
                .map_err(StoreError::from)?;
            let out = f(&mut Tx {
                tx: &wtx,
                audit_keep,
            })?;
            wtx.commit().map_err(|e| store.noted(StoreError::from(e)))?;
            Ok(out)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// Runs `f` against a consistent read snapshot on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let db = store.db()?;
            let rtx = db.begin_read().map_err(|e| store.noted(e.into()))?;
            f(&rtx).map_err(|e| store.noted(e))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Every account, for loading the in-memory registry at startup.
    pub fn load_accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let db = self.db()?;
        let rtx = db.begin_read()?;
        let table = rtx.open_table(ACCOUNTS)?;
        let mut out = Vec::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(decode("accounts", v.value())?);
        }
        Ok(out)
    }

    /// Newest audit records first, below `before` when it is non-zero.
    pub fn audit_page(
        rtx: &ReadTransaction,
        before: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        Self::audit_page_where(rtx, before, limit, |_| true)
    }

    /// [`Self::audit_page`] of the records `keep` passes (a tenant's), newest first.
    pub fn audit_page_where(
        rtx: &ReadTransaction,
        before: u64,
        limit: usize,
        keep: impl Fn(&AuditRecord) -> bool,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let bounds = Bounds {
            before,
            limit,
            budget: usize::MAX,
        };
        Ok(Self::audit_scan(rtx, bounds, keep)?.records)
    }

    /// Events with sequence >= `from`, oldest first, at most `limit`.
    pub fn events_from(
        rtx: &ReadTransaction,
        from: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let table = rtx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for row in table.range(from..)?.take(limit) {
            let (_, v) = row?;
            out.push(decode("events", v.value())?);
        }
        Ok(out)
    }

    /// Lowest and highest retained event sequence (None when there are no events).
    pub fn event_bounds(rtx: &ReadTransaction) -> Result<Option<(u64, u64)>, StoreError> {
        let table = rtx.open_table(EVENTS)?;
        let first = table.first()?.map(|(k, _)| k.value());
        let last = table.last()?.map(|(k, _)| k.value());
        Ok(first.zip(last))
    }
}

/// Checks the schema version (refusing a newer one), records it and the instance id, and
/// creates missing tables, in one transaction. Returns the instance id.
fn init_schema(db: &Database, path: &Path) -> Result<String, StoreError> {
    let tx = db.begin_write()?;
    let instance_id;
    {
        let mut meta = tx.open_table(META)?;
        let found = match meta.get(META_SCHEMA)? {
            Some(v) => Some(
                <[u8; 4]>::try_from(v.value())
                    .map(u32::from_le_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        table: "meta",
                        message: "schema_version is not 4 bytes".into(),
                    })?,
            ),
            None => None,
        };
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: path.to_path_buf(),
                    found: v,
                });
            }
            Some(v) if v < SCHEMA_VERSION => {
                migrate(&tx, v)?;
                meta.insert(META_SCHEMA, SCHEMA_VERSION.to_le_bytes().as_slice())?;
                tracing::info!(from = v, to = SCHEMA_VERSION, path = %path.display(), "store schema migrated");
            }
            _ => {
                meta.insert(META_SCHEMA, SCHEMA_VERSION.to_le_bytes().as_slice())?;
            }
        }
        let existing = meta
            .get(META_INSTANCE)?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned());
        instance_id = match existing {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                meta.insert(META_INSTANCE, id.as_bytes())?;
                id
            }
        };
        tx.open_table(ACCOUNTS)?;
        tx.open_table(ACCOUNT_NAMES)?;
        tx.open_table(CREATE_REQUESTS)?;
        tx.open_table(HEALTH)?;
        tx.open_table(EVENTS)?;
        tx.open_table(AUDIT)?;
        tx.open_table(SNAPSHOTS)?;
    }
    tx.commit()?;
    Ok(instance_id)
}

/// Brings the records of a store written at schema `from` to [`SCHEMA_VERSION`], inside the
/// opening transaction: either the whole file is migrated or (on any error) nothing is.
///
/// 1 -> 2: an account gains `environment = "live"` and `credential_hints = {api_key: its
/// api_key_hint}`, and its sealed value is marked as the bare API key it is
/// ([`crate::seal::SealedForm::BareApiKey`]). Nothing is unsealed: the migration needs no master
/// key, and the next key rotation re-seals every value in the new layout.
///
/// 2 -> 3: every account belongs to tenant `default` (the field's default, written out), and the
/// name index, keyed by name until now, is rebuilt keyed by (tenant, name).
fn migrate(tx: &WriteTransaction, from: u32) -> Result<(), StoreError> {
    if from < 2 {
        let mut accounts = tx.open_table(ACCOUNTS)?;
        let mut rewritten = Vec::new();
        for row in accounts.iter()? {
            let (k, v) = row?;
            let mut record: serde_json::Value =
                serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt {
                    table: "accounts",
                    message: e.to_string(),
                })?;
            let Some(fields) = record.as_object_mut() else {
                return Err(StoreError::Corrupt {
                    table: "accounts",
                    message: format!("record {} is not an object", k.value()),
                });
            };
            fields
                .entry("environment")
                .or_insert_with(|| serde_json::Value::from("live"));
            if let Some(hint) = fields.remove("api_key_hint") {
                fields.insert(
                    "credential_hints".into(),
                    serde_json::json!({ "api_key": hint }),
                );
            }
            if let Some(sealed) = fields.get_mut("sealed_key").and_then(|s| s.as_object_mut()) {
                sealed
                    .entry("form")
                    .or_insert_with(|| serde_json::Value::from("bare_api_key"));
            }
            // Decoded once to prove the result is a record this daemon reads.
            let _: AccountRecord =
                serde_json::from_value(record.clone()).map_err(|e| StoreError::Corrupt {
                    table: "accounts",
                    message: format!("record {} after migration: {e}", k.value()),
                })?;
            rewritten.push((k.value().to_string(), encode("accounts", &record)?));
        }
        for (id, bytes) in rewritten {
            accounts.insert(id.as_str(), bytes.as_slice())?;
        }
    }
    if from < 3 {
        let mut accounts = tx.open_table(ACCOUNTS)?;
        let mut rewritten = Vec::new();
        for row in accounts.iter()? {
            let (_, v) = row?;
            let record: AccountRecord = decode("accounts", v.value())?;
            rewritten.push(record);
        }
        let mut names = tx.open_table(ACCOUNT_NAMES)?;
        names.retain(|_, _| false)?;
        for record in rewritten {
            names.insert(
                name_key(&record.tenant, &record.name).as_str(),
                record.id.as_str(),
            )?;
            accounts.insert(record.id.as_str(), encode("accounts", &record)?.as_slice())?;
        }
    }
    Ok(())
}

/// A write transaction with typed operations; obtained through [`Store::write`].
pub struct Tx<'a> {
    tx: &'a WriteTransaction,
    /// Audit records to keep: [`Tx::append_audit`] trims to it, so no writer can forget.
    audit_keep: u64,
}

impl Tx<'_> {
    pub fn account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let table = self.tx.open_table(ACCOUNTS)?;
        let value = table.get(id)?;
        value.map(|v| decode("accounts", v.value())).transpose()
    }

    pub fn account_id_by_name(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let table = self.tx.open_table(ACCOUNT_NAMES)?;
        let value = table.get(name_key(tenant, name).as_str())?;
        Ok(value.map(|v| v.value().to_string()))
    }

    /// Inserts or replaces an account and keeps the name index in step (a rename or a move to
    /// another tenant frees the old (tenant, name)).
    pub fn put_account(
        &mut self,
        record: &AccountRecord,
        old: Option<&AccountRecord>,
    ) -> Result<(), StoreError> {
        let bytes = encode("accounts", record)?;
        self.tx
            .open_table(ACCOUNTS)?
            .insert(record.id.as_str(), bytes.as_slice())?;
        let mut names = self.tx.open_table(ACCOUNT_NAMES)?;
        let key = name_key(&record.tenant, &record.name);
        if let Some(old) = old
            .map(|o| name_key(&o.tenant, &o.name))
            .filter(|old| *old != key)
        {
            names.remove(old.as_str())?;
        }
        names.insert(key.as_str(), record.id.as_str())?;
        Ok(())
    }

    /// Removes the account, its name, its health and its snapshots.
    pub fn delete_account(&mut self, record: &AccountRecord) -> Result<(), StoreError> {
        self.tx.open_table(ACCOUNTS)?.remove(record.id.as_str())?;
        self.tx
            .open_table(ACCOUNT_NAMES)?
            .remove(name_key(&record.tenant, &record.name).as_str())?;
        self.tx.open_table(HEALTH)?.remove(record.id.as_str())?;
        let mut snapshots = self.tx.open_table(SNAPSHOTS)?;
        let prefix = format!("{}/", record.id);
        let keys: Vec<String> = snapshots
            .range(prefix.as_str()..)?
            .map_while(|row| match row {
                Ok((k, _)) if k.value().starts_with(&prefix) => Some(Ok(k.value().to_string())),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        for k in keys {
            snapshots.remove(k.as_str())?;
        }
        Ok(())
    }

    pub fn create_request(&self, key: &str) -> Result<Option<String>, StoreError> {
        let table = self.tx.open_table(CREATE_REQUESTS)?;
        let value = table.get(key)?;
        Ok(value.map(|v| v.value().to_string()))
    }

    pub fn put_create_request(&mut self, key: &str, account_id: &str) -> Result<(), StoreError> {
        self.tx
            .open_table(CREATE_REQUESTS)?
            .insert(key, account_id)?;
        Ok(())
    }

    /// Appends an event with the next sequence number and returns it as stored.
    pub fn append_event(&mut self, mut event: EventRecord) -> Result<EventRecord, StoreError> {
        let mut table = self.tx.open_table(EVENTS)?;
        let last = table.last()?.map(|(k, _)| k.value()).unwrap_or(0);
        event.sequence = last + 1;
        let bytes = encode("events", &event)?;
        table.insert(event.sequence, bytes.as_slice())?;
        Ok(event)
    }

    /// Drops the oldest events so that at most `keep` remain.
    pub fn trim_events(&mut self, keep: u64) -> Result<(), StoreError> {
        let mut table = self.tx.open_table(EVENTS)?;
        let len = table.len()?;
        if len > keep {
            let cut = table.first()?.map(|(k, _)| k.value()).unwrap_or(0) + (len - keep);
            table.retain_in(..cut, |_, _| false)?;
        }
        Ok(())
    }

    /// Records the id of the master key that seals new values (key ids are fingerprints, never
    /// the keys), so a backup says which key it needs.
    pub fn set_active_key_id(&mut self, id: &str) -> Result<(), StoreError> {
        self.tx
            .open_table(META)?
            .insert(META_ACTIVE_KEY, id.as_bytes())?;
        Ok(())
    }

    pub fn append_audit(&mut self, mut record: AuditRecord) -> Result<AuditRecord, StoreError> {
        let mut table = self.tx.open_table(AUDIT)?;
        let last = table.last()?.map(|(k, _)| k.value()).unwrap_or(0);
        record.sequence = last + 1;
        let bytes = encode("audit", &record)?;
        table.insert(record.sequence, bytes.as_slice())?;
        // Oldest first, like events. Sequences only grow, so everything below `cut` is older
        // than the newest `audit_keep` records (found without counting the table).
        let cut = (record.sequence + 1).saturating_sub(self.audit_keep);
        if table.first()?.is_some_and(|(k, _)| k.value() < cut) {
            table.retain_in(..cut, |_, _| false)?;
        }
        Ok(record)
    }
}

// Health rows live in `health.rs`; re-exported so callers name them `store::HealthRecord`.
pub use crate::domain::HealthState;
pub use health::{HealthBatch, HealthRecord};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let store = Store::open(&path).unwrap();
        let id = store.instance_id().to_string();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.instance_id(), id, "instance id is kept across opens");
        {
            let db = store.db().unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(META)
                .unwrap()
                .insert(META_SCHEMA, (SCHEMA_VERSION + 1).to_le_bytes().as_slice())
                .unwrap();
            tx.commit().unwrap();
        }
        drop(store);
        let err = Store::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
        assert!(err.to_string().contains("newer than this rosterd"));
    }
}
