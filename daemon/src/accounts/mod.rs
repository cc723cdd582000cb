//! Accounts: the domain rules (validation, uniqueness, etags, idempotent create), the in-memory
//! registry that serves reads, and the writes that change both.
//!
//! The redb file is the truth; the registry is a copy that is updated only after a commit, under a
//! lock that serialises account writes, so readers never see a write that did not become durable
//! and never see two writes in an order other than their commit order.
//!
//! - `validate`: what a request may hold, every bad field reported at once;
//! - `registry`: the in-memory view (lookups, pages) that reads are served from;
//! - `writes`: create, update, delete and key rotation, each committed by one helper together
//!   with its audit record and event.

use std::sync::{Arc, RwLock};

use tokio::sync::{Mutex, broadcast};

use crate::seal::{Keyring, SealError};
use crate::store::{EventRecord, Store, StoreError};

mod registry;
#[cfg(test)]
pub(crate) mod store_tests;
mod validate;
mod writes;

pub use registry::Registered;
pub use validate::{
    AccountPatch, DEFAULT_CONNECTOR, LabelSelector, NewAccount, check_connector, check_credential,
    check_environment, natural_order, normalize_url,
};

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
        "accounts named {0:?} exist in several tenants: name it by id, or scope the request with --tenant"
    )]
    AmbiguousName(String),
    #[error("quota reached: {0}")]
    Quota(String),
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

/// Something that happened to an account, broadcast after it is durable.
pub type EventBus = broadcast::Sender<EventRecord>;

/// Accounts: validated, sealed, durable writes and fast in-memory reads.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keyring: Arc<arc_swap::ArcSwap<Keyring>>,
    registry: RwLock<registry::Registry>,
    /// Serialises account writes so the registry is updated in commit order.
    write_lock: Mutex<()>,
    events: EventBus,
    event_retention: u64,
}

impl Accounts {
    pub fn load(
        store: Store,
        keyring: Arc<arc_swap::ArcSwap<Keyring>>,
        events: EventBus,
        event_retention: u64,
    ) -> Result<Self, StoreError> {
        let mut registry = registry::Registry::default();
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

    /// How many events are kept (for writers of events other than this module, e.g. health).
    pub fn event_retention(&self) -> u64 {
        self.inner.event_retention
    }
}
