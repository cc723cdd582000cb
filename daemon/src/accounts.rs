//! Accounts: the domain rules (validation, uniqueness, etags, idempotent create) and the
//! in-memory registry that serves reads.
//!
//! The redb file is the truth; the registry is a copy that is updated only after a commit, under a
//! lock that serialises account writes, so readers never see a write that did not become durable
//! and never see two writes in an order other than their commit order.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use reqwest::Url;
use tokio::sync::{Mutex, broadcast};

use crate::audit::Actor;
use crate::seal::{Keyring, SealError};
use crate::secret::ApiKey;
use crate::store::{AccountRecord, EventKind, EventRecord, Store, StoreError, now_millis};

pub const NAME_MAX: usize = 64;
pub const API_KEY_MAX: usize = 256;
pub const URL_MAX: usize = 2048;
pub const LABELS_MAX: usize = 32;
pub const LABEL_KEY_MAX: usize = 63;
pub const LABEL_VALUE_MAX: usize = 63;
pub const DEFAULT_CONNECTOR: &str = "openalgo";
/// Events kept by default; older ones answer OUT_OF_RANGE to a resuming watcher.
pub const DEFAULT_EVENT_RETENTION: u64 = 100_000;

/// One rejected field of a request, reported to the client as a google.rpc.BadRequest violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid request: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldViolation>),
    #[error("account {0:?} not found")]
    NotFound(String),
    #[error("an account named {0:?} already exists")]
    NameTaken(String),
    #[error(
        "etag {given:?} does not match the current etag {current:?}: the account changed since it was read"
    )]
    EtagMismatch { given: String, current: String },
    #[error("request_id {0:?} was used for an account that has since been deleted")]
    RequestIdSpent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl AccountError {
    fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

/// A validated request to create an account.
#[derive(Debug)]
pub struct NewAccount {
    pub request_id: String,
    pub name: String,
    pub connector: String,
    pub host_url: String,
    pub ws_url: String,
    pub api_key: ApiKey,
    pub labels: BTreeMap<String, String>,
    pub enabled: bool,
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub host_url: Option<String>,
    pub ws_url: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub enabled: Option<bool>,
    pub api_key: Option<ApiKey>,
}

// ---------------------------------------------------------------------------------------------
// Validation. Each check returns the violation so a request reports every bad field at once.

pub fn check_name(field: &str, name: &str, out: &mut Vec<FieldViolation>) {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > NAME_MAX {
        out.push(FieldViolation::new(
            field,
            format!("must be 1-{NAME_MAX} characters"),
        ));
    } else if !ok_chars || !starts_ok {
        out.push(FieldViolation::new(
            field,
            "may contain only A-Z a-z 0-9 . _ - and must start with a letter or digit",
        ));
    } else if uuid::Uuid::try_parse(name).is_ok() {
        // Clients (rosterctl) take an id or a name in one argument, ids first: a name in an id's
        // shape could pass for, or hide behind, another account.
        out.push(FieldViolation::new(
            field,
            "must not look like an account id (a UUID)",
        ));
    }
}

/// Accepts an absolute URL with one of `schemes`, a host, and no credentials, query or fragment
/// (credentials in a URL would end up in logs; a query would be silently dropped by the connector).
pub fn check_url(field: &str, url: &str, schemes: &[&str], out: &mut Vec<FieldViolation>) {
    let _ = normalize_url(field, url, schemes, out);
}

/// The form of a URL that is stored and called: `scheme://host[:port][/path]`, scheme and host
/// lowercase, a default port dropped, the path as the URL parser normalises it without a
/// trailing slash. `None`, with a violation in `out`, when `url` is not acceptable.
///
/// Accepted is only what every parser reads the same way: visible ASCII (no whitespace or
/// control characters, which some parsers strip and others keep), no `\` (some read it as `/`),
/// `scheme://` written out (some accept `http:host`), no user info (`user:pass@`, which would
/// also land in logs), no query or fragment (the connector would drop them silently).
pub fn normalize_url(
    field: &str,
    url: &str,
    schemes: &[&str],
    out: &mut Vec<FieldViolation>,
) -> Option<String> {
    let mut refuse = |why: String| {
        out.push(FieldViolation::new(field, why));
        None
    };
    if url.len() > URL_MAX {
        return refuse(format!("must be at most {URL_MAX} characters"));
    }
    if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
        return refuse(format!(
            "must be visible ASCII only (found {}; write international host names in punycode)",
            c.escape_default()
        ));
    }
    if url.contains('\\') {
        return refuse("must not contain a backslash".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse(format!("must start with {}://", schemes.join(":// or ")));
    };
    let scheme = scheme.to_ascii_lowercase();
    if !schemes.contains(&scheme.as_str()) {
        return refuse(format!(
            "scheme must be {} (got {scheme:?})",
            schemes.join(" or ")
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return refuse("must not carry credentials (user info before @)".into());
    }
    if url.contains(['?', '#']) {
        return refuse("must not have a query or fragment".into());
    }
    let parsed = match Url::parse(url) {
        Ok(u) => u,
        Err(e) => return refuse(format!("is not a valid URL ({e})")),
    };
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return refuse("must name a host".into());
    };
    // `Url` has already lowercased the scheme and host and dropped a default port.
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = parsed.path().trim_end_matches('/');
    Some(format!("{}://{host}{port}{path}", parsed.scheme()))
}

/// API keys are 1-256 visible ASCII characters (no spaces or control characters).
pub fn check_api_key(field: &str, key: &str, out: &mut Vec<FieldViolation>) {
    if key.is_empty() || key.len() > API_KEY_MAX {
        out.push(FieldViolation::new(
            field,
            format!("must be 1-{API_KEY_MAX} characters"),
        ));
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        out.push(FieldViolation::new(
            field,
            "must be visible ASCII characters only (no spaces or control characters)",
        ));
    }
}

pub fn check_labels(field: &str, labels: &BTreeMap<String, String>, out: &mut Vec<FieldViolation>) {
    if labels.len() > LABELS_MAX {
        out.push(FieldViolation::new(
            field,
            format!("at most {LABELS_MAX} labels"),
        ));
    }
    for (k, v) in labels {
        let key_ok = !k.is_empty()
            && k.len() <= LABEL_KEY_MAX
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
        if !key_ok {
            out.push(FieldViolation::new(
                format!("{field}[{k}]"),
                format!("label key must be 1-{LABEL_KEY_MAX} characters of A-Z a-z 0-9 . _ - /"),
            ));
        }
        let value_ok = v.len() <= LABEL_VALUE_MAX
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !value_ok {
            out.push(FieldViolation::new(
                format!("{field}[{k}]"),
                format!("label value must be 0-{LABEL_VALUE_MAX} characters of A-Z a-z 0-9 . _ -"),
            ));
        }
    }
}

fn check_connector(connector: &str, out: &mut Vec<FieldViolation>) {
    if connector != DEFAULT_CONNECTOR {
        out.push(FieldViolation::new(
            "connector",
            format!("unsupported connector {connector:?}; supported: {DEFAULT_CONNECTOR}"),
        ));
    }
}

fn check_request_id(request_id: &str, out: &mut Vec<FieldViolation>) {
    if request_id.len() > 128 || request_id.chars().any(char::is_control) {
        out.push(FieldViolation::new(
            "request_id",
            "must be at most 128 characters, no control characters",
        ));
    }
}

fn finish(violations: Vec<FieldViolation>) -> Result<(), AccountError> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(AccountError::Invalid(violations))
    }
}

