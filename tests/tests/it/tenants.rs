//! Tenants: each tenant sees and touches only its own accounts, events, books and audit.
//!
//! - Every RPC (enumerated from the descriptor sets, so a new RPC without a case here fails) is
//!   called by tenant alpha's operator and viewer against tenant beta's account, by id and by
//!   name: each answers exactly as it does for an account that does not exist (same code, same
//!   message but for the identifier), and no answer carries a byte of beta's data.
//! - A global admin sees both tenants; alpha's admin sees alpha only and is refused backup and
//!   key rotation.
//! - WatchEvents resumed from sequence 0 by alpha never yields beta's events.
//! - A certificate with two tenant names or a malformed one is refused in the handshake (and
//!   audited); one without a tenant keeps working as tenant `default`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use prost::Message as _;
use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use rosterd::pki::Role;
use tonic::Code;

use crate::harness::{Daemon, DaemonOptions, Pki, new_account, text};

/// Every (service, method) the daemon serves, from the descriptor sets it registers.
fn served_methods() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for set in [
        roster_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        let set = prost_types::FileDescriptorSet::decode(set).unwrap();
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    out.push((
                        format!("{}.{}", file.package(), service.name()),
                        method.name().to_string(),
                    ));
                }
            }
        }
    }
    // Reflection's descriptor set is not among roster_proto's: named here, classified public.
    out.push((
        "grpc.reflection.v1.ServerReflection".into(),
        "ServerReflectionInfo".into(),
    ));
    out
}

/// The fleet: alpha owns `a-desk`, beta owns `b-desk` (made by a global admin in beta).
struct Fleet {
    pki: Pki,
    _state: tempfile::TempDir,
    d: Daemon,
    a_op: PathBuf,
    a_viewer: PathBuf,
    a_admin: PathBuf,
    b_op: PathBuf,
    b_id: String,
    a_id: String,
}

const MISSING_ID: &str = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee";
const MISSING_NAME: &str = "no-such-desk";

async fn fleet() -> Fleet {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let a_op = pki.issue_in_tenant("alpha-op", Role::Operator, "alpha");
    let a_viewer = pki.issue_in_tenant("alpha-viewer", Role::Viewer, "alpha");
    let a_admin = pki.issue_in_tenant("alpha-admin", Role::Admin, "alpha");
    let b_op = pki.issue_in_tenant("beta-op", Role::Operator, "beta");
    let mut req = new_account("b-desk", "beta-key-123456");
    req.tenant = "beta".into();
    req.labels = [("team".to_string(), "shared".to_string())].into();
    let b = d
        .accounts(&pki.admin())
        .await
        .create_account(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.tenant, "beta");
    let mut req = new_account("a-desk", "alpha-key-123456");
    req.labels = [("team".to_string(), "shared".to_string())].into();
    let a = d
        .accounts(&a_op)
        .await
        .create_account(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.tenant, "alpha");
    // beta's operator audits something of its own (a connection test of its account).
    let _ = d
        .accounts(&b_op)
        .await
        .test_connection(pb::TestConnectionRequest {
            account: b.id.clone(),
            ..Default::default()
        })
        .await;
    Fleet {
        pki,
        _state: state,
        d,
        a_op,
        a_viewer,
        a_admin,
        b_op,
        b_id: b.id,
        a_id: a.id,
    }
}

/// How one call ended: the status, or the answer's bytes (to look for beta's data in).
type Answer = Result<Vec<u8>, tonic::Status>;

fn bytes<T: prost::Message>(r: Result<tonic::Response<T>, tonic::Status>) -> Answer {
    r.map(|r| r.into_inner().encode_to_vec())
}

