//! Helpers for tests that need accounts over a real redb file, and the tests of the registry
//! against it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::registry::Page;
use super::{Accounts, DEFAULT_CONNECTOR, NewAccount};
use crate::audit::Actor;
use crate::seal::{Keyring, MasterKey};
use crate::secret::{Credential, Secret};
use crate::store::{AccountRecord, Store};

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
        tenant: "default".into(),
        connector: DEFAULT_CONNECTOR.into(),
        environment: String::new(),
        host_url: "http://127.0.0.1:9".into(),
        ws_url: String::new(),
        credential: Credential::api_key(Secret::new(key)),
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
    assert_eq!(
        accounts.upstream(&a).unwrap().credential,
        Credential::api_key(Secret::new("key-of-a-123"))
    );
    assert_eq!(
        accounts.upstream(&b).unwrap().credential,
        Credential::api_key(Secret::new("key-of-b-456"))
    );

    let mut flipped = (*a).clone();
    flipped.sealed_key.ciphertext[3] ^= 0x20;
    let err = accounts.upstream(&flipped).unwrap_err();
    assert!(err.to_string().contains("failed authentication"), "{err}");

    let mut moved = (*b).clone();
    moved.sealed_key = a.sealed_key.clone();
    let err = accounts.upstream(&moved).unwrap_err();
    assert!(err.to_string().contains(&b.id), "{err}");

    // Another master key opens nothing.
    drop(accounts);
    let other = open(&path, &crate::seal::generate_master_key());
    assert!(other.upstream(&other.get("a").unwrap()).is_err());
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
    let ids = |p: &Page| {
        p.accounts
            .iter()
            .map(|a| a.record().id.clone())
            .collect::<Vec<_>>()
    };
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