impl NewAccount {
    /// Checks every field, and puts the URLs in their stored form.
    pub fn validate(&mut self) -> Result<(), AccountError> {
        let mut v = Vec::new();
        check_request_id(&self.request_id, &mut v);
        check_name("name", &self.name, &mut v);
        check_connector(&self.connector, &mut v);
        if let Some(url) = normalize_url("host_url", &self.host_url, &["http", "https"], &mut v) {
            self.host_url = url;
        }
        if !self.ws_url.is_empty()
            && let Some(url) = normalize_url("ws_url", &self.ws_url, &["ws", "wss"], &mut v)
        {
            self.ws_url = url;
        }
        check_api_key("api_key", self.api_key.expose(), &mut v);
        check_labels("labels", &self.labels, &mut v);
        finish(v)
    }
}

impl AccountPatch {
    /// Checks every field it changes, and puts the URLs in their stored form.
    pub fn validate(&mut self) -> Result<(), AccountError> {
        let mut v = Vec::new();
        if let Some(name) = &self.name {
            check_name("account.name", name, &mut v);
        }
        if let Some(url) = self.host_url.as_mut()
            && let Some(normal) = normalize_url("account.host_url", url, &["http", "https"], &mut v)
        {
            *url = normal;
        }
        if let Some(url) = self.ws_url.as_mut().filter(|u| !u.is_empty())
            && let Some(normal) = normalize_url("account.ws_url", url, &["ws", "wss"], &mut v)
        {
            *url = normal;
        }
        if let Some(labels) = &self.labels {
            check_labels("account.labels", labels, &mut v);
        }
        if let Some(key) = &self.api_key {
            check_api_key("api_key", key.expose(), &mut v);
        }
        finish(v)
    }