/// Calls `method` as `who` addressing `target` (an id or a name).
async fn call(d: &Daemon, who: &Path, method: &str, target: &str) -> Answer {
    let mut a = d.accounts(who).await;
    let mut m = d.monitor(who).await;
    let mut p = d.portfolio(who).await;
    let mut ad = d.admin(who).await;
    let book = || pb::PortfolioRequest {
        accounts: vec![target.to_string()],
        ..Default::default()
    };
    match method {
        "GetAccount" => bytes(
            a.get_account(pb::GetAccountRequest {
                account: target.into(),
            })
            .await,
        ),
        "UpdateAccount" => bytes(
            a.update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account {
                    id: target.into(),
                    enabled: false,
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["enabled".into()],
                }),
                ..Default::default()
            })
            .await,
        ),
        "DeleteAccount" => bytes(
            a.delete_account(pb::DeleteAccountRequest {
                account: target.into(),
                etag: String::new(),
            })
            .await,
        ),
        "TestConnection" => bytes(
            a.test_connection(pb::TestConnectionRequest {
                account: target.into(),
                ..Default::default()
            })
            .await,
        ),
        "GetHealth" => bytes(
            m.get_health(pb::GetHealthRequest {
                account: target.into(),
            })
            .await,
        ),
        "CheckNow" => bytes(
            m.check_now(pb::CheckNowRequest {
                account: target.into(),
            })
            .await,
        ),
        "ListEvents" => bytes(
            m.list_events(pb::ListEventsRequest {
                account: target.into(),
                ..Default::default()
            })
            .await,
        ),
        "GetFunds" => bytes(p.get_funds(book()).await),
        "GetPositions" => bytes(p.get_positions(book()).await),
        "GetOrders" => bytes(p.get_orders(book()).await),
        "GetTrades" => bytes(p.get_trades(book()).await),
        "GetHoldings" => bytes(p.get_holdings(book()).await),
        "GetBalances" => bytes(p.get_balances(book()).await),
        // What takes no account: the same call for any target.
        "ListAccounts" => bytes(a.list_accounts(pb::ListAccountsRequest::default()).await),
        "ListHealth" => bytes(m.list_health(pb::ListHealthRequest::default()).await),
        "GetStatus" => bytes(ad.get_status(pb::GetStatusRequest {}).await),
        "ListAuditEvents" => bytes(
            ad.list_audit_events(pb::ListAuditEventsRequest {
                limit: 1000,
                before_sequence: 0,
                ..Default::default()
            })
            .await,
        ),
        other => panic!("no call for {other}"),
    }
}

/// What `who` sees of beta through `method`: it must be what it sees of nothing at all.
async fn as_if_beta_did_not_exist(f: &Fleet, who: &Path, method: &str) {
    let b_name = "b-desk";
    for (target, missing) in [(f.b_id.as_str(), MISSING_ID), (b_name, MISSING_NAME)] {
        let beta = call(&f.d, who, method, target).await;
        let none = call(&f.d, who, method, missing).await;
        match (beta, none) {
            (Err(b), Err(n)) => {
                assert_eq!(b.code(), n.code(), "{method} {target}: {b:?} vs {n:?}");
                assert_eq!(
                    b.message().replace(target, "X"),
                    n.message().replace(missing, "X"),
                    "{method} {target}"
                );
            }
            (Ok(b), Ok(_)) => {
                for secret in [f.b_id.as_bytes(), b_name.as_bytes(), b"beta"] {
                    assert!(
                        !crate::harness::contains_bytes(&b, secret),
                        "{method} as {} leaks {:?}",
                        who.display(),
                        String::from_utf8_lossy(secret)
                    );
                }
            }
            (b, n) => panic!("{method} {target}: beta {b:?} vs missing {n:?}"),
        }
    }
}

