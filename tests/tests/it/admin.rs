//! AdminService end to end: audit records, online backup, offline restore.

use std::process::Command;

use roster_proto::v1 as pb;
use rosterd::pki::Role;
use tonic::Code;

use roster_tests::sim::{InstanceSpec, Simulator};

use crate::harness::{Daemon, DaemonOptions, Pki, add_sim_account, bin, new_account, text};

const KEY: &str = "backup-secret-key-9a8b7c6d5e";

#[tokio::test]
async fn every_change_and_refusal_is_audited_newest_first() {
    let pki = Pki::new();
    let (viewer, _) = pki.issue("auditor-viewer", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let a = c
        .create_account(new_account("audited-1", KEY))
        .await
        .unwrap()
        .into_inner();
    // A connection test unseals the key: audited too.
    c.test_connection(pb::TestConnectionRequest {
        account: a.id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.delete_account(pb::DeleteAccountRequest {
        account: a.id.clone(),
        etag: String::new(),
    })
    .await
    .unwrap();
    let mut v = d.accounts(&viewer).await;
    assert_eq!(
        v.create_account(new_account("nope", KEY))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut va = d.admin(&viewer).await;
    assert_eq!(
        va.list_audit_events(pb::ListAuditEventsRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied,
        "audit records are for admins"
    );

    let mut admin = d.admin(&pki.admin()).await;
    let events = admin
        .list_audit_events(pb::ListAuditEventsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .events;
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| (e.principal.clone(), e.action.clone(), e.outcome.clone()))
        .collect();
    assert_eq!(summary.len(), 5, "{summary:?}");
    assert_eq!(summary[0].0, "auditor-viewer");
    assert!(
        summary[0].2.contains("permission denied") && events[0].target.contains("ListAuditEvents")
    );
    assert!(
        summary[1]
            .2
            .contains("CreateAccount: refused: permission denied")
            && events[1].target == "account/nope",
        "a refusal names the account the request named: {:?}",
        events[1]
    );
    assert_eq!(
        summary[2],
        ("admin".into(), "account.delete".into(), "ok".into())
    );
    assert_eq!(
        (summary[3].0.as_str(), summary[3].1.as_str()),
        ("admin", "account.test")
    );
    assert_eq!(
        summary[4],
        ("admin".into(), "account.create".into(), "ok".into())
    );
    assert!(events[4].target.contains(&a.id) && events[4].time.is_some());
    assert!(events.windows(2).all(|w| w[0].sequence > w[1].sequence));
    let two = admin
        .list_audit_events(pb::ListAuditEventsRequest {
            limit: 2,
            before_sequence: events[1].sequence,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(
        two.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [events[2].sequence, events[3].sequence]
    );
    for e in &events {
        assert!(!format!("{e:?}").contains(KEY));
    }

    let o = d.ctl(&pki.admin(), &["audit", "--limit", "2", "-o", "json"], "");
    assert!(o.status.success(), "{:?}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["events"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn online_backup_restores_offline_into_a_new_state_dir() {
    let pki = Pki::new();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("live");
    let mut d = Daemon::start(&pki, &state, &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let sim = Simulator::start(vec![InstanceSpec {
        rate_limit_per_second: 0,
        ..InstanceSpec::demo("bk", KEY)
    }])
    .await
    .unwrap();
    for i in 0..25 {
        add_sim_account(&mut c, &format!("bk-{i}"), &sim.instance(0).url(), KEY, &[]).await;
    }
    let before = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts;

    // Writes keep going while the backup streams; the backup is a consistent snapshot.
    let writer = {
        let mut c = c.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                c.create_account(new_account(&format!("during-{i}"), KEY))
                    .await
                    .unwrap();
            }
        })
    };
    let file = root.path().join("roster-backup.redb");
    let o = d.ctl(
        &pki.admin(),
        &["backup", "--out", file.to_str().unwrap()],
        "",
    );
    assert!(o.status.success(), "{:?}", text(&o));
    writer.await.unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
        "plaintext key in the backup"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("backup-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary snapshot files are removed");

    // An existing backup is not replaced without --force, and is with it.
    let again = d.ctl(
        &pki.admin(),
        &["backup", "--out", file.to_str().unwrap()],
        "",
    );
    let (_, err) = text(&again);
    assert_eq!(again.status.code(), Some(1), "{err}");
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the old backup was touched"
    );
    let forced = d.ctl(
        &pki.admin(),
        &["backup", "--out", file.to_str().unwrap(), "--force"],
        "",
    );
    assert!(forced.status.success(), "{:?}", text(&forced));

    // Restoring onto the live state dir is refused while the daemon runs.
    let o = restore(&state, &file);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("stop rosterd"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    d.stop();

    // Offline restore into a fresh dir with the same master key: the accounts come back.
    let fresh = root.path().join("restored");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::copy(state.join("master-key"), fresh.join("master-key")).unwrap();
    let o = restore(&fresh, &file);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("restored"), "{out}");
    let d2 = Daemon::start(&pki, &fresh, &DaemonOptions::default());
    let mut c2 = d2.accounts(&pki.admin()).await;
    let after = c2
        .list_accounts(pb::ListAccountsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accounts;
    // Compared by what a client wrote (broker and mode are learned from the upstream later).
    let key = |a: &pb::Account| {
        (
            a.id.clone(),
            a.name.clone(),
            a.etag.clone(),
            a.host_url.clone(),
            a.api_key_hint.clone(),
        )
    };
    let after_keys: Vec<_> = after.iter().map(key).collect();
    for a in &before {
        assert!(
            after_keys.contains(&key(a)),
            "account {} missing after restore",
            a.name
        );
    }
    assert!(after.len() >= before.len() && after.len() <= before.len() + 20);
    // The restored daemon opens the sealed keys: the upstream accepts each one.
    for a in &before {
        let r = c2
            .test_connection(pb::TestConnectionRequest {
                account: a.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(r.key_accepted, "{}: {r:?}", a.name);
    }

    // A state dir whose master key cannot open the backup is refused before anything changes.
    let wrong = root.path().join("wrong-key");
    std::fs::create_dir_all(&wrong).unwrap();
    rosterd::seal::create_key_file(&wrong.join("master-key")).unwrap();
    let o = restore(&wrong, &file);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("needs master key"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!wrong.join("roster.redb").exists());

    // A file that is not a backup is refused and changes nothing.
    let junk = root.path().join("junk.redb");
    std::fs::write(&junk, b"not a database").unwrap();
    let o = restore(root.path().join("other"), &junk);
    assert_eq!(o.status.code(), Some(1));
    assert!(!root.path().join("other").join("roster.redb").exists());
}

#[tokio::test]
async fn key_rotation_reseals_every_account_and_survives_restart() {
    let pki = Pki::new();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let sim = Simulator::start(vec![InstanceSpec {
        rate_limit_per_second: 0,
        ..InstanceSpec::demo("rot", KEY)
    }])
    .await
    .unwrap();
    let mut d = Daemon::start(&pki, &state, &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    for i in 0..5 {
        add_sim_account(
            &mut c,
            &format!("rot-{i}"),
            &sim.instance(0).url(),
            KEY,
            &[],
        )
        .await;
    }
    let mut admin = d.admin(&pki.admin()).await;
    let old_id = admin
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .active_key_id;

    let o = d.ctl(&pki.admin(), &["key", "rotate", "-o", "json"], "");
    assert!(o.status.success(), "{:?}", text(&o));
    let rotated: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let new_id = rotated["newKeyId"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id);
    assert_eq!(rotated["resealedAccounts"], 5);

    let status = admin
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.active_key_id, new_id);
    assert!(
        status.key_ids.contains(&old_id),
        "the old key stays loaded for old backups"
    );
    let list = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert!(list.iter().all(|a| a.key_id == new_id), "{list:?}");
    assert!(state.join(format!("master-key.retired-{old_id}")).exists());

    // A viewer or operator may not rotate.
    let (op, _) = pki.issue("op-rot", Role::Operator);
    let mut op_admin = d.admin(&op).await;
    assert_eq!(
        op_admin
            .rotate_encryption_key(pb::RotateEncryptionKeyRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    drop((c, admin, op_admin));
    d.restart();
    let mut admin = d.admin(&pki.admin()).await;
    let status = admin
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.active_key_id, new_id,
        "the new key is the active one after a restart"
    );
    assert!(status.key_ids.contains(&old_id));
    let db = d.db_bytes();
    assert!(!db.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
    assert_keys_open(&d, &pki, 5).await;

    // Every value is re-sealed, so the old key can go; the daemon still opens every key.
    drop(admin);
    d.stop();
    std::fs::remove_file(state.join(format!("master-key.retired-{old_id}"))).unwrap();
    d.restart();
    assert_keys_open(&d, &pki, 5).await;

    // A key the accounts need is missing: startup fails and names it.
    d.stop();
    let key_path = state.join("master-key");
    std::fs::remove_file(&key_path).unwrap();
    rosterd::seal::create_key_file(&key_path).unwrap();
    let o = Command::new(bin("rosterd"))
        .arg("--config")
        .arg(d.config_path())
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&new_id) && err.contains("not loaded"), "{err}");
}

/// Every account's sealed key opens and is accepted upstream (TestConnection on the account).
async fn assert_keys_open(d: &Daemon, pki: &Pki, expected: usize) {
    let mut c = d.accounts(&pki.admin()).await;
    let list = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert_eq!(list.len(), expected);
    for a in list {
        let r = c
            .test_connection(pb::TestConnectionRequest {
                account: a.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(r.reachable && r.key_accepted, "{}: {r:?}", a.name);
    }
}

#[tokio::test]
async fn rotation_uses_an_operator_provided_next_key() {
    let pki = Pki::new();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let mut d = Daemon::start(&pki, &state, &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    c.create_account(new_account("op-key-1", KEY))
        .await
        .unwrap();
    // The operator provides the key to rotate to (as systemd would, as a credential).
    let provided = rosterd::seal::create_key_file(&state.join("master-key.next")).unwrap();
    let mut admin = d.admin(&pki.admin()).await;
    let r = admin
        .rotate_encryption_key(pb::RotateEncryptionKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.new_key_id,
        provided.id(),
        "the provided key is used, not a new random one"
    );
    assert_eq!(r.resealed_accounts, 1);
    assert!(r.note.is_empty(), "{}", r.note);
    // Rotating to the key already in use is refused.
    rosterd::seal::create_key_file(&state.join("master-key.next")).unwrap();
    std::fs::copy(state.join("master-key"), state.join("master-key.next")).unwrap();
    let err = admin
        .rotate_encryption_key(pb::RotateEncryptionKeyRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    std::fs::remove_file(state.join("master-key.next")).unwrap();
    drop((c, admin));
    d.restart();
    let mut admin = d.admin(&pki.admin()).await;
    let status = admin
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.active_key_id, provided.id());
}

/// Runs `rosterd restore --state-dir DIR --from FILE`.
fn restore(
    state_dir: impl AsRef<std::path::Path>,
    from: impl AsRef<std::path::Path>,
) -> std::process::Output {
    Command::new(bin("rosterd"))
        .args(["restore", "--state-dir"])
        .arg(state_dir.as_ref())
        .arg("--from")
        .arg(from.as_ref())
        .output()
        .unwrap()
}