    fn changed_fields(&self, r: &AccountRecord) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.name.as_ref().is_some_and(|n| *n != r.name) {
            out.push("name");
        }
        if self.host_url.as_ref().is_some_and(|u| *u != r.host_url) {
            out.push("host_url");
        }
        if self.ws_url.as_ref().is_some_and(|u| *u != r.ws_url) {
            out.push("ws_url");
        }
        if self.labels.as_ref().is_some_and(|l| *l != r.labels) {
            out.push("labels");
        }
        if self.enabled.is_some_and(|e| e != r.enabled) {
            out.push("enabled");
        }
        // A new key always counts as a change: comparing would mean unsealing the old one.
        if self.api_key.is_some() {
            out.push("api_key");
        }
        out
    }
}

/// "k=v,k2=v2": an account matches when every pair is among its labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<(String, String)>);

impl LabelSelector {
    pub fn parse(field: &str, text: &str) -> Result<Self, AccountError> {
        let mut pairs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(AccountError::invalid(
                    field,
                    format!("{part:?} is not KEY=VALUE"),
                ));
            };
            pairs.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(Self(pairs))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// The registry.

/// Something that happened to an account, broadcast after it is durable.
pub type EventBus = broadcast::Sender<EventRecord>;

#[derive(Default)]
struct Registry {
    by_id: BTreeMap<String, Arc<AccountRecord>>,
    id_by_name: HashMap<String, String>,
}

impl Registry {
    fn insert(&mut self, record: AccountRecord) -> Arc<AccountRecord> {
        if let Some(old) = self.by_id.get(&record.id) {
            self.id_by_name.remove(&old.name);
        }
        self.id_by_name
            .insert(record.name.clone(), record.id.clone());
        let record = Arc::new(record);
        self.by_id.insert(record.id.clone(), record.clone());
        record
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            self.id_by_name.remove(&old.name);
        }
    }
}

/// Accounts: validated, sealed, durable writes and fast in-memory reads.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keyring: Arc<arc_swap::ArcSwap<Keyring>>,
    registry: RwLock<Registry>,
    /// Serialises account writes so the registry is updated in commit order.
    write_lock: Mutex<()>,
    events: EventBus,
    event_retention: u64,
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    pub accounts: Vec<Arc<AccountRecord>>,
    /// Id of the last account on this page when more follow.
    pub next_after: Option<String>,
    pub total: usize,
}