/// The events `who` reads from `from` (0: a snapshot of current health, then live; 1: every
/// retained event replayed, then live) while `meanwhile` runs, until the creation of
/// `until_name` (which `meanwhile` makes), within a bound.
async fn events_while(
    d: &Daemon,
    who: &Path,
    from: u64,
    until_name: &str,
    meanwhile: impl std::future::Future<Output = ()>,
) -> Vec<pb::Event> {
    let mut m = d.monitor(who).await;
    let mut stream = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: from,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    meanwhile.await;
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match tokio::time::timeout(Duration::from_secs(10), stream.message()).await {
            Ok(Ok(Some(ev))) => {
                let done = ev.account_name == until_name
                    && ev.kind == pb::EventKind::AccountCreated as i32;
                out.push(ev);
                if done {
                    return out;
                }
            }
            other => panic!("WatchEvents ended before {until_name}: {other:?} after {out:?}"),
        }
    }
    panic!("no {until_name} event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_tenant_alpha_as_if_beta_did_not_exist() {
    let f = fleet().await;
    let methods = served_methods();
    assert!(methods.len() >= 20, "{methods:?}");
    for (service, method) in &methods {
        for who in [&f.a_op, &f.a_viewer] {
            match (service.as_str(), method.as_str()) {
                // Public: says nothing of any tenant (the catalogue of venues, serving status).
                ("roster.v1.AccountService", "ListVenues") => {
                    let v =
                        f.d.accounts(who)
                            .await
                            .list_venues(pb::ListVenuesRequest {})
                            .await;
                    assert!(v.is_ok(), "{v:?}");
                }
                ("grpc.health.v1.Health", "Check" | "Watch")
                | ("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo") => {
                    let mut h = tonic_health::pb::health_client::HealthClient::new(
                        f.d.channel(who).await.unwrap(),
                    );
                    let r = h
                        .check(tonic_health::pb::HealthCheckRequest::default())
                        .await;
                    assert!(r.is_ok(), "{r:?}");
                }
                // A create in alpha of beta's name: beta's name is not taken for alpha.
                ("roster.v1.AccountService", "CreateAccount") => {
                    let mut a = f.d.accounts(who).await;
                    let made = a
                        .create_account(new_account("b-desk", "alpha-key-777777"))
                        .await;
                    let other = a
                        .create_account(pb::CreateAccountRequest {
                            tenant: "beta".into(),
                            ..new_account("c-desk", "alpha-key-777777")
                        })
                        .await;
                    if who == &f.a_viewer {
                        assert_eq!(made.unwrap_err().code(), Code::PermissionDenied);
                        assert_eq!(other.unwrap_err().code(), Code::PermissionDenied);
                    } else {
                        let made = made.unwrap().into_inner();
                        assert_eq!(
                            (made.tenant.as_str(), made.name.as_str()),
                            ("alpha", "b-desk")
                        );
                        assert_eq!(other.unwrap_err().code(), Code::PermissionDenied);
                        a.delete_account(pb::DeleteAccountRequest {
                            account: made.id,
                            etag: String::new(),
                        })
                        .await
                        .unwrap();
                    }
                }
                ("roster.v1.MonitorService", "WatchEvents") => {
                    // Checked on its own below (resumed from 0).
                }
                ("roster.v1.AdminService", "Backup" | "RotateEncryptionKey") => {
                    let mut ad = f.d.admin(who).await;
                    let e = if method == "Backup" {
                        ad.backup(pb::BackupRequest {})
                            .await
                            .map(|_| ())
                            .unwrap_err()
                    } else {
                        ad.rotate_encryption_key(pb::RotateEncryptionKeyRequest {})
                            .await
                            .map(|_| ())
                            .unwrap_err()
                    };
                    assert_eq!(e.code(), Code::PermissionDenied, "{method}");
                }
                ("roster.v1.AccountService", _)
                | ("roster.v1.MonitorService", _)
                | ("roster.v1.PortfolioService", _)
                | ("roster.v1.AdminService", _) => as_if_beta_did_not_exist(&f, who, method).await,
                _ => panic!("no tenant case for {service}/{method}: add one"),
            }
        }
    }
    // Alpha's own account is still there and beta's is untouched (the writes above found nothing).
    let b =
        f.d.accounts(&f.b_op)
            .await
            .get_account(pb::GetAccountRequest {
                account: "b-desk".into(),
            })
            .await
            .unwrap()
            .into_inner();
    assert!(b.enabled);
    assert_eq!(b.etag, "r1");
    let a = f.d.all_accounts(&f.a_viewer).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].id, f.a_id);

    // Alpha's events, from sequence 0 (snapshot) or 1 (replay) and followed live, never carry
    // beta's: beta acts while alpha watches, then alpha creates a marker that ends the read.
    let mut n = 0;
    for who in [&f.a_viewer, &f.a_op] {
        for from in [0, 1] {
            n += 1;
            let marker = format!("marker-{n}");
            let events = events_while(&f.d, who, from, &marker, async {
                f.d.accounts(&f.b_op)
                    .await
                    .update_account(pb::UpdateAccountRequest {
                        account: Some(pb::Account {
                            id: f.b_id.clone(),
                            labels: [("n".to_string(), n.to_string())].into(),
                            ..Default::default()
                        }),
                        update_mask: Some(FieldMask {
                            paths: vec!["labels".into()],
                        }),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                f.d.accounts(&f.a_op)
                    .await
                    .create_account(new_account(&marker, "alpha-key-888888"))
                    .await
                    .unwrap();
            })
            .await;
            assert!(
                events.iter().any(|e| e.account_id == f.a_id),
                "from {from}: {events:?}"
            );
            assert!(
                events.iter().all(|e| e.account_id != f.b_id),
                "from {from}: {events:?}"
            );
        }
    }
    // Beta's stream, replayed, carries its own events and none of alpha's.
    let events = events_while(&f.d, &f.b_op, 1, "b-last", async {
        f.d.accounts(&f.b_op)
            .await
            .create_account(new_account("b-last", "beta-key-999999"))
            .await
            .unwrap();
    })
    .await;
    assert!(events.iter().any(|e| e.account_id == f.b_id));
    assert!(events.iter().all(|e| e.account_id != f.a_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_admin_sees_every_tenant_and_a_tenant_admin_only_its_own() {
    let f = fleet().await;
    let all = f.d.all_accounts(&f.pki.admin()).await;
    let mut tenants: Vec<_> = all.iter().map(|a| a.tenant.as_str()).collect();
    tenants.sort();
    assert_eq!(tenants, ["alpha", "beta"]);
    let status =
        f.d.admin(&f.pki.admin())
            .await
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
    assert_eq!(status.account_count, 2);
    assert_eq!(status.tenant, "");
    assert_eq!(status.accounts_by_tenant.get("alpha"), Some(&1));
    assert_eq!(status.accounts_by_tenant.get("beta"), Some(&1));

    // Alpha's admin: alpha only, its audit without beta's records, no server-wide operation.
    let mine = f.d.all_accounts(&f.a_admin).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].tenant, "alpha");
    let status =
        f.d.admin(&f.a_admin)
            .await
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner();
    assert_eq!((status.account_count, status.tenant.as_str()), (1, "alpha"));
    assert!(status.accounts_by_tenant.is_empty());
    let audit = f.d.all_audit(&f.a_admin).await;
    assert!(
        audit.iter().any(|r| r.target.contains(&f.a_id)),
        "{audit:?}"
    );
    assert!(
        audit.iter().all(|r| !r.target.contains(&f.b_id)
            && r.principal != "beta-op"
            && r.tenant == "alpha"),
        "{audit:?}"
    );
    let global_audit = f.d.all_audit(&f.pki.admin()).await;
    assert!(global_audit.iter().any(|r| r.target.contains(&f.b_id)));
    let mut ad = f.d.admin(&f.a_admin).await;
    let e = ad
        .backup(pb::BackupRequest {})
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let e = ad
        .rotate_encryption_key(pb::RotateEncryptionKeyRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    // The global admin may back up.
    let mut stream =
        f.d.admin(&f.pki.admin())
            .await
            .backup(pb::BackupRequest {})
            .await
            .unwrap()
            .into_inner();
    while stream.message().await.unwrap().is_some() {}

    // A global admin moves beta's account to alpha (audited); names then collide only within
    // a tenant.
    let mut a = f.d.accounts(&f.pki.admin()).await;
    let moved = a
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: f.b_id.clone(),
                tenant: "alpha".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["tenant".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.tenant, "alpha");
    assert_eq!(f.d.all_accounts(&f.a_op).await.len(), 2);
    assert!(f.d.all_accounts(&f.b_op).await.is_empty());
    let audit = f.d.all_audit(&f.pki.admin()).await;
    assert!(
        audit.iter().any(|r| r.action == "account.update"
            && r.outcome.contains("tenant")
            && r.target.contains(&f.b_id)),
        "{audit:?}"
    );
    // A tenant's admin may not move accounts.
    let e =
        f.d.accounts(&f.a_admin)
            .await
            .update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account {
                    id: f.b_id.clone(),
                    tenant: "beta".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["tenant".into()],
                }),
                ..Default::default()
            })
            .await
            .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_with_two_tenants_or_a_malformed_one_are_refused_and_old_ones_are_default() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let two = pki.issue_with_uris(
        "two-tenants",
        Role::Viewer,
        &["urn:roster:tenant:alpha", "urn:roster:tenant:beta"],
    );
    let bad = pki.issue_with_uris("bad-tenant", Role::Viewer, &["urn:roster:tenant:Alpha/1"]);
    for (cn, profile) in [("two-tenants", &two), ("bad-tenant", &bad)] {
        let served = async {
            let ch = d.channel(profile).await?;
            pb::account_service_client::AccountServiceClient::new(ch)
                .list_accounts(pb::ListAccountsRequest::default())
                .await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        }
        .await;
        assert!(served.is_err(), "{cn} was served");
        let o = d.ctl_async(profile, &["status"], "").await;
        assert!(!o.status.success(), "{:?}", text(&o));
        // Audited under its CN as an unusable identity (the record is written by a queue).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let audit = d.all_audit(&pki.admin()).await;
            if audit
                .iter()
                .any(|r| r.principal == cn && r.outcome.contains("unusable identity"))
            {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{cn}: {audit:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A certificate without a tenant works, in tenant default.
    let (old, _) = pki.issue("old-op", Role::Operator);
    let made = d
        .accounts(&old)
        .await
        .create_account(new_account("desk", "old-key-1234567"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.tenant, "default");
    let status = d
        .admin(&old)
        .await
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (status.tenant.as_str(), status.account_count),
        ("default", 1)
    );
    let (viewer, _) = pki.issue("old-viewer", Role::Viewer);
    let o = d.ctl_async(&viewer, &["account", "list"], "").await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("desk"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_at_its_quota_creates_nothing_until_a_reload_raises_it() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config:
                "[tenants]\ndefault_max_accounts = 3\n[tenants.alpha]\nmax_accounts = 1\n".into(),
            ..Default::default()
        },
    );
    let a_op = pki.issue_in_tenant("alpha-op", Role::Operator, "alpha");
    let b_op = pki.issue_in_tenant("beta-op", Role::Operator, "beta");
    let mut a = d.accounts(&a_op).await;
    a.create_account(new_account("a-1", "alpha-key-123456"))
        .await
        .unwrap();
    let e = a
        .create_account(new_account("a-2", "alpha-key-123456"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("max_accounts"), "{e:?}");
    assert!(e.message().contains("alpha"), "{e:?}");
    let names: Vec<_> = d
        .all_accounts(&a_op)
        .await
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["a-1"]);
    // The global admin creating in alpha meets the same quota.
    let e = d
        .accounts(&pki.admin())
        .await
        .create_account(pb::CreateAccountRequest {
            tenant: "alpha".into(),
            ..new_account("a-3", "alpha-key-123456")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    // Beta has the default quota of 3 and is not affected by alpha's.
    let mut b = d.accounts(&b_op).await;
    for n in 1..=3 {
        b.create_account(new_account(&format!("b-{n}"), "beta-key-123456"))
            .await
            .unwrap();
    }
    assert_eq!(
        b.create_account(new_account("b-4", "beta-key-123456"))
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted
    );
    assert_eq!(d.all_accounts(&pki.admin()).await.len(), 4);

    // A reload raises alpha's quota.
    let config = std::fs::read_to_string(d.config_path()).unwrap();
    std::fs::write(
        d.config_path(),
        config.replace("max_accounts = 1\n", "max_accounts = 2\n"),
    )
    .unwrap();
    let before = generation(&d, &pki.admin()).await;
    d.hup();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while generation(&d, &pki.admin()).await == before {
        assert!(std::time::Instant::now() < deadline, "no reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.create_account(new_account("a-2", "alpha-key-123456"))
        .await
        .unwrap();
    // Alpha is full again (2): a global admin's move of beta's account into it is refused too.
    let b1 = d
        .all_accounts(&b_op)
        .await
        .into_iter()
        .find(|a| a.name == "b-1")
        .unwrap();
    let e = d
        .accounts(&pki.admin())
        .await
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: b1.id.clone(),
                tenant: "alpha".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["tenant".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert_eq!(d.all_accounts(&b_op).await.len(), 3);
}

/// The daemon's config generation (a reload increments it).
async fn generation(d: &Daemon, admin: &Path) -> u64 {
    d.admin(admin)
        .await
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .config_generation
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_names_tenants_for_a_global_admin_and_scopes_it_with_tenant() {
    let f = fleet().await;
    let ctl = |who: PathBuf, args: Vec<&'static str>, stdin: &'static str| {
        let d = &f.d;
        async move {
            let o = d.ctl_async(&who, &args, stdin).await;
            let (out, err) = text(&o);
            assert!(o.status.success(), "{args:?}: {out} {err}");
            out
        }
    };
    let admin = f.pki.admin();
    // The global admin's listing spans tenants: it names them.
    let out = ctl(admin.clone(), vec!["account", "list"], "").await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&header[..2], ["NAME", "TENANT"], "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("b-desk") && l.contains("beta")),
        "{out}"
    );
    let out = ctl(admin.clone(), vec!["health", "list"], "").await;
    assert!(out.lines().next().unwrap().contains("TENANT"), "{out}");
    let out = ctl(admin.clone(), vec!["status"], "").await;
    assert!(out.contains("alpha 1, beta 1"), "{out}");
    assert!(out.contains("every tenant"), "{out}");
    // --tenant scopes it: one tenant, no column, and a create lands in that tenant.
    let out = ctl(
        admin.clone(),
        vec!["--tenant", "beta", "account", "list"],
        "",
    )
    .await;
    assert!(
        out.contains("b-desk") && !out.contains("a-desk") && !out.contains("TENANT"),
        "{out}"
    );
    ctl(
        admin.clone(),
        vec![
            "--tenant",
            "beta",
            "account",
            "add",
            "--name",
            "b-cli",
            "--host",
            "http://127.0.0.1:9",
            "--api-key-stdin",
        ],
        "beta-cli-key-123456\n",
    )
    .await;
    let beta: Vec<_> =
        f.d.all_accounts(&f.b_op)
            .await
            .into_iter()
            .map(|a| a.name)
            .collect();
    assert!(beta.contains(&"b-cli".to_string()), "{beta:?}");
    let out = ctl(admin.clone(), vec!["--tenant", "beta", "status"], "").await;
    assert!(out.contains("tenant beta"), "{out}");
    // A tenant's own listing has no column, and its status names its tenant.
    let out = ctl(f.a_viewer.clone(), vec!["account", "list"], "").await;
    assert!(!out.contains("TENANT") && out.contains("a-desk"), "{out}");
    let out = ctl(f.a_viewer.clone(), vec!["status"], "").await;
    assert!(
        out.contains("tenant alpha") && !out.contains("by tenant"),
        "{out}"
    );
    // A tenant's certificate may not reach into another tenant with --tenant.
    let o =
        f.d.ctl_async(&f.a_viewer, &["--tenant", "beta", "account", "list"], "")
            .await;
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(err.contains("may not act in tenant"), "{err}");

    // `pki issue --tenant` writes the tenant into the certificate the daemon then reads.
    let out_dir = f.pki.path().join("profile-gamma");
    let o = crate::harness::run_ctl(
        &[
            "pki".to_string(),
            "issue".into(),
            "--dir".into(),
            f.pki.path().display().to_string(),
            "--name".into(),
            "gamma-viewer".into(),
            "--role".into(),
            "viewer".into(),
            "--tenant".into(),
            "gamma".into(),
            "--out".into(),
            out_dir.display().to_string(),
        ],
        "",
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out} {err}");
    assert!(out.contains("gamma"), "{out}");
    let out = ctl(out_dir, vec!["status"], "").await;
    assert!(
        out.contains("tenant gamma") && out.contains("accounts"),
        "{out}"
    );
}
