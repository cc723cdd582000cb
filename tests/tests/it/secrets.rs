//! Secret leaks: after a full scenario (create over gRPC and the CLI, key updates, health checks
//! against the simulator, every portfolio call, TestConnection with good and bad keys, refused
//! requests that carry keys, a backup, a key rotation, a restart with `--log-format json`), no
//! plaintext API key appears in the redb file, the daemon's stderr (human and JSON lines, trace
//! level), any gRPC response or error, any event, any audit record, the backup file or any CLI
//! output. And a wrong master key fails closed end to end: the daemon starts, but an account
//! sealed under another key is never sent to its upstream with a garbage key.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use roster_tests::sim::{InstanceSpec, Simulator};

use crate::harness::{Daemon, Pki, contains_bytes, fast_monitor, text};

// Every key has a distinctive shape so that a leak of any of them is found by substring search.
const K_A1: &str = "SECRET-A1-4f1c2d3e4f5a6b7c8d9e";
const K_A2: &str = "SECRET-A2-9e8d7c6b5a4f3e2d1c0b";
const K_B: &str = "SECRET-B0-1a2b3c4d5e6f7a8b9c0d";
const K_BAD: &str = "SECRET-BAD-0f0e0d0c0b0a09080706";
const K_DUP: &str = "SECRET-DUP-5a5b5c5d5e5f60616263";
const K_URL: &str = "SECRET-URL-77665544332211009988";
const K_SPACE: &str = "SECRET SPACE 1234567890abcdef";
const K_TEST: &str = "SECRET-TEST-aabbccddeeff00112233";

