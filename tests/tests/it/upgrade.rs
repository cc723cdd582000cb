//! Upgrades: a store and a backup written by the previous release (schema 1, OpenAlgo accounts
//! with one sealed API key each; `tests/fixtures/store-v1`, made by that release's binaries) open
//! in this one, migrate, and serve the same accounts with keys that still work, through a key
//! rotation (which re-seals every credential in the new layout) and a restart.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use roster_proto::v1 as pb;
use roster_tests::sim::{InstanceSpec, Simulator};
use rosterd::pki::Role;

use crate::harness::{Daemon, Pki, bin, quiet_monitor, text};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/store-v1")
        .join(name)
}

/// A state dir holding the previous release's master key (and, with `with_store`, its store).
fn old_state(dir: &Path, with_store: bool) -> PathBuf {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let key = state.join("master-key");
    std::fs::copy(fixture("master-key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    if with_store {
        std::fs::copy(fixture("roster.redb"), state.join("roster.redb")).unwrap();
    }
    state
}

/// What the previous release's store holds, as this release serves it.
async fn assert_same_accounts(d: &Daemon, pki: &Pki) -> Vec<pb::Account> {
    let mut accounts = d.all_accounts(&pki.admin()).await;
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<_> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["desk-1", "desk-2", "desk-3"]);
    for (i, a) in accounts.iter().enumerate() {
        let n = i + 1;
        assert_eq!(a.tenant, "default", "{a:?}");
        assert_eq!(a.connector, "openalgo");
        assert_eq!(a.environment, "live");
        assert_eq!(a.labels.get("team").map(String::as_str), Some("alpha"));
        assert_eq!(a.labels.get("n"), Some(&n.to_string()));
        // The old hint, now under its field's name, and still in the old field.
        let hint = format!("de…-{n}");
        assert_eq!(a.credential_hints.get("api_key"), Some(&hint), "{a:?}");
        assert_eq!(a.api_key_hint, hint);
        assert_eq!(a.enabled, n != 3);
    }
    accounts
}

/// Points each account at the simulator and checks that its unsealed key is accepted there.
async fn keys_work(d: &Daemon, pki: &Pki, sim: &Simulator) {
    for n in 1..=3 {
        let name = format!("desk-{n}");
        let url = sim.instance(n - 1).url();
        let o = d
            .ctl_async(
                &pki.admin(),
                &["account", "update", &name, "--host", &url],
                "",
            )
            .await;
        assert!(o.status.success(), "{:?}", text(&o));
        let o = d
            .ctl_async(&pki.admin(), &["account", "test", &name], "")
            .await;
        let (out, err) = text(&o);
        assert!(o.status.success(), "{name}: {out} {err}");
        assert!(out.contains("zerodha"), "{out}");
    }
    let o = d
        .ctl_async(
            &pki.admin(),
            &["funds", "--account", "desk-1", "--account", "desk-2"],
            "",
        )
        .await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out} {err}");
    assert!(out.contains("641.32"), "{out}");
}

async fn demo_sim() -> Simulator {
    Simulator::start(
        (1..=3)
            .map(|n| InstanceSpec::demo(format!("demo-{n}"), format!("demo-key-{n}")))
            .collect(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_written_by_the_previous_release_migrates_and_its_keys_still_work() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let state = old_state(dir.path(), true);
    let sim = demo_sim().await;
    let mut d = Daemon::start(&pki, &state, &quiet_monitor(2_000));
    assert!(
        d.stderr().contains("store schema migrated"),
        "{}",
        d.stderr()
    );
    let before = assert_same_accounts(&d, &pki).await;
    tenants_after_upgrade(&d, &pki).await;
    keys_work(&d, &pki, &sim).await;

    // A rotation re-seals every credential in the new layout; the keys still work after it and
    // after a restart, and no plain key reached the file.
    let o = d.ctl_async(&pki.admin(), &["key", "rotate"], "").await;
    assert!(o.status.success(), "{:?}", text(&o));
    d.restart();
    let after = assert_same_accounts(&d, &pki).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.id, a.id);
        assert_ne!(b.key_id, a.key_id, "rotated");
    }
    keys_work(&d, &pki, &sim).await;
    let db = d.db_bytes();
    for n in 1..=3 {
        assert!(!crate::harness::contains_bytes(
            &db,
            format!("demo-key-{n}").as_bytes()
        ));
    }
    d.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_written_by_the_previous_release_restores_and_migrates() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let state = old_state(dir.path(), false);
    let o = Command::new(bin("rosterd"))
        .args(["restore", "--state-dir"])
        .arg(&state)
        .arg("--from")
        .arg(fixture("backup.redb"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sim = demo_sim().await;
    let mut d = Daemon::start(&pki, &state, &quiet_monitor(2_000));
    assert_same_accounts(&d, &pki).await;
    tenants_after_upgrade(&d, &pki).await;
    keys_work(&d, &pki, &sim).await;
    d.stop();
}

/// The migrated accounts are tenant `default`'s: a certificate without a tenant (every one
/// issued before tenants) sees them by name, another tenant sees none and may reuse the names.
async fn tenants_after_upgrade(d: &Daemon, pki: &Pki) {
    let (viewer, _) = pki.issue("old-viewer", Role::Viewer);
    let names = |v: Vec<pb::Account>| {
        let mut n: Vec<String> = v.into_iter().map(|a| a.name).collect();
        n.sort();
        n
    };
    assert_eq!(
        names(d.all_accounts(&viewer).await),
        ["desk-1", "desk-2", "desk-3"]
    );
    let got = d
        .accounts(&viewer)
        .await
        .get_account(pb::GetAccountRequest {
            account: "desk-2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.tenant, "default");
    let acme = pki.issue_in_tenant("acme-op", Role::Operator, "acme");
    assert!(d.all_accounts(&acme).await.is_empty());
    let err = d
        .accounts(&acme)
        .await
        .get_account(pb::GetAccountRequest {
            account: "desk-2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    // Names are unique within a tenant, not across tenants.
    let made = d
        .accounts(&acme)
        .await
        .create_account(crate::harness::new_account("desk-1", "acme-key-123456"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.tenant, "acme");
    let mut a = d.accounts(&acme).await;
    a.delete_account(pb::DeleteAccountRequest {
        account: made.id,
        etag: String::new(),
    })
    .await
    .unwrap();
}