/// (action, outcome) of every audit record and the kind of every event, oldest first.
async fn trail(accounts: &Accounts) -> (Vec<(String, String)>, Vec<crate::store::EventKind>) {
    accounts
        .store()
        .read(|rtx| {
            let audit = Store::audit_page(rtx, 0, 100)?;
            let events = Store::events_from(rtx, 0, 100)?;
            Ok((
                audit
                    .into_iter()
                    .rev()
                    .map(|a| (a.action, a.outcome))
                    .collect(),
                events.into_iter().map(|e| e.kind).collect(),
            ))
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn every_mutation_commits_one_audit_record_and_one_event_and_a_replay_none() {
    use crate::store::EventKind as K;
    let dir = tempfile::tempdir().unwrap();
    let accounts = open(
        &dir.path().join("r.redb"),
        &crate::seal::generate_master_key(),
    );
    let actor = Actor {
        principal: "alice".into(),
        role: "operator".into(),
        request_id: "r1".into(),
        tenant: String::new(),
    };
    let mut first = new("a", "key-123456789");
    first.request_id = "create-1".into();
    let a = accounts.create(&actor, first).await.unwrap();
    // The same request again answers with the same account and writes nothing.
    let mut again = new("a", "key-123456789");
    again.request_id = "create-1".into();
    assert_eq!(accounts.create(&actor, again).await.unwrap().id, a.id);
    let patch = super::AccountPatch {
        enabled: Some(false),
        ..Default::default()
    };
    accounts
        .update(&actor, &crate::auth::Scope::Global, "a", "r1", patch)
        .await
        .unwrap();
    // An update that changes nothing is no mutation.
    let same = super::AccountPatch {
        enabled: Some(false),
        ..Default::default()
    };
    accounts
        .update(&actor, &crate::auth::Scope::Global, "a", "", same)
        .await
        .unwrap();
    accounts
        .rotate_key(
            &actor,
            MasterKey::from_bytes(&crate::seal::generate_master_key()).unwrap(),
        )
        .await
        .unwrap();
    accounts
        .delete(&actor, &crate::auth::Scope::Global, "a", "")
        .await
        .unwrap();
    // A refused mutation (a stale etag) leaves no trace.
    accounts
        .create(&actor, new("b", "key-123456789"))
        .await
        .unwrap();
    assert!(
        accounts
            .delete(&actor, &crate::auth::Scope::Global, "b", "r9")
            .await
            .is_err()
    );

    let (audit, events) = trail(&accounts).await;
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "account.create",
            "account.update",
            "key.rotate",
            "account.delete",
            "account.create"
        ]
    );
    assert_eq!(audit[1].1, "ok; changed: enabled");
    assert!(
        audit[2].1.starts_with("ok; resealed 1 API keys under key "),
        "{audit:?}"
    );
    assert_eq!(
        events,
        [
            K::AccountCreated,
            K::AccountUpdated,
            K::KeyRotated,
            K::AccountDeleted,
            K::AccountCreated
        ]
    );
}

#[tokio::test]
async fn names_are_unique_within_a_tenant_and_a_scope_sees_only_its_own() {
    use crate::accounts::{AccountError, AccountPatch};
    use crate::auth::Scope;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.redb");
    let key = crate::seal::generate_master_key();
    let accounts = open(&path, &key);
    let actor = Actor::system();
    let in_tenant = |name: &str, tenant: &str| NewAccount {
        tenant: tenant.into(),
        ..new(name, "key-123456789")
    };
    let a = accounts
        .create(&actor, in_tenant("desk", "alpha"))
        .await
        .unwrap();
    let b = accounts
        .create(&actor, in_tenant("desk", "beta"))
        .await
        .unwrap();
    assert!(matches!(
        accounts.create(&actor, in_tenant("desk", "alpha")).await,
        Err(AccountError::NameTaken(_))
    ));
    let alpha = Scope::Tenant("alpha".into());
    let beta = Scope::Tenant("beta".into());
    assert_eq!(accounts.get_in(&alpha, "desk").unwrap().id, a.id);
    assert_eq!(accounts.get_in(&beta, "desk").unwrap().id, b.id);
    // Another tenant's account, by id, is NotFound exactly like a missing one.
    let other = accounts.get_in(&alpha, &b.id).unwrap_err().to_string();
    let missing = accounts.get_in(&alpha, "nope").unwrap_err().to_string();
    assert_eq!(other.replace(&b.id, "X"), missing.replace("nope", "X"));
    // Global: ids always, a name only where it is unambiguous.
    assert_eq!(accounts.get_in(&Scope::Global, &b.id).unwrap().id, b.id);
    assert!(matches!(
        accounts.get_in(&Scope::Global, "desk"),
        Err(AccountError::AmbiguousName(_))
    ));
    // Beta cannot delete alpha's account, by name or id.
    assert!(matches!(
        accounts.delete(&actor, &beta, &a.id, "").await,
        Err(AccountError::NotFound(_))
    ));
    // The quota counts the tenant's accounts only, and a refused create writes nothing.
    assert!(matches!(
        accounts
            .create_within(&actor, in_tenant("desk-2", "alpha"), Some(1))
            .await,
        Err(AccountError::Quota(_))
    ));
    accounts
        .create_within(&actor, in_tenant("desk-2", "gamma"), Some(1))
        .await
        .unwrap();
    assert_eq!(accounts.count_in("alpha"), 1);
    // A move to a tenant where the name is taken is refused; elsewhere it frees the old name.
    let move_to = |t: &str| AccountPatch {
        tenant: Some(t.into()),
        ..Default::default()
    };
    assert!(matches!(
        accounts
            .update(&actor, &Scope::Global, &b.id, "", move_to("alpha"))
            .await,
        Err(AccountError::NameTaken(_))
    ));
    accounts
        .update(&actor, &Scope::Global, &b.id, "", move_to("delta"))
        .await
        .unwrap();
    accounts
        .create(&actor, in_tenant("desk", "beta"))
        .await
        .unwrap();
    // All of it survives a reopen (the name index on disk agrees with the registry).
    drop(accounts);
    let accounts = open(&path, &key);
    assert_eq!(
        accounts
            .get_in(&Scope::Tenant("delta".into()), "desk")
            .unwrap()
            .id,
        b.id
    );
    assert_eq!(accounts.count_in("beta"), 1);
    assert!(matches!(
        accounts.create(&actor, in_tenant("desk", "delta")).await,
        Err(AccountError::NameTaken(_))
    ));
}