fn all_keys() -> [&'static str; 8] {
    [K_A1, K_A2, K_B, K_BAD, K_DUP, K_URL, K_SPACE, K_TEST]
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// Everything the scenario produced that a person or a program could read.
#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn add(&mut self, what: impl Into<String>, v: impl std::fmt::Debug) {
        self.texts.push((what.into(), format!("{v:?}")));
    }
    fn cli(&mut self, what: &str, o: &std::process::Output) {
        let (out, err) = text(o);
        self.texts.push((format!("rosterctl {what} stdout"), out));
        self.texts.push((format!("rosterctl {what} stderr"), err));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_key_anywhere_after_a_full_scenario() {
    let sim = Simulator::start(vec![
        InstanceSpec::demo("sa", K_A1),
        InstanceSpec::demo("sb", K_B),
    ])
    .await
    .unwrap();
    let (sa, sb) = (sim.instance(0), sim.instance(1));
    let pki = Pki::new();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let mut d = Daemon::start(&pki, &state, &fast_monitor(300, 250));
    let admin = pki.admin();
    let mut seen = Seen::default();
    let mut c = d.accounts(&admin).await;

    // Create over gRPC and over the CLI (key on stdin).
    let a = c
        .create_account(pb::CreateAccountRequest {
            name: "acct-a".into(),
            host_url: sa.url(),
            api_key: K_A1.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    seen.add("create a", &a);
    let o = d
        .ctl_async(
            &admin,
            &[
                "account",
                "add",
                "--name",
                "acct-b",
                "--host",
                &sb.url(),
                "--api-key-stdin",
            ],
            &format!("{K_B}\n"),
        )
        .await;
    assert!(o.status.success(), "{:?}", text(&o));
    seen.cli("account add", &o);
    let bad = c
        .create_account(pb::CreateAccountRequest {
            name: "acct-bad".into(),
            host_url: sa.url(),
            api_key: K_BAD.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    seen.add("create bad", &bad);

    // Refusals of requests that carry keys.
    let refusals = [
        c.create_account(pb::CreateAccountRequest {
            name: "acct-a".into(),
            host_url: sa.url(),
            api_key: K_DUP.into(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        c.create_account(pb::CreateAccountRequest {
            name: "acct-url".into(),
            host_url: format!("http://user:{K_URL}@127.0.0.1:1"),
            api_key: K_DUP.into(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        c.create_account(pb::CreateAccountRequest {
            name: "acct-space".into(),
            host_url: sa.url(),
            api_key: K_SPACE.into(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        c.update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: a.id.clone(),
                etag: "stale-etag".into(),
                ..Default::default()
            }),
            update_mask: mask(&["api_key"]),
            api_key: K_DUP.into(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    ];
    for s in &refusals {
        seen.add("refusal", s);
        seen.add("refusal details", s.details());
    }
    let o = d
        .ctl_async(
            &admin,
            &[
                "account",
                "add",
                "--name",
                "acct-a",
                "--host",
                &sa.url(),
                "--api-key-stdin",
            ],
            &format!("{K_DUP}\n"),
        )
        .await;
    assert!(!o.status.success());
    seen.cli("account add duplicate", &o);

    // Key update: the upstream learns the new key, the account follows.
    sa.set_api_keys(vec![K_A1.into(), K_A2.into()]);
    let u = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: a.id.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["api_key"]),
            api_key: K_A2.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    seen.add("update a", &u);
    sa.set_api_keys(vec![K_A2.into()]);
    let o = d
        .ctl_async(
            &admin,
            &["account", "update", "acct-b", "--api-key-stdin"],
            &format!("{K_B}\n"),
        )
        .await;
    assert!(o.status.success(), "{:?}", text(&o));
    seen.cli("account update", &o);

    // Health: a and b UP, the bad key DOWN with AUTH_REJECTED.
    let mut m = d.monitor(&admin).await;
    let start = Instant::now();
    loop {
        let h = m
            .list_health(pb::ListHealthRequest::default())
            .await
            .unwrap()
            .into_inner();
        let by: HashMap<_, _> = h
            .accounts
            .iter()
            .map(|x| (x.account_name.as_str(), (x.state, x.reason)))
            .collect();
        if by.get("acct-a") == Some(&(pb::HealthState::Up as i32, 0))
            && by.get("acct-b") == Some(&(pb::HealthState::Up as i32, 0))
            && by.get("acct-bad")
                == Some(&(
                    pb::HealthState::Down as i32,
                    pb::HealthReason::AuthRejected as i32,
                ))
        {
            seen.add("list health", &h);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{h:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for n in ["acct-a", "acct-b", "acct-bad"] {
        seen.add(
            "check now",
            m.check_now(pb::CheckNowRequest { account: n.into() }).await,
        );
        seen.add(
            "get health",
            m.get_health(pb::GetHealthRequest { account: n.into() })
                .await,
        );
        seen.add(
            "test existing",
            c.test_connection(pb::TestConnectionRequest {
                account: n.into(),
                ..Default::default()
            })
            .await,
        );
    }
    for (url, k) in [(sb.url(), K_TEST), (sb.url(), K_B), (sa.url(), K_BAD)] {
        seen.add(
            "test host+key",
            c.test_connection(pb::TestConnectionRequest {
                host_url: url,
                api_key: k.into(),
                ..Default::default()
            })
            .await,
        );
    }

    // Every portfolio call, fresh and from snapshots.
    let mut p = d.portfolio(&admin).await;
    for refresh in [true, false] {
        let r = pb::PortfolioRequest {
            refresh,
            ..Default::default()
        };
        seen.add("funds", p.get_funds(r.clone()).await.unwrap());
        seen.add("positions", p.get_positions(r.clone()).await.unwrap());
        seen.add("orders", p.get_orders(r.clone()).await.unwrap());
        seen.add("trades", p.get_trades(r.clone()).await.unwrap());
        seen.add("holdings", p.get_holdings(r.clone()).await.unwrap());
    }
    for args in [
        &["account", "list", "-o", "json"][..],
        &["account", "get", "acct-a", "-o", "json"],
        &["account", "test", "acct-bad"],
        &["health", "-o", "json"],
        &["funds", "-o", "json"],
        &["positions", "--net"],
        &["status", "-o", "json"],
        &["audit", "--limit", "1000", "-o", "json"],
    ] {
        let o = d.ctl_async(&admin, args, "").await;
        seen.cli(&args.join(" "), &o);
    }
    let o = d
        .ctl_async(
            &admin,
            &["account", "test", "--host", &sb.url(), "--api-key-stdin"],
            &format!("{K_TEST}\n"),
        )
        .await;
    seen.cli("account test --host", &o);

    // Backup, then rotate the master key, then restart with JSON logs and exercise it again.
    let backup = root.path().join("backup.redb");
    let o = d
        .ctl_async(&admin, &["backup", "--out", backup.to_str().unwrap()], "")
        .await;
    assert!(o.status.success(), "{:?}", text(&o));
    seen.cli("backup", &o);
    let o = d
        .ctl_async(&admin, &["key", "rotate", "-o", "json"], "")
        .await;
    assert!(o.status.success(), "{:?}", text(&o));
    seen.cli("key rotate", &o);
    drop((c, m, p));
    let human_log_len = d.stderr().len();
    d.restart_with_args(&["--log-format", "json"]);
    let mut c = d.accounts(&admin).await;
    let mut m = d.monitor(&admin).await;
    let mut p = d.portfolio(&admin).await;
    for n in ["acct-a", "acct-b", "acct-bad"] {
        seen.add(
            "check now (json)",
            m.check_now(pb::CheckNowRequest { account: n.into() }).await,
        );
    }
    seen.add(
        "test bad key (json)",
        c.test_connection(pb::TestConnectionRequest {
            host_url: sa.url(),
            api_key: K_BAD.into(),
            ..Default::default()
        })
        .await,
    );
    seen.add(
        "refused (json)",
        c.create_account(pb::CreateAccountRequest {
            name: "acct-a".into(),
            host_url: sa.url(),
            api_key: K_DUP.into(),
            ..Default::default()
        })
        .await,
    );
    seen.add(
        "funds (json)",
        p.get_funds(pb::PortfolioRequest {
            refresh: true,
            ..Default::default()
        })
        .await,
    );
    seen.add(
        "accounts",
        c.list_accounts(pb::ListAccountsRequest::default()).await,
    );

    // Events (retained from 1, and the snapshot from 0) and the whole audit trail.
    let events = d
        .stored_events(&admin, Duration::from_millis(500), |_| false)
        .await;
    assert!(events.len() >= 5, "{events:?}");
    seen.add("events", &events);
    let mut snap = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        seen.add(
            "snapshot event",
            tokio::time::timeout(Duration::from_secs(5), snap.message())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let audit = d.all_audit(&admin).await;
    assert!(audit.len() >= 7, "{audit:?}");
    seen.add("audit", &audit);
    let mut admin_c = d.admin(&admin).await;
    seen.add(
        "status",
        admin_c.get_status(pb::GetStatusRequest {}).await.unwrap(),
    );
    drop((c, m, p, admin_c, snap));
    d.stop();

    // The logs really ran at trace level in both formats, and with the keys in play.
    let log = d.stderr();
    let (human, json) = log.split_at(human_log_len);
    assert!(human.contains("rpc") && human.contains("health changed"));
    let json_lines = json.lines().filter(|l| l.starts_with('{')).count();
    assert!(json_lines > 20, "JSON log lines: {json_lines}\n{json}");
    assert!(
        sa.received().iter().any(|r| r.body_text().contains(K_BAD)),
        "the bad key was really used upstream, so it was in play"
    );

    let db = d.db_bytes();
    let backup_bytes = std::fs::read(&backup).unwrap();
    assert!(backup_bytes.len() > 4096);
    let others: Vec<(String, Vec<u8>)> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with("master-key"))
        .filter_map(|e| {
            Some((
                e.path().display().to_string(),
                std::fs::read(e.path()).ok()?,
            ))
        })
        .collect();
    for key in all_keys() {
        for (what, t) in &seen.texts {
            assert!(!t.contains(key), "{key} in {what}: {t}");
        }
        assert!(!log.contains(key), "{key} in the daemon's stderr");
        assert!(
            !contains_bytes(&db, key.as_bytes()),
            "{key} in the redb file"
        );
        assert!(
            !contains_bytes(&backup_bytes, key.as_bytes()),
            "{key} in the backup file"
        );
        for (path, bytes) in &others {
            assert!(!contains_bytes(bytes, key.as_bytes()), "{key} in {path}");
        }
    }
    assert!(
        seen.texts.len() > 60,
        "the scenario ran ({})",
        seen.texts.len()
    );
}

/// A daemon restarted with a different master key starts (the store and listener are fine), but an
/// account sealed under the old key is never unsealed into garbage: TestConnection fails with a
/// clear error, the health check never reaches the upstream with a wrong key, and the key stays
/// unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_master_key_fails_closed() {
    const KEY: &str = "WRONGMK-acct-6a5b4c3d2e1f0a9b8c7d";
    let sim = Simulator::start(vec![InstanceSpec::demo("up", KEY)])
        .await
        .unwrap();
    let up = sim.instance(0);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &fast_monitor(300, 250));
    let mut c = d.accounts(&pki.admin()).await;
    let a = crate::harness::add_sim_account(&mut c, "acct", &up.url(), KEY, &[]).await;
    let t = c
        .test_connection(pb::TestConnectionRequest {
            account: a.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t.key_accepted, "{t:?}");
    drop(c);
    d.stop();

    // Another master key in place of the real one: the daemon refuses to start and names the
    // key it would need, rather than running with keys it cannot open.
    let key_path = state.path().join("master-key");
    let real_key = std::fs::read(&key_path).unwrap();
    let active = rosterd::seal::MasterKey::from_bytes(&real_key)
        .unwrap()
        .id()
        .to_string();
    std::fs::remove_file(&key_path).unwrap();
    rosterd::seal::create_key_file(&key_path).unwrap();
    up.reset_requests();
    let o = std::process::Command::new(crate::harness::bin("rosterd"))
        .arg("--config")
        .arg(d.config_path())
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&active) && err.contains("acct"),
        "names the key and the account: {err}"
    );
    assert!(!err.contains(KEY));
    assert_eq!(
        up.total_requests(),
        0,
        "nothing was sent upstream with a garbage key"
    );

    // The right key back: it starts, and the key opens again.
    std::fs::remove_file(&key_path).unwrap();
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .unwrap();
        f.write_all(&real_key).unwrap();
    }
    d.restart();
    let mut c = d.accounts(&pki.admin()).await;
    let t = c
        .test_connection(pb::TestConnectionRequest {
            account: a.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t.key_accepted, "{t:?}");
}
