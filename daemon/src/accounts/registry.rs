//! The in-memory view of the accounts that every read is served from: lookups by id and name,
//! and pages in id (creation) order. It changes only after a write has committed (`writes`).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, OnceLock};

use super::{AccountError, Accounts};
use crate::auth::Scope;
use crate::connector::Upstream;
use crate::seal::SealError;
use crate::store::{AccountRecord, name_key};

/// One version of an account as the registry holds it: the record, and bytes a reader derives
/// from it at most once (the API's encoding of the account, see `api::listing`). A write puts a
/// new `Registered` in the registry, so derived bytes can never be served for a version they
/// were not made from, and there is no invalidation to forget and no lookup per read.
#[derive(Debug)]
pub struct Registered {
    record: Arc<AccountRecord>,
    derived: OnceLock<Box<[u8]>>,
}

impl Registered {
    fn new(record: AccountRecord) -> Self {
        Self {
            record: Arc::new(record),
            derived: OnceLock::new(),
        }
    }

    pub fn record(&self) -> &Arc<AccountRecord> {
        &self.record
    }

    /// The bytes `derive` makes of this version, made on first use and kept with it. Every
    /// caller must derive the same thing (there is one such reader: the ListAccounts encoding).
    pub fn derived(&self, derive: impl FnOnce(&AccountRecord) -> Vec<u8>) -> &[u8] {
        self.derived
            .get_or_init(|| derive(&self.record).into_boxed_slice())
    }
}

#[derive(Default)]
pub(super) struct Registry {
    by_id: BTreeMap<String, Arc<Registered>>,
    /// Keyed by [`name_key`] (tenant, name): names are unique within a tenant.
    id_by_name: HashMap<String, String>,
}

impl Registry {
    /// Puts `record` in as the current version of its account.
    pub(super) fn insert(&mut self, record: AccountRecord) -> Arc<AccountRecord> {
        if let Some(old) = self.by_id.get(&record.id) {
            self.id_by_name
                .remove(&name_key(&old.record.tenant, &old.record.name));
        }
        self.id_by_name
            .insert(name_key(&record.tenant, &record.name), record.id.clone());
        let entry = Arc::new(Registered::new(record));
        let record = entry.record.clone();
        self.by_id.insert(record.id.clone(), entry);
        record
    }

    pub(super) fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            self.id_by_name
                .remove(&name_key(&old.record.tenant, &old.record.name));
        }
    }

    /// The current version of the account with this id (not name).
    pub(super) fn by_id(&self, id: &str) -> Option<Arc<AccountRecord>> {
        self.by_id.get(id).map(|e| e.record.clone())
    }
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    pub accounts: Vec<Arc<Registered>>,
    /// Id of the last account on this page when more follow.
    pub next_after: Option<String>,
    pub total: usize,
}

impl Accounts {
    pub(super) fn read_registry<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        // A poisoned lock only means a panic elsewhere; the map itself is always consistent
        // because it is modified only by whole-value inserts and removes.
        match self.inner.registry.read() {
            Ok(g) => f(&g),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    pub(super) fn write_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        match self.inner.registry.write() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn count(&self) -> usize {
        self.read_registry(|r| r.by_id.len())
    }

    /// Looks an account up by id, then by name, in every tenant (the daemon's own lookups; a
    /// request's go through [`Accounts::get_in`]).
    pub fn get(&self, id_or_name: &str) -> Result<Arc<AccountRecord>, AccountError> {
        self.get_in(&Scope::Global, id_or_name)
    }

    /// Looks an account up by id, then by name, among the accounts `scope` sees. Another
    /// tenant's account is NotFound exactly like a missing one (the same error, the same text).
    /// A global caller's name is looked up in tenant `default` first, then in the one other
    /// tenant that has it; a name several other tenants use needs the id (or `--tenant`).
    pub fn get_in(
        &self,
        scope: &Scope,
        id_or_name: &str,
    ) -> Result<Arc<AccountRecord>, AccountError> {
        let not_found = || AccountError::NotFound(id_or_name.to_string());
        self.read_registry(|r| {
            if let Some(record) = r.by_id(id_or_name) {
                return scope
                    .sees(&record.tenant)
                    .then_some(record)
                    .ok_or_else(not_found);
            }
            let in_tenant = |t: &str| {
                r.id_by_name
                    .get(&name_key(t, id_or_name))
                    .and_then(|id| r.by_id(id))
            };
            match scope {
                Scope::Tenant(t) => in_tenant(t).ok_or_else(not_found),
                Scope::Global => {
                    if let Some(record) = in_tenant(crate::pki::DEFAULT_TENANT) {
                        return Ok(record);
                    }
                    let mut named = r
                        .by_id
                        .values()
                        .filter(|e| e.record.name == id_or_name)
                        .map(|e| e.record.clone());
                    match (named.next(), named.next()) {
                        (Some(one), None) => Ok(one),
                        (None, _) => Err(not_found()),
                        (Some(_), Some(_)) => {
                            Err(AccountError::AmbiguousName(id_or_name.to_string()))
                        }
                    }
                }
            }
        })
    }

    /// How many accounts `tenant` owns (for its quota).
    pub fn count_in(&self, tenant: &str) -> usize {
        self.read_registry(|r| {
            r.by_id
                .values()
                .filter(|e| e.record.tenant == tenant)
                .count()
        })
    }

    /// Whether an account with this id (not name) exists.
    pub fn exists(&self, id: &str) -> bool {
        self.read_registry(|r| r.by_id.contains_key(id))
    }

    /// Every account, in id (creation) order.
    pub fn all(&self) -> Vec<Arc<AccountRecord>> {
        self.read_registry(|r| r.by_id.values().map(|e| e.record.clone()).collect())
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
                    accounts.extend(rest.by_ref().take(limit).map(|(_, e)| e.clone()));
                    more = rest.next().is_some();
                    total = r.by_id.len();
                }
                // Filtered, counting the total takes a look at every account anyway.
                Some(keep) => {
                    for (id, e) in &r.by_id {
                        if !keep(&e.record) {
                            continue;
                        }
                        total += 1;
                        if after.is_some_and(|a| id.as_str() <= a) {
                            continue;
                        }
                        if accounts.len() < limit {
                            accounts.push(e.clone());
                        } else {
                            more = true;
                        }
                    }
                }
            }
            let next_after = if more {
                accounts.last().map(|e| e.record.id.clone())
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

    /// Where and as whom to call an account: its endpoint, environment and unsealed credential,
    /// for the connector only.
    pub fn upstream(&self, record: &AccountRecord) -> Result<Upstream, SealError> {
        let credential = self.keyring().unseal(&record.id, &record.sealed_key)?;
        Ok(
            Upstream::new(record.id.clone(), record.host_url.clone(), credential)
                .in_environment(record.environment.clone()),
        )
    }
}