impl Accounts {
    pub fn load(
        store: Store,
        keyring: Arc<arc_swap::ArcSwap<Keyring>>,
        events: EventBus,
        event_retention: u64,
    ) -> Result<Self, StoreError> {
        let mut registry = Registry::default();
        for record in store.load_accounts()? {
            registry.insert(record);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                keyring,
                registry: RwLock::new(registry),
                write_lock: Mutex::new(()),
                events,
                event_retention,
            }),
        })
    }

    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.inner.keyring.load_full()
    }

    fn read_registry<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        // A poisoned lock only means a panic elsewhere; the map itself is always consistent
        // because it is modified only by whole-value inserts and removes.
        match self.inner.registry.read() {
            Ok(g) => f(&g),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        match self.inner.registry.write() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn count(&self) -> usize {
        self.read_registry(|r| r.by_id.len())
    }

    /// Looks an account up by id, then by name.
    pub fn get(&self, id_or_name: &str) -> Result<Arc<AccountRecord>, AccountError> {
        self.read_registry(|r| {
            r.by_id
                .get(id_or_name)
                .or_else(|| r.id_by_name.get(id_or_name).and_then(|id| r.by_id.get(id)))
                .cloned()
        })
        .ok_or_else(|| AccountError::NotFound(id_or_name.to_string()))
    }

    /// Whether an account with this id (not name) exists.
    pub fn exists(&self, id: &str) -> bool {
        self.read_registry(|r| r.by_id.contains_key(id))
    }

    /// Every account, in id (creation) order.
    pub fn all(&self) -> Vec<Arc<AccountRecord>> {
        self.read_registry(|r| r.by_id.values().cloned().collect())
    }

    /// Accounts after `after` (exclusive) that pass `keep` (every account when `None`), at most
    /// `limit`; `total` counts every account that passes, on this page or not.
    pub fn page(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: Option<&dyn Fn(&AccountRecord) -> bool>,
    ) -> Page {
        self.read_registry(|r| {
            let mut total = 0;
            let mut accounts = Vec::with_capacity(limit.min(1024));
            let mut more = false;
            match keep {
                // Unfiltered, the total is the registry's size: walk only the page itself.
                None => {
                    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
                    let mut rest = r.by_id.range::<str, _>((from, Bound::Unbounded));
                    accounts.extend(rest.by_ref().take(limit).map(|(_, rec)| rec.clone()));
                    more = rest.next().is_some();
                    total = r.by_id.len();
                }
                // Filtered, counting the total takes a look at every account anyway.
                Some(keep) => {
                    for (id, rec) in &r.by_id {
                        if !keep(rec) {
                            continue;
                        }
                        total += 1;
                        if after.is_some_and(|a| id.as_str() <= a) {
                            continue;
                        }
                        if accounts.len() < limit {
                            accounts.push(rec.clone());
                        } else {
                            more = true;
                        }
                    }
                }
            }
            let next_after = if more {
                accounts.last().map(|a| a.id.clone())
            } else {
                None
            };
            Page {
                accounts,
                next_after,
                total,
            }
        })
    }

    /// The plaintext key of an account, for the connector only.
    pub fn api_key(&self, record: &AccountRecord) -> Result<ApiKey, SealError> {
        self.keyring().unseal(&record.id, &record.sealed_key)
    }

    pub async fn create(
        &self,
        actor: &Actor,
        mut new: NewAccount,
    ) -> Result<Arc<AccountRecord>, AccountError> {
        new.validate()?;
        let _serial = self.inner.write_lock.lock().await;
        let request_key = (!new.request_id.is_empty())
            .then(|| format!("{}\0{}", actor.principal, new.request_id));
        let id = uuid::Uuid::now_v7().to_string();
        let sealed_key = self.keyring().seal(&id, &new.api_key)?;
        let now = now_millis();
        let record = AccountRecord {
            id: id.clone(),
            name: new.name,
            connector: new.connector,
            host_url: new.host_url,
            ws_url: new.ws_url,
            sealed_key,
            api_key_hint: new.api_key.hint(),
            broker: String::new(),
            mode: String::new(),
            enabled: new.enabled,
            labels: new.labels,
            create_time: now,
            update_time: now,
            revision: 1,
            wire: Default::default(),
        };
        let actor = actor.clone();
        let retention = self.inner.event_retention;
        let to_store = record.clone();
        let new_request_id = new.request_id;
        let outcome = self
            .inner
            .store
            .write(move |tx| {
                // A retried create answers with the account the first attempt made.
                if let Some(key) = &request_key
                    && let Some(first) = tx.create_request(key)?
                {
                    return Ok(Created::Replayed(first));
                }
                if tx.account_id_by_name(&to_store.name)?.is_some() {
                    return Err(AccountError::NameTaken(to_store.name.clone()));
                }
                tx.put_account(&to_store, None)?;
                if let Some(key) = &request_key {
                    tx.put_create_request(key, &to_store.id)?;
                }
                let target = format!("account/{} ({})", to_store.id, to_store.name);
                tx.append_audit(actor.record("account.create", &target, "ok"))?;
                let event =
                    tx.append_event(account_event(EventKind::AccountCreated, &to_store, ""))?;
                tx.trim_events(retention)?;
                Ok(Created::New(event))
            })
            .await?;
        let event = match outcome {
            Created::New(event) => event,
            Created::Replayed(first) => {
                return self
                    .get(&first)
                    .map_err(|_| AccountError::RequestIdSpent(new_request_id));
            }
        };
        let stored = self.write_registry(|r| r.insert(record));
        let _ = self.inner.events.send(event);
        Ok(stored)
    }

    pub async fn update(
        &self,
        actor: &Actor,
        id_or_name: &str,
        etag: &str,
        mut patch: AccountPatch,
    ) -> Result<Arc<AccountRecord>, AccountError> {
        patch.validate()?;
        let _serial = self.inner.write_lock.lock().await;
        let current = self.get(id_or_name)?;
        check_etag(&current, etag)?;
        let changed = patch.changed_fields(&current);
        if changed.is_empty() {
            return Ok(current);
        }
        let mut next = (*current).clone();
        if let Some(name) = patch.name {
            next.name = name;
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
        if let Some(key) = &patch.api_key {
            next.sealed_key = self.keyring().seal(&next.id, key)?;
            next.api_key_hint = key.hint();
        }
        next.revision += 1;
        next.update_time = now_millis().max(current.update_time);
        let actor = actor.clone();
        let retention = self.inner.event_retention;
        let old_name = current.name.clone();
        let to_store = next.clone();
        let message = format!("changed: {}", changed.join(", "));
        let event = self
            .inner
            .store
            .write(move |tx| {
                if to_store.name != old_name
                    && tx
                        .account_id_by_name(&to_store.name)?
                        .is_some_and(|other| other != to_store.id)
                {
                    return Err(AccountError::NameTaken(to_store.name.clone()));
                }
                tx.put_account(&to_store, Some(&old_name))?;
                let target = format!("account/{} ({})", to_store.id, to_store.name);
                tx.append_audit(actor.record(
                    "account.update",
                    &target,
                    &format!("ok; {message}"),
                ))?;
                let event = tx.append_event(account_event(
                    EventKind::AccountUpdated,
                    &to_store,
                    &message,
                ))?;
                tx.trim_events(retention)?;
                Ok(event)
            })
            .await?;
        let stored = self.write_registry(|r| r.insert(next));
        let _ = self.inner.events.send(event);
        Ok(stored)
    }

    pub async fn delete(
        &self,
        actor: &Actor,
        id_or_name: &str,
        etag: &str,
    ) -> Result<(), AccountError> {
        let _serial = self.inner.write_lock.lock().await;
        let current = self.get(id_or_name)?;
        check_etag(&current, etag)?;
        let actor = actor.clone();
        let retention = self.inner.event_retention;
        let to_delete = (*current).clone();
        let event = self
            .inner
            .store
            .write(move |tx| {
                tx.delete_account(&to_delete)?;
                let target = format!("account/{} ({})", to_delete.id, to_delete.name);
                tx.append_audit(actor.record("account.delete", &target, "ok"))?;
                let event =
                    tx.append_event(account_event(EventKind::AccountDeleted, &to_delete, ""))?;
                tx.trim_events(retention)?;
                Ok::<_, AccountError>(event)
            })
            .await?;
        self.write_registry(|r| r.remove(&current.id));
        let _ = self.inner.events.send(event);
        Ok(())
    }

    /// Re-seals every API key under `new_key` in one durable transaction, then makes the new
    /// keyring (which still opens values sealed with older keys) the one in use.
    pub async fn rotate_key(
        &self,
        actor: &Actor,
        new_key: crate::seal::MasterKey,
    ) -> Result<(String, u32), AccountError> {
        let _serial = self.inner.write_lock.lock().await;
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
        let to_store = resealed.clone();
        let new_id_for_meta = new_id.clone();
        let actor = actor.clone();
        let retention = self.inner.event_retention;
        let message = format!(
            "resealed {count} API keys under key {new_id} (was {})",
            current.active_id()
        );
        let event = self
            .inner
            .store
            .write(move |tx| {
                for r in &to_store {
                    tx.put_account(r, None)?;
                }
                tx.set_active_key_id(&new_id_for_meta)?;
                tx.append_audit(actor.record(
                    "key.rotate",
                    "master-key",
                    &format!("ok; {message}"),
                ))?;
                let event = tx.append_event(EventRecord {
                    sequence: 0,
                    time: now_millis(),
                    kind: EventKind::KeyRotated,
                    account_id: String::new(),
                    account_name: String::new(),
                    previous_state: String::new(),
                    state: String::new(),
                    reason: String::new(),
                    message,
                })?;
                tx.trim_events(retention)?;
                Ok::<_, AccountError>(event)
            })
            .await?;
        self.inner.keyring.store(Arc::new(next));
        self.write_registry(|r| {
            for record in resealed {
                r.insert(record);
            }
        });
        let _ = self.inner.events.send(event);
        Ok((new_id, count))
    }

    /// Records an operation that changed no account (a refusal, a connection test that used a
    /// sealed key) in the audit log, in its own durable transaction.
    pub async fn record_audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let record = actor.record(action, target, outcome);
        self.inner
            .store
            .write(move |tx| tx.append_audit(record).map(|_| ()))
            .await
    }

    /// How many events are kept (for writers of events other than this module, e.g. health).
    pub fn event_retention(&self) -> u64 {
        self.inner.event_retention
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
        let _serial = self.inner.write_lock.lock().await;
        let Some(current) = self.read_registry(|r| r.by_id.get(id).cloned()) else {
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
                tx.put_account(&to_store, Some(&to_store.name))?;
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

enum Created {
    New(EventRecord),
    Replayed(String),
}

fn account_event(kind: EventKind, r: &AccountRecord, message: &str) -> EventRecord {
    EventRecord {
        sequence: 0,
        time: now_millis(),
        kind,
        account_id: r.id.clone(),
        account_name: r.name.clone(),
        previous_state: String::new(),
        state: String::new(),
        reason: String::new(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations(f: impl Fn(&mut Vec<FieldViolation>)) -> Vec<FieldViolation> {
        let mut v = Vec::new();
        f(&mut v);
        v
    }

    #[test]
    fn names() {
        assert!(violations(|v| check_name("n", "desk-a.01_x", v)).is_empty());
        for bad in [
            "",
            "-lead",
            "has space",
            "ünï",
            &"x".repeat(65),
            // Account ids are UUIDs; no name may look like one, in any of its spellings.
            "0190b6a4-7c2e-7d3f-9a1b-2c3d4e5f6a7b",
            "0190B6A47C2E7D3F9A1B2C3D4E5F6A7B",
        ] {
            assert_eq!(violations(|v| check_name("n", bad, v)).len(), 1, "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        let web = ["http", "https"];
        assert!(violations(|v| check_url("u", "http://127.0.0.1:5000", &web, v)).is_empty());
        assert!(
            violations(|v| check_url("u", "https://algo.example.com/base", &web, v)).is_empty()
        );
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "127.0.0.1:5000",
            "http://user:pw@host",
            "http://h/?apikey=1",
            "",
            "ws://h",
        ] {
            assert_eq!(
                violations(|v| check_url("u", bad, &web, v)).len(),
                1,
                "{bad:?}"
            );
        }
        assert!(violations(|v| check_url("u", "wss://h:8765", &["ws", "wss"], v)).is_empty());
    }

    #[test]
    fn urls_are_stored_normalised_and_tricks_refused() {
        let web = ["http", "https"];
        let normal = |url: &str| {
            let mut v = Vec::new();
            let n = normalize_url("u", url, &web, &mut v);
            assert!(v.is_empty() || n.is_none(), "{url:?}");
            n
        };
        for (given, stored) in [
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("HTTP://Algo.Example.COM:80/", "http://algo.example.com"),
            (
                "https://algo.example.com:443/Base/",
                "https://algo.example.com/Base",
            ),
            (
                "https://algo.example.com:8443/a/./b/../c",
                "https://algo.example.com:8443/a/c",
            ),
            ("http://[::1]:5000/", "http://[::1]:5000"),
        ] {
            assert_eq!(normal(given).as_deref(), Some(stored), "{given:?}");
        }
        assert_eq!(
            normalize_url("w", "WSS://H:443/ws/", &["ws", "wss"], &mut Vec::new()).as_deref(),
            Some("wss://h/ws")
        );
        for bad in [
            "http://h\r\n.example.com",
            "http://h/\nX-Injected: 1",
            " http://h",
            "http://h ",
            "http://h\t/",
            "http://h/a b",
            "http:\\\\h\\",
            "http://h\\@evil/",
            "http://user:pass@h",
            "http://@h",
            "http://user@h",
            "http:h",
            "http:/h",
            "http://h#frag",
            "http://h/#",
            "http://h/?",
            "http://h?x=1",
            "http://",
            "http://h\u{202e}",
            "http://ünï.example",
        ] {
            let mut v = Vec::new();
            assert_eq!(normalize_url("u", bad, &web, &mut v), None, "{bad:?}");
            assert_eq!(v.len(), 1, "{bad:?}");
            assert_eq!(v[0].field, "u");
        }
    }

    #[test]
    fn api_keys_and_labels() {
        assert!(violations(|v| check_api_key("k", "abc-123_XYZ", v)).is_empty());
        for bad in ["", "has space", "tab\t", &"k".repeat(257), "ключ"] {
            assert_eq!(
                violations(|v| check_api_key("k", bad, v)).len(),
                1,
                "{bad:?}"
            );
        }
        let mut labels = BTreeMap::new();
        labels.insert("desk".to_string(), "a".to_string());
        assert!(violations(|v| check_labels("l", &labels, v)).is_empty());
        labels.insert("bad key".to_string(), "x".to_string());
        labels.insert("k".to_string(), "<script>".to_string());
        assert_eq!(violations(|v| check_labels("l", &labels, v)).len(), 2);
    }

    #[test]
    fn selectors() {
        let s = LabelSelector::parse("f", "desk=a, env=prod").unwrap();
        let mut l = BTreeMap::new();
        l.insert("desk".to_string(), "a".to_string());
        assert!(!s.matches(&l));
        l.insert("env".to_string(), "prod".to_string());
        assert!(s.matches(&l));
        assert!(LabelSelector::parse("f", "desk").is_err());
        assert!(LabelSelector::parse("f", "").unwrap().is_empty());
    }
}

#[cfg(test)]
pub(crate) mod store_tests {
    use super::*;
    use crate::seal::MasterKey;

    /// The registry over a redb file at `path`, sealing with `key`.
    pub(crate) fn open(path: &std::path::Path, key: &[u8]) -> Accounts {
        let store = Store::open(path).unwrap();
        let ring = Keyring::new(MasterKey::from_bytes(key).unwrap());
        let (events, _) = broadcast::channel(16);
        Accounts::load(
            store,
            Arc::new(arc_swap::ArcSwap::from_pointee(ring)),
            events,
            100,
        )
        .unwrap()
    }

    /// An enabled account at an address nothing answers on, without labels.
    pub(crate) fn new(name: &str, key: &str) -> NewAccount {
        NewAccount {
            request_id: String::new(),
            name: name.into(),
            connector: DEFAULT_CONNECTOR.into(),
            host_url: "http://127.0.0.1:9".into(),
            ws_url: String::new(),
            api_key: ApiKey::new(key),
            labels: BTreeMap::new(),
            enabled: true,
        }
    }

    #[tokio::test]
    async fn keys_decrypt_after_reopen_and_tampered_or_moved_values_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let master = crate::seal::generate_master_key();
        let accounts = open(&path, &master);
        let a = accounts
            .create(&Actor::system(), new("a", "key-of-a-123"))
            .await
            .unwrap();
        let b = accounts
            .create(&Actor::system(), new("b", "key-of-b-456"))
            .await
            .unwrap();
        drop(accounts);

        let accounts = open(&path, &master);
        let a = accounts.get(&a.id).unwrap();
        let b = accounts.get(&b.id).unwrap();
        assert_eq!(accounts.api_key(&a).unwrap().expose(), "key-of-a-123");
        assert_eq!(accounts.api_key(&b).unwrap().expose(), "key-of-b-456");

        let mut flipped = (*a).clone();
        flipped.sealed_key.ciphertext[3] ^= 0x20;
        let err = accounts.api_key(&flipped).unwrap_err();
        assert!(err.to_string().contains("failed authentication"), "{err}");

        let mut moved = (*b).clone();
        moved.sealed_key = a.sealed_key.clone();
        let err = accounts.api_key(&moved).unwrap_err();
        assert!(err.to_string().contains(&b.id), "{err}");

        // Another master key opens nothing.
        drop(accounts);
        let other = open(&path, &crate::seal::generate_master_key());
        assert!(other.api_key(&other.get("a").unwrap()).is_err());
    }

    #[tokio::test]
    async fn unfiltered_pages_match_the_filtered_walk() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = open(
            &dir.path().join("r.redb"),
            &crate::seal::generate_master_key(),
        );
        for i in 0..7 {
            accounts
                .create(&Actor::system(), new(&format!("acct-{i}"), "key-123456789"))
                .await
                .unwrap();
        }
        let everything: &dyn Fn(&AccountRecord) -> bool = &|_| true;
        let ids = |p: &Page| p.accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let fast = accounts.page(after.as_deref(), 3, None);
            let walked = accounts.page(after.as_deref(), 3, Some(everything));
            assert_eq!(ids(&fast), ids(&walked));
            assert_eq!(
                (&fast.next_after, fast.total),
                (&walked.next_after, walked.total)
            );
            assert_eq!(fast.total, 7);
            seen.extend(ids(&fast));
            match fast.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        // A filter narrows both the page and the total.
        let odd: &dyn Fn(&AccountRecord) -> bool = &|a| a.name.ends_with(['1', '3', '5']);
        let page = accounts.page(None, 2, Some(odd));
        assert_eq!((page.accounts.len(), page.total), (2, 3));
        assert!(page.next_after.is_some());
    }
}
